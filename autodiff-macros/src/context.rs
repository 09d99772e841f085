//! What every stage of one expansion needs to know about its surroundings:
//! the function's generic float type, if any, and where generated code
//! finds the facade. Passed down explicitly (no thread-local state).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, Type};

use crate::ir::FloatTy;

/// The context of one expansion.
pub struct Cx {
    /// The type parameter `T` of `fn f<T: Float>`, whose values are
    /// [`FloatTy::Generic`].
    pub generic: Option<Ident>,
    /// The path of the facade crate (`::autodiff`).
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

    /// The one place generated code's runtime path is spelled:
    /// `::autodiff::__private`.
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

/// A local of generated code, which no user name can see or shadow.
pub fn local(name: &str) -> Ident {
    format_ident!("{}", name, span = Span::mixed_site())
}
