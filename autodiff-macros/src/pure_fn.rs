//! Parameters the pipeline reads through a pure function (SPEC §4):
//! `&mut` parameters, which are outputs (and inputs too when the body reads
//! them: Enzyme's `Duplicated`), and tuple parameters.
//!
//! The derivative programs are not built twice. Such a function is the
//! pure function that takes each tuple's fields as parameters of their
//! own, and each `&mut` parameter's value on entry, and returns the `&mut`
//! values on exit after what the function returns:
//!
//! ```text
//! fn f(p: (f64, [f64; 2]), out: &mut [f64])
//!   =>  fn __f_pure(__p_0: f64, __p_1: [f64; 2], __out_in: &[f64]) -> Vec<f64> {
//!           let p = (__p_0, __p_1); let mut out = __out_in.to_vec(); { body } out
//!       }
//! ```
//!
//! The pure function goes through the one pipeline (its companions are
//! hidden), and the companions the user calls are thin wrappers with SPEC
//! §4's signatures: they split the tuples, pass each `&mut` value in,
//! regroup the gradients and write values, tangents and cotangents back.
//! Their argument and return types are read from the pure companions' own
//! signatures, so the two cannot disagree. The entry value of an
//! out-parameter that is never read is a constant: elements the body does
//! not write keep the caller's values and have tangent 0.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, FnArg, Ident, ItemFn, Pat, ReturnType, Stmt, Type};

use crate::args::Args;
use crate::companions::one_or_tuple;
use crate::context::{local, Cx};
use crate::error::Errors;
use crate::signature;

/// What a `&mut` parameter holds.
#[derive(Clone, Copy)]
enum Shape {
    /// `&mut T`.
    Scalar,
    /// `&mut [T; N]`.
    Fixed,
    /// `&mut [T]` or `&mut Vec<T>`.
    Slice,
}

/// How one parameter of the user's function reaches the pure function.
enum Kind {
    /// As itself.
    Plain,
    /// A tuple of floats and arrays: one pure parameter per field.
    Tuple(Vec<(Ident, Type)>),
    /// A struct named in `wrt` (it derives `Tangent`): passed as itself
    /// (fields read as integers stay reads of it), and each field the body
    /// reads as a float or a vector a parameter of its own.
    Struct {
        /// The struct's type, without `&`.
        ty: Box<Type>,
        leaves: Vec<Leaf>,
        /// The element type of the float leaves.
        elem: TokenStream,
    },
    /// `&mut`: its value on entry, `input`; `active` when differentiated.
    Mut {
        shape: Shape,
        input: Ident,
        active: bool,
    },
}

/// One parameter of the user's function.
struct Group {
    ident: Ident,
    /// Its type as written: also the type of its tangent, of a `&mut`
    /// one's cotangent when differentiated, and of a tuple's gradient.
    ty: Type,
    kind: Kind,
}

impl Group {
    /// The pure function's parameters for this one.
    fn pure_names(&self) -> Vec<Ident> {
        match &self.kind {
            Kind::Plain => vec![self.ident.clone()],
            Kind::Tuple(fields) => fields.iter().map(|(n, _)| n.clone()).collect(),
            Kind::Struct { leaves, .. } => std::iter::once(self.ident.clone())
                .chain(leaves.iter().map(|l| l.name.clone()))
                .collect(),
            Kind::Mut { input, .. } => vec![input.clone()],
        }
    }

    fn shape(&self) -> Option<Shape> {
        match self.kind {
            Kind::Mut { shape, .. } => Some(shape),
            _ => None,
        }
    }
}

/// Does the function have a parameter read through a pure function?
pub fn applies(cx: &Cx, args: &Args, item: &ItemFn) -> bool {
    item.sig.inputs.iter().any(|a| match a {
        FnArg::Typed(pt) => match &*pt.ty {
            Type::Reference(r) if r.mutability.is_some() => true,
            ty => tuple_fields(cx, ty).is_some() || named_struct(cx, args, pt).is_some(),
        },
        FnArg::Receiver(r) => (r.mutability.is_some() && r.reference.is_some()) || names_self(args),
    })
}

/// Does `wrt` name `self`?
fn names_self(args: &Args) -> bool {
    args.wrt
        .as_ref()
        .is_some_and(|w| w.iter().any(|n| n == "self"))
}

/// `Vec`, `bool` and the standard library's containers: named in `wrt`,
/// they are no struct of the user's (the error is the signature's: what
/// can be passed).
const NOT_STRUCTS: &[&str] = &[
    "Vec",
    "bool",
    "HashMap",
    "BTreeMap",
    "HashSet",
    "BTreeSet",
    "VecDeque",
    "LinkedList",
    "BinaryHeap",
    "Box",
    "Rc",
    "Arc",
    "Option",
    "Cell",
    "RefCell",
    "String",
];

/// The struct type of a parameter `p: S` or `p: &S` that `wrt` names and
/// the pipeline does not read by itself.
fn named_struct(cx: &Cx, args: &Args, pt: &syn::PatType) -> Option<Type> {
    let Pat::Ident(pi) = &*pt.pat else {
        return None;
    };
    if !args.wrt.as_ref()?.contains(&pi.ident) || signature::differentiable_ty(cx, &pt.ty) {
        return None;
    }
    let ty = match &*pt.ty {
        Type::Reference(r) if r.mutability.is_none() => &*r.elem,
        ty => ty,
    };
    match ty {
        Type::Path(p) if p.qself.is_none() && signature::int_of(ty).is_none() => {
            let last = p.path.segments.last()?;
            (!NOT_STRUCTS.iter().any(|n| last.ident == n)).then(|| ty.clone())
        }
        _ => None,
    }
}

/// The field types of a tuple of floats and arrays of floats.
fn tuple_fields<'a>(cx: &Cx, ty: &'a Type) -> Option<Vec<&'a Type>> {
    let Type::Tuple(t) = ty else { return None };
    let fields: Vec<&Type> = t.elems.iter().collect();
    (!fields.is_empty() && fields.iter().all(|f| signature::differentiable_ty(cx, f)))
        .then_some(fields)
}

/// The expansion of such a function: the pure function with its (hidden)
/// companions, and the wrappers. `pipeline` is the expansion of an item
/// with options.
pub fn expand(
    cx: &Cx,
    args: &Args,
    item: &ItemFn,
    pipeline: impl Fn(TokenStream, TokenStream) -> TokenStream,
) -> Result<TokenStream, Errors> {
    let mut errors = Errors::default();
    let mut groups = groups(cx, args, item, &mut errors);
    let any_mut = groups.iter().any(|g| g.shape().is_some());
    let mut ret = None;
    if any_mut {
        if let Some(h) = &args.hessian {
            errors.at(h, "`hessian` is not generated for a function with `&mut` parameters; return the value instead of writing it, or drop `hessian`");
        }
        ret = match &item.sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) if cx.float_of(ty).is_some() => Some((**ty).clone()),
            ReturnType::Type(_, ty) => {
                errors.at(ty, "a function with `&mut` parameters may return nothing or one float; return the rest through another `&mut` parameter");
                None
            }
        };
        if groups
            .iter()
            .any(|g| matches!(g.shape(), Some(Shape::Fixed | Shape::Slice)))
        {
            for r in early_returns(&item.block) {
                errors.at(r, "#[differentiate] does not read an early `return` in a function that writes an array through `&mut`; put the rest of the body in an `else` branch");
            }
        }
    }
    if let Some(k) = &args.linearize {
        errors.at(k, crate::companions::LINEARIZE_NEEDS);
    }
    let pure = pure_item(item, &groups, any_mut, ret.as_ref());
    let wrt = pure_wrt(cx, item, &pure, args, &mut groups, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut options = quote!(wrt(#(#wrt),*));
    if args.hessian.is_some() {
        options.extend(quote!(, hessian));
    }
    if let Some(k) = &args.krate {
        options.extend(quote!(, crate = #k));
    }
    let expanded = pipeline(options, pure.to_token_stream());
    let Ok(mut file) = syn::parse2::<syn::File>(expanded.clone()) else {
        return Ok(expanded);
    };
    hide(&mut file, &item.sig.ident, &pure.sig.ident, &groups);
    let failed = reports_errors(&file);
    let wrappers = Wrappers {
        cx,
        item,
        pure: &pure.sig.ident,
        groups: &groups,
        any_mut,
        ret: ret.is_some(),
        wrt: &wrt,
        file: &file,
    };
    let companions = wrappers.all();
    if failed {
        stub_bodies(&mut file);
        if let Ok(mut wrappers) = syn::parse2::<syn::File>(companions.clone()) {
            stub_bodies(&mut wrappers);
            return Ok(quote!(#file #wrappers));
        }
    }
    Ok(quote!(#file #companions))
}

/// A field of a struct parameter that the body reads as a float or a
/// vector.
struct Leaf {
    /// The fields from the parameter: `[inner, c]` for `p.inner.c`.
    path: Vec<Ident>,
    /// The pure function's parameter: `__p_inner_c`.
    name: Ident,
    /// Read as a vector (`p.w[i]`, `p.w.len()`): a slice `&[T]`.
    vector: bool,
    /// Indexed twice (`p.w[i][j]`): rows of a fixed length the caller's
    /// type gives, a slice `&[[T; C]]` whose `C` is a const parameter of
    /// the pure function, `cols`.
    cols: Option<Ident>,
}

/// A leaf's field path and its pure parameter.
type LeafName = (Vec<Ident>, Ident);

/// How the body uses a field: as a float, a vector, an integer (a range
/// bound, an index) or only through `as`.
#[derive(Clone, Copy, PartialEq)]
enum Use {
    Scalar,
    Vector,
    Rows,
    Int,
    Cast,
}

/// Methods that read their receiver as an array.
const VECTOR_METHODS: &[&str] = &[
    "len", "is_empty", "iter", "windows", "chunks", "to_vec", "first", "last",
];

/// The arrays a `for` loop walks, each with the pattern that binds its
/// items: `x` of `x.iter()` and `&x`, with the item's pattern of
/// `.enumerate()`'s pair, and each array of a `zip`, its pattern nested as
/// the `zip`s are.
fn loop_items<'a>(e: &'a Expr, pat: &'a Pat, out: &mut Vec<(&'a Expr, &'a Pat)>) {
    let pair = |p: &'a Pat| match p {
        Pat::Reference(r) => match &*r.pat {
            Pat::Tuple(t) if t.elems.len() == 2 => Some((&t.elems[0], &t.elems[1])),
            _ => None,
        },
        Pat::Tuple(t) if t.elems.len() == 2 => Some((&t.elems[0], &t.elems[1])),
        _ => None,
    };
    match e {
        Expr::MethodCall(m)
            if m.args.is_empty()
                && ["iter", "into_iter", "rev", "copied", "cloned"]
                    .iter()
                    .any(|n| m.method == n) =>
        {
            loop_items(&m.receiver, pat, out)
        }
        Expr::MethodCall(m) if m.args.is_empty() && m.method == "enumerate" => {
            if let Some((_, item)) = pair(pat) {
                loop_items(&m.receiver, item, out);
            }
        }
        Expr::MethodCall(m) if m.args.len() == 1 && m.method == "zip" => {
            if let Some((a, b)) = pair(pat) {
                loop_items(&m.receiver, a, out);
                loop_items(&m.args[0], b, out);
            }
        }
        Expr::Reference(r) => loop_items(&r.expr, pat, out),
        Expr::Paren(p) => loop_items(&p.expr, pat, out),
        Expr::Field(_) => out.push((e, pat)),
        _ => {}
    }
}

/// Is a loop's item, bound by `pat`, a row: taken apart (`&[a, b]`) or a
/// name the body reads as an array (`row[j]`, `row.iter()`, `row.len()`)?
fn item_is_row(pat: &Pat, body: &syn::Block) -> bool {
    match pat {
        Pat::Reference(r) => item_is_row(&r.pat, body),
        Pat::Slice(_) => true,
        Pat::Ident(i) => {
            let tokens: Vec<proc_macro2::TokenTree> = body.to_token_stream().into_iter().collect();
            indexes(&tokens, &i.ident)
        }
        _ => false,
    }
}

/// Does a loop's pattern take its item, a row, apart (`&[a, b]`)?
fn row_pattern(pat: &Pat) -> bool {
    match pat {
        Pat::Reference(r) => row_pattern(&r.pat),
        p => matches!(p, Pat::Slice(_)),
    }
}

/// Do `tokens` (searched through groups) hold `name[..]` or `name.iter()`
/// (or another of [`VECTOR_METHODS`])?
fn indexes(tokens: &[proc_macro2::TokenTree], name: &Ident) -> bool {
    use proc_macro2::{Delimiter, TokenTree};
    let array_read = |rest: &[TokenTree]| match rest {
        [TokenTree::Group(g), ..] => g.delimiter() == Delimiter::Bracket,
        [TokenTree::Punct(p), TokenTree::Ident(m), ..] => {
            p.as_char() == '.' && VECTOR_METHODS.iter().any(|v| m == v)
        }
        _ => false,
    };
    (0..tokens.len()).any(|k| {
        matches!(&tokens[k], TokenTree::Ident(i) if i == name) && array_read(&tokens[k + 1..])
    }) || tokens.iter().any(|t| match t {
        TokenTree::Group(g) => {
            let inner: Vec<TokenTree> = g.stream().into_iter().collect();
            indexes(&inner, name)
        }
        _ => false,
    })
}

/// `p.a.b` as `[a, b]`, if `e` is such a chain of named fields of `name`.
fn chain(e: &Expr, name: &Ident) -> Option<Vec<Ident>> {
    let mut path = Vec::new();
    let mut e = e;
    loop {
        match e {
            Expr::Field(f) => {
                let syn::Member::Named(m) = &f.member else {
                    return None;
                };
                path.push(m.clone());
                e = &f.base;
            }
            Expr::Path(p) if p.path.is_ident(name) && !path.is_empty() => {
                path.reverse();
                return Some(path);
            }
            Expr::Paren(p) => e = &p.expr,
            _ => return None,
        }
    }
}

/// The fields of the struct parameter `name` that the body reads as
/// floats or vectors (fields read as integers stay reads of the struct).
fn struct_leaves(block: &syn::Block, name: &Ident, errors: &mut Errors) -> Vec<Leaf> {
    struct Uses<'a> {
        name: &'a Ident,
        uses: Vec<(Vec<Ident>, Use, Span)>,
        bare: Vec<Span>,
        /// Rows of a field taken apart by a loop's pattern.
        row_patterns: Vec<Span>,
        int_context: bool,
    }
    impl Uses<'_> {
        fn record(&mut self, e: &Expr, how: Use) -> bool {
            // Inside a range bound or an index every field is an integer.
            let how = if self.int_context { Use::Int } else { how };
            match chain(e, self.name) {
                Some(path) => {
                    self.uses.push((path, how, syn::spanned::Spanned::span(e)));
                    true
                }
                None => false,
            }
        }
        fn operand(&mut self, e: &Expr, how: Use) {
            if !self.record(e, how) {
                let outer = self.int_context;
                self.int_context |= how == Use::Int;
                self.visit_expr(e);
                self.int_context = outer;
            }
        }
    }
    impl<'ast> Visit<'ast> for Uses<'_> {
        fn visit_expr(&mut self, e: &'ast Expr) {
            match e {
                // `p.w[i][j]`: a field of rows.
                Expr::Index(ix) if matches!(&*ix.expr, Expr::Index(inner) if chain(&inner.expr, self.name).is_some()) =>
                {
                    if let Expr::Index(inner) = &*ix.expr {
                        self.record(&inner.expr, Use::Rows);
                        self.operand(&inner.index, Use::Int);
                    }
                    self.operand(&ix.index, Use::Int);
                }
                Expr::Index(ix) => {
                    self.operand(&ix.expr, Use::Vector);
                    self.operand(&ix.index, Use::Int);
                }
                Expr::MethodCall(m) => {
                    // `p.n.min(3)`: an integer method of an integer literal
                    // (a float's `min` takes `3.0`; `powi(2)` is a float's).
                    const INT_METHODS: &[&str] = &[
                        "min",
                        "max",
                        "clamp",
                        "pow",
                        "saturating_sub",
                        "saturating_add",
                    ];
                    let int_arg = INT_METHODS.iter().any(|n| m.method == n)
                        && m.args.iter().any(|a| {
                            matches!(
                                a,
                                Expr::Lit(syn::ExprLit {
                                    lit: syn::Lit::Int(_),
                                    ..
                                })
                            )
                        });
                    let how = if VECTOR_METHODS.iter().any(|v| m.method == v) {
                        Use::Vector
                    } else if int_arg {
                        Use::Int
                    } else {
                        Use::Scalar
                    };
                    if how == Use::Vector {
                        // `0..p.w.len()`: a vector, in a range bound too.
                        let outer = std::mem::replace(&mut self.int_context, false);
                        self.operand(&m.receiver, how);
                        self.int_context = outer;
                    } else {
                        self.operand(&m.receiver, how);
                    }
                    for a in &m.args {
                        self.visit_expr(a);
                    }
                }
                // `for row in p.w.iter()` whose item is a row (taken apart,
                // or indexed): a field of rows.
                Expr::ForLoop(f) => {
                    let mut items = Vec::new();
                    loop_items(&f.expr, &f.pat, &mut items);
                    for (field, pat) in items {
                        if item_is_row(pat, &f.body)
                            && self.record(field, Use::Rows)
                            && row_pattern(pat)
                        {
                            self.row_patterns.push(syn::spanned::Spanned::span(pat));
                        }
                    }
                    syn::visit::visit_expr(self, e);
                }
                Expr::Cast(c) => self.operand(&c.expr, Use::Cast),
                Expr::Range(r) => {
                    for b in r.start.iter().chain(r.end.iter()) {
                        self.operand(b, Use::Int);
                    }
                }
                Expr::Reference(r) => self.operand(&r.expr, Use::Vector),
                Expr::Field(_) if self.record(e, Use::Scalar) => {}
                Expr::Path(p) if p.path.is_ident(self.name) => {
                    self.bare.push(syn::spanned::Spanned::span(p));
                }
                _ => syn::visit::visit_expr(self, e),
            }
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut uses = Uses {
        name,
        uses: Vec::new(),
        bare: Vec::new(),
        row_patterns: Vec::new(),
        int_context: false,
    };
    uses.visit_block(block);
    for span in uses.row_patterns {
        errors.push(syn::Error::new(span, format!("#[differentiate] reads the rows of a field of `{name}` by index (`row[0]`, `row.iter()`), not through a pattern: their length is not in the function's signature")));
    }
    for span in uses.bare {
        errors.push(syn::Error::new(span, format!("`{name}` is differentiated field by field: read its fields (`{name}.field`) here; passing the whole struct on is not differentiated yet")));
    }
    let mut leaves: Vec<Leaf> = Vec::new();
    let mut paths: Vec<&Vec<Ident>> = Vec::new();
    for (path, _, _) in &uses.uses {
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    for path in paths {
        let hows: Vec<(Use, Span)> = uses
            .uses
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, h, s)| (*h, *s))
            .collect();
        let has = |u: Use| hows.iter().any(|(h, _)| *h == u);
        let array = has(Use::Vector) || has(Use::Rows);
        if has(Use::Int) || !(has(Use::Scalar) || array) {
            continue;
        }
        if has(Use::Scalar) && array {
            let span = hows
                .iter()
                .find(|(h, _)| *h == Use::Scalar)
                .map_or(name.span(), |(_, s)| *s);
            errors.push(syn::Error::new(span, "this field is read both as a float and as an array; #[differentiate] reads each field of a differentiated struct one way"));
            continue;
        }
        let joined: Vec<String> = path.iter().map(|i| i.to_string()).collect();
        let leaf = format!("__{}_{}", name, joined.join("_"));
        leaves.push(Leaf {
            path: path.clone(),
            cols: has(Use::Rows).then(|| format_ident!("{}_COLS", leaf.to_uppercase())),
            name: format_ident!("{leaf}"),
            vector: !has(Use::Rows) && has(Use::Vector),
        });
    }
    for a in &leaves {
        for b in &leaves {
            if a.path.len() < b.path.len() && b.path.starts_with(&a.path) {
                let shown: Vec<String> = a.path.iter().map(|i| i.to_string()).collect();
                errors.at(
                    &a.path[0],
                    format!(
                        "`{name}.{}` is read whole and through its fields; read its fields only",
                        shown.join(".")
                    ),
                );
            }
        }
    }
    leaves
}

/// The element type of a struct's float fields: the function's generic
/// float, or its float parameters' type (`f64` unless all are `f32`).
fn struct_elem(cx: &Cx, item: &ItemFn) -> TokenStream {
    if let Some(t) = &cx.generic {
        return quote!(#t);
    }
    let floats: Vec<crate::ir::FloatTy> = item
        .sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(pt) => signature::array_of(cx, &pt.ty)
                .map(|(f, _)| f)
                .or_else(|| cx.float_of(&pt.ty))
                .or_else(|| signature::float_ref(cx, &pt.ty)),
            FnArg::Receiver(_) => None,
        })
        .collect();
    if !floats.is_empty() && floats.iter().all(|f| *f == crate::ir::FloatTy::F32) {
        quote!(f32)
    } else {
        quote!(f64)
    }
}

/// Every parameter, checked.
fn groups(cx: &Cx, args: &Args, item: &ItemFn, errors: &mut Errors) -> Vec<Group> {
    let mut groups = Vec::new();
    for arg in &item.sig.inputs {
        let pt = match arg {
            FnArg::Typed(pt) => pt,
            FnArg::Receiver(r) => {
                let ident = Ident::new("self", r.self_token.span);
                if r.mutability.is_some() || (names_self(args) && r.reference.is_none()) {
                    errors.at(r, "#[differentiate] reads the receiver as `&self`; a method that changes `self` is not differentiated");
                }
                let kind = if names_self(args) {
                    Kind::Struct {
                        ty: Box::new(syn::parse_quote!(Self)),
                        leaves: struct_leaves(&item.block, &ident, errors),
                        elem: struct_elem(cx, item),
                    }
                } else {
                    Kind::Plain
                };
                groups.push(Group {
                    ident,
                    ty: (*r.ty).clone(),
                    kind,
                });
                continue;
            }
        };
        let Pat::Ident(pi) = &*pt.pat else {
            errors.at(&pt.pat, "#[differentiate] needs each parameter to be a plain name, like `x: f64`; destructure inside the body");
            continue;
        };
        let ident = pi.ident.clone();
        let kind = match &*pt.ty {
            Type::Reference(r) if r.mutability.is_some() => {
                let shape = match &*r.elem {
                    t if cx.float_of(t).is_some() => Some(Shape::Scalar),
                    Type::Array(a) if cx.float_of(&a.elem).is_some() => Some(Shape::Fixed),
                    Type::Slice(s) if cx.float_of(&s.elem).is_some() => Some(Shape::Slice),
                    t => signature::vec_elem(t)
                        .filter(|e| cx.float_of(e).is_some())
                        .map(|_| Shape::Slice),
                };
                let Some(shape) = shape else {
                    errors.at(&pt.ty, "#[differentiate] reads `&mut` parameters of a float, an array `[T; N]`, a slice `[T]` or a `Vec<T>` of floats; make this one a return value or a local");
                    continue;
                };
                Kind::Mut {
                    shape,
                    input: format_ident!("__{}_in", ident),
                    active: reads(&item.block, &ident),
                }
            }
            _ if named_struct(cx, args, pt).is_some() => Kind::Struct {
                ty: Box::new(named_struct(cx, args, pt).unwrap_or_else(|| (*pt.ty).clone())),
                leaves: struct_leaves(&item.block, &ident, errors),
                elem: struct_elem(cx, item),
            },
            ty => match tuple_fields(cx, ty) {
                Some(fields) => Kind::Tuple(
                    fields
                        .into_iter()
                        .enumerate()
                        .map(|(k, t)| (format_ident!("__{}_{}", ident, k), t.clone()))
                        .collect(),
                ),
                None => Kind::Plain,
            },
        };
        groups.push(Group {
            ident,
            ty: (*pt.ty).clone(),
            kind,
        });
    }
    groups
}

/// The pure function's `wrt`: the user's, each tuple named by its fields
/// and each `&mut` parameter by its input; by default what the pipeline
/// would take, but only the `&mut` parameters the body reads. Marks the
/// `&mut` parameters it names active.
fn pure_wrt(
    cx: &Cx,
    item: &ItemFn,
    pure: &ItemFn,
    args: &Args,
    groups: &mut [Group],
    errors: &mut Errors,
) -> Vec<Ident> {
    let wrt: Vec<Ident> = match &args.wrt {
        Some(names) => {
            for g in groups.iter_mut() {
                if let Kind::Mut { active, .. } = &mut g.kind {
                    *active = names.contains(&g.ident);
                }
            }
            let mut wrt = Vec::new();
            for g in groups.iter() {
                if names.contains(&g.ident) {
                    match &g.kind {
                        Kind::Struct { leaves, .. } => {
                            wrt.extend(leaves.iter().map(|l| l.name.clone()))
                        }
                        _ => wrt.extend(g.pure_names()),
                    }
                }
            }
            // Names that are not parameters: the pipeline says so.
            wrt.extend(
                names
                    .iter()
                    .filter(|n| groups.iter().all(|g| g.ident != **n))
                    .cloned(),
            );
            wrt
        }
        None => {
            let read = signature::read(cx, pure, &Args::default(), &mut Errors::default());
            let inactive: Vec<Ident> = groups
                .iter()
                .filter_map(|g| match &g.kind {
                    Kind::Mut {
                        input,
                        active: false,
                        ..
                    } => Some(input.clone()),
                    _ => None,
                })
                .collect();
            read.wrt
                .iter()
                .map(|&i| read.params[i].ident.clone())
                .filter(|n| !inactive.contains(n))
                .collect()
        }
    };
    if wrt.is_empty() && errors.is_empty() {
        errors.at(
            &item.sig.ident,
            "this function reads no float parameter, so its outputs have no derivative; #[differentiate] needs at least one float input",
        );
    }
    wrt
}

/// Does `block` read `name` (its values, not only its length, and not
/// only as the target of `=`)? Not when its first statement that names it
/// overwrites it whole first (`*e = 0.0;` before `*e += ..` in a loop;
/// `out.fill(0.0);`).
fn reads(block: &syn::Block, name: &Ident) -> bool {
    let first = block
        .stmts
        .iter()
        .find(|s| mentions(&s.to_token_stream(), name));
    if first.is_some_and(|s| overwrites(s, name)) {
        return false;
    }
    reads_any(block, name)
}

/// Does any token of `tokens` (through groups) name `name`?
fn mentions(tokens: &TokenStream, name: &Ident) -> bool {
    tokens.clone().into_iter().any(|t| match t {
        proc_macro2::TokenTree::Ident(i) => i == *name,
        proc_macro2::TokenTree::Group(g) => mentions(&g.stream(), name),
        _ => false,
    })
}

/// `*name = v;` or `name.fill(v);` with `v` not reading `name`: its value
/// on entry is overwritten whole, unread.
fn overwrites(stmt: &Stmt, name: &Ident) -> bool {
    let is_name = |e: &Expr| matches!(e, Expr::Path(p) if p.path.is_ident(name));
    match stmt {
        Stmt::Expr(Expr::Assign(a), Some(_)) => {
            matches!(&*a.left, Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) && is_name(&u.expr))
                && !mentions(&a.right.to_token_stream(), name)
        }
        Stmt::Expr(Expr::MethodCall(m), Some(_)) => {
            m.method == "fill" && is_name(&m.receiver) && !mentions(&m.args.to_token_stream(), name)
        }
        _ => false,
    }
}

/// [`reads`], anywhere in `block`.
fn reads_any(block: &syn::Block, name: &Ident) -> bool {
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

/// `T` of `[T]` or `Vec<T>`.
fn slice_elem(ty: &Type) -> Type {
    match ty {
        Type::Slice(s) => (*s.elem).clone(),
        other => crate::signature::vec_elem(other)
            .cloned()
            .unwrap_or_else(|| other.clone()),
    }
}

/// The body's rewrites: `p.0` of a tuple parameter is its field's
/// parameter, `*out` of a scalar is `out`, and every `return` returns the
/// `&mut` parameters too (closures and items have their own).
struct Rewrite<'a> {
    tuples: Vec<(Ident, Vec<Ident>)>,
    /// Each struct parameter's leaves: field path and pure parameter.
    structs: Vec<(Ident, Vec<LeafName>)>,
    scalars: Vec<Ident>,
    tuple: Option<&'a dyn Fn(Option<Expr>) -> Expr>,
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
            // The pure parameter at the field's place, so that errors about
            // what reads it point there.
            Expr::Field(_) if self.leaf(e).is_some() => {
                if let Some(mut name) = self.leaf(e) {
                    name.set_span(syn::spanned::Spanned::span(e));
                    *e = syn::parse_quote!(#name);
                }
            }
            Expr::Field(f) => {
                let field = match (&*f.base, &f.member) {
                    (Expr::Path(p), syn::Member::Unnamed(k)) => self
                        .tuples
                        .iter()
                        .find(|(n, _)| p.path.is_ident(n))
                        .and_then(|(_, fields)| fields.get(k.index as usize)),
                    _ => None,
                };
                match field {
                    Some(name) => {
                        let mut name = name.clone();
                        name.set_span(syn::spanned::Spanned::span(e));
                        *e = syn::parse_quote!(#name);
                    }
                    None => syn::visit_mut::visit_expr_mut(self, e),
                }
            }
            Expr::Return(r) if self.tuple.is_some() => {
                if let Some(v) = &mut r.expr {
                    self.visit_expr_mut(v);
                }
                if let Some(tuple) = self.tuple {
                    r.expr = Some(Box::new(tuple(r.expr.take().map(|v| *v))));
                }
            }
            // A closure's `return` is its own; its field reads are not.
            Expr::Closure(c) => {
                let tuple = self.tuple.take();
                self.visit_expr_mut(&mut c.body);
                self.tuple = tuple;
            }
            _ => syn::visit_mut::visit_expr_mut(self, e),
        }
    }
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

impl Rewrite<'_> {
    /// The pure parameter a struct field chain `p.a.b` reads, if any.
    fn leaf(&self, e: &Expr) -> Option<Ident> {
        self.structs.iter().find_map(|(p, leaves)| {
            let path = chain(e, p)?;
            leaves
                .iter()
                .find(|(l, _)| *l == path)
                .map(|(_, n)| n.clone())
        })
    }
}

/// The pure function: each tuple's fields parameters of their own, bound
/// back to its name; each `&mut` parameter an input of its value on entry,
/// bound mutably to its name, and returned after what the function
/// returns.
/// A struct parameter as the pure function takes it: by reference (the
/// wrapper passes it beside reads of its fields, so it cannot be moved).
fn by_reference(arg: &FnArg) -> FnArg {
    match arg {
        FnArg::Typed(pt) if !matches!(*pt.ty, Type::Reference(_)) => {
            let mut pt = pt.clone();
            let ty = &pt.ty;
            pt.ty = Box::new(syn::parse_quote!(&#ty));
            FnArg::Typed(pt)
        }
        other => other.clone(),
    }
}

fn pure_item(item: &ItemFn, groups: &[Group], any_mut: bool, ret: Option<&Type>) -> ItemFn {
    let mut pure = item.clone();
    pure.sig.ident = format_ident!("__{}_pure", item.sig.ident);
    pure.attrs.clear();
    let mut inputs = syn::punctuated::Punctuated::<FnArg, syn::Token![,]>::new();
    let mut prologue: Vec<Stmt> = Vec::new();
    let mut outs = Vec::new();
    for (arg, g) in item.sig.inputs.iter().zip(groups) {
        let name = &g.ident;
        match &g.kind {
            Kind::Plain => inputs.push(arg.clone()),
            Kind::Struct { leaves, elem, .. } => {
                inputs.push(by_reference(arg));
                for l in leaves {
                    let n = &l.name;
                    inputs.push(if let Some(c) = &l.cols {
                        pure.sig
                            .generics
                            .params
                            .push(syn::parse_quote!(const #c: usize));
                        syn::parse_quote!(#n: &[[#elem; #c]])
                    } else if l.vector {
                        syn::parse_quote!(#n: &[#elem])
                    } else {
                        syn::parse_quote!(#n: #elem)
                    });
                }
            }
            Kind::Tuple(fields) => {
                let names: Vec<&Ident> = fields.iter().map(|(n, _)| n).collect();
                for (n, t) in fields {
                    inputs.push(syn::parse_quote!(#n: #t));
                }
                prologue.push(syn::parse_quote!(let #name = (#(#names,)*);));
            }
            Kind::Mut { shape, input, .. } => {
                let Type::Reference(r) = &g.ty else { continue };
                let elem = &r.elem;
                let (in_ty, out_ty, bind): (Type, Type, Stmt) = match shape {
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
                inputs.push(syn::parse_quote!(#input: #in_ty));
                prologue.push(bind);
                outs.push((name.clone(), out_ty));
            }
        }
    }
    pure.sig.inputs = inputs;
    let tuples: Vec<(Ident, Vec<Ident>)> = groups
        .iter()
        .filter(|g| matches!(g.kind, Kind::Tuple(_)))
        .map(|g| (g.ident.clone(), g.pure_names()))
        .collect();
    let structs: Vec<(Ident, Vec<LeafName>)> = groups
        .iter()
        .filter_map(|g| match &g.kind {
            Kind::Struct { leaves, .. } => Some((
                g.ident.clone(),
                leaves
                    .iter()
                    .map(|l| (l.path.clone(), l.name.clone()))
                    .collect(),
            )),
            _ => None,
        })
        .collect();
    if !any_mut {
        let mut rewrite = Rewrite {
            tuples,
            structs,
            scalars: Vec::new(),
            tuple: None,
        };
        let mut stmts = prologue;
        stmts.extend(std::mem::take(&mut pure.block.stmts));
        for s in &mut stmts {
            rewrite.visit_stmt_mut(s);
        }
        pure.block.stmts = stmts;
        return pure;
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
        tuples,
        structs,
        scalars: groups
            .iter()
            .filter(|g| matches!(g.shape(), Some(Shape::Scalar)))
            .map(|g| g.ident.clone())
            .collect(),
        tuple: Some(&tuple),
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

/// Hides the pure function's items (they exist for the wrappers) and
/// names the user's function and arguments in their messages.
fn hide(file: &mut syn::File, name: &Ident, pure: &Ident, groups: &[Group]) {
    struct Messages {
        from: String,
        to: String,
        renames: Vec<(String, String)>,
    }
    impl VisitMut for Messages {
        fn visit_lit_str_mut(&mut self, lit: &mut syn::LitStr) {
            let mut text = lit.value();
            if !text.starts_with(&self.from) {
                return;
            }
            text = text.replacen(&self.from, &self.to, 1);
            for (from, to) in &self.renames {
                text = text.replace(from, to);
            }
            *lit = syn::LitStr::new(&text, lit.span());
        }
    }
    let mut renames = Vec::new();
    for g in groups {
        match &g.kind {
            Kind::Plain => {}
            Kind::Struct { leaves, .. } => {
                for l in leaves {
                    let path: Vec<String> = l.path.iter().map(|i| i.to_string()).collect();
                    renames.push((
                        l.name.to_string(),
                        format!("{}.{}", g.ident, path.join(".")),
                    ));
                }
            }
            Kind::Tuple(fields) => {
                for (k, (n, _)) in fields.iter().enumerate() {
                    renames.push((n.to_string(), format!("{}.{k}", g.ident)));
                }
            }
            Kind::Mut { input, .. } => renames.push((input.to_string(), g.ident.to_string())),
        }
    }
    let mut messages = Messages {
        from: pure.to_string(),
        to: name.to_string(),
        renames,
    };
    for it in &mut file.items {
        if let syn::Item::Fn(f) = it {
            f.vis = syn::Visibility::Inherited;
            f.attrs.push(syn::parse_quote!(#[doc(hidden)]));
            // The body as written, after `let mut out = __out_in;`: the
            // first write may overwrite the entry value unread.
            f.attrs.push(
                syn::parse_quote!(#[allow(dead_code, unused_assignments, unused_mut, unused_variables, clippy::all)]),
            );
            messages.visit_item_fn_mut(f);
        }
    }
}

/// Did the pipeline report errors (`compile_error!` items)?
fn reports_errors(file: &syn::File) -> bool {
    file.items.iter().any(|i| {
        matches!(i, syn::Item::Macro(m)
            if m.mac.path.segments.last().is_some_and(|s| s.ident == "compile_error"))
    })
}

/// After errors, no body is kept, the pure function's included: it reads
/// struct fields in the types their uses suggest (a field's type is not in
/// the method's tokens), and a body the pipeline refused may use them
/// otherwise, which would add type errors inside the expansion to the
/// ones that name the cause. The signatures stay, for the call sites.
fn stub_bodies(file: &mut syn::File) {
    for it in &mut file.items {
        if let syn::Item::Fn(f) = it {
            *f.block = syn::parse_quote!({ ::core::unreachable!() });
        }
    }
}

/// The companions the user calls, over the pure function's.
struct Wrappers<'a> {
    cx: &'a Cx,
    item: &'a ItemFn,
    pure: &'a Ident,
    groups: &'a [Group],
    /// Is there a `&mut` parameter (else only tuples are split)?
    any_mut: bool,
    /// Does a function with `&mut` parameters also return a float?
    ret: bool,
    /// The pure function's `wrt`.
    wrt: &'a [Ident],
    file: &'a syn::File,
}

/// A gradient regrouped: what is returned and its type, and what is
/// written into the cotangents of `&mut` parameters.
struct Regrouped {
    value: TokenStream,
    ty: TokenStream,
    writes: TokenStream,
    /// Is nothing returned?
    empty: bool,
}

impl Wrappers<'_> {
    fn all(&self) -> TokenStream {
        let mut out = TokenStream::new();
        if self.any_mut {
            out.extend(self.mut_jvp());
            out.extend(self.mut_vjp());
            out.extend(self.writing_values(
                "jacobian",
                "Writes the values of the `&mut` parameters and returns the Jacobian of",
            ));
            if self.scalar_out_param() {
                out.extend(self.writing_values(
                    "grad",
                    "Writes the value of the out-parameter and returns the gradient of",
                ));
            }
        } else {
            out.extend(self.regrouping("grad", "The gradient of", false, false));
            out.extend(self.regrouping(
                "value_and_grad",
                "The value and the gradient of",
                false,
                true,
            ));
            out.extend(self.tuple_jvp("jvp", "The value and J·v of"));
            out.extend(self.regrouping("vjp", "The value and vᵀ·J of", true, true));
            out.extend(self.passing("jacobian", "The Jacobian (tuple fields flattened) of"));
            out.extend(self.tuple_jvp("hvp", "The Hessian times a vector of"));
            out.extend(self.passing("hessian", "The Hessian over the flattened parameters of"));
        }
        out.extend(self.pp());
        out
    }

    /// The pure companion `__f_pure_<suffix>`, if it was emitted (and is
    /// not a stub explaining why it cannot be called).
    fn pure_fn(&self, suffix: &str) -> Option<&syn::Signature> {
        let name = format!("{}_{suffix}", self.pure);
        self.file.items.iter().find_map(|it| match it {
            syn::Item::Fn(f)
                if f.sig.ident == name
                    && f.sig.generics.params.len()
                        <= self.item.sig.generics.params.len() + self.cols() =>
            {
                Some(&f.sig)
            }
            _ => None,
        })
    }

    /// How a wrapper calls the pure companion `suffix` (`Self::..` in a
    /// method).
    fn pure_name(&self, suffix: &str) -> TokenStream {
        let name = format_ident!("{}_{suffix}", self.pure);
        if self.item.sig.receiver().is_some() {
            quote!(Self::#name)
        } else {
            quote!(#name)
        }
    }

    fn name(&self, suffix: &str) -> Ident {
        format_ident!("{}_{suffix}", self.item.sig.ident)
    }

    /// The pure function's const parameters: the row lengths of struct
    /// fields indexed twice.
    fn cols(&self) -> usize {
        self.groups
            .iter()
            .map(|g| match &g.kind {
                Kind::Struct { leaves, .. } => leaves.iter().filter(|l| l.cols.is_some()).count(),
                _ => 0,
            })
            .sum()
    }

    /// The pure function's parameter count.
    fn pure_len(&self) -> usize {
        self.groups.iter().map(|g| g.pure_names().len()).sum()
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
        let ret = if ret.is_empty() || ret.to_string() == "()" {
            TokenStream::new()
        } else {
            quote!(-> #ret)
        };
        let sig = &self.item.sig;
        let mut generics = sig.generics.clone();
        // A struct of the generic float `T` derives `Tangent` for `T:
        // Tangent`, which `T: Float` does not imply.
        if let Some(t) = &self.cx.generic {
            if self
                .groups
                .iter()
                .any(|g| matches!(g.kind, Kind::Struct { .. }))
            {
                let private = self.cx.private();
                for p in generics.type_params_mut().filter(|p| p.ident == *t) {
                    p.bounds.push(syn::parse_quote!(#private::Tangent));
                }
            }
        }
        let (vis, where_clause) = (&self.item.vis, &generics.where_clause);
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
    /// tuple by its fields, a `&mut` one by its current value.
    fn pure_args(&self) -> Vec<TokenStream> {
        let mut args = Vec::new();
        for g in self.groups {
            let name = &g.ident;
            match &g.kind {
                Kind::Plain => args.push(quote!(#name)),
                Kind::Struct { leaves, .. } => {
                    args.push(match &g.ty {
                        Type::Reference(_) => quote!(#name),
                        _ => quote!(&#name),
                    });
                    for l in leaves {
                        let path = &l.path;
                        args.push(if l.vector || l.cols.is_some() {
                            quote!(&#name #(.#path)* [..])
                        } else {
                            quote!(#name #(.#path)*)
                        });
                    }
                }
                Kind::Tuple(fields) => args.extend((0..fields.len()).map(|k| {
                    let k = syn::Index::from(k);
                    quote!(#name.#k)
                })),
                Kind::Mut { shape, .. } => args.push(value_of(*shape, name.to_token_stream())),
            }
        }
        args
    }

    /// `dst = src` for a `&mut` parameter, checking a slice's length.
    fn write(&self, shape: Shape, dst: &Ident, src: &Ident, companion: &str) -> TokenStream {
        let private = self.cx.private();
        match shape {
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
        let taken = |n: &str| self.groups.iter().any(|g| g.ident == n);
        let mut name = base;
        while taken(&name) {
            name.push('_');
        }
        Ident::new(&name, Span::call_site())
    }

    /// Is the field `p.path` differentiated (no field on the way marked
    /// `#[tangent(skip)]`)? `st` is `p`'s struct type.
    fn differentiated(&self, p: &Ident, st: &Type, path: &[Ident]) -> TokenStream {
        let private = self.cx.private();
        let first = path[0].to_string();
        let mut test = quote!(<#st as #private::Tangent>::differentiated(#first));
        for k in 1..path.len() {
            let (outer, field) = (&path[..k], path[k].to_string());
            test.extend(quote!(&& #private::differentiated(&#p #(.#outer)*, #field)));
        }
        test
    }

    /// The tangent arguments of a forward companion, grouped as the
    /// function's parameters (a tuple's tangent is a tuple, a `&mut`
    /// one's is `&mut`): the wrapper's parameters, and the arguments of
    /// the pure companion.
    fn dots(&self, pure: &syn::Signature) -> Option<(Vec<TokenStream>, Vec<TokenStream>)> {
        let n = self.pure_len();
        let pure_dots: Vec<&syn::PatType> = pure
            .inputs
            .iter()
            .skip(n)
            .filter_map(|a| match a {
                FnArg::Typed(pt) => Some(pt),
                FnArg::Receiver(_) => None,
            })
            .collect();
        let (mut params, mut args) = (Vec::new(), Vec::new());
        let mut k = 0;
        for g in self.groups {
            let names = g.pure_names();
            let taken = names.iter().filter(|n| self.wrt.contains(n)).count();
            if taken == 0 {
                continue;
            }
            match &g.kind {
                Kind::Plain => {
                    let pt = pure_dots.get(k)?;
                    let (pat, ty) = (&pt.pat, &pt.ty);
                    params.push(quote!(#pat: #ty));
                    args.push(pat.to_token_stream());
                }
                Kind::Struct { ty: st, leaves, .. } => {
                    let (dot, ty) = (self.fresh(format!("{}_dot", g.ident)), &g.ty);
                    params.push(quote!(#dot: #ty));
                    let private = self.cx.private();
                    for l in leaves.iter().filter(|l| self.wrt.contains(&l.name)) {
                        let (path, diff) = (&l.path, self.differentiated(&g.ident, st, &l.path));
                        args.push(if l.vector || l.cols.is_some() {
                            quote!(&#private::tangent_or_zeros(#diff, &#dot #(.#path)* [..])[..])
                        } else {
                            quote!(if #diff { #dot #(.#path)* } else { #private::Tangent::zero_tangent(&#dot #(.#path)*) })
                        });
                    }
                }
                Kind::Tuple(_) => {
                    let (dot, ty) = (self.fresh(format!("{}_dot", g.ident)), &g.ty);
                    params.push(quote!(#dot: #ty));
                    for (j, n) in names.iter().enumerate() {
                        if self.wrt.contains(n) {
                            let j = syn::Index::from(j);
                            args.push(quote!(#dot.#j));
                        }
                    }
                }
                Kind::Mut { shape, .. } => {
                    let (dot, ty) = (self.fresh(format!("{}_dot", g.ident)), &g.ty);
                    params.push(quote!(#dot: #ty));
                    args.push(value_of(*shape, dot.to_token_stream()));
                }
            }
            k += taken;
        }
        Some((params, args))
    }

    /// `g` (a gradient over the pure function's `wrt`, of type `ty`)
    /// regrouped as the function's parameters: a tuple's fields back into
    /// a tuple; a `&mut` parameter's written into its cotangent `bars`.
    fn regroup(&self, g: &Ident, ty: &Type, bars: &[(usize, Ident)], companion: &str) -> Regrouped {
        let parts: Vec<Ident> = (0..self.wrt.len())
            .map(|k| local(&format!("g{k}")))
            .collect();
        let mut tys: Vec<Type> = match ty {
            Type::Tuple(t) if self.wrt.len() > 1 => t.elems.iter().cloned().collect(),
            other => vec![other.clone()],
        };
        // A pure companion that is a stub (its expansion reported an
        // error, say a float type the attribute cannot see) has no
        // gradient tuple: the wrapper only has to parse, after that error.
        tys.resize(self.wrt.len(), syn::parse_quote!(()));
        let pattern = one_or_tuple(
            &parts
                .iter()
                .map(|p| p.to_token_stream())
                .collect::<Vec<_>>(),
        );
        let mut writes = quote!(let #pattern = #g;);
        let (mut values, mut types) = (Vec::new(), Vec::new());
        let mut k = 0;
        for (gi, group) in self.groups.iter().enumerate() {
            let names = group.pure_names();
            let taken: Vec<usize> = names
                .iter()
                .filter(|n| self.wrt.contains(n))
                .map(|_| {
                    k += 1;
                    k - 1
                })
                .collect();
            if taken.is_empty() {
                continue;
            }
            match &group.kind {
                Kind::Plain => {
                    let (p, t) = (&parts[taken[0]], &tys[taken[0]]);
                    values.push(quote!(#p));
                    types.push(quote!(#t));
                }
                Kind::Struct { ty: st, leaves, .. } => {
                    let (private, p, built) = (self.cx.private(), &group.ident, local("gradient"));
                    let mut sets = TokenStream::new();
                    let wrt_leaves = leaves.iter().filter(|l| self.wrt.contains(&l.name));
                    for (l, &j) in wrt_leaves.zip(&taken) {
                        let (path, part) = (&l.path, &parts[j]);
                        let diff = self.differentiated(p, st, path);
                        sets.extend(if l.vector || l.cols.is_some() {
                            quote!(if #diff { #built #(.#path)* .copy_from_slice(&#part); })
                        } else {
                            quote!(if #diff { #built #(.#path)* = #part; })
                        });
                    }
                    values.push(quote!({
                        let mut #built = <#st as #private::Tangent>::zero_tangent(::core::borrow::Borrow::<#st>::borrow(&#p));
                        #sets
                        #built
                    }));
                    types.push(quote!(#st));
                }
                Kind::Tuple(_) => {
                    let ps = taken.iter().map(|&j| &parts[j]);
                    let ts = taken.iter().map(|&j| &tys[j]);
                    values.push(quote!((#(#ps,)*)));
                    types.push(quote!((#(#ts,)*)));
                }
                Kind::Mut { shape, .. } => {
                    if let Some((_, bar)) = bars.iter().find(|(i, _)| *i == gi) {
                        writes.extend(self.write(*shape, bar, &parts[taken[0]], companion));
                    }
                }
            }
        }
        Regrouped {
            empty: values.is_empty(),
            value: one_or_tuple(&values),
            ty: one_or_tuple(&types),
            writes,
        }
    }

    /// The return type of a pure companion.
    fn output<'s>(&self, pure: &'s syn::Signature) -> Option<&'s Type> {
        match &pure.output {
            ReturnType::Type(_, ty) => Some(ty),
            ReturnType::Default => None,
        }
    }

    /// `f_grad`, `f_value_and_grad`, `f_vjp` of a function with tuple
    /// parameters: the pure companion's gradient regrouped. `bar`: it
    /// takes the cotangent; `valued`: it returns `(value, gradient)`.
    fn regrouping(&self, suffix: &str, doc: &str, bar: bool, valued: bool) -> Option<TokenStream> {
        let pure = self.pure_fn(suffix)?;
        let out = self.output(pure)?;
        let (value_ty, grad_ty) = match (valued, out) {
            (true, Type::Tuple(t)) if t.elems.len() == 2 => (Some(&t.elems[0]), &t.elems[1]),
            (true, _) => return None,
            (false, ty) => (None, ty),
        };
        let mut extra = Vec::new();
        let mut call_extra = Vec::new();
        if bar {
            let FnArg::Typed(pt) = pure.inputs.iter().nth(self.pure_len())? else {
                return None;
            };
            let (pat, ty) = (&pt.pat, &pt.ty);
            extra.push(quote!(#pat: #ty));
            call_extra.push(pat.to_token_stream());
        }
        let companion = self.name(suffix).to_string();
        let (v, g) = (local("value"), local("grad"));
        let r = self.regroup(&g, grad_ty, &[], &companion);
        let (grad, grad_ty, writes) = (r.value, r.ty, r.writes);
        let (ret, result, bind) = match value_ty {
            Some(vt) => (
                quote!((#vt, #grad_ty)),
                quote!((#v, #grad)),
                quote!(let (#v, #g)),
            ),
            None => (grad_ty, grad, quote!(let #g)),
        };
        let head = self.head(suffix, doc, &extra, ret);
        let (name, args) = (self.pure_name(suffix), self.pure_args());
        Some(quote! {
            #head {
                #bind = #name(#(#args,)* #(#call_extra,)*);
                #writes
                #result
            }
        })
    }

    /// `f_jvp` and `f_hvp` of a function with tuple parameters: tangents
    /// grouped as the parameters; `f_hvp`'s gradient regrouped.
    fn tuple_jvp(&self, suffix: &str, doc: &str) -> Option<TokenStream> {
        let pure = self.pure_fn(suffix)?;
        let out = self.output(pure)?.clone();
        let (extra, dot_args) = self.dots(pure)?;
        let (name, args) = (self.pure_name(suffix), self.pure_args());
        let call = quote!(#name(#(#args,)* #(#dot_args,)*));
        let body = if suffix == "hvp" {
            let g = local("grad");
            let r = self.regroup(&g, &out, &[], &self.name(suffix).to_string());
            let (value, writes) = (r.value, r.writes);
            let head = self.head(suffix, doc, &extra, r.ty);
            quote!(#head { let #g = #call; #writes #value })
        } else {
            let head = self.head(suffix, doc, &extra, out.to_token_stream());
            quote!(#head { #call })
        };
        Some(body)
    }

    /// A companion whose result passes through unchanged.
    fn passing(&self, suffix: &str, doc: &str) -> Option<TokenStream> {
        let pure = self.pure_fn(suffix)?;
        if self.cols() > 0 {
            return self.no_jacobian_of_rows(suffix);
        }
        let out = self.output(pure)?;
        let head = self.head(suffix, doc, &[], out.to_token_stream());
        let (name, args) = (self.pure_name(suffix), self.pure_args());
        Some(quote!(#head { #name(#(#args,)*) }))
    }

    /// A companion that fails to compile where it is called, saying why:
    /// its first parameter's type is a marker no type implements.
    fn no_jacobian_of_rows(&self, suffix: &str) -> Option<TokenStream> {
        let (private, marker) = (self.cx.private(), local("Unavailable"));
        let mut params: Vec<TokenStream> = self
            .item
            .sig
            .inputs
            .iter()
            .map(|a| a.to_token_stream())
            .collect();
        let first = params.first_mut()?;
        let arg0 = local("arg0");
        *first = quote!(#arg0: #marker);
        let mut generics = self.item.sig.generics.clone();
        generics
            .params
            .push(syn::parse_quote!(#marker: #private::NoJacobianOfRows));
        let (generics, _, where_clause) = generics.split_for_impl();
        let (vis, name) = (&self.item.vis, self.name(suffix));
        let doc = format!(
            "Not available: [`{}`] reads a struct field indexed twice (`p.w[i][j]`); `_vjp` with each basis cotangent gives the Jacobian.",
            self.item.sig.ident
        );
        Some(quote! {
            #[doc = #doc]
            #[allow(clippy::too_many_arguments, unused_variables, dead_code)]
            #vis fn #name #generics (#(#params,)*) #where_clause { ::core::unreachable!() }
        })
    }

    /// The values the pure function returns: `(ret, p1, p2, ..)` as a
    /// pattern of fresh locals, and those locals.
    fn value_pattern(&self, prefix: &str) -> (TokenStream, Option<Ident>, Vec<Ident>) {
        let ret = self.ret.then(|| local(&format!("{prefix}_ret")));
        let outs: Vec<Ident> = self
            .mut_groups()
            .map(|(_, g)| local(&format!("{prefix}_{}", g.ident)))
            .collect();
        let all: Vec<TokenStream> = ret
            .iter()
            .chain(&outs)
            .map(|i| i.to_token_stream())
            .collect();
        (one_or_tuple(&all), ret, outs)
    }

    /// The `&mut` parameters, with their places among the groups.
    fn mut_groups(&self) -> impl Iterator<Item = (usize, &Group)> {
        self.groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.shape().is_some())
    }

    /// Writes of the values `outs` into the `&mut` parameters.
    fn write_values(&self, outs: &[Ident], companion: &str) -> TokenStream {
        let mut writes = TokenStream::new();
        for ((_, g), v) in self.mut_groups().zip(outs) {
            writes.extend(self.write(g.shape().unwrap_or(Shape::Scalar), &g.ident, v, companion));
        }
        writes
    }

    /// `f_jvp(args.., tangents of wrt.., tangents of the other &mut ..)`
    /// of a function with `&mut` parameters: writes the values and the
    /// tangents; returns the value and tangent of what it returns.
    fn mut_jvp(&self) -> Option<TokenStream> {
        let pure = self.pure_fn("jvp")?;
        let companion = self.name("jvp").to_string();
        let (mut extra, dot_args) = self.dots(pure)?;
        let mut dots = Vec::new();
        for (_, g) in self.mut_groups() {
            let dot = self.fresh(format!("{}_dot", g.ident));
            if let Kind::Mut { active: false, .. } = g.kind {
                let ty = &g.ty;
                extra.push(quote!(#dot: #ty));
            }
            dots.push(dot);
        }
        let (vpat, vret, vouts) = self.value_pattern("v");
        let (tpat, tret, touts) = self.value_pattern("t");
        let mut writes = self.write_values(&vouts, &companion);
        for (((_, g), dot), t) in self.mut_groups().zip(&dots).zip(&touts) {
            writes.extend(self.write(g.shape().unwrap_or(Shape::Scalar), dot, t, &companion));
        }
        let (ret_ty, result) = match (&vret, &tret, &self.item.sig.output) {
            (Some(v), Some(t), ReturnType::Type(_, ty)) => (quote!((#ty, #ty)), quote!((#v, #t))),
            _ => (TokenStream::new(), TokenStream::new()),
        };
        let head = self.head(
            "jvp",
            "Writes the values and the tangents (J·v) of the `&mut` parameters of",
            &extra,
            ret_ty,
        );
        let (name, args) = (self.pure_name("jvp"), self.pure_args());
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

    /// `f_vjp(args.., ret_bar?, bars of the &mut ..)` of a function with
    /// `&mut` parameters: writes the values and the cotangents of the
    /// differentiated `&mut` parameters; returns the gradient of the
    /// others (after the value, if the function returns one).
    fn mut_vjp(&self) -> Option<TokenStream> {
        let pure = self.pure_fn("vjp")?;
        let companion = self.name("vjp").to_string();
        let FnArg::Typed(bar_arg) = pure.inputs.iter().nth(self.pure_len())? else {
            return None;
        };
        let count = self.mut_groups().count() + usize::from(self.ret);
        let mut bar_tys = match &*bar_arg.ty {
            Type::Tuple(t) if count > 1 => t.elems.iter().cloned().collect(),
            other => vec![other.clone()],
        }
        .into_iter();
        let Type::Tuple(pure_ret) = self.output(pure)? else {
            return None;
        };
        let grad_ty = pure_ret.elems.iter().nth(1)?;
        let (mut extra, mut bar_args, mut bars) = (Vec::new(), Vec::new(), Vec::new());
        if self.ret {
            let (bar, ty) = (self.fresh("ret_bar".into()), bar_tys.next()?);
            extra.push(quote!(#bar: #ty));
            bar_args.push(bar.to_token_stream());
        }
        for (gi, g) in self.mut_groups() {
            let (bar, ty) = (self.fresh(format!("{}_bar", g.ident)), bar_tys.next()?);
            match g.kind {
                Kind::Mut {
                    shape,
                    active: true,
                    ..
                } => {
                    let ty = &g.ty;
                    extra.push(quote!(#bar: #ty));
                    bar_args.push(value_of(shape, bar.to_token_stream()));
                }
                _ => {
                    extra.push(quote!(#bar: #ty));
                    bar_args.push(bar.to_token_stream());
                }
            }
            bars.push((gi, bar));
        }
        let bar_arg = one_or_tuple(&bar_args);
        let (vpat, vret, vouts) = self.value_pattern("v");
        let (v, g) = (local("value"), local("grad"));
        let r = self.regroup(&g, grad_ty, &bars, &companion);
        let mut writes = self.write_values(&vouts, &companion);
        writes.extend(r.writes);
        let (grad, grad_ty) = (r.value, r.ty);
        let (ret_ty, result) = match (&vret, &self.item.sig.output) {
            (Some(v), ReturnType::Type(_, ty)) if r.empty => (quote!(#ty), quote!(#v)),
            (Some(v), ReturnType::Type(_, ty)) => (quote!((#ty, #grad_ty)), quote!((#v, #grad))),
            _ if r.empty => (TokenStream::new(), TokenStream::new()),
            _ => (grad_ty, grad),
        };
        let head = self.head("vjp", "Writes the values of the `&mut` parameters, and the cotangents (vᵀ·J) of the differentiated ones, of", &extra, ret_ty);
        let (name, args) = (self.pure_name("vjp"), self.pure_args());
        Some(quote! {
            #head {
                let (#v, #g) = #name(#(#args,)* #bar_arg);
                let #vpat = #v;
                #writes
                #result
            }
        })
    }

    /// One `&mut T` out-parameter, not read, and nothing returned: the
    /// function has a gradient.
    fn scalar_out_param(&self) -> bool {
        let muts: Vec<&Group> = self.mut_groups().map(|(_, g)| g).collect();
        !self.ret
            && matches!(muts.as_slice(), [g] if matches!(g.kind, Kind::Mut { shape: Shape::Scalar, active: false, .. }))
    }

    /// A companion of a function with `&mut` parameters that writes the
    /// values (by the pure function) and returns the pure companion's
    /// result, its tuple gradients regrouped.
    fn writing_values(&self, suffix: &str, doc: &str) -> Option<TokenStream> {
        let pure = self.pure_fn(suffix)?;
        let out = self.output(pure)?.clone();
        let companion = self.name(suffix).to_string();
        let args = self.pure_args();
        let name = self.pure_name(suffix);
        let pure = self.pure;
        let pure_fn = if self.item.sig.receiver().is_some() {
            quote!(Self::#pure)
        } else {
            quote!(#pure)
        };
        let (result, ret) = (local("result"), local("regrouped"));
        let (tail, ret_ty, regroup) = if suffix == "grad" {
            let r = self.regroup(&result, &out, &[], &companion);
            let (value, writes) = (r.value, r.writes);
            (quote!(#ret), r.ty, quote!(let #ret = { #writes #value };))
        } else {
            (quote!(#result), out.to_token_stream(), TokenStream::new())
        };
        let (vpat, _, vouts) = self.value_pattern("v");
        let writes = self.write_values(&vouts, &companion);
        let head = self.head(suffix, doc, &[], ret_ty);
        Some(quote! {
            #head {
                let #result = #name(#(#args,)*);
                #regroup
                let #vpat = #pure_fn(#(#args,)*);
                #writes
                #tail
            }
        })
    }

    /// `f_pp()`: the pure function's.
    fn pp(&self) -> Option<TokenStream> {
        self.pure_fn("pp")?;
        let (vis, name) = (&self.item.vis, self.name("pp"));
        let pure = self.pure_name("pp");
        let private = self.cx.private();
        Some(quote! {
            /// The derivatives, raw and simplified (see `#[differentiate]`).
            #vis fn #name() -> #private::Pretty {
                #pure()
            }
        })
    }
}

/// A `&mut` parameter's (or its tangent's) value as the pure function
/// takes it.
fn value_of(shape: Shape, name: TokenStream) -> TokenStream {
    match shape {
        Shape::Scalar | Shape::Fixed => quote!(*#name),
        Shape::Slice => quote!(&#name[..]),
    }
}
