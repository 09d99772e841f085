//! `f_vjp(x, .., out_bar) -> (Out, G)`: the value and vᵀ·J.

use proc_macro2::TokenStream;
use quote::quote;

use super::Companions;
use crate::emit::Tree;

impl Companions<'_> {
    pub(super) fn vjp(&self) -> TokenStream {
        let body = self.body(
            "vjp",
            |p| p.vjp(),
            |v| Tree::Tuple(vec![self.out_tree(&v.primal), self.grad_tree(&v.primal)]),
        );
        let out = &self.sig.out_ty;
        let g = self.grad_ty();
        let (out_bar, cot) = (&self.names.out_bar, self.cotangent_ty());
        self.item(
            "vjp",
            "The value and the vector-Jacobian product (reverse mode, vᵀ·J)",
            &[quote!(#out_bar: #cot)],
            quote!((#out, #g)),
            body,
        )
    }
}
