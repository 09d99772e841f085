//! Vector parameters of nalgebra's and ndarray's types (SPEC §4):
//! `DVector<T>`, `SVector<T, N>` (and its aliases `Vector1<T>` to
//! `Vector6<T>`), `Array1<T>`, `ArrayView1<'_, T>`, by value or by
//! reference, recognized by the last segment of their path.
//!
//! The function is expanded as if each such parameter were a slice
//! `&[T]` (the pipeline's own vectors), and each companion a user calls
//! is wrapped: the wrapper takes the parameters (and their tangents) in
//! their own types, reads them as slices through the runtime's
//! `VectorParam`, calls the slice companion (an item local to the
//! wrapper, of the same name), and gives gradients back in the
//! parameter's owned type (`DVector<T>`, `SVector<T, N>`, `Array1<T>`).
//! In the body, `x.dot(&y)`, `x.norm()`, `x.norm_squared()` and `x.sum()`
//! on such parameters are the array helpers `dot`, `norm` and `sum`.
//!
//! A function returning a `DVector<T>` or an `Array1<T>` (built with
//! `DVector::from_vec(v)`, `Array1::from(v)`) returns a `Vec<T>` in its
//! companions; the wrappers of `f_jvp` and `f_vjp` take and give vectors of
//! that type (the runtime's `VectorOut`).
//!
//! Fixed-size matrices (`SMatrix<T, R, C>`, `Matrix3<T>`, `Matrix2x3<T>`)
//! are read the same way as arrays of rows `[[T; C]; R]` (the runtime's
//! `MatrixParam`), with `m[(i, j)]` as `m[i][j]`, `m.nrows()`/`m.ncols()`
//! as the shape and `m * x` as `matvec(&m, &x)`.
//!
//! Matrices of run-time shape (`DMatrix`, `Array2`, `ArrayView2`) that are
//! differentiated are read as one slice of their elements in storage order
//! (nalgebra's column after column, ndarray's row after row; the runtime's
//! `DynMatrixParam`), with their shape as two hidden `usize` parameters
//! after the user's: `m[(i, j)]` (and ndarray's `m[[i, j]]`) is the flat
//! element, `m.nrows()`/`m.ncols()`/`m.dim()` the shape, `m.sum()`,
//! `m.norm()` the helpers on the elements, and `m * x` (nalgebra),
//! `m.dot(&x)` (ndarray) a loop. Gradients come back in the matrix's owned
//! type. Not differentiated, such a matrix is data and keeps its type.
//!
//! The macro sees tokens only: the generated code compiles where the user
//! enabled the facade's feature of that crate.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, FnArg, Ident, Item, ItemFn, Pat, Type};

use crate::args::Args;
use crate::context::{self, local, Cx};
use crate::error::Errors;
use crate::signature;

/// The vector types, by the last segment of their path: nalgebra's
/// `SVector` also under its aliases `Vector1` to `Vector6`.
const VECTORS: &[&str] = &[
    "DVector",
    "SVector",
    "Vector1",
    "Vector2",
    "Vector3",
    "Vector4",
    "Vector5",
    "Vector6",
    "Array1",
    "ArrayView1",
];
/// The matrix types of run-time shape, read as flat slices with a shape.
const MATRICES: &[&str] = &["DMatrix", "Array2", "ArrayView2"];

/// A parameter of one of [`VECTORS`]' types.
struct VectorParam {
    /// Its position among the function's parameters.
    index: usize,
    ident: Ident,
    /// As the user wrote it.
    ty: Type,
    /// The element type `T`.
    elem: Type,
    /// The owned type of its gradient.
    owned: Type,
    /// Passed by value and owned (`DVector<T>`, not `&DVector<T>` nor a
    /// view): its tangent is taken by reference.
    by_value: bool,
    /// The shape of a fixed-size matrix (`SMatrix<T, R, C>`, `Matrix3<T>`):
    /// its rows and columns, as expressions. `None` for a vector.
    shape: Option<(TokenStream, TokenStream)>,
    /// One of nalgebra's types (not ndarray's).
    nalgebra: bool,
    /// A matrix of run-time shape: the hidden parameters of the slice
    /// function holding its rows and columns.
    dynamic: Option<(Ident, Ident)>,
}

impl VectorParam {
    /// The runtime trait that reads it: `VectorParam` (as a slice) or
    /// `MatrixParam` (as an array of rows).
    fn reader(&self, cx: &Cx) -> TokenStream {
        let private = cx.private();
        match (&self.shape, &self.dynamic) {
            (_, Some(_)) => quote!(#private::DynMatrixParam),
            (None, None) => quote!(#private::VectorParam),
            (Some(_), None) => quote!(#private::MatrixParam),
        }
    }
}

/// The shape of nalgebra's fixed-size matrix type `seg`: `SMatrix<T, R,
/// C>`, `MatrixN<T>` (N×N) and `MatrixRxC<T>`, N, R and C from 1 to 6.
fn matrix_shape(seg: &syn::PathSegment) -> Option<(TokenStream, TokenStream)> {
    let name = seg.ident.to_string();
    if name == "SMatrix" {
        let syn::PathArguments::AngleBracketed(a) = &seg.arguments else {
            return None;
        };
        let dims: Vec<TokenStream> = a.args.iter().skip(1).map(|g| g.to_token_stream()).collect();
        return match dims.as_slice() {
            [r, c] => Some((r.clone(), c.clone())),
            _ => None,
        };
    }
    let dims = name.strip_prefix("Matrix")?;
    let digit = |d: &str| match d.parse::<usize>() {
        Ok(n) if (1..=6).contains(&n) && d.len() == 1 => Some(n),
        _ => None,
    };
    let (r, c) = match dims.split_once('x') {
        Some((r, c)) => (digit(r)?, digit(c)?),
        None => (digit(dims)?, digit(dims)?),
    };
    let lit = |n: usize| syn::LitInt::new(&n.to_string(), seg.ident.span()).to_token_stream();
    Some((lit(r), lit(c)))
}

/// The last segment of a type path (through references and parentheses)
/// and its first type argument: `("DVector", f64)` for `&DVector<f64>`.
fn container(ty: &Type) -> Option<(&syn::PathSegment, &Type)> {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => container(&r.elem),
        Type::Paren(p) => container(&p.elem),
        Type::Group(g) => container(&g.elem),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(a) = &last.arguments else {
                return None;
            };
            let elem = a.args.iter().find_map(|g| match g {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })?;
            Some((last, elem))
        }
        _ => None,
    }
}

/// `ty` without its outer references and parentheses.
fn value_ty(ty: &Type) -> &Type {
    match ty {
        Type::Reference(r) => value_ty(&r.elem),
        Type::Paren(p) => value_ty(&p.elem),
        Type::Group(g) => value_ty(&g.elem),
        other => other,
    }
}

/// The parameters of `item` of a vector type with a float element, and
/// the differentiated ones of a matrix type of run-time shape.
fn vector_params(cx: &Cx, item: &ItemFn, args: &Args) -> Vec<VectorParam> {
    let private = cx.private();
    let mut out = Vec::new();
    for (index, input) in item.sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = input else { continue };
        let Pat::Ident(pi) = &*pt.pat else { continue };
        let Some((last, elem)) = container(&pt.ty) else {
            continue;
        };
        let name = last.ident.to_string();
        let shape = matrix_shape(last);
        let named = args.wrt.as_ref().is_none_or(|w| w.contains(&pi.ident));
        let dynamic = (MATRICES.contains(&name.as_str()) && named).then(|| {
            let x = &pi.ident;
            (
                local(&format!("__{x}_nrows")),
                local(&format!("__{x}_ncols")),
            )
        });
        let known = VECTORS.contains(&name.as_str()) || shape.is_some() || dynamic.is_some();
        if !known || cx.float_of(elem).is_none() {
            continue;
        }
        let view = name.starts_with("ArrayView");
        let owned: Type = match name.as_str() {
            "ArrayView1" => syn::parse_quote!(#private::Array1<#elem>),
            "ArrayView2" => syn::parse_quote!(#private::Array2<#elem>),
            _ => value_ty(&pt.ty).clone(),
        };
        let by_value = !matches!(&*pt.ty, Type::Reference(_)) && !view;
        out.push(VectorParam {
            index,
            ident: pi.ident.clone(),
            ty: (*pt.ty).clone(),
            elem: elem.clone(),
            owned,
            by_value,
            shape,
            nalgebra: !name.starts_with("Array"),
            dynamic,
        });
    }
    out
}

/// The vector types a function may return, built in the body with
/// `DVector::from_vec(v)`, `Array1::from_vec(v)` or `Array1::from(v)`.
const OUTPUTS: &[&str] = &["DVector", "Array1"];

/// The function's output type and its element type, when it returns one
/// of [`OUTPUTS`] of a float.
fn vector_output(cx: &Cx, item: &ItemFn) -> Option<(Type, Type)> {
    let syn::ReturnType::Type(_, ty) = &item.sig.output else {
        return None;
    };
    let (last, elem) = container(ty)?;
    let ours =
        OUTPUTS.contains(&last.ident.to_string().as_str()) && !matches!(**ty, Type::Reference(_));
    (ours && cx.float_of(elem).is_some()).then(|| ((**ty).clone(), elem.clone()))
}

/// The expansion of a function with vector or matrix parameters, or
/// `None` when it has none (the common case: the pipeline as usual).
/// `again` is the pipeline itself, run on the function with slices.
pub fn expand(
    args_tokens: &TokenStream,
    item: &ItemFn,
    again: impl Fn(TokenStream, TokenStream) -> TokenStream,
) -> Option<TokenStream> {
    let args = syn::parse2::<Args>(args_tokens.clone()).ok()?;
    if args.errors.is_some() {
        return None;
    }
    let cx = Cx::new(signature::float_param(&item.sig.generics))
        .with_crate(context::facade(args.krate.as_ref()));
    let mut errors = Errors::default();
    let vectors = vector_params(&cx, item, &args);
    let out = vector_output(&cx, item);
    if vectors.is_empty() && errors.is_empty() && out.is_none() {
        return None;
    }
    if let (Some(FnArg::Receiver(r)), Some(v)) = (item.sig.inputs.first(), vectors.first()) {
        errors.at(&v.ty, format!("#[differentiate] takes `{}` parameters in functions, not yet in methods with `{}`: take the vector as `&[T]` here, or call a function from the method", container(&v.ty).map_or(String::new(), |(s, _)| s.ident.to_string()), receiver(r)));
    }
    let (slices, passed) = with_slices(item, &vectors, out.as_ref());
    for e in passed {
        errors.push(e);
    }
    // `&mut` and tuple parameters (and structs in `wrt`) go through the
    // pipeline's pure function, whose companions have other shapes.
    if let (true, Some(v)) = (
        crate::pure_fn::applies(&cx, &args, &slices),
        vectors.first(),
    ) {
        errors.at(&v.ty, "#[differentiate] does not yet take nalgebra's or ndarray's vectors beside `&mut`, tuple or struct parameters: take this one as `&[T]` (`x.as_slice()` at the call), or return the values instead of writing them");
    }
    // After errors, the expansion of the function with slices gives the
    // companions' signatures: stubs of them, in the user's types.
    let expanded = again(args_tokens.clone(), slices.to_token_stream());
    let Ok(file) = syn::parse2::<syn::File>(expanded.clone()) else {
        return Some(expanded);
    };
    // The wrt parameters, as the pipeline reads them from the slices.
    let sig = signature::read(&cx, &slices, &args, &mut Errors::default());
    let failed = !errors.is_empty() || file.items.iter().any(|i| matches!(i, Item::Macro(_)));
    let wrap = Wrap {
        cx: &cx,
        item,
        vectors: &vectors,
        wrt: &sig.wrt,
        out: out.as_ref().map(|(ty, _)| ty),
        scalar_out: sig.outs.len() == 1
            && sig.out_shape == crate::ir::OutShape::Leaf
            && sig.outs[0].1.float().is_some(),
    };
    let mut out = errors.to_compile_errors();
    for it in file.items {
        match it {
            Item::Fn(f) if f.sig.ident == item.sig.ident => {
                out.extend(crate::expand::original(&cx, item.clone()).to_token_stream());
            }
            Item::Fn(f) => out.extend(wrap.companion(f, failed)),
            other => out.extend(other.to_token_stream()),
        }
    }
    Some(out)
}

/// Rewrites `DVector::from_vec(v)`, `Array1::from_vec(v)` and
/// `Array1::from(v)` as `v`: the vector a function returns is a `Vec` in
/// its companions.
struct Constructors;

impl VisitMut for Constructors {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, e);
        let Expr::Call(c) = e else { return };
        let Expr::Path(p) = &*c.func else { return };
        let segs: Vec<String> = p
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        let ours = match segs.as_slice() {
            [.., ty, f] => {
                OUTPUTS.contains(&ty.as_str())
                    && (f == "from_vec" || (ty == "Array1" && f == "from"))
            }
            _ => false,
        };
        if let (true, Some(arg), 1) = (ours, c.args.first(), c.args.len()) {
            *e = syn::parse_quote!((#arg));
        }
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}

/// `self`, `&self` or `&mut self`, as written in messages.
fn receiver(r: &syn::Receiver) -> &'static str {
    match (&r.reference, &r.mutability) {
        (Some(_), Some(_)) => "&mut self",
        (Some(_), None) => "&self",
        _ => "self",
    }
}

/// `item` with each vector parameter a slice `&[T]` (each matrix an array
/// of rows), and the vector methods in its body the array helpers; with
/// the errors of such parameters passed to functions, which would get a
/// slice where they take the vector type.
fn with_slices(
    item: &ItemFn,
    vectors: &[VectorParam],
    out: Option<&(Type, Type)>,
) -> (ItemFn, Vec<syn::Error>) {
    let mut item = item.clone();
    if let Some((_, elem)) = out {
        item.sig.output = syn::parse_quote!(-> ::std::vec::Vec<#elem>);
        Constructors.visit_block_mut(&mut item.block);
    }
    for v in vectors {
        if let FnArg::Typed(pt) = &mut item.sig.inputs[v.index] {
            let elem = &v.elem;
            *pt.ty = match &v.shape {
                None => syn::parse_quote!(&[#elem]),
                Some((r, c)) => syn::parse_quote!([[#elem; #c]; #r]),
            };
        }
    }
    // The shapes of matrices of run-time shape, after the user's
    // parameters (so that those keep their places).
    for (rows, cols) in vectors.iter().filter_map(|v| v.dynamic.as_ref()) {
        item.sig.inputs.push(syn::parse_quote!(#rows: usize));
        item.sig.inputs.push(syn::parse_quote!(#cols: usize));
    }
    let mut methods = Methods {
        names: vectors
            .iter()
            .filter(|v| v.shape.is_none() && v.dynamic.is_none())
            .map(|v| v.ident.clone())
            .collect(),
        dynamic: vectors
            .iter()
            .filter_map(|v| {
                let (rows, cols) = v.dynamic.clone()?;
                Some(Dynamic {
                    ident: v.ident.clone(),
                    rows,
                    cols,
                    by_columns: v.nalgebra,
                })
            })
            .collect(),
        matrices: vectors
            .iter()
            .filter_map(|v| Some((v.ident.clone(), v.shape.clone()?)))
            .collect(),
        nalgebra: vectors
            .iter()
            .filter(|v| v.shape.is_none() && v.dynamic.is_none() && v.nalgebra)
            .map(|v| v.ident.clone())
            .collect(),
        krate: helpers_path(),
        errors: Vec::new(),
        closures: Vec::new(),
    };
    methods.visit_block_mut(&mut item.block);
    (item, methods.errors)
}

/// The path of the helpers the rewritten methods call: the lowering
/// recognizes `autodiff::dot` by name, whatever the facade is called, and
/// emits the kernel through the facade's real path.
fn helpers_path() -> TokenStream {
    quote!(autodiff)
}

/// Rewrites `x.dot(&y)`, `x.norm()`, `x.norm_squared()` and `x.sum()`, for
/// `x` a vector parameter, as calls of the array helpers; and for `m` a
/// matrix parameter, `m[(i, j)]` as `m[i][j]`, `m.nrows()`, `m.ncols()` as
/// its shape, `m.sum()` as the helper and `m * x` (`x` a vector
/// parameter) as `matvec(&m, &x)`.
struct Methods {
    names: Vec<Ident>,
    /// The matrix parameters of run-time shape.
    dynamic: Vec<Dynamic>,
    /// The matrix parameters and their shapes.
    matrices: Vec<(Ident, (TokenStream, TokenStream))>,
    /// The vector parameters of nalgebra's types (whose `as_slice()` is
    /// the slice itself).
    nalgebra: Vec<Ident>,
    krate: TokenStream,
    /// Vector and matrix parameters passed to other functions.
    errors: Vec<syn::Error>,
    /// The closures the body binds with `let`.
    closures: Vec<Ident>,
}

/// A matrix parameter of run-time shape, read as a flat slice.
struct Dynamic {
    ident: Ident,
    /// The hidden parameters holding its shape.
    rows: Ident,
    cols: Ident,
    /// Stored column after column (nalgebra), else row after row.
    by_columns: bool,
}

impl Dynamic {
    /// The flat index of element `(i, j)`.
    fn at(&self, i: &Expr, j: &Expr) -> TokenStream {
        let (rows, cols) = (&self.rows, &self.cols);
        if self.by_columns {
            quote!((#j) * #rows + (#i))
        } else {
            quote!((#i) * #cols + (#j))
        }
    }

    /// `m * x` as a loop over the flat elements: a `Vec` of `nrows`.
    fn matvec(&self, x: &Ident, span: Span) -> Expr {
        let (m, rows, cols) = (&self.ident, &self.rows, &self.cols);
        let (y, i, j) = (local("__y"), local("__i"), local("__j"));
        let at = self.at(&syn::parse_quote!(#i), &syn::parse_quote!(#j));
        syn::parse_quote_spanned!(span=> {
            let mut #y = vec![0.0; #rows];
            for #i in 0..#rows {
                for #j in 0..#cols {
                    #y[#i] += #m[#at] * #x[#j];
                }
            }
            #y
        })
    }
}

impl Methods {
    fn dynamic(&self, e: &Expr) -> Option<&Dynamic> {
        let m = Self::param(e, self.dynamic.iter().map(|d| &d.ident))?;
        self.dynamic.iter().find(|d| d.ident == m)
    }

    /// The rewrite of `e` for a matrix parameter of run-time shape, if it
    /// is one, or an error for what is not read on one.
    fn dynamic_matrix(&mut self, e: &Expr) -> Option<Expr> {
        let krate = self.krate.clone();
        match e {
            Expr::Index(ix) => {
                let d = self.dynamic(&ix.expr)?;
                let elems: Vec<&Expr> = match &*ix.index {
                    Expr::Tuple(t) => t.elems.iter().collect(),
                    Expr::Array(a) => a.elems.iter().collect(),
                    _ => Vec::new(),
                };
                let span = ix.bracket_token.span.join();
                let [i, j] = elems[..] else {
                    let m = d.ident.clone();
                    self.errors.push(syn::Error::new_spanned(
                        &ix.index,
                        format!("index the matrix `{m}` by row and column: `{m}[(i, j)]`"),
                    ));
                    return Some(syn::parse_quote_spanned!(span=> #m[0]));
                };
                let (m, at) = (&d.ident, d.at(i, j));
                Some(syn::parse_quote_spanned!(span=> #m[#at]))
            }
            Expr::MethodCall(mc) if mc.turbofish.is_none() => {
                let d = self.dynamic(&mc.receiver)?;
                let (m, rows, cols) = (d.ident.clone(), d.rows.clone(), d.cols.clone());
                let by_columns = d.by_columns;
                let span = mc.method.span();
                let arg = mc.args.first().and_then(|a| Self::param(a, &self.names));
                match (mc.method.to_string().as_str(), mc.args.len()) {
                    ("nrows", 0) => Some(syn::parse_quote_spanned!(span=> #rows)),
                    ("ncols", 0) => Some(syn::parse_quote_spanned!(span=> #cols)),
                    ("dim", 0) => Some(syn::parse_quote_spanned!(span=> (#rows, #cols))),
                    ("sum", 0) => Some(syn::parse_quote_spanned!(span=> #krate::sum(&#m))),
                    ("norm", 0) if d.by_columns => {
                        Some(syn::parse_quote_spanned!(span=> #krate::norm(&#m)))
                    }
                    ("norm_squared", 0) if d.by_columns => {
                        Some(syn::parse_quote_spanned!(span=> #krate::dot(&#m, &#m)))
                    }
                    ("dot", 1) if !d.by_columns && arg.is_some() => arg.map(|x| d.matvec(&x, span)),
                    ("len" | "is_empty", 0) => None,
                    (name, _) => {
                        let what = m.to_string();
                        self.errors.push(syn::Error::new(span, format!("#[differentiate] reads the matrix `{what}` by its elements `{what}[(i, j)]`, `nrows()`, `ncols()`, `sum()`{} and its product with a vector parameter; `{name}` is not read on it: write it with those, or leave `{what}` out of `wrt(...)`", if by_columns { ", `norm()`" } else { "" })));
                        // Read as something the pipeline takes: the error
                        // above is the one the user sees.
                        Some(syn::parse_quote_spanned!(span=> #krate::sum(&#m)))
                    }
                }
            }
            Expr::Binary(b) if matches!(b.op, syn::BinOp::Mul(_)) => {
                let d = self.dynamic(&b.left)?;
                let x = Self::param(&b.right, &self.names)?;
                d.by_columns.then(|| d.matvec(&x, b.op.span()))
            }
            _ => None,
        }
    }

    /// The parameter `e` names, if it is one of `among`.
    fn param<'a>(e: &Expr, among: impl IntoIterator<Item = &'a Ident>) -> Option<Ident> {
        let e = match e {
            Expr::Reference(r) if r.mutability.is_none() => &*r.expr,
            Expr::Paren(p) => &*p.expr,
            other => other,
        };
        let Expr::Path(p) = e else { return None };
        let id = p.path.get_ident()?;
        among.into_iter().find(|m| *m == id).cloned()
    }

    fn shape(&self, m: &Ident) -> Option<&(TokenStream, TokenStream)> {
        self.matrices.iter().find(|(id, _)| id == m).map(|(_, s)| s)
    }

    /// The rewrite of `e` for a matrix parameter, if it is one.
    fn matrix(&self, e: &Expr) -> Option<Expr> {
        let krate = &self.krate;
        let matrices = self.matrices.iter().map(|(id, _)| id);
        match e {
            Expr::Index(ix) => {
                let m = Self::param(&ix.expr, matrices)?;
                let Expr::Tuple(t) = &*ix.index else {
                    return None;
                };
                let [i, j] = [t.elems.first()?, t.elems.get(1)?];
                (t.elems.len() == 2)
                    .then(|| syn::parse_quote_spanned!(ix.bracket_token.span.join()=> #m[#i][#j]))
            }
            Expr::MethodCall(mc) if mc.args.is_empty() && mc.turbofish.is_none() => {
                let m = Self::param(&mc.receiver, matrices)?;
                let (r, c) = self.shape(&m)?;
                let span = mc.method.span();
                match mc.method.to_string().as_str() {
                    "nrows" => Some(syn::parse_quote_spanned!(span=> (#r))),
                    "ncols" => Some(syn::parse_quote_spanned!(span=> (#c))),
                    "sum" => Some(syn::parse_quote_spanned!(span=> #krate::sum(&#m))),
                    _ => None,
                }
            }
            Expr::Binary(b) if matches!(b.op, syn::BinOp::Mul(_)) => {
                let m = Self::param(&b.left, matrices)?;
                let x = Self::param(&b.right, &self.names)?;
                let span = b.op.span();
                Some(syn::parse_quote_spanned!(span=> #krate::matvec(&#m, &#x)))
            }
            _ => None,
        }
    }
}

impl Methods {
    /// An error for each vector or matrix parameter among `args` of a call
    /// of `callee`, which is not an array helper.
    fn passed<'a>(&mut self, callee: &str, args: impl IntoIterator<Item = &'a Expr>) {
        if crate::ir::ops::helper_named(callee).is_some() {
            return;
        }
        for a in args {
            let all = self
                .names
                .iter()
                .chain(self.matrices.iter().map(|(id, _)| id))
                .chain(self.dynamic.iter().map(|d| &d.ident));
            if let Some(x) = Self::param(a, all) {
                self.errors.push(syn::Error::new_spanned(a, format!("#[differentiate] reads `{x}` as a slice of its elements (or an array of rows), so it cannot pass `{x}` to `{callee}`, which takes its own type: pass a slice (`{x}.as_slice()` of a nalgebra vector, or take `&[T]` in both functions), or compute what `{callee}` does inline")));
            }
        }
    }
}

impl VisitMut for Methods {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        // A function (not a closure of the body, which takes what it is
        // given) called with a vector parameter, before `x.as_slice()` in
        // its arguments becomes `x`.
        if let Expr::Call(c) = e {
            if let Expr::Path(p) = &*c.func {
                let closure = p
                    .path
                    .get_ident()
                    .is_some_and(|f| self.closures.contains(f));
                if !closure {
                    let callee = p.path.segments.last().map(|s| s.ident.to_string());
                    let args: Vec<Expr> = c.args.iter().cloned().collect();
                    self.passed(&callee.unwrap_or_default(), &args);
                }
            }
        }
        syn::visit_mut::visit_expr_mut(self, e);
        if let Some(rewritten) = self.matrix(e).or_else(|| self.dynamic_matrix(e)) {
            *e = rewritten;
            return;
        }
        // `x.as_slice()` of a nalgebra vector is the slice `x` is here.
        if let Expr::MethodCall(m) = e {
            let as_slice = m.method == "as_slice" && m.args.is_empty();
            if let Some(x) = Self::param(&m.receiver, &self.nalgebra).filter(|_| as_slice) {
                *e = syn::parse_quote_spanned!(m.method.span()=> #x);
                return;
            }
        }
        let Expr::MethodCall(m) = e else { return };
        let receiver = match &*m.receiver {
            Expr::Path(p) => p.path.get_ident(),
            _ => None,
        };
        if !receiver.is_some_and(|r| self.names.contains(r)) || m.turbofish.is_some() {
            return;
        }
        let strip = |a: &Expr| match a {
            Expr::Reference(r) if r.mutability.is_none() => (*r.expr).clone(),
            other => other.clone(),
        };
        let (x, krate, span) = (&m.receiver, &self.krate, m.method.span());
        let args: Vec<Expr> = m.args.iter().map(strip).collect();
        let call: Expr = match (m.method.to_string().as_str(), args.as_slice()) {
            ("dot", [y]) => syn::parse_quote_spanned!(span=> #krate::dot(&#x, &#y)),
            ("norm", []) => syn::parse_quote_spanned!(span=> #krate::norm(&#x)),
            ("norm_squared", []) => syn::parse_quote_spanned!(span=> #krate::dot(&#x, &#x)),
            ("sum", []) => syn::parse_quote_spanned!(span=> #krate::sum(&#x)),
            _ => return,
        };
        *e = call;
    }

    fn visit_local_mut(&mut self, l: &mut syn::Local) {
        syn::visit_mut::visit_local_mut(self, l);
        let closure = l
            .init
            .as_ref()
            .is_some_and(|i| matches!(&*i.expr, Expr::Closure(_)));
        if let (Pat::Ident(pi), true) = (&l.pat, closure) {
            self.closures.push(pi.ident.clone());
        }
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}

/// What the wrappers of one function's companions need.
struct Wrap<'a> {
    cx: &'a Cx,
    item: &'a ItemFn,
    vectors: &'a [VectorParam],
    /// The output's type, when it is a vector of [`OUTPUTS`].
    out: Option<&'a Type>,
    /// The differentiated parameters' indices.
    wrt: &'a [usize],
    scalar_out: bool,
}

impl Wrap<'_> {
    fn vector(&self, index: usize) -> Option<&VectorParam> {
        self.vectors.iter().find(|v| v.index == index)
    }

    /// The hidden shape parameters of the slice function, after the
    /// user's: each as the call that reads it from its matrix.
    fn hidden(&self) -> Vec<TokenStream> {
        let mut out = Vec::new();
        for v in self.vectors.iter().filter(|v| v.dynamic.is_some()) {
            let (reader, x, span) = (v.reader(self.cx), &v.ident, v.ty.span());
            out.push(quote_spanned!(span=> #reader::nrows(&#x)));
            out.push(quote_spanned!(span=> #reader::ncols(&#x)));
        }
        out
    }

    /// Where slice-function parameter `k` comes from: the user's parameter
    /// `k`, hidden shape `k - n`, or extra parameter (tangent, cotangent)
    /// `k - n - hidden`.
    fn place(&self, k: usize) -> Place {
        let (n, h) = (self.item.sig.inputs.len(), self.hidden().len());
        if k < n {
            Place::User(k)
        } else if k < n + h {
            Place::Hidden(k - n)
        } else {
            Place::Extra(k - n - h)
        }
    }

    /// The tangent type of vector parameter `v`: its type, by reference
    /// when it is passed by value.
    fn dot_ty(v: &VectorParam) -> Type {
        let ty = &v.ty;
        if v.by_value {
            syn::parse_quote!(&#ty)
        } else {
            ty.clone()
        }
    }

    /// The companion `f` of the slice function, for the user: the
    /// companions a user calls are wrapped, the others (the calling
    /// convention of second order, stubs) keep their bodies and take the
    /// vector types.
    fn companion(&self, f: ItemFn, failed: bool) -> TokenStream {
        let name = self.item.sig.ident.to_string();
        let Some(suffix) = f
            .sig
            .ident
            .to_string()
            .strip_prefix(&format!("{name}_"))
            .map(str::to_string)
        else {
            // Not a companion (an item of the pipeline's own): as it is.
            return f.to_token_stream();
        };
        let stub = failed || f.sig.generics.params.len() != self.item.sig.generics.params.len();
        let user = matches!(
            suffix.as_str(),
            "grad" | "value_and_grad" | "jvp" | "vjp" | "jacobian" | "hessian" | "hvp"
        );
        if suffix == "pp" {
            return f.to_token_stream();
        }
        if matches!(suffix.as_str(), "linearize" | "pullback") {
            // Closures over the slice function's values: not wrapped yet.
            return TokenStream::new();
        }
        if stub {
            let mut f = self.retyped(f, &suffix);
            f.block = syn::parse_quote!({ ::core::unreachable!() });
            return f.to_token_stream();
        }
        if !user {
            // A function with vector parameters cannot yet be called from
            // another differentiated function.
            return TokenStream::new();
        }
        self.wrapper(f, &suffix)
    }

    /// `f` with the vector parameters (and tangents, for the companions
    /// of suffix `suffix` that take them) in their own types, without the
    /// hidden shape parameters.
    fn retyped(&self, mut f: ItemFn, suffix: &str) -> ItemFn {
        let dots = takes_dots(suffix);
        let inputs = std::mem::take(&mut f.sig.inputs);
        for (k, mut input) in inputs.into_iter().enumerate() {
            let place = self.place(k);
            if let (FnArg::Typed(pt), Some(ty)) = (&mut input, self.user_ty(place, suffix, dots)) {
                // A stub's marker parameter keeps its type.
                if !(matches!(place, Place::User(_)) && matches!(&*pt.ty, Type::Path(_))) {
                    *pt.ty = ty;
                }
            }
            if !matches!(place, Place::Hidden(_)) {
                f.sig.inputs.push(input);
            }
        }
        f
    }

    /// The user's type of the parameter at `place`, where it differs from
    /// the slice function's.
    fn user_ty(&self, place: Place, suffix: &str, dots: bool) -> Option<Type> {
        match place {
            Place::User(k) => self.vector(k).map(|v| v.ty.clone()),
            Place::Hidden(_) => None,
            Place::Extra(e) if dots => self
                .wrt
                .get(e)
                .and_then(|&i| self.vector(i))
                .map(Self::dot_ty),
            // The cotangent of a vector output has its type.
            Place::Extra(0) if suffix == "vjp" => self.out.map(|out| syn::parse_quote!(&#out)),
            Place::Extra(_) => None,
        }
    }

    /// The companion `f` (of suffix `suffix`) wrapped for the vector types.
    fn wrapper(&self, inner: ItemFn, suffix: &str) -> TokenStream {
        let dots = takes_dots(suffix);
        let mut outer = self.retyped(inner.clone(), suffix);
        let hidden = self.hidden();
        let mut args = Vec::new();
        let mut likes = TokenStream::new();
        for (k, input) in inner.sig.inputs.iter().enumerate() {
            let FnArg::Typed(pt) = input else { continue };
            let Pat::Ident(pi) = &*pt.pat else { continue };
            let x = &pi.ident;
            let place = self.place(k);
            let vector = match place {
                Place::Hidden(h) => {
                    args.push(hidden[h].clone());
                    continue;
                }
                Place::Extra(0) if self.out.is_some() && suffix == "vjp" => {
                    let private = self.cx.private();
                    args.push(quote!(#private::VectorParam::elems(&#x)));
                    continue;
                }
                Place::User(k) => self.vector(k),
                Place::Extra(e) if dots => self.wrt.get(e).and_then(|&i| self.vector(i)),
                Place::Extra(_) => None,
            };
            args.push(match vector {
                Some(v) => {
                    if let Place::User(_) = place {
                        let like = like(&v.ident);
                        likes.extend(quote!(let #like = &#x;));
                    }
                    // Spanned on the parameter's type: without the feature
                    // (or with another version of the crate), the error
                    // points there.
                    let reader = v.reader(self.cx);
                    let span = v.ty.span();
                    match (&v.shape, &v.dynamic) {
                        (_, Some(_)) => quote_spanned!(span=> #reader::flat(&#x)),
                        (None, None) => quote_spanned!(span=> #reader::elems(&#x)),
                        (Some(_), None) => quote_spanned!(span=> #reader::rows(&#x)),
                    }
                }
                None => quote!(#x),
            });
        }
        let generics = &self.item.sig.generics;
        let params: Vec<TokenStream> = generics
            .params
            .iter()
            .filter_map(|p| match p {
                syn::GenericParam::Type(t) => Some(t.ident.to_token_stream()),
                syn::GenericParam::Const(c) => Some(c.ident.to_token_stream()),
                syn::GenericParam::Lifetime(_) => None,
            })
            .collect();
        let turbofish = (!params.is_empty()).then(|| quote!(::<#(#params),*>));
        let name = inner.sig.ident.clone();
        let r = local("r");
        let private = self.cx.private();
        let (value, ret) = match (suffix, self.out) {
            ("jvp", Some(out)) => {
                let from = quote!(<#out as #private::VectorOut>::from_elems);
                (quote!((#from(#r.0), #from(#r.1))), quote!((#out, #out)))
            }
            ("vjp", Some(out)) => {
                let from = quote!(<#out as #private::VectorOut>::from_elems);
                let g = self.grad(quote!(#r.1));
                let g_ty = match &inner.sig.output {
                    syn::ReturnType::Type(_, t) => match &**t {
                        Type::Tuple(t) if t.elems.len() == 2 => self.grad_ty_of(&t.elems[1]),
                        other => other.to_token_stream(),
                    },
                    syn::ReturnType::Default => quote!(()),
                };
                (quote!((#from(#r.0), #g)), quote!((#out, #g_ty)))
            }
            _ => self.value_and_ret(&inner, suffix, &r),
        };
        outer.sig.output = syn::parse_quote!(-> #ret);
        let mut local_fn = inner;
        local_fn.vis = syn::Visibility::Inherited;
        local_fn.attrs.retain(|a| !a.path().is_ident("doc"));
        let attrs = &outer.attrs;
        let vis = &outer.vis;
        let sig = &outer.sig;
        quote! {
            #(#attrs)*
            #vis #sig {
                #local_fn
                #likes
                let #r = #name #turbofish (#(#args),*);
                #value
            }
        }
    }

    /// What the wrapper of companion `suffix` returns, and its type, when
    /// the output is not a vector of [`OUTPUTS`].
    fn value_and_ret(&self, inner: &ItemFn, suffix: &str, r: &Ident) -> (TokenStream, TokenStream) {
        match suffix {
            "grad" | "hvp" => (self.grad(quote!(#r)), self.grad_ty(&inner.sig.output)),
            "jacobian" if self.scalar_out => {
                (self.grad(quote!(#r)), self.grad_ty(&inner.sig.output))
            }
            "value_and_grad" | "vjp" => {
                let g = self.grad(quote!(#r.1));
                let ret = match &inner.sig.output {
                    syn::ReturnType::Type(_, t) => match &**t {
                        Type::Tuple(t) if t.elems.len() == 2 => {
                            let out = &t.elems[0];
                            let g = self.grad_ty_of(&t.elems[1]);
                            quote!((#out, #g))
                        }
                        other => other.to_token_stream(),
                    },
                    syn::ReturnType::Default => quote!(()),
                };
                (quote!((#r.0, #g)), ret)
            }
            _ => {
                let ret = match &inner.sig.output {
                    syn::ReturnType::Type(_, t) => t.to_token_stream(),
                    syn::ReturnType::Default => quote!(()),
                };
                (quote!(#r), ret)
            }
        }
    }

    /// The gradient `g` of the slice function in the parameters' types.
    fn grad(&self, g: TokenStream) -> TokenStream {
        let one = |i: usize, g: TokenStream| match self.vector(i) {
            Some(v) => {
                let (like, reader) = (like(&v.ident), v.reader(self.cx));
                quote!(#reader::owned_from(#like, #g))
            }
            None => g,
        };
        match self.wrt {
            [i] => one(*i, g),
            wrt => {
                let items = wrt.iter().enumerate().map(|(k, &i)| {
                    let k = syn::Index::from(k);
                    one(i, quote!(#g.#k))
                });
                quote!((#(#items,)*))
            }
        }
    }

    /// The gradient type, from the slice function's return type.
    fn grad_ty(&self, output: &syn::ReturnType) -> TokenStream {
        match output {
            syn::ReturnType::Type(_, t) => self.grad_ty_of(t),
            syn::ReturnType::Default => quote!(()),
        }
    }

    fn grad_ty_of(&self, ty: &Type) -> TokenStream {
        let owned = |i: usize, t: &Type| match self.vector(i) {
            Some(v) => v.owned.to_token_stream(),
            None => t.to_token_stream(),
        };
        match (self.wrt, ty) {
            ([i], t) => owned(*i, t),
            (wrt, Type::Tuple(t)) if t.elems.len() == wrt.len() => {
                let items = wrt.iter().zip(&t.elems).map(|(&i, t)| owned(i, t));
                quote!((#(#items,)*))
            }
            (_, t) => t.to_token_stream(),
        }
    }
}

/// Where a parameter of the slice function comes from (see
/// [`Wrap::place`]).
#[derive(Clone, Copy)]
enum Place {
    User(usize),
    Hidden(usize),
    Extra(usize),
}

/// Do the extra parameters of the companion of suffix `suffix` start with
/// the tangents of the `wrt` parameters?
fn takes_dots(suffix: &str) -> bool {
    matches!(suffix, "jvp" | "hvp" | "grad_jvp")
}

/// The local that keeps vector parameter `x` (for the gradient's type).
fn like(x: &Ident) -> Ident {
    local(&format!("like_{x}"))
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use quote::quote;

    fn expanded(attr: TokenStream, item: TokenStream) -> String {
        let out = crate::expand::expand(attr, item);
        let file: syn::File = syn::parse2(out).expect("expansion parses as items");
        prettyplease::unparse(&file)
    }

    use proc_macro2::TokenStream;

    /// The gradient of a function of a `&DVector` and an `ArrayView1`: the
    /// slice companion local to the wrapper, the vectors read as slices,
    /// the gradients given back owned; `x.dot(&y)` is the helper `dot`.
    #[test]
    fn gradient_wrapper_reads_slices_and_gives_back_owned_vectors() {
        let text = expanded(
            quote!(),
            quote! {
                fn f(x: &DVector<f64>, y: ArrayView1<f64>) -> f64 {
                    x.dot(&y) * x[0]
                }
            },
        );
        let at = text.find("fn f_grad(").unwrap_or(0);
        let start = text[..at].rfind("}\n").map_or(0, |s| s + 2);
        let end = text[start..]
            .find("\n}\n")
            .map_or(text.len(), |e| start + e + 3);
        expect![[r#"
            ///The gradient of [`f`], generated by `#[differentiate]`.
            #[inline]
            #[allow(
                dead_code,
                unused_variables,
                unused_mut,
                unused_assignments,
                unused_parens,
                clippy::all
            )]
            fn f_grad(
                x: &DVector<f64>,
                y: ArrayView1<f64>,
            ) -> (DVector<f64>, ::autodiff::__private::Array1<f64>) {
                #[inline]
                #[allow(
                    dead_code,
                    unused_variables,
                    unused_mut,
                    unused_assignments,
                    unused_parens,
                    clippy::all
                )]
                fn f_grad(x: &[f64], y: &[f64]) -> (::std::vec::Vec<f64>, ::std::vec::Vec<f64>) {
                    let t0 = x[0];
                    let mut t1 = ::autodiff::__private::ZerosLike::zeros_like(&x);
                    let mut t2 = ::autodiff::__private::ZerosLike::zeros_like(&y);
                    t1[0] += ::autodiff::__private::rules::dot(&x, &y);
                    ::autodiff::__private::rules::acc_scaled(&mut t1, t0, &y);
                    ::autodiff::__private::rules::acc_scaled(&mut t2, t0, &x);
                    (t1, t2)
                }
                let like_x = &x;
                let like_y = &y;
                let r = f_grad(
                    ::autodiff::__private::VectorParam::elems(&x),
                    ::autodiff::__private::VectorParam::elems(&y),
                );
                (
                    ::autodiff::__private::VectorParam::owned_from(like_x, r.0),
                    ::autodiff::__private::VectorParam::owned_from(like_y, r.1),
                )
            }
        "#]]
        .assert_eq(&text[start..end]);
    }

    /// A differentiated matrix of run-time shape is a flat slice with its
    /// shape as hidden parameters, indexed in storage order (nalgebra's
    /// column-major); a method it does not read is an error.
    #[test]
    fn a_dynamic_matrix_is_a_flat_slice_with_a_hidden_shape() {
        let text = expanded(
            quote!(),
            quote! { fn f(a: &DMatrix<f64>, x: f64) -> f64 { a[(0, 1)] * x * a.nrows() as f64 } },
        );
        assert!(
            text.contains("fn f_grad(a: &DMatrix<f64>, x: f64) -> (DMatrix<f64>, f64)"),
            "{text}"
        );
        assert!(text.contains("        a: &[f64],\n        x: f64,\n        __a_nrows: usize,\n        __a_ncols: usize,\n"), "{text}");
        // Element (0, 1), column-major.
        assert!(
            text.contains("let t0 = 1 * __a_nrows;") && text.contains("a[t0]"),
            "{text}"
        );
        assert!(text.contains("DynMatrixParam::nrows(&a)"), "{text}");
        let text = expanded(
            quote!(),
            quote! { fn f(a: &DMatrix<f64>, x: f64) -> f64 { a.trace() * x } },
        );
        assert!(text.contains("`trace` is not read on it"), "{text}");
        // Named out of `wrt`, it is constant data, as written.
        let text = expanded(
            quote!(wrt(x)),
            quote! { fn f(a: &DMatrix<f64>, x: f64) -> f64 { a.trace() * x } },
        );
        assert!(!text.contains("compile_error"));
    }
}
