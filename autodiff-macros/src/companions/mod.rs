//! The companions of one function, one module each: its signature and its
//! body, printed from the [`Plan`]. Without a plan (after an error) every
//! companion keeps its signature and gets an `unreachable!()` body, so that
//! call sites see no further errors.
//!
//! Every local a body declares is [`local`]: no user name can see, shadow
//! or be shadowed by it. The parameters companions add (`x_dot`,
//! `out_bar`, ...) differ from the function's own ([`Names`]).

mod grad;
mod hessian;
mod jacobian;
mod jvp;
mod linearize;
mod pp;
mod vjp;

pub use hessian::hessian_shape;
pub use linearize::LINEARIZE_NEEDS;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use syn::{Ident, ItemFn, Type};

use crate::context::{local, Cx};
use crate::emit::{self, Tree};
use crate::ir::{Function, NodeId, OutShape};
use crate::lower::Lowered;
use crate::plan::{Names, Parts, Plan, Program};
use crate::signature::Signature;
use crate::simplify::finish;

/// Builds every companion of one function.
pub struct Companions<'a> {
    cx: &'a Cx,
    item: &'a ItemFn,
    sig: &'a Signature,
    /// The derivative programs; `None` for stubs.
    plan: Option<Plan<'a>>,
    /// Items the body declares (`fn`, `const`, `use`), repeated in each
    /// companion.
    items: &'a [syn::Item],
    /// Emit the second-order companions.
    hessian: bool,
    names: Names,
    /// For companions that exist only to explain why they cannot be
    /// called: the marker trait no type implements, and the doc.
    marker: Option<(TokenStream, String)>,
    /// The `linearize` option: emit `f_linearize` and `f_pullback`.
    linearize: Option<Ident>,
    /// Programs finished for emission, by the plan's program (its address)
    /// and the outputs kept: companions that return the same outputs of
    /// one program (`_value_and_grad` and `_pp`'s simplified gradient)
    /// simplify it once.
    finished: RefCell<Finished>,
}

/// Finished programs by the address of the plan's program and the outputs
/// kept.
type Finished = HashMap<(usize, Vec<NodeId>), Rc<Function>>;

impl<'a> Companions<'a> {
    pub fn new(
        cx: &'a Cx,
        item: &'a ItemFn,
        sig: &'a Signature,
        lowered: &'a Lowered,
        hessian: bool,
    ) -> Self {
        let names = Names::new(sig, &item.block);
        Companions {
            cx,
            item,
            sig,
            plan: Some(Plan::new(&lowered.func, sig, names.clone())),
            items: &lowered.items,
            hessian,
            names,
            marker: None,
            linearize: None,
            finished: RefCell::default(),
        }
    }

    /// With the `linearize` option (its keyword, for an error where the
    /// closures cannot be made).
    pub fn with_linearize(self, linearize: Option<Ident>) -> Self {
        Companions { linearize, ..self }
    }

    /// Companions with the right signatures and no bodies (after errors).
    pub fn stubs(cx: &'a Cx, item: &'a ItemFn, sig: &'a Signature, hessian: bool) -> Self {
        Companions {
            cx,
            item,
            sig,
            plan: None,
            items: &[],
            hessian: hessian && hessian_shape(sig).is_ok(),
            names: Names::new(sig, &item.block),
            marker: None,
            linearize: None,
            finished: RefCell::default(),
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
            if self.scalar_out() {
                out.extend(self.hvp());
                out.extend(self.hessian());
                out.extend(self.grad_jvp());
                out.extend(self.grad_vjp());
            } else {
                out.extend(self.needs_scalar("hvp"));
                out.extend(self.needs_scalar("hessian"));
            }
            out.extend(self.vjp_jvp());
            if self.scalar_out() {
                out.extend(self.unavailable(
                    "ThirdDerivativesNotGenerated",
                    "third derivatives are not generated",
                    |c| c.grad_vjp_jvp_signature(),
                ));
            }
        } else {
            // What a caller's second derivatives would need: explained.
            let why =
                "a caller needs second derivatives of it: put `#[differentiate(hessian)]` on it";
            out.extend(self.unavailable("NeedsHessianOption", why, |c| c.vjp_jvp()));
            if self.scalar_out() {
                out.extend(self.unavailable("NeedsHessianOption", why, |c| c.grad_jvp()));
                out.extend(self.unavailable("NeedsHessianOption", why, |c| c.grad_vjp()));
            }
        }
        if let Some(key) = &self.linearize {
            out.extend(self.closures(key));
        }
        out.extend(self.pp());
        out
    }

    /// A companion that cannot be called (`why`): its signature, the
    /// first parameter's type a generic bound by the runtime's `marker`,
    /// which no type implements, so that a call fails with its message.
    fn unavailable(
        &self,
        marker: &str,
        why: &str,
        companion: impl Fn(&Companions<'a>) -> TokenStream,
    ) -> TokenStream {
        let private = self.cx.private();
        let marker = syn::Ident::new(marker, proc_macro2::Span::call_site());
        let stub = Companions {
            plan: None,
            marker: Some((quote!(#private::#marker), why.to_string())),
            names: self.names.clone(),
            linearize: None,
            finished: RefCell::default(),
            ..*self
        };
        companion(&stub)
    }

    fn scalar_out(&self) -> bool {
        self.sig.out_shape == OutShape::Leaf && self.sig.outs[0].1.float().is_some()
    }

    /// The lowered function, if there is one.
    fn func(&self) -> Option<&Function> {
        self.plan.as_ref().map(Plan::function)
    }

    /// `x_dot: X` for each `wrt` parameter `x: X` (SPEC §3: the
    /// parameter's type; `&[T]` for a `Vec<T>` by value).
    fn dot_params(&self) -> Vec<TokenStream> {
        self.sig
            .wrt
            .iter()
            .zip(&self.names.dots)
            .map(|(&i, dot)| {
                let ty = &self.sig.params[i].ty;
                match crate::signature::vec_elem(ty) {
                    Some(elem) => quote!(#dot: &[#elem]),
                    None => quote!(#dot: #ty),
                }
            })
            .collect()
    }

    /// The tangent parameters of a closure local to a companion: as
    /// [`Companions::dot_params`], but a float passed by reference is
    /// passed by value.
    fn closure_dot_params(&self) -> Vec<TokenStream> {
        self.sig
            .wrt
            .iter()
            .zip(&self.names.dots)
            .zip(self.dot_params())
            .map(|((&i, dot), param)| {
                match crate::signature::float_ref(self.cx, &self.sig.params[i].ty) {
                    Some(f) => {
                        let t = self.cx.float(f);
                        quote!(#dot: #t)
                    }
                    None => param,
                }
            })
            .collect()
    }

    /// `let x: T = *x;` for each float parameter passed by reference: the
    /// body reads its value.
    fn deref_prologue(&self) -> TokenStream {
        let mut out = TokenStream::new();
        for p in &self.sig.params {
            if let Some(f) = crate::signature::float_ref(self.cx, &p.ty) {
                let (x, t) = (&p.ident, self.cx.float(f));
                out.extend(quote!(let #x: #t = *#x;));
            }
        }
        out
    }

    /// The slice tangents: `(x_dot, x)` for each `wrt` slice `x`.
    fn slice_dots(&self) -> Vec<(&Ident, &Ident)> {
        self.sig
            .wrt
            .iter()
            .zip(&self.names.dots)
            .map(|(&i, dot)| (dot, &self.sig.params[i]))
            .filter(|(_, p)| is_slice(&p.ty))
            .map(|(dot, p)| (dot, &p.ident))
            .collect()
    }

    /// `let x_dot: T = *x_dot;` for each tangent of a float passed by
    /// reference.
    fn deref_dots(&self) -> TokenStream {
        let mut out = TokenStream::new();
        for (&i, dot) in self.sig.wrt.iter().zip(&self.names.dots) {
            if let Some(f) = crate::signature::float_ref(self.cx, &self.sig.params[i].ty) {
                let t = self.cx.float(f);
                out.extend(quote!(let #dot: #t = *#dot;));
            }
        }
        out
    }

    /// `check_len("f_jvp", "x_dot", x.len(), x_dot.len());` for each slice
    /// tangent (SPEC §7); the optimizer then knows the lengths are equal.
    fn dot_prologue(&self, suffix: &str) -> TokenStream {
        let private = self.cx.private();
        let companion = self.name(suffix).to_string();
        let mut out = TokenStream::new();
        for (dot, x) in self.slice_dots() {
            let name = dot.to_string();
            out.extend(quote! { #private::check_len(#companion, #name, #x.len(), #dot.len()); });
        }
        out.extend(self.deref_dots());
        out
    }

    /// The slice arguments of companion `suffix` whose lengths it checks,
    /// with what each must match: `# Panics` in its docs.
    fn checked_args(&self, suffix: &str) -> Vec<(String, String)> {
        let dots = || {
            let dots = self.slice_dots().into_iter();
            dots.map(|(d, x)| (d.to_string(), format!("`{x}`")))
        };
        let out = self.sig.name.to_string();
        let vec_out = self
            .sig
            .outs
            .iter()
            .any(|(ty, _)| crate::signature::is_vec(ty));
        let bar = |name: &Ident| (name.to_string(), format!("the value of `{out}`"));
        let mut args: Vec<(String, String)> = Vec::new();
        match suffix {
            "jvp" | "hvp" | "grad_jvp" => args.extend(dots()),
            "vjp" if vec_out => args.push(bar(&self.names.out_bar)),
            "vjp_jvp" => {
                if vec_out {
                    args.push(bar(&self.names.out_bar));
                }
                args.extend(dots());
                if vec_out {
                    args.push(bar(&self.names.out_bar_dot));
                }
            }
            "grad_vjp" => {
                let grad_bar = self.names.grad_bar.to_string();
                args.extend(dots().map(|(_, x)| (grad_bar.clone(), x)));
            }
            _ => {}
        }
        args
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
                    let id = match &*pt.pat {
                        syn::Pat::Ident(pi) => pi.ident.clone(),
                        _ => local(&format!("arg{i}")),
                    };
                    quote!(#id: #ty)
                }
            })
            .collect()
    }

    /// The position of the first parameter that is not `self`.
    fn first_typed(&self) -> Option<usize> {
        self.item
            .sig
            .inputs
            .iter()
            .position(|i| matches!(i, syn::FnArg::Typed(_)))
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

    /// The adjoints of `parts`, shaped like the gradient.
    fn grad_tree(&self, parts: &Parts) -> Tree {
        match parts.adjoints.as_slice() {
            [one] => Tree::Leaf(*one),
            all => Tree::Tuple(all.iter().map(|&k| Tree::Leaf(k)).collect()),
        }
    }

    /// The value of `parts`, shaped like the function's result.
    fn out_tree(&self, parts: &Parts) -> Tree {
        match &self.sig.out_shape {
            OutShape::Leaf => Tree::Leaf(parts.value[0]),
            OutShape::Tuple(_) => Tree::Tuple(parts.value.iter().map(|&k| Tree::Leaf(k)).collect()),
        }
    }

    /// The cotangent type of the output: the output's type, but `&[T]`
    /// for `Vec<T>`.
    fn cotangent_ty(&self) -> TokenStream {
        let one = |ty: &Type, ir: crate::ir::Ty| match (ir, crate::signature::vec_elem(ty)) {
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

    /// The statements and value computing `tree` of the program `pick`
    /// selects from the plan; `unreachable!()` for a stub.
    fn body(
        &self,
        suffix: &str,
        pick: impl for<'p> Fn(&'p Plan<'a>) -> &'p Program,
        tree: impl Fn(&Program) -> Tree,
    ) -> TokenStream {
        match &self.plan {
            Some(plan) => {
                let program = pick(plan);
                let (f, tree) = returned(program.func.clone(), &tree(program));
                let f = self.finished(program, f);
                self.emit_finished(suffix, &f, &tree)
            }
            None => quote!(::core::unreachable!()),
        }
    }

    /// The statements and value computing `tree` of `f`, in companion
    /// `suffix`.
    fn emit(&self, suffix: &str, f: Function, tree: &Tree) -> TokenStream {
        // Only what the companion returns is kept: the simplifier then
        // drops the rest, loop-carried values included.
        let (f, tree) = returned(f, tree);
        self.emit_finished(suffix, &finish(&f), &tree)
    }

    /// `f` (outputs pruned to what a companion returns) finished, once per
    /// program of the plan and set of outputs.
    fn finished(&self, program: &Program, f: Function) -> Rc<Function> {
        let key = (program as *const Program as usize, f.outputs.clone());
        let mut cache = self.finished.borrow_mut();
        cache
            .entry(key)
            .or_insert_with(|| Rc::new(finish(&f)))
            .clone()
    }

    /// The statements and value computing `tree` of the finished `f`.
    fn emit_finished(&self, suffix: &str, f: &Function, tree: &Tree) -> TokenStream {
        let companion = self.name(suffix).to_string();
        let body = emit::body(self.cx, f, tree, Some(&companion));
        let items = self.items;
        quote!(#(#items)* #body)
    }

    /// `let name = |params| -> ret { body };`: the program `pick` selects,
    /// as a closure local to companion `suffix` (nothing for a stub). A
    /// companion never calls another by path: in an `impl` block, an
    /// associated function without `self` could not name it.
    fn closure(
        &self,
        suffix: &str,
        name: &Ident,
        params: &[TokenStream],
        ret: TokenStream,
        pick: impl for<'p> Fn(&'p Plan<'a>) -> &'p Program,
        tree: impl Fn(&Program) -> Tree,
    ) -> TokenStream {
        if self.plan.is_none() {
            return TokenStream::new();
        }
        let body = self.body(suffix, pick, tree);
        quote! { let #name = |#(#params),*| -> #ret { #body }; }
    }

    /// A body made of calls to other companions; `unreachable!()` for a
    /// stub.
    fn calls(&self, body: TokenStream) -> TokenStream {
        match self.plan {
            Some(_) => body,
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
        let mut params = self.params();
        params.extend(extra.iter().cloned());
        let generics = self.item.sig.generics.clone();
        self.item_with(suffix, doc, params, generics, ret, body)
    }

    /// [`Companions::item`] with its own parameters (all of them) and
    /// generics.
    fn item_with(
        &self,
        suffix: &str,
        doc: &str,
        mut params: Vec<TokenStream>,
        mut generics: syn::Generics,
        ret: TokenStream,
        body: TokenStream,
    ) -> TokenStream {
        let vis = &self.item.vis;
        let name = self.name(suffix);
        let mut doc = format!(
            "{doc} of [`{}`], generated by `#[differentiate]`.",
            self.sig.name
        );
        if let Some((marker, why)) = &self.marker {
            let Some(pos) = self.first_typed() else {
                return TokenStream::new();
            };
            let arg = local("Unavailable");
            let id = local(&format!("arg{pos}"));
            params[pos] = quote!(#id: #arg);
            generics.params.push(syn::parse_quote!(#arg: #marker));
            doc = format!("Not available: {why}.");
        }
        let (generics, _, where_clause) = generics.split_for_impl();
        let checked = self.checked_args(suffix);
        for (k, (arg, like)) in checked.iter().enumerate() {
            if k == 0 {
                doc.push_str("\n\n# Panics\n");
            }
            doc.push_str(&format!("\nIf `{arg}` does not have the length of {like}."));
        }
        let track = (!checked.is_empty() && self.marker.is_none()).then(|| quote!(#[track_caller]));
        let body = match self.marker {
            Some(_) => quote!(::core::unreachable!()),
            None => {
                let deref = self.plan.as_ref().map(|_| self.deref_prologue());
                quote!(#deref #body)
            }
        };
        quote! {
            #[doc = #doc]
            #[inline]
            #track
            #[allow(dead_code, unused_variables, unused_mut, unused_assignments, unused_parens, clippy::all)]
            #vis fn #name #generics (#(#params,)*) -> #ret #where_clause {
                #body
            }
        }
    }

    /// A float constant of the output's element type `k`.
    fn out_const(&self, k: usize, v: f64) -> TokenStream {
        emit::float_const(self.cx, v, self.sig.out_floats[k])
    }
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
            // `&[T; N]`, `&T`, `&Vec<T>`: the value's own type.
            other => other.to_token_stream(),
        },
        _ => ty.to_token_stream(),
    }
}

/// Does `ty` have a length known at run time only (`&[T]`, `Vec<T>`,
/// `&Vec<T>`)?
fn is_slice(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => {
            matches!(*r.elem, Type::Slice(_)) || crate::signature::is_vec(&r.elem)
        }
        other => crate::signature::is_vec(other),
    }
}

/// One item as itself, several as a tuple (gradients, Jacobian blocks).
pub(crate) fn one_or_tuple(items: &[TokenStream]) -> TokenStream {
    match items {
        [one] => one.clone(),
        _ => quote!((#(#items,)*)),
    }
}

/// `f` with only the outputs `tree` reads, and `tree` renumbered to them.
fn returned(mut f: Function, tree: &Tree) -> (Function, Tree) {
    fn walk(t: &Tree, old: &[NodeId], new: &mut Vec<NodeId>) -> Tree {
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
