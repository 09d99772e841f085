//! `f_jacobian(x, ..) -> J`: the dense Jacobian. Scalar parameters: one
//! forward pass with a basis direction per parameter. Array parameters:
//! rows from the vjp with basis cotangents (the gradient for a scalar
//! output), or columns from the jvp when the one array parameter is
//! shorter than the output; the vjp and jvp are closures local to
//! `f_jacobian`.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{Ident, Type};

use super::{one_or_tuple, param_grad_ty, Companions};
use crate::context::local;
use crate::emit::Tree;
use crate::ir::{FloatTy, OutShape, Ty};
use crate::plan;
use crate::signature;

const DOC: &str = "The dense Jacobian (one entry per output and `wrt` parameter)";

impl Companions<'_> {
    pub(super) fn jacobian(&self) -> TokenStream {
        let outs = &self.sig.outs;
        if outs.iter().any(|(_, t)| matches!(t, Ty::Array(_, 2))) {
            return self.jacobian_of_matrix_output();
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
        // A column is ∂out/∂x_d, of the outputs' types: an array, or
        // the output's own tuple type when their float types differ.
        let m = self.sig.out_shape.len();
        let floats = &self.sig.out_floats;
        let mixed = floats.iter().any(|f| *f != floats[0]);
        let body = self.body(
            "jacobian",
            |p| p.basis_jvp(),
            |j| {
                let column = |d: usize| {
                    let leaves = j.tangents[d].value.iter().map(|&k| Tree::Leaf(k));
                    match &self.sig.out_shape {
                        OutShape::Leaf => Tree::Leaf(j.tangents[d].value[0]),
                        OutShape::Tuple(_) if mixed => Tree::Tuple(leaves.collect()),
                        OutShape::Tuple(_) => Tree::Array(leaves.collect()),
                    }
                };
                match wrt.len() {
                    1 => column(0),
                    p => Tree::Tuple((0..p).map(column).collect()),
                }
            },
        );
        let column = match &self.sig.out_shape {
            OutShape::Tuple(_) if !mixed => {
                let elem = self.cx.float(floats[0]);
                quote!([#elem; #m])
            }
            _ => self.sig.out_ty.to_token_stream(),
        };
        let tys = vec![column; wrt.len()];
        self.item("jacobian", DOC, &[], one_or_tuple(&tys), body)
    }

    /// The Jacobian of a matrix output `[[T; C]; R]`, output axes first
    /// (SPEC §3, as JAX's `jacfwd`): per `wrt` parameter, `[[T; C]; R]`
    /// for a scalar, `[[[T; N]; C]; R]` for `[T; N]`, `[[Vec<T>; C]; R]`
    /// for a slice; one `_jvp` per basis direction.
    fn jacobian_of_matrix_output(&self) -> TokenStream {
        let private = self.cx.private();
        let out_ty = &self.sig.out_ty;
        if self.sig.out_shape != OutShape::Leaf {
            // A matrix inside a tuple output: no Jacobian; documented.
            return TokenStream::new();
        }
        let (one, zero) = (self.out_const(0, 1.0), self.out_const(0, 0.0));
        let elem = self.cx.float(self.sig.out_floats[0]);
        let [jvp, cols, j, r, c] = ["jvp", "cols", "j", "r", "c"].map(local);
        let define_jvp = self.closure(
            "jacobian",
            &jvp,
            &self.closure_dot_params(),
            quote!(#out_ty),
            |p| p.jvp(),
            |t| self.out_tree(&t.tangents[0]),
        );
        // The zero tangent of each parameter, and a basis one along `j`.
        let tangent = |k: usize, basis: bool| -> TokenStream {
            let param = &self.sig.params[self.sig.wrt[k]];
            let (x, ty) = (&param.ident, &param.ty);
            if !param.ir_ty.is_array() {
                return if basis { quote!(#one) } else { quote!(#zero) };
            }
            let row_len = matrix_row_len(ty);
            let (zeros, by_ref) = match (ty, &row_len) {
                (Type::Reference(rf), Some(c)) if matches!(*rf.elem, Type::Slice(_)) => {
                    (quote!(::std::vec![[#zero; #c]; #x.len()]), true)
                }
                _ if super::is_slice(ty) => (quote!(#private::filled(#zero, #x.len())), true),
                (Type::Reference(rf), _) => {
                    let a = &rf.elem;
                    (quote!(<#a as #private::Zeros<_>>::zeros()), true)
                }
                _ => (quote!(<#ty as #private::Zeros<_>>::zeros()), false),
            };
            let set = basis.then(|| match &row_len {
                Some(c) => quote!(e[#j / (#c)][#j % (#c)] = #one;),
                None => quote!(e[#j] = #one;),
            });
            let e = quote!({ let mut e = #zeros; #set e });
            if by_ref {
                quote!(&#e)
            } else {
                e
            }
        };
        let mut blocks = Vec::new();
        let mut tys = Vec::new();
        for k in 0..self.sig.wrt.len() {
            let args: Vec<TokenStream> = (0..self.sig.wrt.len())
                .map(|d| tangent(d, d == k))
                .collect();
            let param = &self.sig.params[self.sig.wrt[k]];
            let x = &param.ident;
            let fixed = match &param.ty {
                Type::Array(a) => Some(a.len.clone()),
                Type::Reference(rf) => match &*rf.elem {
                    Type::Array(a) => Some(a.len.clone()),
                    _ => None,
                },
                _ => None,
            };
            let row_len = matrix_row_len(&param.ty);
            let (block, ty) = if !param.ir_ty.is_array() {
                (quote!(#jvp(#(#args),*)), quote!(#out_ty))
            } else if let Some(cc) = row_len {
                // A matrix parameter: entry `[r][c]` is a matrix of its shape.
                let [a, b] = ["a", "b"].map(local);
                match fixed {
                    Some(rr) => {
                        let block = quote!({
                            let #cols: [#out_ty; (#rr) * (#cc)] = ::core::array::from_fn(|#j| #jvp(#(#args),*));
                            ::core::array::from_fn(|#r| ::core::array::from_fn(|#c| ::core::array::from_fn(|#a| ::core::array::from_fn(|#b| #cols[#a * (#cc) + #b][#r][#c]))))
                        });
                        (block, matrix_of(out_ty, quote!([[#elem; #cc]; #rr])))
                    }
                    None => {
                        let block = quote!({
                            let #cols: ::std::vec::Vec<#out_ty> = (0..#x.len() * (#cc)).map(|#j| #jvp(#(#args),*)).collect();
                            ::core::array::from_fn(|#r| ::core::array::from_fn(|#c| (0..#x.len()).map(|#a| ::core::array::from_fn(|#b| #cols[#a * (#cc) + #b][#r][#c])).collect()))
                        });
                        (
                            block,
                            matrix_of(out_ty, quote!(::std::vec::Vec<[#elem; #cc]>)),
                        )
                    }
                }
            } else if let Some(n) = fixed {
                let block = quote!({
                    let #cols: [#out_ty; #n] = ::core::array::from_fn(|#j| #jvp(#(#args),*));
                    ::core::array::from_fn(|#r| ::core::array::from_fn(|#c| ::core::array::from_fn(|#j| #cols[#j][#r][#c])))
                });
                (block, matrix_of(out_ty, quote!([#elem; #n])))
            } else {
                let block = quote!({
                    let #cols: ::std::vec::Vec<#out_ty> = (0..#x.len()).map(|#j| #jvp(#(#args),*)).collect();
                    ::core::array::from_fn(|#r| ::core::array::from_fn(|#c| #cols.iter().map(|m| m[#r][#c]).collect()))
                });
                (block, matrix_of(out_ty, quote!(::std::vec::Vec<#elem>)))
            };
            blocks.push(block);
            tys.push(ty);
        }
        let result = one_or_tuple(&blocks);
        self.item(
            "jacobian",
            "The dense Jacobian, output axes first (entry `[r][c]`: the derivative of output element `[r][c]`)",
            &[],
            one_or_tuple(&tys),
            self.calls(quote!({ #define_jvp #result })),
        )
    }

    /// The Jacobian of a function of arrays, row by row: the gradient for
    /// a scalar output; for a tuple output, one `_vjp` per output with a
    /// basis cotangent (row `i` of each parameter's block is
    /// ∂out_i/∂param).
    fn jacobian_by_rows(&self) -> TokenStream {
        let p = self.sig.wrt.len();
        let m = self.sig.out_shape.len();
        // `[G; M]` per parameter: its `M` rows.
        let tys: Vec<TokenStream> = self
            .sig
            .wrt
            .iter()
            .map(|&i| {
                let g = param_grad_ty(&self.sig.params[i].ty);
                quote!([#g; #m])
            })
            .collect();
        let rows_ty = one_or_tuple(&tys);
        let (body, ret) = match &self.sig.out_shape {
            OutShape::Leaf => {
                let body = self.body("jacobian", |p| p.gradient(), |g| self.grad_tree(&g.primal));
                return self.item("jacobian", DOC, &[], self.grad_ty(), body);
            }
            OutShape::Tuple(_) if self.one_sweep_rows(m) => (self.rows_in_one_sweep(m), rows_ty),
            OutShape::Tuple(_) => {
                let vjp = local("vjp");
                let define = self.vjp_closure(&vjp);
                let rows: Vec<TokenStream> = (0..m)
                    .map(|k| {
                        let basis =
                            (0..m).map(|j| self.out_const(j, if j == k { 1.0 } else { 0.0 }));
                        quote!(#vjp((#(#basis,)*)))
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
                let value = one_or_tuple(&blocks);
                (quote! { #define #(let #names = #rows;)* #value }, rows_ty)
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
        let (out_ty, _) = &self.sig.outs[0];
        let one = self.out_const(0, 1.0);
        let [value, vjp, jvp] = ["value", "vjp", "jvp"].map(local);
        let rows = local("rows");
        let (stmt, blocks, tys) = self.jacobian_rows(
            out_ty,
            self.sig.out_floats[0],
            &rows,
            quote!(#value()),
            &|e| e,
        );
        let by_rows = match plan::literal_len(out_ty) {
            Some(m) if self.one_sweep_rows(m) => self.rows_in_one_sweep(m),
            _ => {
                let result = one_or_tuple(&blocks);
                let define_vjp = self.vjp_closure(&vjp);
                let define_value = if signature::is_vec(out_ty) {
                    self.value_closure(&value)
                } else {
                    TokenStream::new()
                };
                quote!({ #define_value #define_vjp #stmt #result })
            }
        };
        // One array parameter by value: forward mode when it is shorter.
        let param = &self.sig.params[self.sig.wrt[0]];
        let [cols, e, i, j] = ["cols", "e", "i", "j"].map(local);
        let body = match (out_ty, &param.ty, self.sig.wrt.len()) {
            (Type::Array(a), Type::Array(pa), 1)
                if param.ir_ty == Ty::Array(self.sig.out_floats[0], 1) =>
            {
                let (m, n, pty) = (&a.len, &pa.len, &param.ty);
                let transpose =
                    quote!(::core::array::from_fn(|#i| ::core::array::from_fn(|#j| #cols[#j][#i])));
                let columns = if self.plan.as_ref().is_some_and(|p| p.basis().is_some()) {
                    let columns = self.body(
                        "jacobian",
                        |p| p.basis_jvp(),
                        |c| {
                            Tree::Array(c.tangents.iter().map(|t| Tree::Leaf(t.value[0])).collect())
                        },
                    );
                    quote!({ let #cols: [#out_ty; #n] = { #columns }; #transpose })
                } else {
                    let dot = &self.names.dots[0];
                    let define_jvp = self.closure(
                        "jacobian",
                        &jvp,
                        &[quote!(#dot: #pty)],
                        quote!(#out_ty),
                        |p| p.jvp(),
                        |j| self.out_tree(&j.tangents[0]),
                    );
                    quote!({
                        #define_jvp
                        let #cols: [#out_ty; #n] = ::core::array::from_fn(|#j| {
                            let mut #e: #pty = #private::Zeros::zeros();
                            #e[#j] = #one;
                            #jvp(#e)
                        });
                        #transpose
                    })
                };
                match (plan::literal_len(out_ty), plan::literal_len(pty)) {
                    (Some(m), Some(n)) if n < m => columns,
                    (Some(_), Some(_)) => by_rows,
                    _ => quote!(if #n < #m #columns else #by_rows),
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
        let m = self.sig.outs.len();
        let p = self.sig.wrt.len();
        let [value, vjp, value_fn] = ["value", "vjp", "value_fn"].map(local);
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
        let define_value = self.value_closure(&value_fn);
        let define_vjp = self.vjp_closure(&vjp);
        let body = quote!({
            #define_value
            #define_vjp
            let #value = #value_fn();
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

    /// Are the `m` rows computed in one program? Not for a long output,
    /// nor when the function calls another: the program is the forward
    /// mode of the vjp, which would need the callee's second-order
    /// companions.
    fn one_sweep_rows(&self, m: usize) -> bool {
        m <= plan::ONE_SWEEP && self.func().is_none_or(|f| f.graph.calls.is_empty())
    }

    /// Every row of the Jacobian from one program (see
    /// [`crate::plan::Plan::jacobian_rows`]): per `wrt` parameter, the
    /// array of its `m` rows. The program keeps the cotangent parameter
    /// of the vjp it is built from: where the emitted code still names it
    /// (a basis cotangent read at a computed index is made from its
    /// shape), it is bound to zeros.
    fn rows_in_one_sweep(&self, m: usize) -> TokenStream {
        let out_bar = &self.names.out_bar;
        let cot = self.cotangent_ty();
        let zero = match &self.sig.out_shape {
            OutShape::Leaf => {
                let private = self.cx.private();
                quote!(#private::Zeros::zeros())
            }
            OutShape::Tuple(_) => {
                let zeros = (0..m).map(|k| self.out_const(k, 0.0));
                quote!((#(#zeros,)*))
            }
        };
        let p = self.sig.wrt.len();
        let body = self.body(
            "jacobian",
            |plan| plan.jacobian_rows(m),
            |rows| {
                let block = |j: usize| {
                    let row = |d: usize| Tree::Leaf(rows.tangents[d].adjoints[j]);
                    Tree::Array((0..m).map(row).collect())
                };
                match p {
                    1 => block(0),
                    p => Tree::Tuple((0..p).map(block).collect()),
                }
            },
        );
        let mut used = Vec::new();
        crate::plan::idents(body.clone(), &mut used);
        if used.contains(&out_bar.to_string()) {
            quote!({ let #out_bar: #cot = #zero; #body })
        } else {
            quote!({ #body })
        }
    }

    /// `let vjp = |out_bar| -> G { .. };`: the adjoints for a cotangent.
    fn vjp_closure(&self, name: &Ident) -> TokenStream {
        let (out_bar, cot) = (&self.names.out_bar, self.cotangent_ty());
        self.closure(
            "jacobian",
            name,
            &[quote!(#out_bar: #cot)],
            self.grad_ty(),
            |p| p.vjp(),
            |v| self.grad_tree(&v.primal),
        )
    }

    /// `let value = || -> Out { .. };`: the function's value.
    fn value_closure(&self, name: &Ident) -> TokenStream {
        let out = &self.sig.out_ty;
        self.closure(
            "jacobian",
            name,
            &[],
            quote!(#out),
            |p| p.primal(),
            |f| self.out_tree(&f.primal),
        )
    }

    /// The rows of one output's Jacobian block (`rows`, from the vjp with
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
        let float = self.cx.float(elem);
        let one = crate::emit::float_const(self.cx, 1.0, elem);
        let zero = crate::emit::float_const(self.cx, 0.0, elem);
        let vjp = local("vjp");
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
                    #vjp(#cot)
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
                    #vjp(#cot)
                }).collect();
            };
            let mut tys = Vec::new();
            let blocks = self
                .sig
                .wrt
                .iter()
                .enumerate()
                .map(|(j, &w)| {
                    // A matrix parameter's row of the Jacobian is its
                    // gradient flattened, row-major.
                    let row = field(j, quote!(#r));
                    let row = match self.sig.params[w].ir_ty {
                        Ty::Array(_, 2) => {
                            quote!(#row.iter().flatten().copied().collect::<::std::vec::Vec<_>>())
                        }
                        _ => quote!(#row.clone()),
                    };
                    let collected =
                        quote!(#rows.iter().map(|#r| #row).collect::<::std::vec::Vec<_>>());
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
            let stmt = quote!(let #rows = #vjp(#cot););
            let blocks = (0..p).map(|j| field(j, quote!(#rows))).collect();
            (stmt, blocks, grads)
        }
    }
}

/// `[[E; C]; R]` for a matrix type `[[T; C]; R]`: its entries replaced by
/// `E`.
fn matrix_of(matrix: &Type, entry: TokenStream) -> TokenStream {
    match matrix {
        Type::Array(rows) => match &*rows.elem {
            Type::Array(row) => {
                let (c, r) = (&row.len, &rows.len);
                quote!([[#entry; #c]; #r])
            }
            _ => quote!(#matrix),
        },
        _ => quote!(#matrix),
    }
}

/// The row length `C` of a matrix parameter (`[[T; C]; R]`, `&[[T; C]; R]`,
/// `&[[T; C]]`).
fn matrix_row_len(ty: &Type) -> Option<syn::Expr> {
    let rows = match ty {
        Type::Reference(r) => &*r.elem,
        other => other,
    };
    let row = match rows {
        Type::Array(a) => &*a.elem,
        Type::Slice(s) => &*s.elem,
        _ => return None,
    };
    match row {
        Type::Array(a) => Some(a.len.clone()),
        _ => None,
    }
}
