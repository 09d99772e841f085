//! Output after errors: the original function, the errors, and stub
//! companions with the right signatures, so that callers see the real
//! problem and no secondary "cannot find function" or type errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::companions::Companions;
use crate::context::Cx;
use crate::error::Errors;
use crate::signature::Signature;

pub fn expand(
    cx: &Cx,
    item: &ItemFn,
    sig: &Signature,
    errors: &Errors,
    hessian: bool,
) -> TokenStream {
    let errors = errors.to_compile_errors();
    let stubs = Companions::stubs(cx, item, sig, hessian).all();
    quote! { #errors #item #stubs }
}
