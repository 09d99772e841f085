//! The attribute's expansion: read the signature, lower the body, build
//! each companion with the transforms, simplify, emit.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use syn::{Ident, ItemFn, Type};

use crate::args::Args;
use crate::diff::{forward::jvp, reverse::vjp, Seed};
use crate::emit::{self, Tree};
use crate::error::Errors;
use crate::ir::{Function, OutShape, Param};
use crate::lower::{self, Lowered};
use crate::signature::{self, Signature};
use crate::simplify::{finish, simplify};
use crate::{fallback, pretty};

/// Expands `#[differentiate(args)] item`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let item: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let err = syn::Error::new_spanned(
                item_head(&item),
                "#[differentiate] applies to a function: put it on a `fn` item",
            )
            .to_compile_error();
            return quote!(#err #item);
        }
    };
    let mut errors = Errors::default();
    let mut args = syn::parse2::<Args>(args).unwrap_or_else(|e| {
        errors.push(e);
        Args::default()
    });
    if let Some(e) = args.errors.take() {
        errors.push(e);
    }
    let _float = crate::ir::GenericFloat::set(signature::float_param(&item.sig.generics));
    let sig = signature::read(&item, &args, &mut errors);
    if let Some(h) = &args.hessian {
        check_hessian_shape(h, &sig, &mut errors);
    }
    let lowered = lower::lower(&sig, &item.block, &mut errors);
    if !errors.is_empty() {
        let item = generic_literals(item);
        return fallback::expand(&item, &sig, &errors, args.hessian.is_some());
    }
    let companions = Companions::new(&item, &sig, &lowered, args.hessian.is_some()).all();
    let item = generic_literals(item);
    quote! { #item #companions }
}

/// In a function generic over `T: Float`, float literals become `T`s.
fn generic_literals(mut item: ItemFn) -> ItemFn {
    if let Some(t) = signature::float_param(&item.sig.generics) {
        syn::visit_mut::VisitMut::visit_block_mut(&mut signature::LiteralsAs(&t), &mut item.block);
    }
    item
}

/// The tokens naming an item (`struct Point`), for errors about it: its
/// keywords and name, without attributes or body.
fn item_head(item: &TokenStream) -> TokenStream {
    const KEYWORDS: &[&str] = &[
        "pub", "crate", "struct", "enum", "union", "const", "static", "trait", "mod", "type",
        "unsafe", "impl", "use", "extern",
    ];
    let mut head = TokenStream::new();
    let mut tokens = item.clone().into_iter().peekable();
    while let Some(tt) = tokens.next() {
        match &tt {
            // `#[attr]`
            proc_macro2::TokenTree::Punct(p) if p.as_char() == '#' => {
                tokens.next();
                continue;
            }
            proc_macro2::TokenTree::Ident(i) => {
                let keyword = KEYWORDS.iter().any(|k| i == k);
                head.extend([tt.clone()]);
                if !keyword {
                    return head;
                }
            }
            _ => head.extend([tt.clone()]),
        }
    }
    item.clone()
}

/// SPEC §3: a Hessian needs a scalar output, and `wrt` parameters that
/// are all scalars, or one array `[T; N]`, or one slice.
fn check_hessian_shape(keyword: &Ident, sig: &Signature, errors: &mut Errors) {
    if let Err(message) = hessian_shape(sig) {
        errors.at(keyword, message);
    }
}

fn hessian_shape(sig: &Signature) -> Result<(), &'static str> {
    let scalar_out = sig.out_shape == OutShape::Leaf && sig.outs[0].1.float().is_some();
    if !scalar_out {
        return Err("`hessian` needs a scalar output (`f64` or `f32`); for other outputs use `_jvp` of `_vjp` by hand");
    }
    let tys: Vec<crate::ir::Ty> = sig.wrt.iter().map(|&i| sig.params[i].ir_ty).collect();
    let scalars = !tys.is_empty() && tys.iter().all(|t| t.float().is_some());
    let one_vector = tys.len() == 1 && matches!(tys[0], crate::ir::Ty::Array(_, 1));
    if !scalars && !one_vector {
        return Err("`hessian` needs the `wrt` parameters to be all scalars, or one array `[T; N]`, or one slice `&[T]`; differentiate with respect to fewer parameters with `wrt(...)`");
    }
    Ok(())
}

/// The gradient type of a parameter: its own type, but `Vec<T>` for a
/// slice `&[T]` and `[T; N]` for `&[T; N]`.
fn param_grad_ty(ty: &Type) -> TokenStream {
    match ty {
        Type::Reference(r) => match &*r.elem {
            Type::Slice(s) => {
                let elem = &s.elem;
                quote!(::std::vec::Vec<#elem>)
            }
            Type::Array(a) => a.to_token_stream(),
            _ => ty.to_token_stream(),
        },
        _ => ty.to_token_stream(),
    }
}

/// `f` in forward mode along the direction of new parameters appended to
/// `f`'s, one per `(parameter index, name)` of `seeded` (the others have no
/// tangent), simplified.
fn directional(f: &Function, seeded: &[(usize, Ident)]) -> Function {
    let n = f.params.len() as u32;
    let extra = seeded
        .iter()
        .map(|(i, name)| Param {
            name: name.clone(),
            fields: f.params[*i].fields.clone(),
        })
        .collect();
    let seeds = move |_d: usize, index: u32, _field: Option<u32>| match seeded
        .iter()
        .position(|(i, _)| *i == index as usize)
    {
        Some(j) => Seed::Param {
            index: n + j as u32,
            field: None,
        },
        None => Seed::Zero,
    };
    simplify(&jvp(f, extra, 1, &seeds))
}

/// One item as itself, several as a tuple (gradients, Jacobian blocks).
fn one_or_tuple(items: &[TokenStream]) -> TokenStream {
    match items {
        [one] => one.clone(),
        _ => quote!((#(#items,)*)),
    }
}

/// `f` with only the outputs `tree` reads, and `tree` renumbered to them.
fn returned(mut f: Function, tree: &Tree) -> (Function, Tree) {
    fn walk(t: &Tree, old: &[crate::ir::NodeId], new: &mut Vec<crate::ir::NodeId>) -> Tree {
        match t {
            Tree::Leaf(i) => {
                new.push(old[*i]);
                Tree::Leaf(new.len() - 1)
            }
            Tree::Tuple(items) => Tree::Tuple(items.iter().map(|t| walk(t, old, new)).collect()),
            Tree::Array(items) => Tree::Array(items.iter().map(|t| walk(t, old, new)).collect()),
        }
    }
    let mut outputs = Vec::new();
    let tree = walk(tree, &f.outputs, &mut outputs);
    f.outputs = outputs;
    (f, tree)
}

/// Builds every companion of one function.
pub struct Companions<'a> {
    item: &'a ItemFn,
    sig: &'a Signature,
    lowered: Option<&'a Lowered>,
    /// Emit `_hessian` and `_hvp`.
    hessian: bool,
}

impl<'a> Companions<'a> {
    pub fn new(item: &'a ItemFn, sig: &'a Signature, lowered: &'a Lowered, hessian: bool) -> Self {
        Companions {
            item,
            sig,
            lowered: Some(lowered),
            hessian,
        }
    }

    /// Companions with the right signatures and no bodies (after errors).
    pub fn stubs(item: &'a ItemFn, sig: &'a Signature, hessian: bool) -> Self {
        Companions {
            item,
            sig,
            lowered: None,
            hessian: hessian && hessian_shape(sig).is_ok(),
        }
    }

    fn func(&self) -> Option<&Function> {
        self.lowered.map(|l| &l.func)
    }

    fn scalar_out(&self) -> bool {
        self.sig.out_shape == OutShape::Leaf && self.sig.outs[0].1.float().is_some()
    }

    /// The cotangent type of the output: the output's type, but `&[T]`
    /// for `Vec<T>`.
    fn cotangent_ty(&self) -> TokenStream {
        let one = |ty: &Type, ir: crate::ir::Ty| match (ir, signature::vec_elem(ty)) {
            (crate::ir::Ty::Array(..), Some(elem)) => quote!(&[#elem]),
            _ => ty.to_token_stream(),
        };
        match &self.sig.out_shape {
            OutShape::Leaf => one(&self.sig.outs[0].0, self.sig.outs[0].1),
            OutShape::Tuple(_) => {
                let items = self.sig.outs.iter().map(|(t, i)| one(t, *i));
                quote!((#(#items,)*))
            }
        }
    }

    pub fn all(&self) -> TokenStream {
        let mut out = TokenStream::new();
        if self.scalar_out() {
            out.extend(self.grad());
            out.extend(self.value_and_grad());
        } else {
            out.extend(self.needs_scalar("grad"));
            out.extend(self.needs_scalar("value_and_grad"));
        }
        out.extend(self.jvp());
        out.extend(self.vjp());
        out.extend(self.jacobian());
        if self.hessian {
            out.extend(self.hvp());
            out.extend(self.hessian());
            out.extend(self.grad_jvp());
            out.extend(self.grad_vjp());
            out.extend(self.vjp_jvp());
        }
        out.extend(self.pp());
        out
    }

    /// The parameters as arguments of a call to another companion.
    fn args(&self) -> Vec<&Ident> {
        self.sig.params.iter().map(|p| &p.ident).collect()
    }

    /// How a companion (or, for `""`, the function) is called from another
    /// companion: `f_vjp`, or `Self::f_vjp` for a method.
    fn companion_path(&self, suffix: &str) -> TokenStream {
        let name = if suffix.is_empty() {
            self.sig.name.clone()
        } else {
            self.name(suffix)
        };
        if self.item.sig.receiver().is_some() {
            quote!(Self::#name)
        } else {
            quote!(#name)
        }
    }

    /// `_dot` parameters for the `wrt` parameters: names and types.
    fn dots(&self) -> Vec<(Ident, &Type)> {
        self.sig
            .wrt
            .iter()
            .map(|&i| {
                let p = &self.sig.params[i];
                (self.fresh_param(format!("{}_dot", p.ident)), &p.ty)
            })
            .collect()
    }

    /// `let x_dot = &x_dot[..x.len()];` for slice tangents: the lengths
    /// then match and the optimizer drops the bounds checks on `x_dot`.
    fn dot_prologue(&self, dots: &[(Ident, &Type)]) -> TokenStream {
        let mut out = TokenStream::new();
        for ((dot, ty), &i) in dots.iter().zip(&self.sig.wrt) {
            if matches!(ty, Type::Reference(r) if matches!(*r.elem, Type::Slice(_))) {
                let x = &self.sig.params[i].ident;
                out.extend(quote! { let #dot = &#dot[..#x.len()]; });
            }
        }
        out
    }

    /// `f` in forward mode along the direction the `_dot` parameters
    /// give (appended to `f`'s parameters), simplified.
    fn directional(&self, f: &Function, dots: &[(Ident, &Type)]) -> Function {
        let seeded: Vec<(usize, Ident)> = dots
            .iter()
            .zip(&self.sig.wrt)
            .map(|((name, _), &i)| (i, name.clone()))
            .collect();
        directional(f, &seeded)
    }

    /// `f` in forward mode with one basis direction per `wrt` parameter
    /// (direction `d` seeds parameter `wrt[d]` with 1), simplified.
    fn basis_jvp(&self, f: &Function) -> Function {
        let wrt = &self.sig.wrt;
        let seeds = move |d: usize, index: u32, _field: Option<u32>| {
            if wrt[d] == index as usize {
                Seed::One
            } else {
                Seed::Zero
            }
        };
        simplify(&jvp(f, vec![], wrt.len(), &seeds))
    }

    /// The simplified gradient program: value, then one adjoint per
    /// `wrt` parameter.
    fn gradient_fn(&self) -> Option<Function> {
        self.reverse(vec![], |_| Seed::One)
    }

    /// `f_hvp(x, .., x_dot, ..) -> G`: the Hessian times a vector, as the
    /// forward mode of the gradient program (forward over reverse), never
    /// a dense Hessian.
    fn hvp(&self) -> TokenStream {
        let p = self.sig.wrt.len();
        // The gradient program has 1 + p outputs; their tangents follow,
        // the value's first.
        self.gradient_directional(
            "hvp",
            "The Hessian-vector product H·v (forward over reverse)",
            self.grad_tree(1 + p + 1),
            self.grad_ty(),
        )
    }

    /// `f_grad_jvp(x, .., x_dot, ..) -> (G, G)`: the gradient and its
    /// tangent H·v, the `_jvp` companion of `f_grad`, so that a
    /// differentiated function may call `f_grad`.
    fn grad_jvp(&self) -> TokenStream {
        let p = self.sig.wrt.len();
        let g = self.grad_ty();
        self.gradient_directional(
            "grad_jvp",
            "The gradient and its tangent H·v (the `_jvp` companion of `_grad`)",
            Tree::Tuple(vec![self.grad_tree(1), self.grad_tree(1 + p + 1)]),
            quote!((#g, #g)),
        )
    }

    /// A companion returning `tree` of the gradient program in forward
    /// mode along the `_dot` parameters.
    fn gradient_directional(
        &self,
        suffix: &str,
        doc: &str,
        tree: Tree,
        ret: TokenStream,
    ) -> TokenStream {
        let dots = self.dots();
        let f = self.gradient_fn().map(|g| self.directional(&g, &dots));
        let body = self.body(f, tree);
        let prologue = self.dot_prologue(&dots);
        let extra: Vec<TokenStream> = dots.iter().map(|(name, ty)| quote!(#name: #ty)).collect();
        self.item(suffix, doc, &extra, ret, quote!(#prologue #body))
    }

    /// `f_grad_vjp(x, .., g_bar) -> (G, G)`: the gradient and wᵀ·H, which
    /// is H·w since the Hessian is symmetric.
    fn grad_vjp(&self) -> TokenStream {
        let g_bar = self.fresh_param("grad_bar".to_string());
        let (cot, dirs): (TokenStream, Vec<TokenStream>) = match self.sig.wrt.as_slice() {
            [i] => {
                let ty = &self.sig.params[*i].ty;
                match ty {
                    Type::Reference(r) if matches!(*r.elem, Type::Slice(_)) => {
                        (quote!(#ty), vec![quote!(#g_bar)])
                    }
                    Type::Reference(r) => {
                        let elem = &r.elem;
                        (quote!(#elem), vec![quote!(&#g_bar)])
                    }
                    _ => (quote!(#ty), vec![quote!(#g_bar)]),
                }
            }
            wrt => {
                let fields = (0..wrt.len()).map(syn::Index::from);
                (self.grad_ty(), fields.map(|k| quote!(#g_bar.#k)).collect())
            }
        };
        let args = self.args();
        let grad_jvp = self.companion_path("grad_jvp");
        let g = self.grad_ty();
        self.item(
            "grad_vjp",
            "The gradient and wᵀ·H = H·w (the `_vjp` companion of `_grad`)",
            &[quote!(#g_bar: #cot)],
            quote!((#g, #g)),
            quote!(#grad_jvp(#(#args,)* #(#dirs),*)),
        )
    }

    /// `f_vjp_jvp(x, .., out_bar, x_dot, .., out_bar_dot)`: `f_vjp` in
    /// forward mode, `((value, adjoints), (their tangents))`. A function
    /// that calls `f` needs it for its own Hessian.
    fn vjp_jvp(&self) -> TokenStream {
        let n = self.sig.params.len();
        let p = self.sig.wrt.len();
        let out_bar = self.fresh_param("out_bar".to_string());
        let bar_dot = self.fresh_param("out_bar_dot".to_string());
        let dots = self.dots();
        let mut seeded: Vec<(usize, Ident)> = dots
            .iter()
            .zip(&self.sig.wrt)
            .map(|((name, _), &i)| (i, name.clone()))
            .collect();
        seeded.push((n, bar_dot.clone()));
        let f = self.func().and_then(|_| {
            let fields = self.sig.outs.iter().map(|(_, t)| *t).collect();
            let extra = vec![Param {
                name: out_bar.clone(),
                fields,
            }];
            let vjp = self.reverse(extra, |_| Seed::Param {
                index: n as u32,
                field: None,
            })?;
            Some(directional(&vjp, &seeded))
        });
        let pair = |first: usize| Tree::Tuple(vec![Tree::Leaf(first), self.grad_tree(first + 1)]);
        let body = self.body(f, Tree::Tuple(vec![pair(0), pair(1 + p)]));
        let prologue = self.dot_prologue(&dots);
        let out = &self.sig.out_ty;
        let mut extra = vec![quote!(#out_bar: #out)];
        extra.extend(dots.iter().map(|(name, ty)| quote!(#name: #ty)));
        extra.push(quote!(#bar_dot: #out));
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
    /// entries never computed. An array: one `_hvp` per column.
    fn hessian(&self) -> TokenStream {
        let p = self.sig.wrt.len();
        let first = &self.sig.params[self.sig.wrt[0]];
        if !first.ir_ty.is_array() {
            let f = self.gradient_fn().map(|g| self.basis_jvp(&g));
            // Tangent of adjoint j in direction d.
            let entry = |d: usize, j: usize| Tree::Leaf((1 + p) + d * (1 + p) + 1 + j);
            let rows = (0..p)
                .map(|i| Tree::Array((0..p).map(|j| entry(i.min(j), i.max(j))).collect()))
                .collect();
            let body = self.body(f, Tree::Array(rows));
            let ty = &first.ty;
            return self.item(
                "hessian",
                "The dense Hessian, exactly symmetric",
                &[],
                quote!([[#ty; #p]; #p]),
                body,
            );
        }
        let private = quote!(::autodiff::__private);
        let args = self.args();
        let hvp = self.companion_path("hvp");
        let elem = self.sig.out_floats[0];
        let one = emit::float_const(1.0, elem);
        let zero = emit::float_const(0.0, elem);
        let (body, ret) = match &first.ty {
            Type::Array(a) => {
                let (n, ty) = (&a.len, &first.ty);
                let body = quote! {
                    let cols: [#ty; #n] = ::core::array::from_fn(|j| {
                        let mut e: #ty = #private::Zeros::zeros();
                        e[j] = #one;
                        #hvp(#(#args,)* e)
                    });
                    ::core::array::from_fn(|i| ::core::array::from_fn(|j| if i <= j { cols[j][i] } else { cols[i][j] }))
                };
                (body, quote!([#ty; #n]))
            }
            _ => {
                let x = &first.ident;
                let body = quote! {
                    let n = #x.len();
                    let cols: ::std::vec::Vec<_> = (0..n).map(|j| {
                        let mut e = #private::filled(#zero, n);
                        e[j] = #one;
                        #hvp(#(#args,)* &e)
                    }).collect();
                    let rows: ::std::vec::Vec<::std::vec::Vec<#elem>> = (0..n)
                        .map(|i| (0..n).map(|j| if i <= j { cols[j][i] } else { cols[i][j] }).collect())
                        .collect();
                    #private::Matrix::from_rows(&rows)
                };
                (body, quote!(#private::Matrix<#elem>))
            }
        };
        self.item(
            "hessian",
            "The dense Hessian, exactly symmetric",
            &[],
            ret,
            quote!({ #body }),
        )
    }

    /// `base`, or `base_` (`base__`, ...) if a parameter already has that
    /// name.
    fn fresh_param(&self, base: String) -> Ident {
        let mut name = base;
        while self.sig.params.iter().any(|p| p.ident == name) {
            name.push('_');
        }
        format_ident!("{}", name)
    }

    fn name(&self, suffix: &str) -> Ident {
        format_ident!("{}_{}", self.sig.name, suffix, span = self.sig.name.span())
    }

    /// `x: f64, n: usize`: the original parameters without `mut`; a
    /// receiver or a pattern the pipeline rejected is kept (as `__argN`)
    /// so that stubs have the original arity.
    fn params(&self) -> Vec<TokenStream> {
        self.item
            .sig
            .inputs
            .iter()
            .enumerate()
            .map(|(i, input)| match input {
                syn::FnArg::Receiver(r) => r.to_token_stream(),
                syn::FnArg::Typed(pt) => {
                    let ty = &pt.ty;
                    match &*pt.pat {
                        syn::Pat::Ident(pi) => {
                            let id = &pi.ident;
                            quote!(#id: #ty)
                        }
                        _ => {
                            let id = format_ident!("__arg{}", i);
                            quote!(#id: #ty)
                        }
                    }
                }
            })
            .collect()
    }

    /// The gradient type: the `wrt` parameter's type, or a tuple of them.
    fn grad_ty(&self) -> TokenStream {
        let tys: Vec<TokenStream> = self
            .sig
            .wrt
            .iter()
            .map(|&i| param_grad_ty(&self.sig.params[i].ty))
            .collect();
        one_or_tuple(&tys)
    }

    /// One flat output per `wrt` parameter, starting at `first`.
    fn grad_tree(&self, first: usize) -> Tree {
        let n = self.sig.wrt.len();
        if n == 1 {
            Tree::Leaf(first)
        } else {
            Tree::Tuple((first..first + n).map(Tree::Leaf).collect())
        }
    }

    /// The function's result shape over flat outputs from `first`.
    fn out_tree(&self, first: usize) -> Tree {
        match &self.sig.out_shape {
            OutShape::Leaf => Tree::Leaf(first),
            OutShape::Tuple(items) => {
                Tree::Tuple((first..first + items.len()).map(Tree::Leaf).collect())
            }
        }
    }

    fn wrt_seeds(&self) -> Vec<(u32, Option<u32>)> {
        self.sig.wrt.iter().map(|&i| (i as u32, None)).collect()
    }

    /// The reverse-mode function with every output seeded by `seed(k)`.
    fn reverse(&self, extra: Vec<Param>, seed: impl Fn(usize) -> Seed) -> Option<Function> {
        let f = self.func()?;
        let seeds: Vec<Seed> = (0..f.outputs.len()).map(seed).collect();
        Some(simplify(&vjp(f, extra, &seeds, &self.wrt_seeds())))
    }

    fn body(&self, f: Option<Function>, tree: Tree) -> TokenStream {
        let items = self.lowered.map(|l| l.items.as_slice()).unwrap_or_default();
        match f {
            Some(f) => {
                // Only what the companion returns is kept: the simplifier
                // then drops the rest, loop-carried values included.
                let (f, tree) = returned(f, &tree);
                let body = emit::body(&finish(&f), &tree);
                quote!(#(#items)* #body)
            }
            None => quote!(::core::unreachable!()),
        }
    }

    /// One companion function.
    fn item(
        &self,
        suffix: &str,
        doc: &str,
        extra: &[TokenStream],
        ret: TokenStream,
        body: TokenStream,
    ) -> TokenStream {
        let vis = &self.item.vis;
        let name = self.name(suffix);
        let params = self.params();
        let (generics, _, where_clause) = self.item.sig.generics.split_for_impl();
        let doc = format!(
            "{doc} of [`{}`], generated by `#[differentiate]`.",
            self.sig.name
        );
        quote! {
            #[doc = #doc]
            #[inline]
            #[allow(unused_variables, unused_mut, unused_assignments, unused_parens, clippy::all)]
            #vis fn #name #generics (#(#params,)* #(#extra,)*) -> #ret #where_clause {
                #body
            }
        }
    }

    fn grad(&self) -> TokenStream {
        let f = self.reverse(vec![], |_| Seed::One);
        let body = self.body(f, self.grad_tree(1));
        self.item("grad", "The gradient", &[], self.grad_ty(), body)
    }

    fn value_and_grad(&self) -> TokenStream {
        let f = self.reverse(vec![], |_| Seed::One);
        let body = self.body(f, Tree::Tuple(vec![Tree::Leaf(0), self.grad_tree(1)]));
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
    /// called, with a message saying what to use instead.
    fn needs_scalar(&self, suffix: &str) -> TokenStream {
        let vis = &self.item.vis;
        let name = self.name(suffix);
        // The first plain parameter becomes generic over a trait no type
        // implements, so the call is what fails.
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
                _ => format_ident!("__arg{}", pos),
            },
            syn::FnArg::Receiver(_) => format_ident!("__arg{}", pos),
        };
        params[pos] = quote!(#id: __AutodiffArg);
        let doc = format!(
            "Not available: `{}` returns a tuple, and a gradient needs a scalar output. Use `{}_jacobian`, or `{}_vjp` with a cotangent.",
            self.sig.name, self.sig.name, self.sig.name
        );
        quote! {
            #[doc = #doc]
            #[allow(unused_variables, clippy::all)]
            #vis fn #name<__AutodiffArg: ::autodiff::__private::GradientNeedsScalarOutput>(#(#params,)*) -> ::core::convert::Infallible {
                ::core::unreachable!()
            }
        }
    }

    fn jvp(&self) -> TokenStream {
        let dots = self.dots();
        let f = self.func().map(|f| self.directional(f, &dots));
        let m = self.sig.out_shape.len();
        let body = self.body(f, Tree::Tuple(vec![self.out_tree(0), self.out_tree(m)]));
        let prologue = self.dot_prologue(&dots);
        let body = quote!(#prologue #body);
        let extra: Vec<TokenStream> = dots.iter().map(|(name, ty)| quote!(#name: #ty)).collect();
        let out = &self.sig.out_ty;
        self.item(
            "jvp",
            "The value and the Jacobian-vector product (forward mode, J·v)",
            &extra,
            quote!((#out, #out)),
            body,
        )
    }

    fn vjp(&self) -> TokenStream {
        let n = self.sig.params.len() as u32;
        let out_bar = self.fresh_param("out_bar".to_string());
        let tuple = self.sig.out_shape != OutShape::Leaf;
        let f = self.func().and_then(|_| {
            let fields = self.sig.outs.iter().map(|(_, t)| *t).collect();
            let extra = vec![Param {
                name: out_bar.clone(),
                fields,
            }];
            self.reverse(extra, |k| Seed::Param {
                index: n,
                field: tuple.then_some(k as u32),
            })
        });
        let body = self.body(
            f,
            Tree::Tuple(vec![
                self.out_tree(0),
                self.grad_tree(self.sig.out_shape.len()),
            ]),
        );
        let out = &self.sig.out_ty;
        let g = self.grad_ty();
        let cot = self.cotangent_ty();
        self.item(
            "vjp",
            "The value and the vector-Jacobian product (reverse mode, vᵀ·J)",
            &[quote!(#out_bar: #cot)],
            quote!((#out, #g)),
            body,
        )
    }

    /// Forward mode, one basis direction per `wrt` parameter.
    fn jacobian(&self) -> TokenStream {
        if self
            .sig
            .outs
            .iter()
            .any(|(_, t)| matches!(t, crate::ir::Ty::Array(_, 2)))
        {
            // A matrix output: no Jacobian (a rank-3 array); documented.
            return TokenStream::new();
        }
        if self.sig.out_shape == OutShape::Leaf && self.sig.outs[0].1.is_array() {
            return self.jacobian_of_array_output();
        }
        if self.sig.outs.iter().any(|(_, t)| t.is_array()) {
            return self.jacobian_of_tuple_output();
        }
        if self
            .sig
            .wrt
            .iter()
            .any(|&i| self.sig.params[i].ir_ty.is_array())
        {
            return self.jacobian_by_rows();
        }
        let p = self.sig.wrt.len();
        let m = self.sig.out_shape.len();
        let f = self.func().map(|f| self.basis_jvp(f));
        // Tangent of output k in direction d is flat output m + d*m + k.
        let column = |d: usize| match &self.sig.out_shape {
            OutShape::Leaf => Tree::Leaf(m + d),
            OutShape::Tuple(_) => Tree::Array((0..m).map(|k| Tree::Leaf(m + d * m + k)).collect()),
        };
        let tree = if p == 1 {
            column(0)
        } else {
            Tree::Tuple((0..p).map(column).collect())
        };
        let body = self.body(f, tree);
        let col_ty = |i: usize| {
            let ty = &self.sig.params[i].ty;
            match &self.sig.out_shape {
                OutShape::Leaf => quote!(#ty),
                OutShape::Tuple(_) => quote!([#ty; #m]),
            }
        };
        let tys: Vec<TokenStream> = self.sig.wrt.iter().map(|&i| col_ty(i)).collect();
        let ret = one_or_tuple(&tys);
        self.item(
            "jacobian",
            "The dense Jacobian (one entry per output and `wrt` parameter)",
            &[],
            ret,
            body,
        )
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
                            self.sig.out_floats.iter().enumerate().map(|(j, f)| {
                                emit::float_const(if j == k { 1.0 } else { 0.0 }, *f)
                            });
                        quote!(#vjp(#(#args,)* (#(#basis,)*)).1)
                    })
                    .collect();
                let names: Vec<Ident> = (0..m)
                    .map(|k| format_ident!("row{}", k, span = proc_macro2::Span::mixed_site()))
                    .collect();
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
                let ret = one_or_tuple(&tys);
                (quote! { #(let #names = #rows;)* #value }, ret)
            }
        };
        self.item(
            "jacobian",
            "The dense Jacobian (one entry per output and `wrt` parameter)",
            &[],
            ret,
            body,
        )
    }

    /// The Jacobian of an array output `[T; M]` or `Vec<T>`: row `i` is
    /// `_vjp` with the basis cotangent `e_i`; for one parameter `[T; N]`
    /// with `N < M`, columns from `_jvp` with basis tangents instead.
    /// `Vec` outputs give a [`Matrix`](autodiff_runtime::Matrix) per array
    /// parameter and a `Vec<T>` per scalar one.
    fn jacobian_of_array_output(&self) -> TokenStream {
        let private = quote!(::autodiff::__private);
        let args = self.args();
        let (out_ty, _) = &self.sig.outs[0];
        let one = emit::float_const(1.0, self.sig.out_floats[0]);
        let jvp = self.companion_path("jvp");
        let f = self.companion_path("");
        let rows = format_ident!("rows");
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
        let body = match (out_ty, &param.ty, self.sig.wrt.len()) {
            (Type::Array(a), Type::Array(pa), 1)
                if param.ir_ty == crate::ir::Ty::Array(self.sig.out_floats[0], 1) =>
            {
                let (m, n, pty) = (&a.len, &pa.len, &param.ty);
                quote! {
                    if #n < #m {
                        let cols: [#out_ty; #n] = ::core::array::from_fn(|j| {
                            let mut e: #pty = #private::Zeros::zeros();
                            e[j] = #one;
                            #jvp(#(#args,)* e).1
                        });
                        ::core::array::from_fn(|i| ::core::array::from_fn(|j| cols[j][i]))
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
            body,
        )
    }

    /// The Jacobian of a tuple output holding arrays: for each `wrt`
    /// parameter, a tuple with one block per output (the block that output
    /// alone would have), from `f_vjp` with basis cotangents.
    fn jacobian_of_tuple_output(&self) -> TokenStream {
        let private = quote!(::autodiff::__private);
        let args = self.args();
        let f = self.companion_path("");
        let m = self.sig.outs.len();
        let p = self.sig.wrt.len();
        // Zero cotangent parts; a `Vec` output's is a slice of the value's
        // length.
        let mut zeros = Vec::new();
        let mut zero_parts = Vec::new();
        for (k, (ty, ir)) in self.sig.outs.iter().enumerate() {
            let elem = self.sig.out_floats[k];
            let kk = syn::Index::from(k);
            let z = format_ident!("zero{}", k);
            if signature::is_vec(ty) {
                let zero = emit::float_const(0.0, elem);
                zeros.push(quote!(let #z = #private::filled(#zero, value.#kk.len());));
                zero_parts.push(quote!(&#z));
            } else if ir.is_array() {
                zeros.push(quote!(let #z: #ty = #private::Zeros::zeros();));
                zero_parts.push(quote!(#z));
            } else {
                zero_parts.push(emit::float_const(0.0, elem));
            }
        }
        let mut stmts = Vec::new();
        let mut per_param: Vec<Vec<TokenStream>> = vec![Vec::new(); p];
        let mut per_param_ty: Vec<Vec<TokenStream>> = vec![Vec::new(); p];
        for (k, (ty, _)) in self.sig.outs.iter().enumerate() {
            let kk = syn::Index::from(k);
            let rows = format_ident!("rows{}", k);
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
                self.jacobian_rows(ty, self.sig.out_floats[k], &rows, quote!(value.#kk), &cot);
            stmts.push(stmt);
            for j in 0..p {
                per_param[j].push(blocks[j].clone());
                per_param_ty[j].push(tys[j].clone());
            }
        }
        let values: Vec<TokenStream> = per_param.iter().map(|b| quote!((#(#b,)*))).collect();
        let tys: Vec<TokenStream> = per_param_ty.iter().map(|t| quote!((#(#t,)*))).collect();
        let value = one_or_tuple(&values);
        let body = quote!({
            let value = #f(#(#args),*);
            #(#zeros)*
            #(#stmts)*
            #value
        });
        self.item(
            "jacobian",
            "The dense Jacobian: per parameter, one block per output",
            &[],
            one_or_tuple(&tys),
            body,
        )
    }

    /// The rows of one output's Jacobian block (`rows`, from `f_vjp` with
    /// the cotangent `cot(basis)`), then per `wrt` parameter the block and
    /// its type. A scalar output: one row, the gradient; `[T; M]`: `M`
    /// rows; `Vec<T>`: rows for `value.len()` (a [`Matrix`] for an array
    /// parameter, a `Vec` for a scalar one).
    fn jacobian_rows(
        &self,
        out_ty: &Type,
        elem: crate::ir::FloatTy,
        rows: &Ident,
        value: TokenStream,
        cot: &dyn Fn(TokenStream) -> TokenStream,
    ) -> (TokenStream, Vec<TokenStream>, Vec<TokenStream>) {
        let private = quote!(::autodiff::__private);
        let args = self.args();
        let (one, zero) = (emit::float_const(1.0, elem), emit::float_const(0.0, elem));
        let vjp = self.companion_path("vjp");
        let p = self.sig.wrt.len();
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
            .map(|&i| param_grad_ty(&self.sig.params[i].ty))
            .collect();
        if let Type::Array(a) = out_ty {
            let m = &a.len;
            let e = cot(quote!(e));
            let stmt = quote! {
                let #rows: [_; #m] = ::core::array::from_fn(|i| {
                    let mut e: #out_ty = #private::Zeros::zeros();
                    e[i] = #one;
                    #vjp(#(#args,)* #e).1
                });
            };
            let blocks = (0..p)
                .map(|j| {
                    if p == 1 {
                        quote!(#rows)
                    } else {
                        let r = field(j, quote!(#rows[i]));
                        quote!(::core::array::from_fn(|i| #r.clone()))
                    }
                })
                .collect();
            let tys = grads.iter().map(|g| quote!([#g; #m])).collect();
            (stmt, blocks, tys)
        } else if signature::is_vec(out_ty) {
            let e = cot(quote!(&e));
            let stmt = quote! {
                let n = #value.len();
                let #rows: ::std::vec::Vec<_> = (0..n).map(|i| {
                    let mut e = #private::filled(#zero, n);
                    e[i] = #one;
                    #vjp(#(#args,)* #e).1
                }).collect();
            };
            let mut tys = Vec::new();
            let blocks = self.sig.wrt.iter().enumerate().map(|(j, &i)| {
                let r = field(j, quote!(r));
                if self.sig.params[i].ir_ty.is_array() {
                    tys.push(quote!(#private::Matrix<#elem>));
                    quote!(#private::Matrix::from_rows(&#rows.iter().map(|r| #r.clone()).collect::<::std::vec::Vec<_>>()))
                } else {
                    tys.push(quote!(::std::vec::Vec<#elem>));
                    quote!(#rows.iter().map(|r| #r.clone()).collect::<::std::vec::Vec<_>>())
                }
            }).collect();
            (stmt, blocks, tys)
        } else {
            let e = cot(one);
            let stmt = quote!(let #rows = #vjp(#(#args,)* #e).1;);
            let blocks = (0..p).map(|j| field(j, quote!(#rows))).collect();
            (stmt, blocks, grads)
        }
    }

    /// `f_pp()`: for each output and `wrt` parameter, the derivative raw
    /// and simplified.
    fn pp(&self) -> TokenStream {
        let name = self.sig.name.to_string();
        let mut entries = Vec::new();
        if let Some(f) = self.func() {
            let m = f.outputs.len();
            let n = self.sig.params.len() as u32;
            for k in 0..m {
                // An array output's derivative is its vjp, with the
                // cotangent `out_bar`.
                let array = self.sig.outs[k].1.is_array();
                let seeds: Vec<Seed> = (0..m)
                    .map(|j| match (j == k, array) {
                        (false, _) => Seed::Zero,
                        (true, false) => Seed::One,
                        (true, true) => Seed::Param {
                            index: n,
                            field: None,
                        },
                    })
                    .collect();
                let extra = if array {
                    vec![Param {
                        name: format_ident!("out_bar"),
                        fields: vec![self.sig.outs[k].1],
                    }]
                } else {
                    vec![]
                };
                let raw = vjp(f, extra, &seeds, &self.wrt_seeds());
                let simple = finish(&raw);
                for (j, &w) in self.sig.wrt.iter().enumerate() {
                    let output = if m == 1 {
                        name.clone()
                    } else {
                        format!("{name}.{k}")
                    };
                    let wrt = self.sig.params[w].ident.to_string();
                    let text = |g: &Function| pretty::format(emit::body(g, &Tree::Leaf(m + j)));
                    let (r, s) = (text(&raw), text(&simple));
                    entries.push(quote!(::autodiff::__private::PrettyEntry { output: #output, wrt: #wrt, raw: #r, simplified: #s }));
                }
            }
        }
        let body = match self.func() {
            Some(_) => quote!(::autodiff::__private::Pretty::new(#name, &[#(#entries),*])),
            None => quote!(::core::unreachable!()),
        };
        let vis = &self.item.vis;
        let fname = self.name("pp");
        let doc = format!("The symbolic derivatives of [`{name}`], raw and simplified (Theano's `pp`), generated by `#[differentiate]`.");
        quote! {
            #[doc = #doc]
            #vis fn #fname() -> ::autodiff::__private::Pretty {
                #body
            }
        }
    }
}
