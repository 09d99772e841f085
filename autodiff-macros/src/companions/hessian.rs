//! The second-order companions (with `hessian`): `f_hvp`, `f_hessian`, and
//! the calling convention of second order, `f_grad_jvp`, `f_grad_vjp` and
//! `f_vjp_jvp`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Type;

use super::{is_slice, Companions};
use crate::context::local;
use crate::emit::Tree;
use crate::ir::Ty;
use crate::signature::Signature;

/// SPEC §3: the `wrt` parameters of a Hessian are scalars and vectors
/// (any number, in any order); a matrix parameter has no Hessian layout.
pub fn hessian_shape(sig: &Signature) -> Result<(), &'static str> {
    let matrix = sig
        .wrt
        .iter()
        .any(|&i| matches!(sig.params[i].ir_ty, Ty::Array(_, 2)));
    if matrix {
        return Err("`hessian` takes `wrt` parameters that are scalars and vectors; differentiate with respect to fewer parameters with `wrt(...)`, or pass the matrix as a flat vector");
    }
    Ok(())
}

impl Companions<'_> {
    /// `f_hvp(x, .., x_dot, ..) -> G`: the Hessian times a vector, as the
    /// forward mode of the gradient program (forward over reverse), never
    /// a dense Hessian.
    pub(super) fn hvp(&self) -> TokenStream {
        let body = self.body("hvp", |p| p.hvp(), |h| self.grad_tree(&h.tangents[0]));
        let prologue = self.dot_prologue("hvp");
        self.item(
            "hvp",
            "The Hessian-vector product H·v (forward over reverse)",
            &self.dot_params(),
            self.grad_ty(),
            quote!(#prologue #body),
        )
    }

    /// `f_grad_jvp(x, .., x_dot, ..) -> (G, G)`: the gradient and its
    /// tangent H·v, the `_jvp` companion of `f_grad`, so that a
    /// differentiated function may call `f_grad`.
    pub(super) fn grad_jvp(&self) -> TokenStream {
        let body = self.body(
            "grad_jvp",
            |p| p.hvp(),
            |h| {
                Tree::Tuple(vec![
                    self.grad_tree(&h.primal),
                    self.grad_tree(&h.tangents[0]),
                ])
            },
        );
        let prologue = self.dot_prologue("grad_jvp");
        let g = self.grad_ty();
        self.item(
            "grad_jvp",
            "The gradient and its tangent H·v (the `_jvp` companion of `_grad`)",
            &self.dot_params(),
            quote!((#g, #g)),
            quote!(#prologue #body),
        )
    }

    /// `f_grad_vjp(x, .., grad_bar) -> (G, G)`: the gradient and wᵀ·H,
    /// which is H·w since the Hessian is symmetric.
    pub(super) fn grad_vjp(&self) -> TokenStream {
        let g_bar = &self.names.grad_bar;
        let (cot, dirs): (TokenStream, Vec<TokenStream>) = match self.sig.wrt.as_slice() {
            [i] => {
                let param = &self.sig.params[*i];
                let ty = &param.ty;
                match (ty, param.ir_ty) {
                    // A vector of run-time length: its cotangent is a slice.
                    (_, Ty::Array(f, 1)) if is_slice(ty) => {
                        let t = self.cx.float(f);
                        (quote!(&[#t]), vec![quote!(#g_bar)])
                    }
                    (Type::Reference(r), _) if matches!(*r.elem, Type::Slice(_)) => {
                        (quote!(#ty), vec![quote!(#g_bar)])
                    }
                    (Type::Reference(r), Ty::Array(..)) => {
                        let elem = &r.elem;
                        (quote!(#elem), vec![quote!(&#g_bar)])
                    }
                    (Type::Reference(r), _) => {
                        let elem = &r.elem;
                        (quote!(#elem), vec![quote!(#g_bar)])
                    }
                    _ => (quote!(#ty), vec![quote!(#g_bar)]),
                }
            }
            wrt => {
                let dirs = wrt.iter().enumerate().map(|(k, &i)| {
                    let k = syn::Index::from(k);
                    let param = &self.sig.params[i];
                    match &param.ty {
                        Type::Reference(_) if param.ir_ty.is_array() => quote!(&#g_bar.#k),
                        _ => quote!(#g_bar.#k),
                    }
                });
                (self.grad_ty(), dirs.collect())
            }
        };
        let g = self.grad_ty();
        let private = self.cx.private();
        let companion = self.name("grad_vjp").to_string();
        let several = self.sig.wrt.len() > 1;
        let checks = self
            .sig
            .wrt
            .iter()
            .enumerate()
            .filter(|(_, &i)| is_slice(&self.sig.params[i].ty))
            .map(|(k, &i)| {
                let x = &self.sig.params[i].ident;
                let (name, bar) = if several {
                    let field = syn::Index::from(k);
                    (format!("{g_bar}.{k}"), quote!(#g_bar.#field))
                } else {
                    (g_bar.to_string(), quote!(#g_bar))
                };
                quote!(#private::check_len(#companion, #name, #x.len(), #bar.len());)
            });
        // `f_grad_jvp` along `grad_bar`.
        let dots = &self.names.dots;
        let body = self.body(
            "grad_vjp",
            |p| p.hvp(),
            |h| {
                Tree::Tuple(vec![
                    self.grad_tree(&h.primal),
                    self.grad_tree(&h.tangents[0]),
                ])
            },
        );
        self.item(
            "grad_vjp",
            "The gradient and wᵀ·H = H·w (the `_vjp` companion of `_grad`)",
            &[quote!(#g_bar: #cot)],
            quote!((#g, #g)),
            quote!(#(#checks)* #(let #dots = #dirs;)* #body),
        )
    }

    /// The signature `f_grad_vjp_jvp` would have (`f_grad_vjp` in forward
    /// mode), for the companion that says it is not generated.
    pub(super) fn grad_vjp_jvp_signature(&self) -> TokenStream {
        let g = self.grad_ty();
        let (g_bar, bar_dot) = (&self.names.grad_bar, local("grad_bar_dot"));
        let mut extra = vec![quote!(#g_bar: #g)];
        extra.extend(self.dot_params());
        extra.push(quote!(#bar_dot: #g));
        self.item(
            "grad_vjp_jvp",
            "`_grad_vjp` in forward mode",
            &extra,
            quote!(((#g, #g), (#g, #g))),
            TokenStream::new(),
        )
    }

    /// `f_vjp_jvp(x, .., out_bar, x_dot, .., out_bar_dot)`: `f_vjp` in
    /// forward mode, `((value, adjoints), (their tangents))`. A function
    /// that calls `f` needs it for its own Hessian.
    pub(super) fn vjp_jvp(&self) -> TokenStream {
        let pair = |parts: &crate::plan::Parts| {
            Tree::Tuple(vec![self.out_tree(parts), self.grad_tree(parts)])
        };
        let body = self.body(
            "vjp_jvp",
            |p| p.vjp_jvp(),
            |v| Tree::Tuple(vec![pair(&v.primal), pair(&v.tangents[0])]),
        );
        let prologue = self.dot_prologue("vjp_jvp");
        let (out, cot) = (&self.sig.out_ty, self.cotangent_ty());
        let (out_bar, bar_dot) = (&self.names.out_bar, &self.names.out_bar_dot);
        let mut extra = vec![quote!(#out_bar: #cot)];
        extra.extend(self.dot_params());
        extra.push(quote!(#bar_dot: #cot));
        let g = self.grad_ty();
        self.item(
            "vjp_jvp",
            "`_vjp` in forward mode: its value and its tangent",
            &extra,
            quote!(((#out, #g), (#out, #g))),
            quote!(#prologue #body),
        )
    }

    /// `f_hessian(x, ..)`: the dense Hessian, exactly symmetric (entry
    /// `(i, j)` with `i > j` is the one computed for `(j, i)`). Scalars:
    /// one forward pass per parameter over the gradient program, unused
    /// entries never computed. A vector of literal length N ≤
    /// [`crate::plan::ONE_SWEEP`]: the same over its N elements, one
    /// program. Another array: one `_hvp` per column.
    pub(super) fn hessian(&self) -> TokenStream {
        let p = self.sig.wrt.len();
        let first = &self.sig.params[self.sig.wrt[0]];
        let scalars = self
            .sig
            .wrt
            .iter()
            .all(|&i| !self.sig.params[i].ir_ty.is_array());
        if p > 1 && !scalars {
            return self.flat_hessian();
        }
        if scalars {
            let body = self.body(
                "hessian",
                |plan| plan.hessian(),
                |h| {
                    let entry =
                        |i: usize, j: usize| Tree::Leaf(h.tangents[i.min(j)].adjoints[i.max(j)]);
                    Tree::Array(
                        (0..p)
                            .map(|i| Tree::Array((0..p).map(|j| entry(i, j)).collect()))
                            .collect(),
                    )
                },
            );
            let ty = super::param_grad_ty(&first.ty);
            return self.item(
                "hessian",
                "The dense Hessian, exactly symmetric",
                &[],
                quote!([[#ty; #p]; #p]),
                body,
            );
        }
        let private = self.cx.private();
        let elem = self.cx.float(self.sig.out_floats[0]);
        let (one, zero) = (self.out_const(0, 1.0), self.out_const(0, 0.0));
        let [cols, e, i, j, n, hvp] = ["cols", "e", "i", "j", "n", "hvp"].map(local);
        let matrix = symmetric_matrix(&private, &elem, &cols, &n);
        let define_hvp = || {
            self.closure(
                "hessian",
                &hvp,
                &self.closure_dot_params(),
                self.grad_ty(),
                |p| p.hvp(),
                |h| self.grad_tree(&h.tangents[0]),
            )
        };
        let symmetric = quote! {
            ::core::array::from_fn(|#i| ::core::array::from_fn(|#j| if #i <= #j { #cols[#j][#i] } else { #cols[#i][#j] }))
        };
        // `[T; N]` or `&[T; N]`: fixed columns, from one program over a
        // basis of N directions when N is small; a slice: a `Matrix`.
        let fixed = match &first.ty {
            Type::Array(a) => Some((a, quote!(#e))),
            Type::Reference(r) => match &*r.elem {
                Type::Array(a) => Some((a, quote!(&#e))),
                _ => None,
            },
            _ => None,
        };
        let (body, ret) = match fixed {
            Some((a, _)) if self.plan.as_ref().is_some_and(|p| p.basis().is_some()) => {
                let len = &a.len;
                let ty = Type::Array(a.clone());
                let columns = self.body(
                    "hessian",
                    |plan| plan.hessian(),
                    |h| {
                        Tree::Array(
                            h.tangents
                                .iter()
                                .map(|t| Tree::Leaf(t.adjoints[0]))
                                .collect(),
                        )
                    },
                );
                let body = quote! {
                    let #cols: [#ty; #len] = { #columns };
                    #symmetric
                };
                (body, quote!([#ty; #len]))
            }
            Some((a, arg)) => {
                let len = &a.len;
                let ty = Type::Array(a.clone());
                let define_hvp = define_hvp();
                let body = quote! {
                    #define_hvp
                    let #cols: [#ty; #len] = ::core::array::from_fn(|#j| {
                        let mut #e: #ty = #private::Zeros::zeros();
                        #e[#j] = #one;
                        #hvp(#arg)
                    });
                    #symmetric
                };
                (body, quote!([#ty; #len]))
            }
            _ => {
                let x = &first.ident;
                let define_hvp = define_hvp();
                let body = quote! {
                    #define_hvp
                    let #n = #x.len();
                    let #cols: ::std::vec::Vec<_> = (0..#n).map(|#j| {
                        let mut #e = #private::filled(#zero, #n);
                        #e[#j] = #one;
                        #hvp(&#e)
                    }).collect();
                    #matrix
                };
                (body, quote!(#private::Matrix<#elem>))
            }
        };
        self.item(
            "hessian",
            "The dense Hessian, exactly symmetric",
            &[],
            ret,
            self.calls(quote!({ #body })),
        )
    }

    /// `f_hessian` over several `wrt` parameters of which some are
    /// vectors: a `Matrix` over the parameters flattened and concatenated
    /// in order (SPEC §3), one `_hvp` per column.
    fn flat_hessian(&self) -> TokenStream {
        let private = self.cx.private();
        let elem = self.cx.float(self.sig.out_floats[0]);
        let (one, zero) = (self.out_const(0, 1.0), self.out_const(0, 0.0));
        let [cols, col, g, j, n, hvp] = ["cols", "col", "g", "j", "n", "hvp"].map(local);
        let matrix = symmetric_matrix(&private, &elem, &cols, &n);
        let define_hvp = self.closure(
            "hessian",
            &hvp,
            &self.closure_dot_params(),
            self.grad_ty(),
            |p| p.hvp(),
            |h| self.grad_tree(&h.tangents[0]),
        );
        let mut offsets = Vec::new();
        let mut basis = Vec::new();
        let mut flatten = Vec::new();
        let mut end = quote!(0);
        for (k, &w) in self.sig.wrt.iter().enumerate() {
            let param = &self.sig.params[w];
            let (x, ty) = (&param.ident, &param.ty);
            let at = local(&format!("at{k}"));
            let e = &self.names.dots[k];
            let field = syn::Index::from(k);
            offsets.push(quote!(let #at = #end;));
            if param.ir_ty.is_array() {
                let (zeros, arg) = match ty {
                    _ if is_slice(ty) => (quote!(#private::filled(#zero, #x.len())), quote!(&#e)),
                    Type::Reference(r) => {
                        let a = &r.elem;
                        (quote!(<#a as #private::Zeros<_>>::zeros()), quote!(&#e))
                    }
                    _ => (quote!(<#ty as #private::Zeros<_>>::zeros()), quote!(#e)),
                };
                basis.push((
                    quote! {
                        let mut #e = #zeros;
                        if #j >= #at && #j < #at + #x.len() {
                            #e[#j - #at] = #one;
                        }
                    },
                    arg,
                ));
                flatten.push(quote!(#col.extend(#g.#field.iter().copied());));
                end = quote!(#at + #x.len());
            } else {
                basis.push((
                    quote!(let #e = if #j == #at { #one } else { #zero };),
                    quote!(#e),
                ));
                flatten.push(quote!(#col.push(#g.#field);));
                end = quote!(#at + 1);
            }
        }
        let (make, args): (Vec<_>, Vec<_>) = basis.into_iter().unzip();
        let body = quote! {{
            #define_hvp
            #(#offsets)*
            let #n = #end;
            let #cols: ::std::vec::Vec<::std::vec::Vec<#elem>> = (0..#n).map(|#j| {
                #(#make)*
                let #g = #hvp(#(#args),*);
                let mut #col = ::std::vec::Vec::with_capacity(#n);
                #(#flatten)*
                #col
            }).collect();
            #matrix
        }};
        self.item(
            "hessian",
            "The dense Hessian over the parameters flattened in order, exactly symmetric",
            &[],
            quote!(#private::Matrix<#elem>),
            self.calls(body),
        )
    }
}

/// The dense `Matrix` of the `n` columns `cols` of a Hessian, exactly
/// symmetric: entry `(i, j)` with `i > j` is the one computed for `(j, i)`.
fn symmetric_matrix(
    private: &TokenStream,
    elem: &TokenStream,
    cols: &syn::Ident,
    n: &syn::Ident,
) -> TokenStream {
    let [i, j, rows] = ["i", "j", "rows"].map(local);
    quote! {
        let #rows: ::std::vec::Vec<::std::vec::Vec<#elem>> = (0..#n)
            .map(|#i| (0..#n).map(|#j| if #i <= #j { #cols[#j][#i] } else { #cols[#i][#j] }).collect())
            .collect();
        #private::Matrix::from_rows(&#rows)
    }
}
