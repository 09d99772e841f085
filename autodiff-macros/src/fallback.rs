//! Output after errors: the original function, the errors, and stub
//! companions with the right signatures, so that callers see the real
//! problem and no secondary "cannot find function" errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::error::Errors;
use crate::expand::Companions;
use crate::signature::Signature;

pub fn expand(item: &ItemFn, sig: &Signature, errors: &Errors, hessian: bool) -> TokenStream {
    let errors = errors.to_compile_errors();
    let stubs = Companions::stubs(item, sig, hessian).all();
    quote! { #errors #item #stubs }
}
