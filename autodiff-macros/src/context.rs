//! What every stage of one expansion needs to know about its surroundings:
//! the function's generic float type, if any, and where generated code
//! finds the facade. Passed down explicitly (no thread-local state).

mod manifest;

use std::path::Path;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::{Ident, Type};

use crate::ir::FloatTy;

/// The context of one expansion.
pub struct Cx {
    /// The type parameter `T` of `fn f<T: Float>`, whose values are
    /// [`FloatTy::Generic`].
    pub generic: Option<Ident>,
    /// The path of the facade crate: `::autodiff` unless
    /// [`Cx::with_crate`] says otherwise.
    krate: TokenStream,
    /// Parameters of type `&T` (`T` a float): companions bind the value
    /// to the name, and the user's tokens that read the name see `&value`.
    pub by_ref: Vec<Ident>,
}

impl Default for Cx {
    fn default() -> Self {
        Cx::new(None)
    }
}

impl Cx {
    pub fn new(generic: Option<Ident>) -> Cx {
        Cx {
            generic,
            krate: quote!(::autodiff),
            by_ref: Vec::new(),
        }
    }

    /// The context with generated code finding the facade at `krate`
    /// (see [`facade`]).
    pub fn with_crate(self, krate: TokenStream) -> Cx {
        Cx { krate, ..self }
    }

    /// The one place generated code's runtime path is spelled:
    /// `::autodiff::__private` (or `<krate>::__private`).
    pub fn private(&self) -> TokenStream {
        let krate = &self.krate;
        quote!(#krate::__private)
    }

    /// `f32`, `f64`, or the generic float parameter's name.
    pub fn float_named(&self, name: &str) -> Option<FloatTy> {
        match name {
            "f32" => Some(FloatTy::F32),
            "f64" => Some(FloatTy::F64),
            _ if self.generic.as_ref().is_some_and(|t| t == name) => Some(FloatTy::Generic),
            _ => None,
        }
    }

    /// The float type a type names, if it names one.
    pub fn float_of(&self, ty: &Type) -> Option<FloatTy> {
        match ty {
            Type::Path(p) if p.qself.is_none() => {
                self.float_named(&p.path.get_ident()?.to_string())
            }
            Type::Paren(p) => self.float_of(&p.elem),
            Type::Group(g) => self.float_of(&g.elem),
            _ => None,
        }
    }

    /// The type's tokens: `f32`, `f64` or `T`.
    pub fn float(&self, f: FloatTy) -> TokenStream {
        match (f, &self.generic) {
            (FloatTy::F32, _) => quote!(f32),
            (FloatTy::Generic, Some(t)) => quote!(#t),
            _ => quote!(f64),
        }
    }
}

/// Where generated code finds the facade: the `crate = path` the user
/// gave, as written (an error about it points at it); else the name the
/// user's `Cargo.toml` gives the facade package (a renamed dependency,
/// `ad = { package = "static-autodiff", .. }`, is `::ad`), read as the
/// `proc-macro-crate` crate does; else `::autodiff`.
pub fn facade(explicit: Option<&syn::Path>) -> TokenStream {
    if let Some(path) = explicit {
        return path.to_token_stream();
    }
    let found = std::env::var_os("CARGO_MANIFEST_DIR").and_then(|dir| {
        let package = std::env::var("CARGO_PKG_NAME").ok();
        manifest::facade_name(Path::new(&dir), package.as_deref())
    });
    // A key that is no identifier (never valid in Cargo) is not used.
    match found.and_then(|name| syn::parse_str::<Ident>(&name).ok()) {
        Some(name) => quote!(::#name),
        None => quote!(::autodiff),
    }
}

/// A local of generated code, which no user name can see or shadow.
pub fn local(name: &str) -> Ident {
    format_ident!("{}", name, span = Span::mixed_site())
}
