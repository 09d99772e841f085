//! The attribute's options: `wrt(a, b)` and `hessian`.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, Token};

/// Attribute keywords.
pub mod kw {
    /// `wrt(a, b)`: differentiate with respect to these parameters only.
    pub const WRT: &str = "wrt";
    /// `hessian`: also emit `f_hessian` and `f_hvp`.
    pub const HESSIAN: &str = "hessian";
}

/// Parsed `#[differentiate(...)]` options.
#[derive(Default)]
pub struct Args {
    /// `Some` when `wrt(...)` was given: the parameter names, spanned.
    pub wrt: Option<Vec<Ident>>,
    /// The `hessian` keyword, if present.
    pub hessian: Option<Ident>,
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
                let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
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
            } else {
                push(syn::Error::new(
                    key.span(),
                    format!(
                        "unknown option `{key}`; the options are `wrt(param, ...)` and `hessian`"
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
