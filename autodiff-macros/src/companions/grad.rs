//! `f_grad` and `f_value_and_grad`; for a non-scalar output, stubs that
//! fail to compile where they are called, saying what to use instead.

use proc_macro2::TokenStream;
use quote::quote;

use super::Companions;
use crate::context::local;
use crate::emit::Tree;

impl Companions<'_> {
    pub(super) fn grad(&self) -> TokenStream {
        let body = self.body("grad", |p| p.gradient(), |g| self.grad_tree(&g.primal));
        self.item("grad", "The gradient", &[], self.grad_ty(), body)
    }

    pub(super) fn value_and_grad(&self) -> TokenStream {
        let body = self.body(
            "value_and_grad",
            |p| p.gradient(),
            |g| Tree::Tuple(vec![self.out_tree(&g.primal), self.grad_tree(&g.primal)]),
        );
        let (out, g) = (&self.sig.out_ty, self.grad_ty());
        self.item(
            "value_and_grad",
            "The value and the gradient",
            &[],
            quote!((#out, #g)),
            body,
        )
    }

    /// For non-scalar outputs: a function that fails to compile where it is
    /// called, with a message saying what to use instead. Its first plain
    /// parameter's type becomes a type parameter bounded by a trait no type
    /// implements.
    pub(super) fn needs_scalar(&self, suffix: &str) -> TokenStream {
        let vis = &self.item.vis;
        let name = self.name(suffix);
        let mut params = self.params();
        let Some(pos) = self
            .item
            .sig
            .inputs
            .iter()
            .position(|i| matches!(i, syn::FnArg::Typed(_)))
        else {
            return TokenStream::new();
        };
        let id = match &self.item.sig.inputs[pos] {
            syn::FnArg::Typed(pt) => match &*pt.pat {
                syn::Pat::Ident(pi) => pi.ident.clone(),
                _ => local(&format!("arg{pos}")),
            },
            syn::FnArg::Receiver(_) => local(&format!("arg{pos}")),
        };
        let arg = local("NotAScalarOutput");
        params[pos] = quote!(#id: #arg);
        let private = self.cx.private();
        let second = matches!(suffix, "hvp" | "hessian");
        let marker = if second {
            quote!(#private::HessianNeedsScalarOutput)
        } else {
            quote!(#private::GradientNeedsScalarOutput)
        };
        let mut generics = self.item.sig.generics.clone();
        generics.params.push(syn::parse_quote!(#arg: #marker));
        let (generics, _, where_clause) = generics.split_for_impl();
        let f = &self.sig.name;
        let doc = if second {
            format!("Not available: `{f}` does not return a scalar, and a Hessian needs one. `{f}_vjp_jvp` gives second derivatives along a cotangent and a tangent.")
        } else {
            format!("Not available: `{f}` does not return a scalar, and a gradient needs one. Use `{f}_jacobian`, or `{f}_vjp` with a cotangent.")
        };
        quote! {
            #[doc = #doc]
            #[allow(dead_code, unused_variables, clippy::all)]
            #vis fn #name #generics (#(#params,)*) -> ::core::convert::Infallible #where_clause {
                ::core::unreachable!()
            }
        }
    }
}
