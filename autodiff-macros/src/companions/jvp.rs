//! `f_jvp(x, .., x_dot, ..) -> (Out, Out)`: the value and J·v.

use proc_macro2::TokenStream;
use quote::quote;

use super::Companions;
use crate::emit::Tree;

impl Companions<'_> {
    pub(super) fn jvp(&self) -> TokenStream {
        let body = self.body(
            "jvp",
            |p| p.jvp(),
            |j| {
                Tree::Tuple(vec![
                    self.out_tree(&j.primal),
                    self.out_tree(&j.tangents[0]),
                ])
            },
        );
        let prologue = self.dot_prologue("jvp");
        let out = &self.sig.out_ty;
        self.item(
            "jvp",
            "The value and the Jacobian-vector product (forward mode, J·v)",
            &self.dot_params(),
            quote!((#out, #out)),
            quote!(#prologue #body),
        )
    }
}
