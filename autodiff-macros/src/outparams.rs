//! `&mut` parameters (SPEC §4): out-parameters are outputs, and a `&mut`
//! parameter that is read and written is an input and an output (Enzyme's
//! `Duplicated`).
//!
//! The derivative programs are not built twice. A function with `&mut`
//! parameters is the pure function that takes each one's value on entry
//! and returns it on exit, beside what the function returns:
//!
//! ```text
//! fn f(x: &[f64], out: &mut [f64])       fn __f_outs(x: &[f64], __out_in: &[f64]) -> Vec<f64> {
//!     { body }                     =>        let mut out = __out_in.to_vec(); { body } out
//!                                         }
//! ```
//!
//! The pure function goes through the one pipeline (its companions are
//! hidden), and the companions the user calls are thin wrappers with SPEC
//! §4's signatures: they pass each `&mut` value in, and write the value,
//! the tangent or the cotangent back. Their argument and return types are
//! read from the pure companions' own signatures, so the two cannot
//! disagree. The entry value of an out-parameter that is never read is a
//! constant: elements the body does not write keep the caller's values
//! and have tangent 0.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, FnArg, Ident, ItemFn, Pat, ReturnType, Stmt, Type};

use crate::args::Args;
use crate::context::{local, Cx};
use crate::error::Errors;

/// What a `&mut` parameter holds.
#[derive(Clone)]
enum Shape {
    /// `&mut T`.
    Scalar,
    /// `&mut [T; N]`.
    Fixed,
    /// `&mut [T]` or `&mut Vec<T>`.
    Slice,
}

/// One `&mut` parameter.
struct MutParam {
    /// Its place among the parameters.
    pos: usize,
    ident: Ident,
    /// Its type as written (`&mut [f64]`): the type of its tangent and,
    /// when it is differentiated, of its cotangent.
    ty: Type,
    shape: Shape,
    /// The pure function's parameter that takes its entry value.
    input: Ident,
    /// Is it differentiated (read by the body, or named in `wrt`)?
    active: bool,
}

/// Does the function have a `&mut` parameter?
pub fn has_mut_params(item: &ItemFn) -> bool {
    item.sig.inputs.iter().any(|a| match a {
        FnArg::Typed(pt) => matches!(&*pt.ty, Type::Reference(r) if r.mutability.is_some()),
        FnArg::Receiver(r) => r.mutability.is_some() && r.reference.is_some(),
    })
}

/// The expansion of a function with `&mut` parameters: the function as
/// written, the pure function with its (hidden) companions, and the
/// wrappers. `expand` is the pipeline, given options and an item.
pub fn expand(
    cx: &Cx,
    args: &Args,
    item: &ItemFn,
    pipeline: impl Fn(TokenStream, TokenStream) -> TokenStream,
) -> Result<TokenStream, Errors> {
    let mut errors = Errors::default();
    let params = mut_params(cx, item, &mut errors);
    if let Some(h) = &args.hessian {
        errors.at(h, "`hessian` is not generated for a function with `&mut` parameters; return the value instead of writing it, or drop `hessian`");
    }
    let ret = match &item.sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) if cx.float_of(ty).is_some() => Some((**ty).clone()),
        ReturnType::Type(_, ty) => {
            errors.at(ty, "a function with `&mut` parameters may return nothing or one float; return the rest through another `&mut` parameter");
            None
        }
    };
    if let Some(self_arg) = item.sig.receiver() {
        errors.at(
            self_arg,
            "#[differentiate] does not support `&mut` parameters in methods; make it a free function",
        );
    }
    if params.iter().any(|p| !matches!(p.shape, Shape::Scalar)) {
        for r in early_returns(&item.block) {
            errors.at(r, "#[differentiate] does not read an early `return` in a function that writes an array through `&mut`; put the rest of the body in an `else` branch");
        }
    }
    let mut params = params;
    let wrt = pure_wrt(item, args, &mut params, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let pure = pure_item(item, &params, ret.as_ref());
    let mut options = quote!(wrt(#(#wrt),*));
    if let Some(k) = &args.krate {
        options.extend(quote!(, crate = #k));
    }
    let expanded = pipeline(options, pure.to_token_stream());
    let Ok(mut file) = syn::parse2::<syn::File>(expanded.clone()) else {
        return Ok(expanded);
    };
    hide(&mut file, &item.sig.ident, &pure.sig.ident, &params);
    let wrappers = Wrappers {
        cx,
        item,
        pure: &pure.sig.ident,
        params: &params,
        ret: ret.is_some(),
        wrt: &wrt,
        file: &file,
    };
    let companions = wrappers.all();
    Ok(quote!(#file #companions))
}

/// The `&mut` parameters, checked.
fn mut_params(cx: &Cx, item: &ItemFn, errors: &mut Errors) -> Vec<MutParam> {
    let mut params = Vec::new();
    for (pos, arg) in item.sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = arg else { continue };
        let Type::Reference(r) = &*pt.ty else {
            continue;
        };
        if r.mutability.is_none() {
            continue;
        }
        let Pat::Ident(pi) = &*pt.pat else { continue };
        let shape = match &*r.elem {
            t if cx.float_of(t).is_some() => Some(Shape::Scalar),
            Type::Array(a) if cx.float_of(&a.elem).is_some() => Some(Shape::Fixed),
            Type::Slice(s) if cx.float_of(&s.elem).is_some() => Some(Shape::Slice),
            t => crate::signature::vec_elem(t)
                .filter(|e| cx.float_of(e).is_some())
                .map(|_| Shape::Slice),
        };
        let Some(shape) = shape else {
            errors.at(&pt.ty, "#[differentiate] reads `&mut` parameters of a float, an array `[T; N]`, a slice `[T]` or a `Vec<T>` of floats; make this one a return value or a local");
            continue;
        };
        let ident = pi.ident.clone();
        params.push(MutParam {
            pos,
            input: format_ident!("__{}_in", ident),
            active: reads(&item.block, &ident),
            ident,
            ty: (*pt.ty).clone(),
            shape,
        });
    }
    params
}

/// The pure function's `wrt`: the user's, with each `&mut` parameter
/// named by its input; by default every float parameter and every `&mut`
/// parameter the body reads. Marks the `&mut` parameters it names active.
fn pure_wrt(
    item: &ItemFn,
    args: &Args,
    params: &mut [MutParam],
    errors: &mut Errors,
) -> Vec<Ident> {
    let names: Vec<Ident> = match &args.wrt {
        Some(names) => {
            for p in params.iter_mut() {
                p.active = names.contains(&p.ident);
            }
            names.clone()
        }
        None => item
            .sig
            .inputs
            .iter()
            .filter_map(|a| match a {
                FnArg::Typed(pt) => match &*pt.pat {
                    Pat::Ident(pi) => Some(pi.ident.clone()),
                    _ => None,
                },
                FnArg::Receiver(_) => None,
            })
            .filter(|n| params.iter().all(|p| p.ident != *n || p.active))
            .collect(),
    };
    let wrt: Vec<Ident> = names
        .iter()
        .map(|n| match params.iter().find(|p| p.ident == *n) {
            Some(p) => p.input.clone(),
            None => n.clone(),
        })
        .collect();
    if args.wrt.is_none() && wrt.is_empty() {
        errors.at(
            &item.sig.ident,
            "this function reads no float parameter, so its outputs have no derivative; #[differentiate] needs at least one float input",
        );
    }
    wrt
}

/// Does `block` read `name` (its values, not only its length, and not
/// only as the target of `=`)?
fn reads(block: &syn::Block, name: &Ident) -> bool {
    struct Reads<'a> {
        name: &'a Ident,
        found: bool,
    }
    fn is_name(e: &Expr, name: &Ident) -> bool {
        matches!(e, Expr::Path(p) if p.path.is_ident(name))
    }
    impl<'ast> Visit<'ast> for Reads<'_> {
        fn visit_expr(&mut self, e: &'ast Expr) {
            match e {
                Expr::Path(p) if p.path.is_ident(self.name) => self.found = true,
                // `out[i] = v`, `*out = v`: a write.
                Expr::Assign(a) => {
                    match &*a.left {
                        Expr::Index(ix) if is_name(&ix.expr, self.name) => {
                            self.visit_expr(&ix.index)
                        }
                        Expr::Unary(u) if is_name(&u.expr, self.name) => {}
                        other => self.visit_expr(other),
                    }
                    self.visit_expr(&a.right);
                }
                // `out.len()`: the shape, not the values.
                Expr::MethodCall(m) if m.method == "len" && is_name(&m.receiver, self.name) => {}
                _ => syn::visit::visit_expr(self, e),
            }
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut r = Reads { name, found: false };
    r.visit_block(block);
    r.found
}

/// The `return` expressions of `block` (not of its closures or items).
fn early_returns(block: &syn::Block) -> Vec<syn::ExprReturn> {
    #[derive(Default)]
    struct Returns(Vec<syn::ExprReturn>);
    impl<'ast> Visit<'ast> for Returns {
        fn visit_expr(&mut self, e: &'ast Expr) {
            match e {
                Expr::Return(r) => self.0.push(r.clone()),
                Expr::Closure(_) => {}
                _ => syn::visit::visit_expr(self, e),
            }
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut r = Returns::default();
    r.visit_block(block);
    r.0
}

/// The pure function: each `&mut` parameter an input of its value on
/// entry, bound mutably to its name in the body, and returned after what
/// the function returns.
fn pure_item(item: &ItemFn, params: &[MutParam], ret: Option<&Type>) -> ItemFn {
    let mut pure = item.clone();
    pure.sig.ident = format_ident!("__{}_outs", item.sig.ident);
    pure.attrs.clear();
    let mut prologue: Vec<Stmt> = Vec::new();
    let mut outs = Vec::new();
    for p in params {
        let (name, input) = (&p.ident, &p.input);
        let Type::Reference(r) = &p.ty else { continue };
        let elem = &r.elem;
        let (in_ty, out_ty, bind): (Type, Type, Stmt) = match p.shape {
            Shape::Scalar | Shape::Fixed => (
                (**elem).clone(),
                (**elem).clone(),
                syn::parse_quote!(let mut #name = #input;),
            ),
            Shape::Slice => {
                let e = slice_elem(elem);
                (
                    syn::parse_quote!(&[#e]),
                    syn::parse_quote!(::std::vec::Vec<#e>),
                    syn::parse_quote!(let mut #name = #input.to_vec();),
                )
            }
        };
        if let Some(FnArg::Typed(pt)) = pure.sig.inputs.iter_mut().nth(p.pos) {
            *pt.pat = syn::parse_quote!(#input);
            *pt.ty = in_ty;
        }
        prologue.push(bind);
        outs.push((name.clone(), out_ty));
    }
    let names: Vec<&Ident> = outs.iter().map(|(n, _)| n).collect();
    let mut types: Vec<Type> = ret.cloned().into_iter().collect();
    types.extend(outs.iter().map(|(_, t)| t.clone()));
    pure.sig.output = match types.as_slice() {
        [one] => syn::parse_quote!(-> #one),
        many => syn::parse_quote!(-> (#(#many),*)),
    };
    let tuple = |value: Option<Expr>| -> Expr {
        let all: Vec<TokenStream> = value
            .map(|v| v.to_token_stream())
            .into_iter()
            .chain(names.iter().map(|n| n.to_token_stream()))
            .collect();
        match all.as_slice() {
            [one] => Expr::Verbatim(one.clone()),
            many => Expr::Verbatim(quote!((#(#many),*))),
        }
    };
    let mut rewrite = Rewrite {
        scalars: params
            .iter()
            .filter(|p| matches!(p.shape, Shape::Scalar))
            .map(|p| p.ident.clone())
            .collect(),
        tuple: &tuple,
    };
    let mut stmts = std::mem::take(&mut pure.block.stmts);
    for s in &mut stmts {
        rewrite.visit_stmt_mut(s);
    }
    let tail = match stmts.last_mut() {
        Some(Stmt::Expr(e, None)) if ret.is_some() => {
            let e = e.clone();
            stmts.pop();
            Some(tuple(Some(e)))
        }
        // A function that returns a value and has no tail diverges at its
        // end (`return v;`, a `loop`): nothing follows.
        _ if ret.is_some() => None,
        Some(Stmt::Expr(_, semi @ None)) => {
            *semi = Some(Default::default());
            Some(tuple(None))
        }
        _ => Some(tuple(None)),
    };
    pure.block.stmts = prologue;
    pure.block.stmts.extend(stmts);
    pure.block.stmts.extend(tail.map(|t| Stmt::Expr(t, None)));
    pure
}

/// `T` of `[T]` or `Vec<T>`.
fn slice_elem(ty: &Type) -> Type {
    match ty {
        Type::Slice(s) => (*s.elem).clone(),
        other => crate::signature::vec_elem(other)
            .cloned()
            .unwrap_or_else(|| other.clone()),
    }
}

/// The body's rewrites: `*out` of a scalar is `out`, and every `return`
/// returns the `&mut` parameters too (closures and items have their own).
struct Rewrite<'a> {
    scalars: Vec<Ident>,
    tuple: &'a dyn Fn(Option<Expr>) -> Expr,
}

impl VisitMut for Rewrite<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        match e {
            Expr::Unary(u)
                if matches!(u.op, syn::UnOp::Deref(_))
                    && matches!(&*u.expr, Expr::Path(p) if self.scalars.iter().any(|s| p.path.is_ident(s))) =>
            {
                *e = (*u.expr).clone();
            }
            Expr::Return(r) => {
                if let Some(v) = &mut r.expr {
                    self.visit_expr_mut(v);
                }
                r.expr = Some(Box::new((self.tuple)(r.expr.take().map(|v| *v))));
            }
            Expr::Closure(_) => {}
            _ => syn::visit_mut::visit_expr_mut(self, e),
        }
    }
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// Hides the pure function's items (they exist for the wrappers) and
/// names the user's function and arguments in their messages.
fn hide(file: &mut syn::File, name: &Ident, pure: &Ident, params: &[MutParam]) {
    struct Messages<'a> {
        from: String,
        to: String,
        params: &'a [MutParam],
    }
    impl VisitMut for Messages<'_> {
        fn visit_lit_str_mut(&mut self, lit: &mut syn::LitStr) {
            let mut text = lit.value();
            if !text.starts_with(&self.from) {
                return;
            }
            text = text.replacen(&self.from, &self.to, 1);
            for p in self.params {
                text = text.replace(&p.input.to_string(), &p.ident.to_string());
            }
            *lit = syn::LitStr::new(&text, lit.span());
        }
    }
    let mut messages = Messages {
        from: pure.to_string(),
        to: name.to_string(),
        params,
    };
    for it in &mut file.items {
        if let syn::Item::Fn(f) = it {
            f.vis = syn::Visibility::Inherited;
            f.attrs.push(syn::parse_quote!(#[doc(hidden)]));
            // The body as written, after `let mut out = __out_in;`: the
            // first write may overwrite the entry value unread.
            f.attrs.push(
                syn::parse_quote!(#[allow(dead_code, unused_assignments, unused_mut, clippy::all)]),
            );
            messages.visit_item_fn_mut(f);
        }
    }
}

/// The companions the user calls, over the pure function's.
struct Wrappers<'a> {
    cx: &'a Cx,
    item: &'a ItemFn,
    pure: &'a Ident,
    params: &'a [MutParam],
    /// Does the function return a float besides what it writes?
    ret: bool,
    /// The pure function's `wrt`.
    wrt: &'a [Ident],
    file: &'a syn::File,
}

impl Wrappers<'_> {
    fn all(&self) -> TokenStream {
        let mut out = TokenStream::new();
        out.extend(self.jvp());
        out.extend(self.vjp());
        out.extend(self.jacobian());
        out.extend(self.grad());
        out.extend(self.pp());
        out
    }

    /// The pure companion `__f_outs_<suffix>`, if it was emitted.
    fn pure_fn(&self, suffix: &str) -> Option<&syn::Signature> {
        let name = format!("{}_{suffix}", self.pure);
        self.file.items.iter().find_map(|it| match it {
            syn::Item::Fn(f) if f.sig.ident == name => Some(&f.sig),
            _ => None,
        })
    }

    fn name(&self, suffix: &str) -> Ident {
        format_ident!("{}_{suffix}", self.item.sig.ident)
    }

    /// `pub fn f_<suffix><generics>(<params>, <extra>) -> <ret>` (no
    /// arrow for `()`).
    fn head(
        &self,
        suffix: &str,
        doc: &str,
        extra: &[TokenStream],
        ret: TokenStream,
    ) -> TokenStream {
        let ret = if ret.to_string() == "()" {
            TokenStream::new()
        } else {
            quote!(-> #ret)
        };
        let sig = &self.item.sig;
        let (vis, generics, where_clause) =
            (&self.item.vis, &sig.generics, &sig.generics.where_clause);
        let name = self.name(suffix);
        let params = sig.inputs.iter();
        let doc = format!("{doc} [`{}`], generated by `#[differentiate]`.", sig.ident);
        quote! {
            #[doc = #doc]
            #[allow(clippy::too_many_arguments, clippy::type_complexity, unused_variables)]
            #vis fn #name #generics (#(#params,)* #(#extra,)*) #ret #where_clause
        }
    }

    /// The arguments of a call of a pure companion: every parameter, a
    /// `&mut` one by its current value.
    fn pure_args(&self) -> Vec<TokenStream> {
        self.item
            .sig
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(pos, a)| {
                let FnArg::Typed(pt) = a else { return None };
                let Pat::Ident(pi) = &*pt.pat else {
                    return None;
                };
                let name = &pi.ident;
                Some(match self.params.iter().find(|p| p.pos == pos) {
                    Some(p) => self.value_of(p, name.to_token_stream()),
                    None => quote!(#name),
                })
            })
            .collect()
    }

    /// A `&mut` parameter's (or its tangent's) value as the pure function
    /// takes it.
    fn value_of(&self, p: &MutParam, name: TokenStream) -> TokenStream {
        match p.shape {
            Shape::Scalar | Shape::Fixed => quote!(*#name),
            Shape::Slice => quote!(&#name[..]),
        }
    }

    /// `dst = src` for a `&mut` parameter, checking a slice's length.
    fn write(&self, p: &MutParam, dst: &Ident, src: &Ident, companion: &str) -> TokenStream {
        let private = self.cx.private();
        match p.shape {
            Shape::Scalar | Shape::Fixed => quote!(*#dst = #src;),
            Shape::Slice => {
                let arg = dst.to_string();
                quote! {
                    #private::check_len(#companion, #arg, #src.len(), #dst.len());
                    #dst.copy_from_slice(&#src);
                }
            }
        }
    }

    /// A name for a companion's own parameter, distinct from the
    /// function's.
    fn fresh(&self, base: String) -> Ident {
        let taken = |n: &str| {
            self.item.sig.inputs.iter().any(|a| match a {
                FnArg::Typed(pt) => matches!(&*pt.pat, Pat::Ident(pi) if pi.ident == n),
                FnArg::Receiver(_) => n == "self",
            })
        };
        let mut name = base;
        while taken(&name) {
            name.push('_');
        }
        Ident::new(&name, Span::call_site())
    }

    /// The values the pure function returns: `(ret, p1, p2, ..)` as a
    /// pattern of fresh locals, and those locals.
    fn value_pattern(&self, prefix: &str) -> (TokenStream, Option<Ident>, Vec<Ident>) {
        let ret = self.ret.then(|| local(&format!("{prefix}_ret")));
        let outs: Vec<Ident> = self
            .params
            .iter()
            .map(|p| local(&format!("{prefix}_{}", p.ident)))
            .collect();
        let all: Vec<&Ident> = ret.iter().chain(&outs).collect();
        let pat = match all.as_slice() {
            [one] => quote!(#one),
            many => quote!((#(#many),*)),
        };
        (pat, ret, outs)
    }

    /// `f_jvp(args.., tangents of wrt.., tangents of the other &mut ..)`:
    /// writes the values and the tangents; returns the value and tangent
    /// of what the function returns.
    fn jvp(&self) -> Option<TokenStream> {
        let pure = self.pure_fn("jvp")?;
        let n = self.item.sig.inputs.len();
        let companion = self.name("jvp").to_string();
        let mut extra = Vec::new();
        let mut dot_args = Vec::new();
        for (k, w) in self.wrt.iter().enumerate() {
            let FnArg::Typed(pt) = pure.inputs.iter().nth(n + k)? else {
                return None;
            };
            match self.params.iter().find(|p| p.input == *w) {
                Some(p) => {
                    let (dot, ty) = (self.fresh(format!("{}_dot", p.ident)), &p.ty);
                    extra.push(quote!(#dot: #ty));
                    dot_args.push(self.value_of(p, dot.to_token_stream()));
                }
                None => {
                    let (pat, ty) = (&pt.pat, &pt.ty);
                    extra.push(quote!(#pat: #ty));
                    dot_args.push(pat.to_token_stream());
                }
            }
        }
        let mut dots = Vec::new();
        for p in self.params {
            let dot = self.fresh(format!("{}_dot", p.ident));
            if !p.active {
                let ty = &p.ty;
                extra.push(quote!(#dot: #ty));
            }
            dots.push(dot);
        }
        let (vpat, vret, vouts) = self.value_pattern("v");
        let (tpat, tret, touts) = self.value_pattern("t");
        let mut writes = TokenStream::new();
        for ((p, dot), (v, t)) in self.params.iter().zip(&dots).zip(vouts.iter().zip(&touts)) {
            writes.extend(self.write(p, &p.ident, v, &companion));
            writes.extend(self.write(p, dot, t, &companion));
        }
        let (ret_ty, result) = match (&vret, &tret, &self.item.sig.output) {
            (Some(v), Some(t), ReturnType::Type(_, ty)) => (quote!((#ty, #ty)), quote!((#v, #t))),
            _ => (quote!(()), TokenStream::new()),
        };
        let head = self.head(
            "jvp",
            "Writes the values and the tangents (J·v) of the `&mut` parameters of",
            &extra,
            ret_ty,
        );
        let name = format_ident!("{}_jvp", self.pure);
        let args = self.pure_args();
        let (v, t) = (local("value"), local("tangent"));
        Some(quote! {
            #head {
                let (#v, #t) = #name(#(#args,)* #(#dot_args,)*);
                let #vpat = #v;
                let #tpat = #t;
                #writes
                #result
            }
        })
    }

    /// `f_vjp(args.., ret_bar?, bars of the &mut ..)`: writes the values
    /// and the cotangents of the differentiated `&mut` parameters; returns
    /// the gradient of the others (after the value, if the function
    /// returns one).
    fn vjp(&self) -> Option<TokenStream> {
        let pure = self.pure_fn("vjp")?;
        let n = self.item.sig.inputs.len();
        let companion = self.name("vjp").to_string();
        let FnArg::Typed(bar_arg) = pure.inputs.iter().nth(n)? else {
            return None;
        };
        let bar_tys: Vec<Type> = match &*bar_arg.ty {
            Type::Tuple(t) if self.params.len() + usize::from(self.ret) > 1 => {
                t.elems.iter().cloned().collect()
            }
            other => vec![other.clone()],
        };
        let ReturnType::Type(_, pure_ret) = &pure.output else {
            return None;
        };
        let Type::Tuple(pure_ret) = &**pure_ret else {
            return None;
        };
        let grad_ty = pure_ret.elems.iter().nth(1)?;
        let grad_tys: Vec<Type> = match grad_ty {
            Type::Tuple(t) if self.wrt.len() > 1 => t.elems.iter().cloned().collect(),
            other => vec![other.clone()],
        };
        let mut extra = Vec::new();
        let mut bar_args = Vec::new();
        let mut bar_tys = bar_tys.into_iter();
        if self.ret {
            let (bar, ty) = (self.fresh("ret_bar".into()), bar_tys.next()?);
            extra.push(quote!(#bar: #ty));
            bar_args.push(bar.to_token_stream());
        }
        let mut bars = Vec::new();
        for p in self.params {
            let (bar, ty) = (self.fresh(format!("{}_bar", p.ident)), bar_tys.next()?);
            if p.active {
                let ty = &p.ty;
                extra.push(quote!(#bar: #ty));
                bar_args.push(self.value_of(p, bar.to_token_stream()));
            } else {
                extra.push(quote!(#bar: #ty));
                bar_args.push(bar.to_token_stream());
            }
            bars.push(bar);
        }
        let bar_arg = match bar_args.as_slice() {
            [one] => one.clone(),
            many => quote!((#(#many),*)),
        };
        let (vpat, vret, vouts) = self.value_pattern("v");
        let mut writes = TokenStream::new();
        for (p, v) in self.params.iter().zip(&vouts) {
            writes.extend(self.write(p, &p.ident, v, &companion));
        }
        let grads: Vec<Ident> = (0..self.wrt.len())
            .map(|k| local(&format!("g{k}")))
            .collect();
        let gpat = match grads.as_slice() {
            [one] => quote!(#one),
            many => quote!((#(#many),*)),
        };
        let (mut kept, mut kept_tys) = (Vec::new(), Vec::new());
        for ((w, g), ty) in self.wrt.iter().zip(&grads).zip(&grad_tys) {
            match self.params.iter().zip(&bars).find(|(p, _)| p.input == *w) {
                Some((p, bar)) => writes.extend(self.write(p, bar, g, &companion)),
                None => {
                    kept.push(g);
                    kept_tys.push(ty);
                }
            }
        }
        let (grad, grad_ty) = match (kept.as_slice(), kept_tys.as_slice()) {
            ([g], [t]) => (quote!(#g), quote!(#t)),
            ([], []) => (TokenStream::new(), quote!(())),
            (gs, ts) => (quote!((#(#gs),*)), quote!((#(#ts),*))),
        };
        let (ret_ty, result) = match (&vret, &self.item.sig.output) {
            (Some(v), ReturnType::Type(_, ty)) if kept.is_empty() => (quote!(#ty), quote!(#v)),
            (Some(v), ReturnType::Type(_, ty)) => (quote!((#ty, #grad_ty)), quote!((#v, #grad))),
            _ => (grad_ty, grad),
        };
        let head = self.head("vjp", "Writes the values of the `&mut` parameters, and the cotangents (vᵀ·J) of the differentiated ones, of", &extra, ret_ty);
        let name = format_ident!("{}_vjp", self.pure);
        let args = self.pure_args();
        let (v, g) = (local("value"), local("grad"));
        Some(quote! {
            #head {
                let (#v, #g) = #name(#(#args,)* #bar_arg);
                let #vpat = #v;
                let #gpat = #g;
                #writes
                #result
            }
        })
    }

    /// `f_jacobian(args..)`: writes the values; returns the Jacobian of
    /// the pure function (its outputs: what the function returns, then
    /// each `&mut` parameter; its inputs: the `wrt` parameters).
    fn jacobian(&self) -> Option<TokenStream> {
        let pure = self.pure_fn("jacobian")?;
        let ReturnType::Type(_, ty) = &pure.output else {
            return None;
        };
        self.writing_values(
            "jacobian",
            "Writes the values of the `&mut` parameters and returns the Jacobian of",
            ty.to_token_stream(),
            |args| {
                let name = format_ident!("{}_jacobian", self.pure);
                quote!(#name(#(#args,)*))
            },
        )
    }

    /// `f_grad(args..)` for one scalar out-parameter and nothing returned:
    /// writes the value; returns the gradient.
    fn grad(&self) -> Option<TokenStream> {
        let [p] = self.params else { return None };
        if self.ret || !matches!(p.shape, Shape::Scalar) || p.active {
            return None;
        }
        let pure = self.pure_fn("grad")?;
        let ReturnType::Type(_, ty) = &pure.output else {
            return None;
        };
        self.writing_values(
            "grad",
            "Writes the value of the out-parameter and returns the gradient of",
            ty.to_token_stream(),
            |args| {
                let name = format_ident!("{}_grad", self.pure);
                quote!(#name(#(#args,)*))
            },
        )
    }

    /// A companion that writes the values (by the pure function) and
    /// returns `call`.
    fn writing_values(
        &self,
        suffix: &str,
        doc: &str,
        ret: TokenStream,
        call: impl Fn(&[TokenStream]) -> TokenStream,
    ) -> Option<TokenStream> {
        let companion = self.name(suffix).to_string();
        let args = self.pure_args();
        let result = local("result");
        let call = call(&args);
        let pure = self.pure;
        let (vpat, _, vouts) = self.value_pattern("v");
        let mut writes = TokenStream::new();
        for (p, v) in self.params.iter().zip(&vouts) {
            writes.extend(self.write(p, &p.ident, v, &companion));
        }
        let head = self.head(suffix, doc, &[], ret);
        Some(quote! {
            #head {
                let #result = #call;
                let #vpat = #pure(#(#args,)*);
                #writes
                #result
            }
        })
    }

    /// `f_pp()`: the pure function's.
    fn pp(&self) -> Option<TokenStream> {
        self.pure_fn("pp")?;
        let (vis, name) = (&self.item.vis, self.name("pp"));
        let pure = format_ident!("{}_pp", self.pure);
        let private = self.cx.private();
        Some(quote! {
            /// The derivatives, raw and simplified (see `#[differentiate]`).
            #vis fn #name() -> #private::Pretty {
                #pure()
            }
        })
    }
}
