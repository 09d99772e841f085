//! The attribute's options: `wrt(a, b)`, `hessian`, `linearize` and
//! `crate = path`.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, Token};

/// Attribute keywords.
pub mod kw {
    /// `wrt(a, b)`: differentiate with respect to these parameters only.
    pub const WRT: &str = "wrt";
    /// `hessian`: also emit `f_hessian` and `f_hvp`.
    pub const HESSIAN: &str = "hessian";
    /// `linearize`: also emit `f_linearize` and `f_pullback`.
    pub const LINEARIZE: &str = "linearize";
    /// `crate = path` (or serde's `crate = "path"`): where generated code
    /// finds the facade.
    pub const CRATE: &str = "crate";
}

/// Parsed `#[differentiate(...)]` options.
#[derive(Default)]
pub struct Args {
    /// `Some` when `wrt(...)` was given: the parameter names, spanned.
    pub wrt: Option<Vec<Ident>>,
    /// The `hessian` keyword, if present.
    pub hessian: Option<Ident>,
    /// The `linearize` keyword, if present.
    pub linearize: Option<Ident>,
    /// The path of `crate = path`, if given, spanned as the user wrote it.
    pub krate: Option<syn::Path>,
    /// Problems with the options that did not stop their parsing.
    pub errors: Option<syn::Error>,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut errors: Option<syn::Error> = None;
        let mut push = |e: syn::Error| match &mut errors {
            Some(all) => all.combine(e),
            None => errors = Some(e),
        };
        while !input.is_empty() {
            let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            if key == kw::WRT {
                let content;
                syn::parenthesized!(content in input);
                // `parse_any`: `wrt(self)` names the receiver.
                let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(
                    &content,
                    syn::ext::IdentExt::parse_any,
                )?;
                if args.wrt.is_some() {
                    push(syn::Error::new(
                        key.span(),
                        "`wrt` is given twice; list every parameter in one `wrt(...)`",
                    ));
                }
                if names.is_empty() {
                    push(syn::Error::new(key.span(), "`wrt()` names no parameter; list the parameters to differentiate, e.g. `wrt(x)`"));
                }
                args.wrt = Some(names.into_iter().collect());
            } else if key == kw::HESSIAN {
                if args.hessian.is_some() {
                    push(syn::Error::new(key.span(), "`hessian` is given twice"));
                }
                args.hessian = Some(key);
            } else if key == kw::LINEARIZE {
                if args.linearize.is_some() {
                    push(syn::Error::new(key.span(), "`linearize` is given twice"));
                }
                args.linearize = Some(key);
            } else if key == kw::CRATE {
                if args.krate.is_some() {
                    push(syn::Error::new(
                        key.span(),
                        "`crate` is given twice; give one path to the facade",
                    ));
                }
                match crate_path(input) {
                    Ok(path) => args.krate = Some(path),
                    Err(e) => {
                        push(e);
                        // Skip the rest of the value, up to the next option.
                        while !input.is_empty() && !input.peek(Token![,]) {
                            input.parse::<proc_macro2::TokenTree>()?;
                        }
                    }
                }
            } else {
                push(syn::Error::new(
                    key.span(),
                    format!(
                        "unknown option `{key}`; the options are `wrt(param, ...)`, `hessian`, `linearize` and `crate = path`"
                    ),
                ));
                // Skip the unknown option's argument: `(...)` or `= value`.
                if input.peek(syn::token::Paren) {
                    let _content;
                    syn::parenthesized!(_content in input);
                } else if input.peek(Token![=]) {
                    input.parse::<Token![=]>()?;
                    input.parse::<syn::Expr>()?;
                }
            }
            if input.is_empty() {
                break;
            }
            if let Err(e) = input.parse::<Token![,]>() {
                push(e);
                // The rest cannot be read reliably; consume it.
                input.parse::<proc_macro2::TokenStream>()?;
                break;
            }
        }
        args.errors = errors;
        Ok(args)
    }
}

/// The value of `crate = path`: a path (`::ad`, `crate::reexports::ad`),
/// or the same in a string literal, as serde's `crate = "..."` takes it.
fn crate_path(input: ParseStream) -> syn::Result<syn::Path> {
    let eq: Token![=] = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "`crate` takes the path of the facade crate: `crate = path`, e.g. `crate = ::autodiff`",
        )
    })?;
    let wrong = |span| {
        syn::Error::new(
            span,
            "expected the path of the facade crate, like `::autodiff` or `crate::reexports::autodiff`",
        )
    };
    if input.peek(syn::LitStr) {
        let lit: syn::LitStr = input.parse()?;
        let tokens: proc_macro2::TokenStream = lit.parse().map_err(|_| wrong(lit.span()))?;
        // Respan so that an error about the path points at the string.
        let tokens = respan(tokens, lit.span());
        return syn::parse2::<PathOnly>(tokens)
            .map(|p| p.0)
            .map_err(|_| wrong(lit.span()));
    }
    if input.is_empty() || input.peek(Token![,]) {
        return Err(wrong(eq.span));
    }
    input
        .call(syn::Path::parse_mod_style)
        .map_err(|e| wrong(e.span()))
}

/// A path with nothing after it.
struct PathOnly(syn::Path);

impl Parse for PathOnly {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let path = input.call(syn::Path::parse_mod_style)?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the path"));
        }
        Ok(PathOnly(path))
    }
}

fn respan(tokens: proc_macro2::TokenStream, span: proc_macro2::Span) -> proc_macro2::TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = proc_macro2::TokenTree::Group(group);
            }
            tt.set_span(span);
            tt
        })
        .collect()
}
