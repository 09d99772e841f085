//! `f_jacobian(x, ..) -> J`: the dense Jacobian. Scalar parameters: one
//! forward pass with a basis direction per parameter. Array parameters:
//! rows from `f_vjp` with basis cotangents (the gradient for a scalar
//! output), or columns from `f_jvp` when the one array parameter is shorter
//! than the output.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Ident, Type};

use super::{one_or_tuple, param_grad_ty, Companions};
use crate::context::local;
use crate::emit::Tree;
use crate::ir::{FloatTy, OutShape, Ty};
use crate::signature;

const DOC: &str = "The dense Jacobian (one entry per output and `wrt` parameter)";

impl Companions<'_> {
    pub(super) fn jacobian(&self) -> TokenStream {
        let outs = &self.sig.outs;
        if outs.iter().any(|(_, t)| matches!(t, Ty::Array(_, 2))) {
            // A matrix output: no Jacobian (a rank-3 array); documented.
            return TokenStream::new();
        }
        if self.sig.out_shape == OutShape::Leaf && outs[0].1.is_array() {
            return self.jacobian_of_array_output();
        }
        if outs.iter().any(|(_, t)| t.is_array()) {
            return self.jacobian_of_tuple_output();
        }
        let wrt = &self.sig.wrt;
        if wrt.iter().any(|&i| self.sig.params[i].ir_ty.is_array()) {
            return self.jacobian_by_rows();
        }
        let m = self.sig.out_shape.len();
        let body = self.body(
            |p| p.basis_jvp(),
            |j| {
                let column = |d: usize| match &self.sig.out_shape {
                    OutShape::Leaf => Tree::Leaf(j.tangents[d].value[0]),
                    OutShape::Tuple(_) => {
                        Tree::Array(j.tangents[d].value.iter().map(|&k| Tree::Leaf(k)).collect())
                    }
                };
                match wrt.len() {
                    1 => column(0),
                    p => Tree::Tuple((0..p).map(column).collect()),
                }
            },
        );
        let tys: Vec<TokenStream> = wrt
            .iter()
            .map(|&i| {
                let ty = &self.sig.params[i].ty;
                match &self.sig.out_shape {
                    OutShape::Leaf => quote!(#ty),
                    OutShape::Tuple(_) => quote!([#ty; #m]),
                }
            })
            .collect();
        self.item("jacobian", DOC, &[], one_or_tuple(&tys), body)
    }

    /// The Jacobian of a function of arrays, row by row: the gradient for
    /// a scalar output; for a tuple output, one `_vjp` per output with a
    /// basis cotangent (row `i` of each parameter's block is
    /// ∂out_i/∂param).
    fn jacobian_by_rows(&self) -> TokenStream {
        let args = self.args();
        let p = self.sig.wrt.len();
        let m = self.sig.out_shape.len();
        let (body, ret) = match &self.sig.out_shape {
            OutShape::Leaf => {
                let grad = self.companion_path("grad");
                (quote!(#grad(#(#args),*)), self.grad_ty())
            }
            OutShape::Tuple(_) => {
                let vjp = self.companion_path("vjp");
                let rows: Vec<TokenStream> = (0..m)
                    .map(|k| {
                        let basis =
                            (0..m).map(|j| self.out_const(j, if j == k { 1.0 } else { 0.0 }));
                        quote!(#vjp(#(#args,)* (#(#basis,)*)).1)
                    })
                    .collect();
                let names: Vec<Ident> = (0..m).map(|k| local(&format!("row{k}"))).collect();
                let blocks: Vec<TokenStream> = (0..p)
                    .map(|j| {
                        let field = syn::Index::from(j);
                        let items = names.iter().map(|r| {
                            if p == 1 {
                                quote!(#r)
                            } else {
                                quote!(#r.#field)
                            }
                        });
                        quote!([#(#items),*])
                    })
                    .collect();
                let tys: Vec<TokenStream> = self
                    .sig
                    .wrt
                    .iter()
                    .map(|&i| {
                        let g = param_grad_ty(&self.sig.params[i].ty);
                        quote!([#g; #m])
                    })
                    .collect();
                let value = one_or_tuple(&blocks);
                (
                    quote! { #(let #names = #rows;)* #value },
                    one_or_tuple(&tys),
                )
            }
        };
        self.item("jacobian", DOC, &[], ret, self.calls(body))
    }

    /// The Jacobian of an array output `[T; M]` or `Vec<T>`: row `i` is
    /// `_vjp` with the basis cotangent `e_i`; for one parameter `[T; N]`
    /// with `N < M`, columns from `_jvp` with basis tangents instead.
    /// `Vec` outputs give a [`Matrix`](autodiff_runtime::Matrix) per array
    /// parameter and a `Vec<T>` per scalar one.
    fn jacobian_of_array_output(&self) -> TokenStream {
        let private = self.cx.private();
        let args = self.args();
        let (out_ty, _) = &self.sig.outs[0];
        let one = self.out_const(0, 1.0);
        let jvp = self.companion_path("jvp");
        let f = self.companion_path("");
        let rows = local("rows");
        let (stmt, blocks, tys) = self.jacobian_rows(
            out_ty,
            self.sig.out_floats[0],
            &rows,
            quote!(#f(#(#args),*)),
            &|e| e,
        );
        let value = one_or_tuple(&blocks);
        let by_rows = quote!({ #stmt #value });
        // One array parameter by value: forward mode when it is shorter.
        let param = &self.sig.params[self.sig.wrt[0]];
        let [cols, e, i, j] = ["cols", "e", "i", "j"].map(local);
        let body = match (out_ty, &param.ty, self.sig.wrt.len()) {
            (Type::Array(a), Type::Array(pa), 1)
                if param.ir_ty == Ty::Array(self.sig.out_floats[0], 1) =>
            {
                let (m, n, pty) = (&a.len, &pa.len, &param.ty);
                quote! {
                    if #n < #m {
                        let #cols: [#out_ty; #n] = ::core::array::from_fn(|#j| {
                            let mut #e: #pty = #private::Zeros::zeros();
                            #e[#j] = #one;
                            #jvp(#(#args,)* #e).1
                        });
                        ::core::array::from_fn(|#i| ::core::array::from_fn(|#j| #cols[#j][#i]))
                    } else #by_rows
                }
            }
            _ => by_rows,
        };
        self.item(
            "jacobian",
            "The dense Jacobian (row `i`: the derivative of output element `i`)",
            &[],
            one_or_tuple(&tys),
            self.calls(body),
        )
    }

    /// The Jacobian of a tuple output holding arrays: for each `wrt`
    /// parameter, a tuple with one block per output (the block that output
    /// alone would have), from `f_vjp` with basis cotangents.
    fn jacobian_of_tuple_output(&self) -> TokenStream {
        let private = self.cx.private();
        let args = self.args();
        let f = self.companion_path("");
        let m = self.sig.outs.len();
        let p = self.sig.wrt.len();
        let value = local("value");
        // Zero cotangent parts; a `Vec` output's is a slice of the value's
        // length.
        let mut zeros = Vec::new();
        let mut zero_parts = Vec::new();
        for (k, (ty, ir)) in self.sig.outs.iter().enumerate() {
            let kk = syn::Index::from(k);
            let z = local(&format!("zero{k}"));
            if signature::is_vec(ty) {
                let zero = self.out_const(k, 0.0);
                zeros.push(quote!(let #z = #private::filled(#zero, #value.#kk.len());));
                zero_parts.push(quote!(&#z));
            } else if ir.is_array() {
                zeros.push(quote!(let #z: #ty = #private::Zeros::zeros();));
                zero_parts.push(quote!(#z));
            } else {
                zero_parts.push(self.out_const(k, 0.0));
            }
        }
        let mut stmts = Vec::new();
        let mut per_param: Vec<Vec<TokenStream>> = vec![Vec::new(); p];
        let mut per_param_ty: Vec<Vec<TokenStream>> = vec![Vec::new(); p];
        for (k, (ty, _)) in self.sig.outs.iter().enumerate() {
            let kk = syn::Index::from(k);
            let rows = local(&format!("rows{k}"));
            let zero_parts = zero_parts.clone();
            let cot = move |e: TokenStream| {
                let parts = (0..m).map(|j| {
                    if j == k {
                        e.clone()
                    } else {
                        zero_parts[j].clone()
                    }
                });
                quote!((#(#parts,)*))
            };
            let (stmt, blocks, tys) =
                self.jacobian_rows(ty, self.sig.out_floats[k], &rows, quote!(#value.#kk), &cot);
            stmts.push(stmt);
            for j in 0..p {
                per_param[j].push(blocks[j].clone());
                per_param_ty[j].push(tys[j].clone());
            }
        }
        let values: Vec<TokenStream> = per_param.iter().map(|b| quote!((#(#b,)*))).collect();
        let tys: Vec<TokenStream> = per_param_ty.iter().map(|t| quote!((#(#t,)*))).collect();
        let result = one_or_tuple(&values);
        let body = quote!({
            let #value = #f(#(#args),*);
            #(#zeros)*
            #(#stmts)*
            #result
        });
        self.item(
            "jacobian",
            "The dense Jacobian: per parameter, one block per output",
            &[],
            one_or_tuple(&tys),
            self.calls(body),
        )
    }

    /// The rows of one output's Jacobian block (`rows`, from `f_vjp` with
    /// the cotangent `cot(basis)`), then per `wrt` parameter the block and
    /// its type. A scalar output: one row, the gradient; `[T; M]`: `M`
    /// rows; `Vec<T>`: rows for `value.len()` (a `Matrix` for an array
    /// parameter, a `Vec` for a scalar one).
    fn jacobian_rows(
        &self,
        out_ty: &Type,
        elem: FloatTy,
        rows: &Ident,
        value: TokenStream,
        cot: &dyn Fn(TokenStream) -> TokenStream,
    ) -> (TokenStream, Vec<TokenStream>, Vec<TokenStream>) {
        let private = self.cx.private();
        let args = self.args();
        let float = self.cx.float(elem);
        let one = crate::emit::float_const(self.cx, 1.0, elem);
        let zero = crate::emit::float_const(self.cx, 0.0, elem);
        let vjp = self.companion_path("vjp");
        let p = self.sig.wrt.len();
        let [e, i, n, r] = ["e", "i", "n", "r"].map(local);
        let field = |j: usize, r: TokenStream| {
            if p == 1 {
                r
            } else {
                let k = syn::Index::from(j);
                quote!(#r.#k)
            }
        };
        let grads: Vec<TokenStream> = self
            .sig
            .wrt
            .iter()
            .map(|&w| param_grad_ty(&self.sig.params[w].ty))
            .collect();
        if let Type::Array(a) = out_ty {
            let m = &a.len;
            let cot = cot(quote!(#e));
            let stmt = quote! {
                let #rows: [_; #m] = ::core::array::from_fn(|#i| {
                    let mut #e: #out_ty = #private::Zeros::zeros();
                    #e[#i] = #one;
                    #vjp(#(#args,)* #cot).1
                });
            };
            let blocks = (0..p)
                .map(|j| {
                    if p == 1 {
                        quote!(#rows)
                    } else {
                        let row = field(j, quote!(#rows[#i]));
                        quote!(::core::array::from_fn(|#i| #row.clone()))
                    }
                })
                .collect();
            let tys = grads.iter().map(|g| quote!([#g; #m])).collect();
            (stmt, blocks, tys)
        } else if signature::is_vec(out_ty) {
            let cot = cot(quote!(&#e));
            let stmt = quote! {
                let #n = #value.len();
                let #rows: ::std::vec::Vec<_> = (0..#n).map(|#i| {
                    let mut #e = #private::filled(#zero, #n);
                    #e[#i] = #one;
                    #vjp(#(#args,)* #cot).1
                }).collect();
            };
            let mut tys = Vec::new();
            let blocks = self
                .sig
                .wrt
                .iter()
                .enumerate()
                .map(|(j, &w)| {
                    let row = field(j, quote!(#r));
                    let collected =
                        quote!(#rows.iter().map(|#r| #row.clone()).collect::<::std::vec::Vec<_>>());
                    if self.sig.params[w].ir_ty.is_array() {
                        tys.push(quote!(#private::Matrix<#float>));
                        quote!(#private::Matrix::from_rows(&#collected))
                    } else {
                        tys.push(quote!(::std::vec::Vec<#float>));
                        collected
                    }
                })
                .collect();
            (stmt, blocks, tys)
        } else {
            let cot = cot(one);
            let stmt = quote!(let #rows = #vjp(#(#args,)* #cot).1;);
            let blocks = (0..p).map(|j| field(j, quote!(#rows))).collect();
            (stmt, blocks, grads)
        }
    }
}
