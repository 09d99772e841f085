//! The function's signature as the pipeline sees it: which parameters are
//! floats, which are differentiated (`wrt`), and the output's shape.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::args::Args;
use crate::context::Cx;
use crate::error::Errors;
use crate::ir::{FloatTy, IntTy, OutShape, Ty};

/// One parameter of the user's function.
#[derive(Clone)]
pub struct ParamInfo {
    pub ident: Ident,
    pub ty: Type,
    /// The parameter as the IR sees it: a float, an array of floats, or
    /// anything else (passed through, never differentiated).
    pub ir_ty: Ty,
}

impl ParamInfo {
    /// Floats and arrays of floats can be differentiated.
    pub fn differentiable(&self) -> bool {
        self.ir_ty.elem().is_some()
    }
}

/// `[T; N]`, `[[T; C]; R]`, `&[T]`, `&[T; N]`, `&[[T; C]]` of a float `T`:
/// the element type and rank. Rows are fixed arrays (`&[&[T]]` is not a
/// matrix here).
pub fn array_of(cx: &Cx, ty: &Type) -> Option<(FloatTy, u8)> {
    let rows = |elem: &Type| match elem {
        Type::Array(a) => cx.float_of(&a.elem).map(|f| (f, 2)),
        _ => None,
    };
    match ty {
        Type::Array(a) => cx
            .float_of(&a.elem)
            .map(|f| (f, 1))
            .or_else(|| rows(&a.elem)),
        Type::Slice(s) => cx
            .float_of(&s.elem)
            .map(|f| (f, 1))
            .or_else(|| rows(&s.elem)),
        Type::Reference(r)
            if r.mutability.is_none()
                && matches!(*r.elem, Type::Array(_) | Type::Slice(_) | Type::Path(_)) =>
        {
            array_of(cx, &r.elem)
        }
        Type::Paren(p) => array_of(cx, &p.elem),
        // `Vec<T>`, by value or by reference: a vector.
        Type::Path(_) => cx.float_of(vec_elem(ty)?).map(|f| (f, 1)),
        _ => None,
    }
}

/// `&T` of a float `T`: read through the reference.
pub fn float_ref(cx: &Cx, ty: &Type) -> Option<FloatTy> {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => cx.float_of(&r.elem),
        _ => None,
    }
}

/// Can a parameter of type `ty` be differentiated (a float, an array or
/// slice of floats, by value or by reference)?
pub fn differentiable_ty(cx: &Cx, ty: &Type) -> bool {
    ir_ty(cx, ty).elem().is_some()
}

fn ir_ty(cx: &Cx, ty: &Type) -> Ty {
    if let Some(f) = cx.float_of(ty).or_else(|| float_ref(cx, ty)) {
        Ty::Float(f)
    } else if int_of(ty).is_some() {
        Ty::Int
    } else if let Some((f, rank)) = array_of(cx, ty) {
        Ty::Array(f, rank)
    } else {
        Ty::Other
    }
}

/// The user's function's signature.
pub struct Signature {
    pub name: Ident,
    pub params: Vec<ParamInfo>,
    /// Indices of the differentiated parameters, in parameter order.
    pub wrt: Vec<usize>,
    pub out_ty: Type,
    pub out_shape: OutShape,
    /// Element type of each flat output.
    pub out_floats: Vec<FloatTy>,
    /// Each flat output's Rust type and IR type.
    pub outs: Vec<(Type, Ty)>,
    /// The type unsuffixed float literals take.
    pub default_float: FloatTy,
    /// Was the return type one the pipeline understands? (If not, the body
    /// is not checked against it.)
    pub out_known: bool,
}

/// The first type parameter of the enclosing `impl` that a method's
/// output or `wrt` parameters mention (`T` in `impl<T: Float> S<T>`): the
/// attribute sees the method only, so it cannot tell that `T` is a float.
/// A name is taken for one when it is short, capitalized and not the
/// method's own; only in types that must be floats (a data parameter may
/// be a struct `P`).
pub fn impl_type_params(sig: &syn::Signature, wrt: Option<&[Ident]>, errors: &mut Errors) {
    if sig.receiver().is_none() {
        return;
    }
    let own: Vec<String> = sig
        .generics
        .type_params()
        .map(|p| p.ident.to_string())
        .collect();
    let mut tokens = TokenStream::new();
    sig.output.to_tokens(&mut tokens);
    for input in &sig.inputs {
        if let (FnArg::Typed(pt), Some(wrt)) = (input, wrt) {
            if matches!(&*pt.pat, Pat::Ident(pi) if wrt.contains(&pi.ident)) {
                pt.ty.to_tokens(&mut tokens);
            }
        }
    }
    let found = first_foreign(tokens, &own);
    if let Some(t) = found {
        errors.at(&t, format!("`{t}` is a type parameter of the enclosing `impl`, which #[differentiate] cannot see (it reads the method alone), so it cannot tell that `{t}` is a float; differentiate a free function `fn f<{t}: autodiff::Float>(..)` and call it from the method, or write the method for `f64`/`f32`"));
    }
}

/// The first short capitalized name in `tokens` that is not one of `own`,
/// leaving out array lengths (`[f64; N]`: a const the pipeline reads).
fn first_foreign(tokens: TokenStream, own: &[String]) -> Option<Ident> {
    let mut after_semi = false;
    for t in tokens {
        let found = match &t {
            proc_macro2::TokenTree::Ident(i) if !after_semi => {
                let name = i.to_string();
                let short = name.len() <= 2 && name.starts_with(|c: char| c.is_ascii_uppercase());
                (short && !own.contains(&name)).then(|| i.clone())
            }
            proc_macro2::TokenTree::Group(g) => first_foreign(g.stream(), own),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
        after_semi = matches!(&t, proc_macro2::TokenTree::Punct(p) if p.as_char() == ';');
    }
    None
}

/// `ty` as a user writes it: `&[&[f64]]`, not `& [& [f64]]`.
fn shown_type(ty: &Type) -> String {
    let text = ty.to_token_stream().to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' if out.ends_with(['&', '[', '(', '<', ':']) => {}
            ' ' if chars
                .peek()
                .is_some_and(|n| [']', ')', '<', '>', ';', ',', ':'].contains(n)) => {}
            _ => out.push(c),
        }
    }
    out
}

/// The primitive integer type `ty` names, if it names one.
pub fn int_of(ty: &Type) -> Option<IntTy> {
    match ty {
        Type::Path(p) if p.qself.is_none() => IntTy::from_name(&p.path.get_ident()?.to_string()),
        Type::Paren(p) => int_of(&p.elem),
        Type::Group(g) => int_of(&g.elem),
        _ => None,
    }
}

/// Does a bound name the trait `Float` (`Float`, `num_traits::Float`,
/// `autodiff::Float`)?
fn is_float_bound(b: &syn::TypeParamBound) -> bool {
    matches!(b, syn::TypeParamBound::Trait(t)
        if t.path.segments.last().is_some_and(|s| s.ident == "Float"))
}

/// The type parameters bounded by `Float`, inline or in the `where` clause.
fn float_params(generics: &syn::Generics) -> Vec<&Ident> {
    let mut out: Vec<&Ident> = Vec::new();
    for t in generics.type_params() {
        if t.bounds.iter().any(is_float_bound) {
            out.push(&t.ident);
        }
    }
    for pred in generics.where_clause.iter().flat_map(|w| &w.predicates) {
        if let syn::WherePredicate::Type(pt) = pred {
            if let Type::Path(p) = &pt.bounded_ty {
                if let Some(id) = p.path.get_ident() {
                    let param = generics.type_params().any(|t| &t.ident == id);
                    if param && pt.bounds.iter().any(is_float_bound) && !out.contains(&id) {
                        out.push(id);
                    }
                }
            }
        }
    }
    out
}

/// The type parameter `T` of `fn f<T: Float>`: the function's float type.
pub fn float_param(generics: &syn::Generics) -> Option<Ident> {
    float_params(generics).first().map(|&id| id.clone())
}

/// Rewrites every unsuffixed float literal `2.0` (nested items aside) as
/// `::autodiff::__private::lit::<T>(2.0)`: in a function generic over
/// `T: Float`, literals are `T` values.
pub struct LiteralsAs<'a> {
    pub t: &'a Ident,
    pub private: TokenStream,
}

impl syn::visit_mut::VisitMut for LiteralsAs<'_> {
    fn visit_expr_mut(&mut self, e: &mut syn::Expr) {
        if let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(f),
            ..
        }) = e
        {
            if f.suffix().is_empty() {
                let (t, private) = (self.t, &self.private);
                *e = syn::parse_quote_spanned!(f.span()=> #private::lit::<#t>(#f));
                return;
            }
        }
        syn::visit_mut::visit_expr_mut(self, e);
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}

    /// `vec![0.0; n]` and `vec![a, b]` hold expressions too.
    fn visit_macro_mut(&mut self, m: &mut syn::Macro) {
        if !m.path.is_ident("vec") {
            return;
        }
        let tokens = &m.tokens;
        if let Ok(mut r) = syn::parse2::<syn::ExprRepeat>(quote::quote!([#tokens])) {
            self.visit_expr_mut(&mut r.expr);
            let (v, n) = (&r.expr, &r.len);
            m.tokens = quote::quote!(#v; #n);
        } else if let Ok(mut a) = syn::parse2::<syn::ExprArray>(quote::quote!([#tokens])) {
            for e in &mut a.elems {
                self.visit_expr_mut(e);
            }
            m.tokens = a.elems.to_token_stream();
        }
    }
}

fn check_float_params(generics: &syn::Generics, errors: &mut Errors) {
    for extra in float_params(generics).iter().skip(1) {
        errors.at(extra, "#[differentiate] supports one float type parameter; use the same `T: Float` for every float");
    }
}

/// Reads the signature, recording every problem in `errors`.
/// The signature is always returned (with stand-ins where it is wrong), so
/// that stub companions can still be emitted.
pub fn read(cx: &Cx, item: &ItemFn, args: &Args, errors: &mut Errors) -> Signature {
    let sig = &item.sig;
    if let Some(t) = &sig.asyncness {
        errors.at(
            t,
            "#[differentiate] does not support `async fn`; differentiate a plain `fn`",
        );
    }
    if let Some(t) = &sig.constness {
        errors.at(t, "#[differentiate] does not support `const fn`: float methods are not `const`; remove `const`");
    }
    if let Some(t) = &sig.unsafety {
        errors.at(
            t,
            "#[differentiate] does not support `unsafe fn`; move the unsafe part into a helper",
        );
    }
    if let Some(v) = &sig.variadic {
        errors.at(v, "#[differentiate] does not support variadic functions");
    }
    // Generics pass through to the companions; one type parameter bounded
    // by `Float` is the element type (see `float_param`).
    check_float_params(&sig.generics, errors);
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            // `self` is a constant: it is passed through, never differentiated.
            FnArg::Receiver(r) => params.push(ParamInfo {
                ident: Ident::new("self", r.self_token.span),
                ty: (*r.ty).clone(),
                ir_ty: Ty::Other,
            }),
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => params.push(ParamInfo {
                    ident: pi.ident.clone(),
                    ty: (*pt.ty).clone(),
                    ir_ty: ir_ty(cx, &pt.ty),
                }),
                other => errors.at(other, "#[differentiate] needs each parameter to be a plain name, like `x: f64`; destructure inside the body"),
            },
        }
    }
    let wrt = wrt_indices(cx, sig.ident.clone(), &params, args, errors);
    let before = errors.len();
    let (out_ty, out_shape, outs) = output(cx, sig, errors);
    let out_floats = outs
        .iter()
        .map(|(_, t)| t.elem().unwrap_or(FloatTy::F64))
        .collect();
    let out_known = errors.len() == before;
    let default_float = params.iter().find_map(|p| p.ir_ty.elem()).unwrap_or(
        outs.first()
            .and_then(|(_, t)| t.elem())
            .unwrap_or(FloatTy::F64),
    );
    Signature {
        name: sig.ident.clone(),
        params,
        wrt,
        out_ty,
        out_shape,
        out_floats,
        outs,
        default_float,
        out_known,
    }
}

fn wrt_indices(
    cx: &Cx,
    name: Ident,
    params: &[ParamInfo],
    args: &Args,
    errors: &mut Errors,
) -> Vec<usize> {
    let all: Vec<usize> = (0..params.len())
        .filter(|&i| params[i].differentiable())
        .collect();
    let Some(names) = &args.wrt else {
        if let Some(p) = params
            .iter()
            .find(|p| p.ir_ty == Ty::Other && is_array(cx, &p.ty))
        {
            errors.at(
                &p.ty,
                "#[differentiate] differentiates arrays `[T; N]`, `[[T; C]; R]` and slices `&[T]`, `&[[T; C]]` of `f32`/`f64`, and this parameter's type is none of them; pass rows of a fixed length (`&[[f64; C]]`), or leave it out of `wrt(...)` to use it as constant data",
            );
        } else if all.is_empty() {
            errors.at(
                &name,
                format!("`{name}` has no `f32` or `f64` parameter to differentiate; #[differentiate] needs at least one float parameter"),
            );
        }
        return all;
    };
    let mut wrt = Vec::new();
    let mut ok = true;
    for n in names {
        match params.iter().position(|p| p.ident == *n) {
            None => {
                errors.at(
                    n,
                    format!("`wrt` names `{n}`, which is not a parameter of `{name}`"),
                );
                ok = false;
            }
            Some(i) if !params[i].differentiable() => {
                let ty = shown_type(&params[i].ty);
                let what = if params[i].ir_ty == Ty::Int {
                    format!("an integer is data: leave `{n}` out of `wrt(...)`")
                } else {
                    format!("pass a matrix as rows of a fixed length (`&[[f64; C]]`), flat (`&[f64]`) or as a `DMatrix`/`Array2`, a struct that derives `autodiff::Tangent`, or leave `{n}` out of `wrt(...)` to use it as constant data")
                };
                errors.at(
                    n,
                    format!("`wrt` names `{n}`, which has type `{ty}`; only `f32`/`f64` parameters and arrays or slices of them can be differentiated: {what}"),
                );
                ok = false;
            }
            Some(i) if wrt.contains(&i) => {
                errors.at(n, format!("`wrt` names `{n}` twice"));
                ok = false;
            }
            Some(i) => wrt.push(i),
        }
    }
    wrt.sort();
    if ok {
        wrt
    } else {
        all
    }
}

/// `[T; N]`, `[T]`, `&[T]`, `&[T; N]`, `Vec<T>`.
/// Is `ty` an array, slice or `Vec` of floats (at any depth)? One the
/// pipeline does not read (`[[[f64; 2]; 2]; 2]`, `&[Vec<f64>]`) would
/// otherwise be a constant without a word; arrays of other elements
/// (`&[usize]`, `&[String]`) are constants as SPEC §2 says.
fn is_array(cx: &Cx, ty: &Type) -> bool {
    fn floats(cx: &Cx, ty: &Type) -> bool {
        match ty {
            Type::Array(a) => floats(cx, &a.elem),
            Type::Slice(s) => floats(cx, &s.elem),
            Type::Reference(r) => floats(cx, &r.elem),
            Type::Paren(p) => floats(cx, &p.elem),
            Type::Path(_) if vec_elem(ty).is_some() => vec_elem(ty).is_some_and(|t| floats(cx, t)),
            other => cx.float_of(other).is_some(),
        }
    }
    let container = match ty {
        Type::Array(_) | Type::Slice(_) => true,
        Type::Reference(r) => {
            matches!(*r.elem, Type::Array(_) | Type::Slice(_)) || vec_elem(&r.elem).is_some()
        }
        _ => vec_elem(ty).is_some(),
    };
    container && floats(cx, ty)
}

fn output(cx: &Cx, sig: &syn::Signature, errors: &mut Errors) -> (Type, OutShape, Vec<(Type, Ty)>) {
    const HELP: &str = "#[differentiate] needs the function to return a float (`f64`, `f32`), an array (`[T; N]`, `[[T; C]; R]`, `Vec<T>`) or a tuple of them";
    let f64_ty: Type = syn::parse_quote!(f64);
    let ty = match &sig.output {
        ReturnType::Default => {
            errors.push(syn::Error::new(sig.paren_token.span.close(), HELP));
            return (
                f64_ty.clone(),
                OutShape::Leaf,
                vec![(f64_ty, Ty::Float(FloatTy::F64))],
            );
        }
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    if let Some(t) = out_ir_ty(cx, &ty) {
        return (ty.clone(), OutShape::Leaf, vec![(ty, t)]);
    }
    if let Type::Tuple(t) = &ty {
        let items: Vec<Option<Ty>> = t.elems.iter().map(|t| out_ir_ty(cx, t)).collect();
        if !items.is_empty() && items.iter().all(Option::is_some) {
            let n = items.len();
            let outs = t
                .elems
                .iter()
                .cloned()
                .zip(items.into_iter().flatten())
                .collect();
            return (ty, OutShape::Tuple(vec![OutShape::Leaf; n]), outs);
        }
    }
    errors.at(
        &ty,
        format!("{HELP}; this returns `{}`", ty.to_token_stream()),
    );
    (ty, OutShape::Leaf, vec![(f64_ty, Ty::Float(FloatTy::F64))])
}

/// `T` of `Vec<T>`.
pub fn vec_elem(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Vec" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) => match a.args.first()? {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

/// The float type of the rows of a table `ty` whose rows are vectors the
/// IR does not hold as a matrix: `&[Vec<T>]`, `Vec<Vec<T>>`, `[&[T]; N]`.
pub fn row_of(cx: &Cx, ty: &Type) -> Option<FloatTy> {
    let strip = |t: &Type| match t {
        Type::Reference(r) => (*r.elem).clone(),
        other => other.clone(),
    };
    let table = strip(ty);
    let elem = match &table {
        Type::Slice(s) => strip(&s.elem),
        Type::Array(a) => strip(&a.elem),
        other => strip(vec_elem(other)?),
    };
    match &elem {
        Type::Slice(s) => cx.float_of(&s.elem),
        Type::Array(a) => cx.float_of(&a.elem),
        other => cx.float_of(vec_elem(other)?),
    }
}

/// Is `ty` a `Vec`?
pub fn is_vec(ty: &Type) -> bool {
    vec_elem(ty).is_some()
}

/// The IR type of an output type: a float, a fixed array or a `Vec`.
pub fn out_ir_ty(cx: &Cx, ty: &Type) -> Option<Ty> {
    if let Some(f) = cx.float_of(ty) {
        return Some(Ty::Float(f));
    }
    if let (Type::Array(_), Some((f, rank))) = (ty, array_of(cx, ty)) {
        return Some(Ty::Array(f, rank));
    }
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Vec" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => match a.args.first()? {
            syn::GenericArgument::Type(t) => cx.float_of(t).map(|f| Ty::Array(f, 1)),
            _ => None,
        },
        _ => None,
    }
}
