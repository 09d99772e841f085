//! Iterator forms on differentiated arrays, rewritten as index loops before
//! lowering: the one loop pipeline then differentiates them, in both modes.
//!
//! A chain is a source, at most one `map`, and a consumer:
//!
//! - sources: `x.iter()` (or `x.into_iter()`, and `.copied()`/`.cloned()`
//!   of them), `x.iter().zip(y.iter())` (`y`, `&y` or `y.iter()`), and an
//!   integer range `(a..b)`;
//! - consumers: `.sum()`, `.product()`, `.fold(init, |acc, v| ..)`,
//!   `.collect::<Vec<_>>()`;
//! - and `a.map(|v| ..)` on a fixed array, elementwise;
//! - `for v in x.iter()` (also `&x`, `x`, `.enumerate()`, `.zip(..)`).
//!
//! Other adaptors are compile errors that show the index loop to write.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{parse_quote_spanned, Expr, ExprClosure, ExprMethodCall, Pat};

/// What a chain was rewritten to, or why it cannot be.
pub type Rewrite = Result<Expr, (Span, String)>;

/// A chain's source and its `map` closure.
type Mapped = (Source, Option<ExprClosure>);

/// Where the items come from.
enum Source {
    /// Elements of one array, or of zipped arrays, at each index; the
    /// items nest as the `zip`s were written.
    Elems(Vec<Expr>, Nest),
    /// The integers `a..b`.
    Range(Box<(Expr, Expr)>),
    /// The items of a source with their positions, `(i, item)`.
    Enumerate(Box<Source>),
    /// `x.windows(k)` (`chunks`: `x.chunks(k)`): sub-slices of `x`.
    Windows(Box<Windows>),
    /// A source's items last to first, `.rev()` (at the same indices).
    Rev(Box<Source>),
}

/// How the items of zipped arrays nest: `a.zip(b).zip(c)` gives `((a, b),
/// c)`, `a.zip(b.zip(c))` gives `(a, (b, c))`; a leaf is an index into the
/// source's arrays.
#[derive(Clone)]
enum Nest {
    Array(usize),
    Pair(Box<Nest>, Box<Nest>),
}

impl Nest {
    /// The same nesting over arrays `by` places further on.
    fn shifted(self, by: usize) -> Nest {
        match self {
            Nest::Array(k) => Nest::Array(k + by),
            Nest::Pair(a, b) => Nest::Pair(Box::new(a.shifted(by)), Box::new(b.shifted(by))),
        }
    }
}

/// The elements of one array.
fn elems(x: Expr) -> Source {
    Source::Elems(vec![x], Nest::Array(0))
}

/// `x.windows(k)` or `x.chunks(k)`.
#[derive(Clone)]
struct Windows {
    x: Expr,
    k: Expr,
    chunks: bool,
}

impl Source {
    /// The source whose indices the items are at.
    fn base(&self) -> &Source {
        match self {
            Source::Enumerate(s) | Source::Rev(s) => s.base(),
            other => other,
        }
    }

    /// Are the items taken last to first?
    fn reversed(&self) -> bool {
        match self {
            Source::Rev(_) => true,
            Source::Enumerate(s) => s.reversed(),
            _ => false,
        }
    }
}

/// What `.rev().enumerate()` gets.
const REV_ENUMERATE: &str = "#[differentiate] does not read positions counted from the end (`.rev().enumerate()`); write `.enumerate().rev()`, whose positions are the elements' indices, or an index loop";

/// `E.method(..)` chains this module reads; anything else is `None` (not an
/// iterator chain: lowered as usual).
pub fn chain(g: &Gen, e: &ExprMethodCall) -> Option<Rewrite> {
    let name = e.method.to_string();
    let span = e.method.span();
    let consumes = match name.as_str() {
        "sum" | "product" | "collect" => e.args.is_empty(),
        "fold" => e.args.len() == 2,
        // `a.map(|v| ..)` on an array (not on an iterator).
        "map" if e.args.len() == 1 && source(&e.receiver).is_none() => {
            let Expr::Closure(c) = &e.args[0] else {
                return None;
            };
            return Some(array_map(g, e, c, span));
        }
        // `x.iter().filter(..)`, `x.iter().max_by(..).unwrap()`: the first
        // adaptor is the cause. (Not in `x.iter().sum::<f64>().min(1.0)`,
        // read as the `min` of a sum.)
        _ => {
            let (span, adaptor) = first_adaptor(&Expr::MethodCall(e.clone()))?;
            if CONSUMERS.contains(&adaptor.as_str()) {
                return None;
            }
            return Some(Err((span, unsupported(&adaptor))));
        }
    };
    if !consumes {
        return None;
    }
    let (source, map) = match mapped(&e.receiver)? {
        Ok(x) => x,
        Err(err) => return Some(Err(err)),
    };
    Some(match name.as_str() {
        "collect" => collect(g, span, source, map),
        "fold" => fold(g, e, span, source, map),
        _ => {
            let (init, op): (Expr, syn::BinOp) = if name == "sum" {
                (
                    parse_quote_spanned!(span=> 0.0),
                    parse_quote_spanned!(span=> +),
                )
            } else {
                (
                    parse_quote_spanned!(span=> 1.0),
                    parse_quote_spanned!(span=> *),
                )
            };
            reduce(
                g,
                span,
                source,
                map,
                init,
                |acc, v| parse_quote_spanned!(span=> #acc #op #v),
            )
        }
    })
}

/// `.fold(init, |acc, v| body)`.
fn fold(
    g: &Gen,
    e: &ExprMethodCall,
    span: Span,
    source: Source,
    map: Option<ExprClosure>,
) -> Rewrite {
    let init = e.args[0].clone();
    // `.fold(init, f64::max)`: a function by its path is `|acc, v| f(acc, v)`.
    if let Expr::Path(f) = &e.args[1] {
        return reduce(
            g,
            span,
            source,
            map,
            init,
            |acc, v| parse_quote_spanned!(span=> #f(#acc, #v)),
        );
    }
    let Expr::Closure(c) = &e.args[1] else {
        return Err((
            e.args[1].span(),
            "`fold` needs a closure `|acc, v| ...` or a function (`f64::max`) here".into(),
        ));
    };
    let [acc_pat, item_pat] = closure_params::<2>(c)?;
    let body = &c.body;
    reduce(g, span, source, map, init, |acc, v| {
        parse_quote_spanned! {span=> {
            let #acc_pat = #acc;
            let #item_pat = #v;
            #body
        }}
    })
}

/// `a.map(|v| body)` on a fixed array: elementwise into zeros like `a`.
fn array_map(g: &Gen, e: &ExprMethodCall, c: &ExprClosure, span: Span) -> Rewrite {
    let array = elems((*e.receiver).clone());
    let f = g.id("zeros_like", span);
    let zeros = move |source: &Source| -> Expr {
        let Source::Elems(a, _) = source else {
            return parse_quote_spanned!(span=> ());
        };
        let a = &a[0];
        parse_quote_spanned!(span=> #f(&#a))
    };
    fill(g, span, array, Some(c), zeros)
}

/// The names rewritten code binds: `__ad_i`, `__ad_v`, ..., with a prefix
/// no identifier of the function starts with, so that none can be captured
/// (lowering binds names as strings), and `__ad_zeros_like`, the function
/// it calls for zeros shaped like an array, which lowering reads as
/// [`Op::ZerosLike`](crate::ir::Op::ZerosLike).
pub struct Gen {
    prefix: String,
}

impl Gen {
    /// Names free in the function whose tokens are `tokens`.
    pub fn new(tokens: proc_macro2::TokenStream) -> Gen {
        fn idents(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
            for tt in tokens {
                match tt {
                    proc_macro2::TokenTree::Ident(i) => out.push(i.to_string()),
                    proc_macro2::TokenTree::Group(g) => idents(g.stream(), out),
                    _ => {}
                }
            }
        }
        let mut all = Vec::new();
        idents(tokens, &mut all);
        let mut prefix = "__ad_".to_string();
        let mut k = 0;
        while all.iter().any(|i| i.starts_with(&prefix)) {
            k += 1;
            prefix = format!("__ad{k}_");
        }
        Gen { prefix }
    }

    pub fn id(&self, name: &str, span: Span) -> syn::Ident {
        syn::Ident::new(&format!("{}{name}", self.prefix), span)
    }

    fn expr(&self, name: &str, span: Span) -> Expr {
        let id = self.id(name, span);
        parse_quote_spanned!(span=> #id)
    }

    fn pat(&self, name: &str, span: Span) -> Pat {
        let id = self.id(name, span);
        parse_quote_spanned!(span=> #id)
    }

    /// The name of the zeros function, as lowering compares path segments.
    pub fn zeros_like(&self) -> String {
        format!("{}zeros_like", self.prefix)
    }
}

/// The methods that end a chain this module reads.
const CONSUMERS: &[&str] = &["sum", "product", "fold", "collect"];

fn unsupported(adaptor: &str) -> String {
    if adaptor.starts_with("max") || adaptor.starts_with("min") || adaptor == "reduce" {
        return format!(
            "#[differentiate] does not read the iterator adaptor `{adaptor}` on differentiated values; \
             for a maximum or minimum, fold: `x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v))`"
        );
    }
    format!(
        "#[differentiate] does not read the iterator adaptor `{adaptor}` on differentiated values; \
         it reads `x.iter()` / `.zip(..)` / `(a..b)`, then `.rev()`, one `.map(..)`, and `.sum()`, `.product()`, \
         `.fold(..)` or `.collect::<Vec<_>>()`. Write an index loop instead: \
         `for i in 0..x.len() {{ let v = x[i]; ... }}`"
    )
}

/// The source of a chain and its `map` closure, if any: `None` if `e` is
/// not an iterator at all.
fn mapped(e: &Expr) -> Option<Result<Mapped, (Span, String)>> {
    if let Some(s) = source(e) {
        return Some(Ok((s, None)));
    }
    let Expr::MethodCall(m) = e else { return None };
    if m.method == "map" && m.args.len() == 1 {
        if let Some(s) = source(&m.receiver) {
            return Some(match &m.args[0] {
                Expr::Closure(c) => Ok((s, Some(c.clone()))),
                // `.map(f64::exp)`: a function by its path is `|v| f(v)`.
                Expr::Path(f) => {
                    let span = f.span();
                    Ok((
                        s,
                        Some(parse_quote_spanned!(span=> |__ad_map_v| #f(__ad_map_v))),
                    ))
                }
                other => Err((
                    other.span(),
                    "`map` needs a closure `|v| ...` or a function (`f64::exp`) here".into(),
                )),
            });
        }
    }
    first_adaptor(e).map(|(span, name)| Err((span, unsupported(&name))))
}

/// The first adaptor after the source of a chain this module does not
/// read (`filter` in `x.iter().filter(..).map(..)`, `max_by` in
/// `x.iter().map(..).max_by(..).unwrap()`), if `e` is a chain.
fn first_adaptor(e: &Expr) -> Option<(Span, String)> {
    let methods = after_source(e)?;
    let skip = usize::from(methods.first().is_some_and(|m| m.method == "map"));
    let m = methods.get(skip)?;
    Some((m.method.span(), m.method.to_string()))
}

/// The method calls of a chain after its source, innermost first; `None`
/// if `e` is no chain over a source.
fn after_source(e: &Expr) -> Option<Vec<&ExprMethodCall>> {
    if source(e).is_some() {
        return Some(Vec::new());
    }
    let Expr::MethodCall(m) = e else { return None };
    let mut methods = after_source(&m.receiver)?;
    methods.push(m);
    Some(methods)
}

/// `x.iter()`, `x.into_iter()`, `x.iter().zip(..)`, `(a..b)`.
fn source(e: &Expr) -> Option<Source> {
    match e {
        Expr::Paren(p) => source(&p.expr),
        Expr::Range(r) => {
            let (a, b) = ((**r.start.as_ref()?).clone(), (**r.end.as_ref()?).clone());
            let b = match r.limits {
                syn::RangeLimits::HalfOpen(_) => b,
                syn::RangeLimits::Closed(_) => parse_quote_spanned!(b.span()=> (#b) + 1),
            };
            Some(Source::Range(Box::new((a, b))))
        }
        Expr::MethodCall(m) if m.method == "enumerate" && m.args.is_empty() => {
            match source(&m.receiver)? {
                // (Positions counted in the reversed order: not read.)
                Source::Rev(_) => None,
                inner => Some(Source::Enumerate(Box::new(inner))),
            }
        }
        Expr::MethodCall(m) if m.method == "rev" && m.args.is_empty() => {
            Some(Source::Rev(Box::new(source(&m.receiver)?)))
        }
        Expr::MethodCall(m)
            if (m.method == "windows" || m.method == "chunks") && m.args.len() == 1 =>
        {
            Some(Source::Windows(Box::new(Windows {
                x: array(&m.receiver),
                k: m.args[0].clone(),
                chunks: m.method == "chunks",
            })))
        }
        Expr::MethodCall(m)
            if (m.method == "iter" || m.method == "into_iter") && m.args.is_empty() =>
        {
            Some(elems(array(&m.receiver)))
        }
        // Items are copied floats anyway.
        Expr::MethodCall(m)
            if (m.method == "copied" || m.method == "cloned") && m.args.is_empty() =>
        {
            source(&m.receiver)
        }
        Expr::MethodCall(m) if m.method == "zip" && m.args.len() == 1 => {
            let Source::Elems(mut arrays, left) = source(&m.receiver)? else {
                return None;
            };
            let (others, right) = match source(&m.args[0]) {
                Some(Source::Elems(a, nest)) => (a, nest),
                Some(_) => return None,
                None => (vec![array(&m.args[0])], Nest::Array(0)),
            };
            let right = right.shifted(arrays.len());
            arrays.extend(others);
            Some(Source::Elems(
                arrays,
                Nest::Pair(Box::new(left), Box::new(right)),
            ))
        }
        _ => None,
    }
}

/// The array an iterator walks: `x` of `x`, `&x`, `(x)`.
fn array(e: &Expr) -> Expr {
    match e {
        Expr::Reference(r) => array(&r.expr),
        Expr::Paren(p) => array(&p.expr),
        other => other.clone(),
    }
}

/// A pattern without `&`, `mut` or a type: what binds a copied element.
fn value_pat(p: &Pat) -> Pat {
    match p {
        Pat::Reference(r) => value_pat(&r.pat),
        Pat::Type(t) => value_pat(&t.pat),
        Pat::Paren(p) => value_pat(&p.pat),
        Pat::Tuple(t) => {
            let mut t = t.clone();
            for e in t.elems.iter_mut() {
                *e = value_pat(e);
            }
            Pat::Tuple(t)
        }
        Pat::Ident(i) => {
            let mut i = i.clone();
            i.by_ref = None;
            i.mutability = None;
            Pat::Ident(i)
        }
        other => other.clone(),
    }
}

fn closure_params<const N: usize>(c: &ExprClosure) -> Result<[Pat; N], (Span, String)> {
    let pats: Vec<Pat> = c.inputs.iter().map(value_pat).collect();
    pats.try_into().map_err(|_| {
        (
            c.inputs.span(),
            format!("this closure needs {N} parameter(s)"),
        )
    })
}

/// `let <pat> = <item i>;` statements binding the closure's parameter (or
/// the loop pattern) to the source's item at index `i`.
fn bind_item(
    g: &Gen,
    source: &Source,
    pat: &Pat,
    i: &Expr,
    span: Span,
) -> Result<Vec<syn::Stmt>, (Span, String)> {
    // `__ad_item(&a, i)`: lowering makes it the element of a float array,
    // `&a[i]` of other data (so the pattern as written applies).
    let item = |a: &Expr| -> Expr {
        let f = g.id("item", span);
        parse_quote_spanned!(span=> #f(&#a, #i))
    };
    match source {
        // The item at index `i`, whatever the order.
        Source::Rev(inner) => bind_item(g, inner, pat, i, span),
        Source::Enumerate(inner) => {
            let Pat::Tuple(t) = strip_ref(pat) else {
                return Err((pat.span(), ENUMERATE.into()));
            };
            let [k, p] = [t.elems.first(), t.elems.get(1)];
            let (Some(k), Some(p), 2) = (k, p, t.elems.len()) else {
                return Err((pat.span(), ENUMERATE.into()));
            };
            let k = value_pat(k);
            let mut stmts: Vec<syn::Stmt> = vec![parse_quote_spanned!(span=> let #k = #i;)];
            stmts.extend(bind_item(g, inner, p, i, span)?);
            Ok(stmts)
        }
        Source::Range(..) => {
            let pat = value_pat(pat);
            Ok(vec![parse_quote_spanned!(span=> let #pat = #i;)])
        }
        Source::Windows(w) => {
            let Windows { x, k, chunks } = &**w;
            let (start, end): (Expr, Expr) = if *chunks {
                (
                    parse_quote_spanned!(span=> #i * (#k)),
                    parse_quote_spanned!(span=> (#i * (#k) + (#k)).min(#x.len())),
                )
            } else {
                (
                    parse_quote_spanned!(span=> #i),
                    parse_quote_spanned!(span=> #i + (#k)),
                )
            };
            let pat = value_pat(pat);
            Ok(vec![
                parse_quote_spanned!(span=> let #pat = &#x[#start..#end];),
            ])
        }
        Source::Elems(arrays, nest) => {
            let mut stmts = Vec::new();
            bind_nest(nest, pat, &|k| item(&arrays[k]), &mut |p, v| {
                stmts.push(parse_quote_spanned!(span=> let #p = #v;));
            });
            Ok(stmts)
        }
    }
}

/// Walks a pattern along the nesting of zipped items, calling `bind` with
/// each part of the pattern and the item it binds: an array's element
/// (`item(k)` of the `k`th array), or a pair of them for a name that holds
/// a pair whole.
fn bind_nest(
    nest: &Nest,
    pat: &Pat,
    item: &impl Fn(usize) -> Expr,
    bind: &mut impl FnMut(&Pat, Expr),
) {
    match (nest, strip_ref(pat)) {
        (Nest::Pair(a, b), Pat::Tuple(t)) if t.elems.len() == 2 => {
            bind_nest(a, &t.elems[0], item, bind);
            bind_nest(b, &t.elems[1], item, bind);
        }
        _ => bind(pat, nest_value(nest, item)),
    }
}

/// The item of zipped arrays as a value: nested pairs of elements.
fn nest_value(nest: &Nest, item: &impl Fn(usize) -> Expr) -> Expr {
    match nest {
        Nest::Array(k) => item(*k),
        Nest::Pair(a, b) => {
            let (a, b) = (nest_value(a, item), nest_value(b, item));
            syn::parse_quote!((#a, #b))
        }
    }
}

const ENUMERATE: &str = "the items of `enumerate` are pairs: write `(i, v)`";

/// A pattern without its outer `&`s and parentheses.
fn strip_ref(p: &Pat) -> &Pat {
    match p {
        Pat::Reference(r) => strip_ref(&r.pat),
        Pat::Paren(p) => strip_ref(&p.pat),
        other => other,
    }
}

/// `for i in a..b` over the source's indices (`(a..b).rev()` for a
/// reversed source), and the index expression into a buffer of its items
/// (`i - a` for a range; counted from the end when reversed).
fn index_loop(g: &Gen, source: &Source, span: Span) -> (Expr, Expr, Expr) {
    let (range, i, slot) = base_loop(g, source, span);
    if !source.reversed() {
        return (range, i, slot);
    }
    let n = count(source.base(), span);
    (
        parse_quote_spanned!(span=> (#range).rev()),
        i,
        parse_quote_spanned!(span=> (#n) - 1 - (#slot)),
    )
}

/// [`index_loop`] in the base source's order.
fn base_loop(g: &Gen, source: &Source, span: Span) -> (Expr, Expr, Expr) {
    let i: Expr = g.expr("i", span);
    match source.base() {
        Source::Range(r) => {
            let (a, b) = &**r;
            let slot = if is_zero(a) {
                i.clone()
            } else {
                parse_quote_spanned!(span=> #i - (#a))
            };
            (parse_quote_spanned!(span=> (#a)..(#b)), i, slot)
        }
        Source::Elems(..) => {
            let n = count(source.base(), span);
            (parse_quote_spanned!(span=> 0..#n), i.clone(), i)
        }
        Source::Windows(_) => {
            let n = count(source.base(), span);
            (parse_quote_spanned!(span=> 0..#n), i.clone(), i)
        }
        Source::Enumerate(_) | Source::Rev(_) => (parse_quote_spanned!(span=> 0..0), i.clone(), i),
    }
}

/// The number of items of a source.
fn count(source: &Source, span: Span) -> Expr {
    match source {
        Source::Range(r) if is_zero(&r.0) => r.1.clone(),
        Source::Range(r) => {
            let (a, b) = &**r;
            parse_quote_spanned!(span=> (#b) - (#a))
        }
        // `zip` stops at the shortest.
        Source::Elems(arrays, _) => {
            let x = &arrays[0];
            let mut n: Expr = parse_quote_spanned!(span=> #x.len());
            for y in &arrays[1..] {
                n = parse_quote_spanned!(span=> #n.min(#y.len()));
            }
            n
        }
        Source::Windows(w) => {
            let (x, k) = (&w.x, &w.k);
            if w.chunks {
                parse_quote_spanned!(span=> (#x.len() + (#k) - 1) / (#k))
            } else {
                parse_quote_spanned!(span=> (#x.len() + 1).saturating_sub(#k))
            }
        }
        Source::Enumerate(inner) | Source::Rev(inner) => count(inner, span),
    }
}

/// The statements computing the mapped item at `i` into `v`.
fn item_value(
    g: &Gen,
    source: &Source,
    map: Option<&ExprClosure>,
    i: &Expr,
    span: Span,
) -> Result<Vec<syn::Stmt>, (Span, String)> {
    let v: Pat = g.pat("v", span);
    match map {
        None => bind_item(g, source, &v, i, span),
        Some(c) => {
            let [p] = closure_params::<1>(c)?;
            let mut stmts = bind_item(g, source, &p, i, span)?;
            let body = &c.body;
            let v = g.id("v", span);
            stmts.push(parse_quote_spanned!(span=> let #v = #body;));
            Ok(stmts)
        }
    }
}

/// `{ let mut acc = init; for i in .. { acc = step(acc, item); } acc }`.
fn reduce(
    g: &Gen,
    span: Span,
    source: Source,
    map: Option<ExprClosure>,
    init: Expr,
    step: impl Fn(&Expr, &Expr) -> Expr,
) -> Rewrite {
    let (lets, source) = bound(g, source, span);
    let (range, i, _) = index_loop(g, &source, span);
    let item = item_value(g, &source, map.as_ref(), &i, span)?;
    let (acc, v) = (g.id("acc", span), g.expr("v", span));
    let next = step(&g.expr("acc", span), &v);
    Ok(parse_quote_spanned! {span=> {
        #(#lets)*
        let mut #acc = #init;
        for #i in #range {
            #(#item)*
            #acc = #next;
        }
        #acc
    }})
}

/// The source with each array that is not a place (`softmax(&x)` in
/// `softmax(&x).iter()`; places are names, fields and rows `m[i]`) bound
/// once to a name first, so that it is not computed again at every index:
/// the bindings and the new source.
fn bound(g: &Gen, source: Source, span: Span) -> (Vec<syn::Stmt>, Source) {
    let (arrays, nest) = match source {
        Source::Elems(arrays, nest) => (arrays, nest),
        Source::Enumerate(inner) => {
            let (lets, inner) = bound(g, *inner, span);
            return (lets, Source::Enumerate(Box::new(inner)));
        }
        other => return (Vec::new(), other),
    };
    let mut lets = Vec::new();
    let arrays = arrays
        .into_iter()
        .enumerate()
        .map(|(k, a)| match a {
            Expr::Path(_) | Expr::Field(_) | Expr::Index(_) => a,
            other => {
                let name = g.id(&format!("s{k}"), span);
                lets.push(parse_quote_spanned!(span=> let #name = #other;));
                parse_quote_spanned!(span=> #name)
            }
        })
        .collect();
    (lets, Source::Elems(arrays, nest))
}

fn is_zero(e: &Expr) -> bool {
    matches!(e, Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) if i.base10_digits() == "0")
}

/// `.collect::<Vec<_>>()`: a `vec![0.0; n]` written at each index.
fn collect(g: &Gen, span: Span, source: Source, map: Option<ExprClosure>) -> Rewrite {
    let buffer = move |source: &Source| -> Expr {
        let len = count(source, span);
        parse_quote_spanned!(span=> vec![0.0; #len])
    };
    fill(g, span, source, map.as_ref(), buffer)
}

/// `{ let mut out = buffer; for i in .. { out[slot] = item; } out }`.
fn fill(
    g: &Gen,
    span: Span,
    source: Source,
    map: Option<&ExprClosure>,
    buffer: impl Fn(&Source) -> Expr,
) -> Rewrite {
    let (lets, source) = bound(g, source, span);
    let (range, i, slot) = index_loop(g, &source, span);
    let item = item_value(g, &source, map, &i, span)?;
    let buffer = buffer(&source);
    let (out, v) = (g.id("out", span), g.id("v", span));
    Ok(parse_quote_spanned! {span=> {
        #(#lets)*
        let mut #out = #buffer;
        for #i in #range {
            #(#item)*
            #out[#slot] = #v;
        }
        #out
    }})
}

/// `for pat in x.iter() { .. }` (also `&x`, `x`, `.enumerate()`,
/// `.zip(..)`) as `for i in 0..x.len() { let pat = x[i]; .. }`;
/// `None` for a range loop or a form this module does not read.
pub fn for_loop(g: &Gen, f: &syn::ExprForLoop) -> Option<Rewrite> {
    let span = f.expr.span();
    let (source, enumerate) = match &*f.expr {
        Expr::MethodCall(m) if m.method == "enumerate" && m.args.is_empty() => {
            let inner = source(&m.receiver)?;
            if inner.reversed() {
                return Some(Err((m.method.span(), REV_ENUMERATE.into())));
            }
            (inner, true)
        }
        Expr::Range(_) => return None,
        Expr::Paren(p) if matches!(*p.expr, Expr::Range(_)) => return None,
        // `(a..b).rev()` is a range loop; `x.iter().rev()` a source.
        Expr::MethodCall(m) if m.method == "rev" => match source(&f.expr) {
            Some(s) if !matches!(s.base(), Source::Range(_)) => (s, false),
            _ => return None,
        },
        // By value (`for v in xs`): the items are those of a copy made as
        // the loop starts, which a body writing `xs[i]` does not change
        // (bound to a name of its own by `bound`).
        e @ (Expr::Path(_) | Expr::Field(_)) => (elems(parse_quote_spanned!(span=> (#e))), false),
        e @ Expr::Reference(_) => (elems(array(e)), false),
        e => (source(e)?, false),
    };
    if matches!(source, Source::Range(..)) {
        return None;
    }
    let (lets, source) = bound(g, source, span);
    let i: Expr = g.expr("i", span);
    let pat = value_pat(&f.pat);
    let binds = if enumerate {
        let Pat::Tuple(t) = &pat else {
            return Some(Err((
                pat.span(),
                "the items of `enumerate` are pairs: write `for (i, v) in ...`".into(),
            )));
        };
        if t.elems.len() != 2 {
            return Some(Err((
                pat.span(),
                "the items of `enumerate` are pairs: write `for (i, v) in ...`".into(),
            )));
        }
        let k = &t.elems[0];
        // The item first: the index's name may shadow the iterated array's.
        let mut stmts = match bind_item(g, &source, &t.elems[1], &i, span) {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        stmts.push(parse_quote_spanned!(span=> let #k = #i;));
        stmts
    } else {
        match bind_item(g, &source, &f.pat, &i, span) {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        }
    };
    let (range, _, _) = index_loop(g, &source, span);
    let body = &f.body;
    let index_loop: Expr = parse_quote_spanned! {span=>
        for #i in #range {
            #(#binds)*
            #body
        }
    };
    if lets.is_empty() {
        Some(Ok(index_loop))
    } else {
        Some(Ok(parse_quote_spanned!(span=> { #(#lets)* #index_loop })))
    }
}

/// `scan(g, init, xs, |carry, x| (next, y))` and `scan_n(init, n, |carry, i|
/// (next, y))` (Theano's `scan`, see `autodiff::scan`) as a loop carrying
/// the state and writing each step's `y` into a `Vec`; `None` if `c` is
/// not such a call. The carry is a name, or a tuple of names `|(a, b), x|`
/// (each part carried).
pub fn scan(g: &Gen, c: &syn::ExprCall) -> Option<Rewrite> {
    let Expr::Path(p) = &*c.func else { return None };
    let name = p.path.segments.last()?.ident.to_string();
    if (name != "scan" && name != "scan_n") || c.args.len() != 3 {
        return None;
    }
    let span = p.path.segments.last()?.ident.span();
    let Expr::Closure(f) = &c.args[2] else {
        return Some(Err((
            c.args[2].span(),
            format!("`{name}` needs a closure `|carry, x| (next_carry, y)` here"),
        )));
    };
    let [carry, item] = match closure_params::<2>(f) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let init = &c.args[0];
    let [xs, ys, y] = ["xs", "ys", "y"].map(|n| g.id(n, span));
    let i = g.id("i", span);
    let (len, item_value): (Expr, Expr) = if name == "scan" {
        (
            parse_quote_spanned!(span=> #xs.len()),
            parse_quote_spanned!(span=> #xs[#i]),
        )
    } else {
        let n = &c.args[1];
        (parse_quote_spanned!(span=> #n), g.expr("i", span))
    };
    // The carry's names are the state variables (one per part of a tuple
    // carry): the body then updates the state itself, in place.
    let names: Vec<&Pat> = match &carry {
        Pat::Tuple(t) => t.elems.iter().collect(),
        other => vec![other],
    };
    let mut state: Vec<syn::Ident> = Vec::new();
    for n in names {
        match n {
            Pat::Ident(i) => state.push(i.ident.clone()),
            other => {
                return Some(Err((
                    other.span(),
                    format!("write the carry of `{name}` as a name or a tuple of names"),
                )))
            }
        }
    }
    let parts = state.len();
    let next: Vec<syn::Ident> = (0..parts).map(|k| g.id(&format!("n{k}"), span)).collect();
    let (state_tuple, next_pat): (Expr, Pat) = if parts == 1 {
        let (s, n) = (&state[0], &next[0]);
        (
            parse_quote_spanned!(span=> #s),
            parse_quote_spanned!(span=> #n),
        )
    } else {
        (
            parse_quote_spanned!(span=> (#(#state),*)),
            parse_quote_spanned!(span=> (#(#next),*)),
        )
    };
    let body = &f.body;
    // The sequence, computed once (`0` stands in for `scan_n`'s).
    let seq = if name == "scan" {
        array(&c.args[1])
    } else {
        parse_quote_spanned!(span=> 0)
    };
    Some(Ok(parse_quote_spanned! {span=> {
        let #xs = #seq;
        let #state_tuple = #init;
        #(let mut #state = #state;)*
        let mut #ys = vec![0.0; #len];
        for #i in 0..#len {
            let (#next_pat, #y) = {
                let #item = #item_value;
                #body
            };
            #(#state = #next;)*
            #ys[#i] = #y;
        }
        (#state_tuple, #ys)
    }}))
}

/// The names of a path's segments: `autodiff::dot` -> `["autodiff", "dot"]`.
pub fn segments(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

/// The helper a call names, if any.
pub fn helper_name(c: &syn::ExprCall) -> Option<String> {
    let Expr::Path(p) = &*c.func else { return None };
    let segs = segments(&p.path);
    let name = segs.last()?;
    let through_autodiff = segs.len() == 2 && segs[0] == "autodiff";
    if (segs.len() == 1 || through_autodiff) && crate::ir::ops::helper_named(name).is_some() {
        Some(name.clone())
    } else {
        None
    }
}
