//! Lowering: the body of a `syn::ItemFn` to an IR [`Function`].
//!
//! Bindings become SSA values (shadowing and `let mut` reassignment just
//! rebind a name), `if`/`else` becomes an `If` region that yields the value
//! and every outer binding a branch changes. Any subexpression that depends
//! on no differentiated value and is not otherwise understood is kept as an
//! opaque constant and emitted as written. Everything else the pipeline
//! cannot differentiate is an error at its span; lowering goes on after an
//! error so that all problems are reported together.

use std::collections::{BTreeMap, HashMap, HashSet};

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{BinOp, Block, Expr, ExprIf, Lit, Pat, Stmt, UnOp};

use crate::context::Cx;
use crate::desugar;

mod flow;
mod patterns;

use crate::error::Errors;
use crate::ir::ops::{self, HelperOut, MethodOp};
use crate::ir::{
    Bin, Cmp, FloatTy, Function, Graph, IntOp, NodeId, Op, OutShape, Param, RegionId, Ty, Un, ROOT,
};
use crate::signature::{is_vec, out_ir_ty, Signature};
use flow::assigned_names;

/// The lowered function and the items (nested `fn`, `const`, `use`) its
/// body declares, which every companion repeats.
pub struct Lowered {
    pub func: Function,
    pub items: Vec<syn::Item>,
}

/// Lowers `block`, the body of the function `sig` describes.
pub fn lower(cx: &Cx, sig: &Signature, block: &Block, errors: &mut Errors) -> Lowered {
    let names = sig.params.iter().map(|p| &p.ident);
    let gen = desugar::Gen::new(quote::quote!(#(#names)* #block));
    let mut cx = Lower {
        cx,
        gen,
        sig,
        g: Graph::default(),
        active: Vec::new(),
        region: ROOT,
        scopes: vec![BTreeMap::new()],
        errors,
        lit_ty: sig.default_float,
        call_out: None,
        let_ty: None,
        indexed: HashSet::new(),
        pure_opaques: HashMap::new(),
        items: Vec::new(),
        bound: BTreeMap::new(),
        loose: HashMap::new(),
        frames: Vec::new(),
        ret: None,
        closure_depth: 0,
        flow_names: 0,
        borrowing: false,
        empty_vecs: Vec::new(),
    };
    let mut params = Vec::new();
    for (i, p) in sig.params.iter().enumerate() {
        let ty = p.ir_ty;
        let node = cx.add(
            Op::Param {
                index: i as u32,
                field: None,
            },
            vec![],
            ty,
        );
        cx.bind(&p.ident.to_string(), Val::Node(node));
        params.push(Param {
            name: p.ident.clone(),
            fields: vec![ty],
            usize: crate::signature::int_of(&p.ty) == Some(crate::ir::IntTy::Usize),
            tape: false,
        });
    }
    if flow::returns_early(block) {
        cx.set_up_return();
    }
    // A trailing `return e;` is the value `e`. (The body is borrowed, not
    // cloned: a clone recurses as deep as the deepest expression, which
    // overflows the stack of a debug-built macro on a 2,000-term sum.)
    let mut stmts: Vec<std::borrow::Cow<Stmt>> =
        block.stmts.iter().map(std::borrow::Cow::Borrowed).collect();
    if let Some(Stmt::Expr(Expr::Return(r), _)) = block.stmts.last() {
        if let Some(e) = &r.expr {
            stmts.pop();
            stmts.push(std::borrow::Cow::Owned(Stmt::Expr((**e).clone(), None)));
        }
    }
    let stmts: Vec<&Stmt> = stmts.iter().map(|s| &**s).collect();
    let result = cx.stmts(&stmts);
    let result = cx.returned(result);
    let outputs = cx.outputs(result, block);
    cx.name_opaques();
    Lowered {
        func: Function {
            params,
            graph: cx.g,
            outputs,
            shape: sig.out_shape.clone(),
        },
        items: cx.items,
    }
}

/// A value in the body: one node, a tuple of values, `()`, or a closure
/// bound with `let` (inlined where it is called).
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Node(NodeId),
    Tuple(Vec<Val>),
    Unit,
    Closure(std::rc::Rc<Closure>),
    /// The value of an exit (`break`, `continue`, `return`): none; a
    /// branch that ends in one yields what the other branch's shape needs.
    Never,
    /// A sub-slice `&x[a..b]` of a float vector (a window of `windows`, a
    /// chunk of `chunks`): read in place, copied where a whole array is
    /// needed.
    Window(Window),
}

/// `len` elements of the float vector `arr` from `start`; or, with a
/// `row`, of that row of the matrix `arr` (`for p in points`, `let p =
/// &m[i];`).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Window {
    arr: NodeId,
    start: NodeId,
    len: NodeId,
    row: Option<NodeId>,
}

/// A closure and the bindings it sees, as they were where it was defined.
struct Closure {
    expr: syn::ExprClosure,
    scopes: Vec<Scope>,
}

/// The closure as written (see [`crate::ir::Opaque`]'s `Debug`).
impl std::fmt::Debug for Closure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Closure")
            .field("expr", &self.expr.to_token_stream().to_string())
            .finish_non_exhaustive()
    }
}

/// Two closures are the same closure only if they are one.
impl PartialEq for Closure {
    fn eq(&self, other: &Closure) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Val {
    fn leaves(&self, out: &mut Vec<NodeId>) {
        match self {
            Val::Node(n) => out.push(*n),
            Val::Tuple(items) => items.iter().for_each(|v| v.leaves(out)),
            Val::Window(w) => out.extend([w.arr, w.start, w.len].into_iter().chain(w.row)),
            Val::Unit | Val::Closure(_) | Val::Never => {}
        }
    }

    /// The same shape as `self`, with leaves taken from `leaves` in order.
    fn rebuild(&self, leaves: &mut impl Iterator<Item = NodeId>) -> Val {
        match self {
            Val::Node(_) => Val::Node(leaves.next().unwrap_or(NodeId(0))),
            Val::Tuple(items) => Val::Tuple(items.iter().map(|v| v.rebuild(leaves)).collect()),
            Val::Unit => Val::Unit,
            Val::Never => Val::Never,
            Val::Window(w) => {
                let mut next = || leaves.next().unwrap_or(NodeId(0));
                Val::Window(Window {
                    arr: next(),
                    start: next(),
                    len: next(),
                    row: w.row.map(|_| next()),
                })
            }
            Val::Closure(c) => Val::Closure(c.clone()),
        }
    }

    fn same_shape(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Node(_), Val::Node(_)) | (Val::Unit, Val::Unit) => true,
            (Val::Window(a), Val::Window(b)) => a.row.is_some() == b.row.is_some(),
            (Val::Tuple(a), Val::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_shape(y))
            }
            _ => false,
        }
    }
}

type Scope = BTreeMap<String, Val>;

/// Do the tokens of an index hold a range (`a..b`, `..`, `a..=b`)?
fn is_range(tokens: TokenStream) -> bool {
    let tts: Vec<TokenTree> = tokens.into_iter().collect();
    tts.windows(2).any(|w| {
        matches!(&w[0], TokenTree::Punct(p) if p.as_char() == '.' && p.spacing() == proc_macro2::Spacing::Joint)
            && matches!(&w[1], TokenTree::Punct(p) if p.as_char() == '.')
    })
}

struct Lower<'a> {
    cx: &'a Cx,
    /// The names of rewritten iterator code.
    gen: desugar::Gen,
    sig: &'a Signature,
    g: Graph,
    /// Does each node depend differentiably on a `wrt` parameter?
    active: Vec<bool>,
    region: RegionId,
    scopes: Vec<Scope>,
    errors: &'a mut Errors,
    /// The type an unsuffixed float literal takes here.
    lit_ty: FloatTy,
    items: Vec<syn::Item>,
    /// The loops being lowered, innermost last: their exit flags.
    frames: Vec<flow::Frame>,
    /// The function's `return` flag and values, if it returns early.
    ret: Option<flow::Ret>,
    /// Closures being inlined (a `return` there is the closure's).
    closure_depth: usize,
    /// Flags named so far (each gets a number).
    flow_names: usize,
    /// Unsuffixed float literals: their type is the one their use gives
    /// them (see [`Lower::unify`]).
    loose: HashMap<NodeId, syn::LitFloat>,
    /// Every name the body binds, with its identifier as a `let` wrote it
    /// and every node it held.
    bound: BTreeMap<String, (Option<syn::Ident>, Vec<NodeId>)>,
    /// The output of the call a `let` binds: its declared type (`let g:
    /// [f64; 2] = f_grad(x);`), or an array of unknown kind when the body
    /// indexes the name. A called function returns a float otherwise.
    call_out: Option<CallOut>,
    /// Lowering the operand of `&` (`&m[i]`: a row borrowed, which Rust
    /// keeps unchanged while it is read).
    borrowing: bool,
    /// The type the `let` being lowered declares.
    let_ty: Option<syn::Type>,
    /// Names the statements after the `let` being lowered index or take
    /// the length or elements of, while that `let`'s bindings are in scope
    /// (see [`indexed_later`]).
    indexed: HashSet<String>,
    /// Opaque values of pure tokens (see [`pure`]) and a known type, by
    /// their tokens, the names they read and their type.
    pure_opaques: HashMap<String, u32>,
    /// Names bound to an empty `Vec` (`Vec::new()`), with that value and
    /// the depth of loops around the binding: a loop at that depth may
    /// fill one by `push` (see `Lower::pushed_loop`).
    empty_vecs: Vec<(String, Val, usize)>,
}

/// The output of a call, as the `let` that binds it tells.
#[derive(Clone, Copy)]
enum CallOut {
    /// A declared type; whether it is a `Vec`.
    Declared(Ty, bool),
    /// No type written, but the result is indexed: an array, fixed-size or
    /// `Vec`, of the arguments' float type.
    Array,
}

/// Names the tokens index (`r[..]`) or take the length or elements of
/// (`r.len()`, `r.iter()`, ...): arrays, whatever their declaration says.
fn indexed_names(tokens: TokenStream) -> HashSet<String> {
    const ARRAY_METHODS: &[&str] = &["len", "iter", "into_iter", "windows", "chunks", "is_empty"];
    let mut out = HashSet::new();
    let tts: Vec<TokenTree> = tokens.into_iter().collect();
    for (k, tt) in tts.iter().enumerate() {
        match tt {
            TokenTree::Group(g) => out.extend(indexed_names(g.stream())),
            TokenTree::Ident(i) => {
                let indexed = match (tts.get(k + 1), tts.get(k + 2)) {
                    (Some(TokenTree::Group(g)), _) => {
                        g.delimiter() == proc_macro2::Delimiter::Bracket
                    }
                    (Some(TokenTree::Punct(p)), Some(TokenTree::Ident(m))) => {
                        p.as_char() == '.' && ARRAY_METHODS.iter().any(|a| m == a)
                    }
                    _ => false,
                };
                if indexed {
                    out.insert(i.to_string());
                }
            }
            _ => {}
        }
    }
    out
}

/// Names that `rest`, the statements after a `let`, index or take the
/// length or elements of before a later `let` binds them again: the
/// bindings that `let` makes which are arrays. A name is scoped, not
/// global: `let beta = softmax(x); .. beta[j]` in one loop says nothing of
/// `let beta = g(b);` in the next (seed 20 case 472 typed the second call
/// as an array, and its derivative was lost).
pub(super) fn indexed_later<S: std::borrow::Borrow<Stmt>>(rest: &[S]) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut rebound = HashSet::new();
    for stmt in rest {
        let (tokens, binds) = match stmt.borrow() {
            Stmt::Local(l) => (
                l.init
                    .as_ref()
                    .map(|i| i.expr.to_token_stream())
                    .unwrap_or_default(),
                Some(&l.pat),
            ),
            other => (other.to_token_stream(), None),
        };
        out.extend(
            indexed_names(tokens)
                .into_iter()
                .filter(|n| !rebound.contains(n)),
        );
        if let Some(pat) = binds {
            pat_names(pat, &mut rebound);
        }
    }
    out
}

/// The names a pattern binds.
fn pat_names(pat: &Pat, out: &mut HashSet<String>) {
    match pat {
        Pat::Ident(pi) => {
            out.insert(pi.ident.to_string());
        }
        Pat::Type(pt) => pat_names(&pt.pat, out),
        Pat::Tuple(t) => t.elems.iter().for_each(|p| pat_names(p, out)),
        Pat::Reference(r) => pat_names(&r.pat, out),
        Pat::Paren(p) => pat_names(&p.pat, out),
        Pat::Slice(s) => s.elems.iter().for_each(|p| pat_names(p, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| pat_names(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| pat_names(&f.pat, out)),
        _ => {}
    }
}

impl Lower<'_> {
    // ---- nodes and bindings ----

    fn add(&mut self, op: Op, args: Vec<NodeId>, ty: Ty) -> NodeId {
        let active = match &op {
            _ if ty.elem().is_none() => false,
            Op::Param { index, .. } => self.sig.wrt.contains(&(*index as usize)),
            Op::Proj(k) => self
                .g
                .op(args[0])
                .regions()
                .iter()
                .any(|r| self.is_active(self.g.region(*r).outputs[*k as usize])),
            _ => args.iter().any(|a| self.is_active(*a)),
        };
        self.add_with(op, args, ty, active)
    }

    /// Adds a node whose activity the caller decides.
    fn add_with(&mut self, op: Op, args: Vec<NodeId>, ty: Ty, active: bool) -> NodeId {
        let id = self.g.add(self.region, op, args, ty);
        if id.0 as usize == self.active.len() {
            self.active.push(active);
        }
        id
    }

    fn is_active(&self, id: NodeId) -> bool {
        self.active.get(id.0 as usize).copied().unwrap_or(false)
    }

    fn val_active(&self, v: &Val) -> bool {
        if let Val::Closure(c) = v {
            // A closure is active if it reads an active value where it was
            // made (`let g = |s| (-k * s).exp();` with `k` differentiated).
            let mut active = false;
            self.walk_mentions(c.expr.body.to_token_stream(), &mut |name, value_use| {
                let name = name.to_string();
                let captured = c.scopes.iter().rev().find_map(|s| s.get(&name));
                active |= value_use && captured.is_some_and(|v| self.val_active(v));
            });
            return active;
        }
        let mut leaves = Vec::new();
        v.leaves(&mut leaves);
        leaves.iter().any(|n| self.is_active(*n))
    }

    fn konst(&mut self, v: f64, ty: FloatTy) -> NodeId {
        self.add(Op::Const(ty.round(v).to_bits()), vec![], Ty::Float(ty))
    }

    fn bind(&mut self, name: &str, v: Val) {
        self.note_binding(name, &v);
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), v);
        }
    }

    /// Records that `name` holds the nodes of `v` (see [`Lower::bound`]).
    fn note_binding(&mut self, name: &str, v: &Val) {
        let mut leaves = Vec::new();
        v.leaves(&mut leaves);
        let nodes = &mut self.bound.entry(name.to_string()).or_default().1;
        for n in leaves {
            if !nodes.contains(&n) {
                nodes.push(n);
            }
        }
    }

    /// `let name = value;` in the body: the binding's identifier as
    /// written, for emitting the value under it.
    fn bind_ident(&mut self, ident: &syn::Ident, v: Val) {
        let name = ident.to_string();
        self.bound.entry(name.clone()).or_default().0 = Some(ident.clone());
        self.bind(&name, v);
    }

    /// An opaque value of unknown type (perhaps not `Copy`) is emitted
    /// under the name the body gives it, when that name holds this value
    /// only, anywhere in the body, and is no parameter's: then no other
    /// value of generated code can be shadowed by it, nor shadow it.
    fn name_opaques(&mut self) {
        let params: Vec<String> = self
            .sig
            .params
            .iter()
            .map(|p| p.ident.to_string())
            .collect();
        for (name, (ident, nodes)) in &self.bound {
            let (Some(ident), [node]) = (ident, nodes.as_slice()) else {
                continue;
            };
            if let (&Op::Opaque(k), Ty::Other) = (self.g.op(*node), self.g.ty(*node)) {
                if !params.contains(name) {
                    self.g.opaques[k as usize].name = Some(ident.clone());
                }
            }
        }
    }

    fn lookup(&self, name: &str) -> Option<&Val> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    /// Rebinds an existing name (assignment) in the scope that holds it.
    fn assign(&mut self, name: &str, v: Val) -> bool {
        self.note_binding(name, &v);
        for scope in self.scopes.iter_mut().rev() {
            if let Some(slot) = scope.get_mut(name) {
                *slot = v;
                return true;
            }
        }
        false
    }

    /// `nodes`, with each unsuffixed float literal among them of the float
    /// type of the first other float among them, as Rust infers it
    /// (`y * 3.0` for an `f32` `y` in a function that also has `f64`s).
    fn unify(&mut self, nodes: &[NodeId]) -> Vec<NodeId> {
        let target = nodes
            .iter()
            .filter(|n| !self.loose.contains_key(n))
            .find_map(|n| self.g.ty(*n).float());
        match target {
            Some(f) => nodes.iter().map(|&n| self.retype(n, f)).collect(),
            None => nodes.to_vec(),
        }
    }

    /// `n`, or the unsuffixed literal `n` as a literal of type `f`, in its
    /// own region.
    fn retype(&mut self, n: NodeId, f: FloatTy) -> NodeId {
        let Some(lit) = self.loose.get(&n).cloned() else {
            return n;
        };
        // A loop's carried value of a loose start is retyped with its start.
        if self.g.ty(n) == Ty::Float(f) || !matches!(self.g.op(n), Op::Const(_)) {
            return n;
        }
        let v = match f {
            FloatTy::F32 => lit.base10_parse::<f32>().map_or(f64::NAN, f64::from),
            _ => lit.base10_parse::<f64>().unwrap_or(f64::NAN),
        };
        let region = self.g.node(n).region;
        let op = Op::Const(v.to_bits());
        let new = self.g.add_local(region, op, vec![], Ty::Float(f));
        if new.0 as usize == self.active.len() {
            self.active.push(false);
        }
        self.loose.insert(new, lit);
        new
    }

    /// A placeholder after an error, so lowering can go on.
    fn poison(&mut self) -> Val {
        Val::Node(self.konst(0.0, self.lit_ty))
    }

    fn error<T: ToTokens>(&mut self, tokens: T, message: impl std::fmt::Display) -> Val {
        self.errors.at(tokens, message);
        self.poison()
    }

    fn node(&mut self, v: Val, at: &Expr) -> NodeId {
        match v {
            Val::Node(n) => n,
            Val::Window(w) => self.materialize(w),
            Val::Tuple(_) | Val::Unit | Val::Closure(_) | Val::Never => {
                match self.error(
                    at,
                    "expected a single value here, not a tuple, `()` or a closure",
                ) {
                    Val::Node(n) => n,
                    _ => NodeId(0),
                }
            }
        }
    }

    // ---- opaque constants ----

    /// Bindings the tokens mention (not as a field or method name), each
    /// once, as first written.
    fn mentions(&self, tokens: TokenStream) -> Vec<syn::Ident> {
        let mut found: Vec<syn::Ident> = Vec::new();
        self.walk_mentions(tokens, &mut |name, _| {
            if !found.contains(&name) {
                found.push(name);
            }
        });
        found
    }

    /// Calls `f(name, value_use)` for each binding the tokens mention;
    /// `value_use` is false for `name.len()`, which reads no element.
    fn walk_mentions(&self, tokens: TokenStream, f: &mut dyn FnMut(syn::Ident, bool)) {
        let tts: Vec<TokenTree> = tokens.into_iter().collect();
        let dot =
            |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == '.');
        let colon =
            |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == ':');
        // A segment of a path (`::core::matches`, `f64::max`) is no
        // binding, whatever its name.
        let segment = |k: usize| {
            (k >= 2 && colon(tts.get(k - 1)) && colon(tts.get(k - 2)))
                || (colon(tts.get(k + 1)) && colon(tts.get(k + 2)))
        };
        // Nor is a name before a lone `:`: a field of a struct literal
        // (`Cfg { n: 2 }`) or a new binding given a type (`|n: f64|`).
        let named = |k: usize| colon(tts.get(k + 1)) && !colon(tts.get(k + 2));
        for (k, tt) in tts.iter().enumerate() {
            match tt {
                TokenTree::Group(g) => self.walk_mentions(g.stream(), f),
                TokenTree::Ident(i) => {
                    if (k == 0 || !dot(tts.get(k - 1)))
                        && !segment(k)
                        && !named(k)
                        && self.lookup(&i.to_string()).is_some()
                    {
                        // `x.len()`, `x[a..b].len()`: the length only.
                        let mut j = k + 1;
                        while matches!(tts.get(j), Some(TokenTree::Group(g)) if g.delimiter() == proc_macro2::Delimiter::Bracket && is_range(g.stream()))
                        {
                            j += 1;
                        }
                        let len = dot(tts.get(j))
                            && matches!(tts.get(j + 1), Some(TokenTree::Ident(m)) if m == "len")
                            && matches!(tts.get(j + 2), Some(TokenTree::Group(g)) if g.stream().is_empty());
                        f(i.clone(), !len);
                    }
                }
                TokenTree::Punct(_) | TokenTree::Literal(_) => {}
            }
        }
    }

    /// Does `e` mention a binding of a window (which tokens kept as
    /// written cannot hold)?
    fn mentions_window(&self, e: &Expr) -> bool {
        self.mentions(e.to_token_stream())
            .iter()
            .any(|n| matches!(self.lookup(&n.to_string()), Some(Val::Window(_))))
    }

    /// Bindings holding active values that the tokens read (not just the
    /// length of).
    fn active_mentions(&self, tokens: TokenStream) -> Vec<String> {
        let mut found = Vec::new();
        self.walk_mentions(tokens, &mut |name, value_use| {
            let name = name.to_string();
            if value_use
                && !found.contains(&name)
                && self.lookup(&name).is_some_and(|v| self.val_active(v))
            {
                found.push(name);
            }
        });
        found
    }

    /// Keeps `e` as written: it must depend on no differentiated value.
    /// `what` names the construct for the error if it does.
    fn opaque(&mut self, e: &Expr, ty: Ty, what: &str) -> Val {
        let refs = self.mentions(e.to_token_stream());
        let active = self.active_mentions(e.to_token_stream());
        let mut args = Vec::new();
        let mut names = Vec::new();
        for name in refs {
            match self.lookup(&name.to_string()).cloned() {
                Some(Val::Node(n)) => {
                    args.push(n);
                    names.push(name);
                }
                Some(Val::Tuple(_)) => {
                    return self.error(e, format!("the tuple `{name}` is used inside {what}, which #[differentiate] keeps as written; bind its fields to names first"));
                }
                Some(Val::Window(_)) => {
                    return self.error(&name, format!("the sub-slice `{name}` is used inside {what}, which #[differentiate] keeps as written; index it, take its `len()`, loop over it, or pass it to a #[differentiate] function"));
                }
                Some(Val::Closure(_)) => {
                    return self.error(&name, format!("the closure `{name}` is used inside {what}, which #[differentiate] keeps as written; closures bound with `let` are inlined where they are called, so call it directly"));
                }
                _ => {}
            }
        }
        if !active.is_empty() {
            let list = active
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return self.error(
                head(e),
                format!(
                    "{what} depends on the differentiated value {list}; {}",
                    hint(what)
                ),
            );
        }
        // `T::zero()`, `f64::from(k)`, `T::from(n).unwrap()`: floats.
        let ty = match (ty, float_of_expr(self, e)) {
            (Ty::Other, Some(f)) => Ty::Float(f),
            _ => ty,
        };
        // The same pure tokens of a known type are one value: the graph
        // merges their nodes where the same values reach them.
        let key = (ty != Ty::Other && pure(e)).then(|| {
            let refs: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            format!("{} {refs:?} {ty:?}", e.to_token_stream())
        });
        let known = key.as_ref().and_then(|k| self.pure_opaques.get(k).copied());
        let id = match known {
            Some(k) => self.g.add(self.region, Op::Opaque(k), args, ty),
            None => {
                let opaque = crate::ir::Opaque::new(e.clone(), names);
                let id = self.g.add_opaque(self.region, opaque, args, ty);
                if let Some(key) = key {
                    self.pure_opaques
                        .insert(key, self.g.opaques.len() as u32 - 1);
                }
                id
            }
        };
        if id.0 as usize == self.active.len() {
            self.active.push(false);
        }
        Val::Node(id)
    }

    // ---- statements ----

    fn block(&mut self, block: &Block) -> Val {
        self.scopes.push(Scope::new());
        let result = self.stmts(&block.stmts);
        self.scopes.pop();
        result
    }

    /// Lowers a statement; returns its value if it is a trailing expression.
    fn stmt(&mut self, stmt: &Stmt, last: bool) -> Val {
        match stmt {
            Stmt::Local(local) => {
                self.local(local);
                Val::Unit
            }
            Stmt::Item(item) => {
                self.items.push(item.clone());
                Val::Unit
            }
            // Statement macros (`assert!`, `println!`) run in the original
            // function only: companions compute values, not effects. A
            // panic ends its block, whose value is then the other branch's
            // shape (see `diverges`).
            Stmt::Macro(m) if diverges(&m.mac) => Val::Never,
            Stmt::Macro(_) => Val::Unit,
            // `m[k].copy_from_slice(&row)`: a row write.
            Stmt::Expr(Expr::MethodCall(m), _)
                if m.method == "copy_from_slice" && m.args.len() == 1 =>
            {
                match self.row_write(&m.receiver, &m.args[0]) {
                    Some(rows) => {
                        self.expr(&rows);
                        Val::Unit
                    }
                    None if self.local_receiver(m) => {
                        self.in_place(m);
                        Val::Unit
                    }
                    None => {
                        let v = self.expr_stmt(&Expr::MethodCall(m.clone()));
                        if last {
                            v
                        } else {
                            Val::Unit
                        }
                    }
                }
            }
            Stmt::Expr(Expr::MethodCall(m), semi)
                if (semi.is_some() || !last) && self.local_receiver(m) =>
            {
                self.in_place(m);
                Val::Unit
            }
            Stmt::Expr(e, semi) => {
                let v = self.expr_stmt(e);
                if last && semi.is_none() {
                    v
                } else {
                    Val::Unit
                }
            }
        }
    }

    /// Is `m`'s receiver a name the body binds (not a parameter), or is
    /// `m` a change in place of an array's elements (`v.swap(i, j)`, of a
    /// copy of a parameter too: `let mut v = x;`)?
    fn local_receiver(&self, m: &syn::ExprMethodCall) -> bool {
        match path_name(&m.receiver).and_then(|n| self.lookup(&n)) {
            Some(Val::Node(n)) => {
                !matches!(self.g.op(*n), Op::Param { .. })
                    || IN_PLACE.iter().any(|name| m.method == name)
            }
            Some(Val::Tuple(_) | Val::Window(_)) => true,
            _ => false,
        }
    }

    /// `m[k] = row;` (or `m[k].copy_from_slice(&row)`) of a matrix `m` (a
    /// local, or a parameter held by value: a copy): its elements written
    /// one by one,
    /// `{ let r = row; let k = k; for j in 0..r.len() { m[k][j] = r[j]; } }`.
    fn row_write(&self, target: &Expr, row: &Expr) -> Option<Expr> {
        let Expr::Index(ix) = target else { return None };
        path_name(&ix.expr)?;
        let arr = self.array_binding(&ix.expr)?;
        if !matches!(self.g.ty(arr), Ty::Array(_, 2)) {
            return None;
        }
        let span = target.span();
        let (r, k, j) = (
            self.gen.id("row", span),
            self.gen.id("k", span),
            self.gen.id("j", span),
        );
        let (base, index) = (&ix.expr, &ix.index);
        Some(syn::parse_quote_spanned! {span=> {
            let #r = #row;
            let #k = #index;
            for #j in 0..#r.len() {
                #base[#k][#j] = #r[#j];
            }
        }})
    }

    /// `v.method(..);` on a binding of the body: a change in place.
    /// `copy_from_slice`, `swap` and `fill` on a float array are element
    /// writes; anything else would change a value companions keep as it
    /// was, so it is an error.
    fn in_place(&mut self, m: &syn::ExprMethodCall) -> Val {
        let v = &m.receiver;
        let span = m.method.span();
        let args: Vec<&Expr> = m.args.iter().collect();
        let float_array = self
            .array_binding(v)
            .is_some_and(|a| matches!(self.g.ty(a), Ty::Array(_, 1)));
        let writes: Option<Expr> = match (m.method.to_string().as_str(), &args[..]) {
            ("copy_from_slice", [src]) if float_array => {
                let (s, i) = (self.gen.id("source", span), self.gen.id("i", span));
                Some(syn::parse_quote_spanned!(span=> {
                    let #s = #src;
                    for #i in 0..#v.len() {
                        #v[#i] = #s[#i];
                    }
                }))
            }
            ("swap", [a, b]) if float_array => {
                let (i, j, t) = (
                    self.gen.id("i", span),
                    self.gen.id("j", span),
                    self.gen.id("t", span),
                );
                Some(syn::parse_quote_spanned!(span=> {
                    let (#i, #j) = (#a, #b);
                    let #t = #v[#i];
                    #v[#i] = #v[#j];
                    #v[#j] = #t;
                }))
            }
            ("fill", [x]) if float_array => {
                let (x_name, i) = (self.gen.id("fill", span), self.gen.id("i", span));
                Some(syn::parse_quote_spanned!(span=> {
                    let #x_name = #x;
                    for #i in 0..#v.len() {
                        #v[#i] = #x_name;
                    }
                }))
            }
            _ => None,
        };
        match writes {
            Some(w) => {
                self.expr(&w);
                Val::Unit
            }
            None if m.method == "push" => {
                let name = v.to_token_stream().to_string();
                self.error(m, format!("#[differentiate] reads `{name}.push(..)` where it fills a `Vec::new()` with floats, once in each iteration of a `for` loop beside the `let` (not in a loop nested in that one) with no `break` or `continue`, the loop reading `{name}` only by index (`{name}[j]`); else write the elements of a `vec![0.0; n]` (`{name}[i] = ..`)"))
            }
            None => {
                let name = v.to_token_stream().to_string();
                let method = &m.method;
                self.error(
                    m,
                    format!("`{name}.{method}(..)` changes `{name}` in place, which #[differentiate] does not read (its companions would see `{name}` unchanged); build the value in one expression, or write its elements (`{name}[i] = ..`) of a local float array"),
                )
            }
        }
    }

    fn local(&mut self, local: &syn::Local) {
        let Some(init) = &local.init else {
            self.errors.at(
                local,
                "#[differentiate] needs every `let` to have a value; write `let name = value;`",
            );
            return;
        };
        if let Some((_, diverge)) = &init.diverge {
            self.errors.at(
                diverge,
                "#[differentiate] does not support `let ... else`; use `if`/`else`",
            );
            return;
        }
        let pat = match &local.pat {
            Pat::Type(pt) => &*pt.pat,
            other => other,
        };
        if let (Expr::Closure(c), Pat::Ident(pi)) = (&*init.expr, pat) {
            self.closure(c, &pi.ident);
            return;
        }
        let tuple_pat = matches!(pat, Pat::Tuple(_))
            || matches!(&local.pat, Pat::Type(pt) if matches!(*pt.ty, syn::Type::Tuple(_)));
        let user_call = match &*init.expr {
            Expr::Call(c) => {
                desugar::scan(&self.gen, c).is_none()
                    && path_name(&c.func)
                        .is_none_or(|n| !matches!(self.lookup(&n), Some(Val::Closure(_))))
            }
            _ => false,
        };
        if tuple_pat && user_call && self.mentions_active(&init.expr) {
            self.tuple_call(&local.pat, pat, &init.expr);
            return;
        }
        let saved = self.lit_ty;
        if let Pat::Type(pt) = &local.pat {
            if let Some(f) = self.cx.float_of(&pt.ty) {
                self.lit_ty = f;
            }
            if matches!(*init.expr, Expr::Call(_) | Expr::MethodCall(_)) {
                self.call_out =
                    out_ir_ty(self.cx, &pt.ty).map(|t| CallOut::Declared(t, is_vec(&pt.ty)));
            }
        } else if let (Pat::Ident(pi), Expr::Call(_)) = (pat, &*init.expr) {
            if self.indexed.contains(&pi.ident.to_string()) {
                self.call_out = Some(CallOut::Array);
            }
        }
        let nodes_before = self.g.nodes.len();
        let outer_ty = std::mem::replace(
            &mut self.let_ty,
            match &local.pat {
                Pat::Type(pt) => Some((*pt.ty).clone()),
                _ => None,
            },
        );
        let v = self.expr(&init.expr);
        self.let_ty = outer_ty;
        self.lit_ty = saved;
        self.call_out = None;
        if let (Pat::Type(pt), Val::Node(n)) = (&local.pat, &v) {
            if n.0 as usize >= nodes_before {
                let fixed = matches!(&*pt.pat, Pat::Ident(pi) if pi.mutability.is_none());
                self.annotate(*n, &pt.ty, fixed);
            }
        }
        if let (Pat::Ident(pi), true) = (pat, empty_vec(&init.expr)) {
            let depth = self.frames.len();
            self.empty_vecs
                .push((pi.ident.to_string(), v.clone(), depth));
        }
        self.bind_pat(&local.pat, v);
    }

    /// `let name: Type = <kept as written>;`: the value keeps the declared
    /// type (`collect()` needs it), and a float or integer type tells the
    /// IR what it is; so does a float array type, for a binding that is
    /// not `mut` (`fixed`: a kept `Vec` written in place would need its
    /// `mut`).
    fn annotate(&mut self, n: NodeId, ty: &syn::Type, fixed: bool) {
        let Op::Opaque(k) = *self.g.op(n) else {
            return;
        };
        self.g.opaques[k as usize].ty = Some(ty.clone());
        if self.g.ty(n) == Ty::Other {
            if let Some(f) = self.cx.float_of(ty) {
                self.g.nodes[n.0 as usize].ty = Ty::Float(f);
            } else if crate::signature::int_of(ty).is_some() {
                self.g.nodes[n.0 as usize].ty = Ty::Int;
            } else if let (true, Some((f, rank))) = (fixed, crate::signature::array_of(self.cx, ty))
            {
                // A constant array (`let t: [f64; 3] = TABLE;`), read by
                // index and walked by loops like any float array.
                self.g.nodes[n.0 as usize].ty = Ty::Array(f, rank);
            }
        }
    }

    fn bind_pat(&mut self, pat: &Pat, v: Val) {
        match (pat, v) {
            (Pat::Ident(pi), v) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                self.bind_ident(&pi.ident, v)
            }
            (Pat::Type(pt), v) => self.bind_pat(&pt.pat, v),
            (Pat::Paren(p), v) => self.bind_pat(&p.pat, v),
            (Pat::Wild(_), _) => {}
            (Pat::Tuple(t), Val::Tuple(items)) if items.len() == t.elems.len() => {
                for (p, item) in t.elems.iter().zip(items) {
                    self.bind_pat(p, item);
                }
            }
            // `&v` of a float read by an iterator: the float; `&[a, b]` of
            // a float vector or a row: its elements.
            (Pat::Reference(r), Val::Node(n))
                if self.g.ty(n).float().is_some() || self.g.ty(n).is_array() =>
            {
                self.bind_pat(&r.pat, Val::Node(n))
            }
            (Pat::Reference(r), Val::Window(w)) => self.bind_pat(&r.pat, Val::Window(w)),
            (Pat::Slice(s), Val::Node(n)) if self.g.ty(n).is_array() => {
                let Ty::Array(_, 1) = self.g.ty(n) else {
                    return self.errors.at(s, "#[differentiate] takes apart an array of floats, not the rows of a matrix; index its elements (`m[i][j]`)");
                };
                let (start, len) = (
                    self.add(Op::Int(0), vec![], Ty::Int),
                    self.add(Op::Len, vec![n], Ty::Int),
                );
                let w = Window {
                    arr: n,
                    start,
                    len,
                    row: None,
                };
                self.bind_elements(s, w)
            }
            (Pat::Slice(s), Val::Window(w)) => self.bind_elements(s, w),
            (_, Val::Node(n)) if self.destructurable(n) => self.destructure(pat, n),
            (Pat::Tuple(_), _) => self
                .errors
                .at(pat, "this tuple pattern does not match the value's shape"),
            (other, _) => self.errors.at(
                other,
                "#[differentiate] supports `let` patterns that are names, `_`, tuples of them and arrays of floats (`[a, b]`, `[first, .., last]`), and any pattern on constant data",
            ),
        }
    }

    /// `let [a, b, c] = *p;` (or `[first, .., last]`) of a float vector, a
    /// sub-slice or a matrix row: each name binds its element, counted from
    /// the end after a `..`. (Rust has checked the pattern against the
    /// length.)
    fn bind_elements(&mut self, s: &syn::PatSlice, w: Window) {
        let rest = s.elems.iter().position(|p| matches!(p, Pat::Rest(_)));
        let after = rest.map_or(0, |r| s.elems.len() - r - 1);
        for (k, p) in s.elems.iter().enumerate() {
            let at = match rest {
                Some(r) if k == r => continue,
                Some(r) if k > r => {
                    let back = self.add(Op::Int((after - (k - r - 1)) as i64), vec![], Ty::Int);
                    self.g_int(IntOp::Sub, w.len, back)
                }
                _ => self.add(Op::Int(k as i64), vec![], Ty::Int),
            };
            let v = self.window_at(w, at);
            self.bind_pat(p, v);
        }
    }

    /// A constant of unknown type whose expression, written again, reads
    /// the same value (no call, no macro): a pattern may take it apart.
    fn destructurable(&self, n: NodeId) -> bool {
        match self.g.op(n) {
            Op::Opaque(k) => !self.is_active(n) && pure(&self.g.opaques[*k as usize].expr),
            // A constant parameter of a type the attribute does not see.
            Op::Param { field: None, .. } => !self.is_active(n) && self.g.ty(n) == Ty::Other,
            _ => false,
        }
    }

    /// `let PAT = value;` on constant data: each name of `PAT` is the
    /// value's expression taken apart by `PAT` as written,
    /// `{ let PAT = <value>; name }`.
    fn destructure(&mut self, pat: &Pat, n: NodeId) {
        let (value, args, borrowed) = match *self.g.op(n) {
            Op::Opaque(k) => (
                self.g.opaques[k as usize].clone(),
                self.g.args(n).to_vec(),
                false,
            ),
            // A parameter is taken apart through a borrow, each part
            // cloned (it may not be `Copy`).
            Op::Param { index, .. } => {
                let name = self.sig.params[index as usize].ident.clone();
                let e: Expr = syn::parse_quote!(#name);
                (crate::ir::Opaque::new(e, vec![name]), vec![n], true)
            }
            _ => return,
        };
        for name in pattern_names(pat) {
            let (e, tokens) = (&value.expr, pat);
            let expr: Expr = match borrowed {
                true => {
                    syn::parse_quote!({ let #tokens = &#e; ::core::clone::Clone::clone(#name) })
                }
                false => syn::parse_quote!({ let #tokens = #e; #name }),
            };
            let mut part = value.clone();
            part.expr = expr;
            part.name = None;
            part.ty = None;
            let node = self
                .g
                .add_opaque(self.region, part, args.clone(), Ty::Other);
            if node.0 as usize == self.active.len() {
                self.active.push(false);
            }
            self.bind_ident(&name, Val::Node(node));
        }
    }

    /// `w[j]` of a window: `x[start + j]`.
    fn window_element(&mut self, w: Window, j: &Expr) -> Val {
        if self.mentions_active(j) {
            return self.error(j, "an index cannot depend on a differentiated value; compute indices from integers and loop variables");
        }
        let v = self.expr(j);
        let j = self.node(v, j);
        self.window_at(w, j)
    }

    /// Element `j` (an integer node) of window `w`.
    fn window_at(&mut self, w: Window, j: NodeId) -> Val {
        let f = self.g.ty(w.arr).elem().unwrap_or(self.lit_ty);
        let at = self.g_int(IntOp::Add, w.start, j);
        let args = match w.row {
            Some(row) => vec![w.arr, row, at],
            None => vec![w.arr, at],
        };
        Val::Node(self.add(Op::Index, args, Ty::Float(f)))
    }

    /// Is `e` a row `m[i]` of a float matrix `m`?
    fn row_of_matrix(&self, e: &Expr) -> bool {
        let Expr::Index(ix) = e else { return false };
        !matches!(*ix.index, Expr::Range(_))
            && self
                .array_binding(&ix.expr)
                .is_some_and(|m| matches!(self.g.ty(m), Ty::Array(_, 2)))
    }

    /// Row `i` (an integer node) of matrix `arr`, as a window.
    fn row_window(&mut self, arr: NodeId, i: NodeId) -> Val {
        let start = self.add(Op::Int(0), vec![], Ty::Int);
        let len = self.add(Op::Len, vec![arr, i], Ty::Int);
        Val::Window(Window {
            arr,
            start,
            len,
            row: Some(i),
        })
    }

    /// `__ad_item(&a, i)` of a rewritten iterator: the element of a float
    /// array, or `&a[i]` of other data.
    fn iterator_item(&mut self, e: &Expr, c: &syn::ExprCall) -> Val {
        let (Some(Expr::Reference(r)), Some(i)) = (c.args.first(), c.args.get(1)) else {
            return self.opaque(e, Ty::Other, "an iterator's item");
        };
        let a = &*r.expr;
        if self.array_binding(a).is_none() {
            match self.view(a) {
                Some(Val::Window(w)) => return self.window_element(w, i),
                Some(other) => return other,
                None => {}
            }
        }
        if let Some(arr) = self.array_binding(a) {
            let i = self.expr(i);
            let i = self.node(i, e);
            return match self.g.ty(arr) {
                Ty::Array(f, 1) => Val::Node(self.add(Op::Index, vec![arr, i], Ty::Float(f))),
                _ => self.row_window(arr, i),
            };
        }
        let item: Expr = syn::parse_quote_spanned!(a.span()=> &#a[#i]);
        self.opaque(&item, Ty::Other, "an iterator's item")
    }

    fn expr_stmt(&mut self, e: &Expr) -> Val {
        if let Some((a, b)) = mem_swap(e) {
            // `std::mem::swap(&mut a, &mut b)`: `(a, b) = (b, a)`.
            if let (Some(va), Some(vb)) = (self.lookup(&a).cloned(), self.lookup(&b).cloned()) {
                self.assign(&a, vb);
                self.assign(&b, va);
                return Val::Unit;
            }
        }
        match e {
            Expr::Assign(a) => {
                if let Some(rows) = self.row_write(&a.left, &a.right) {
                    return self.expr(&rows);
                }
                let v = self.expr(&a.right);
                self.assign_to(&a.left, v);
                Val::Unit
            }
            Expr::Binary(b) if compound(&b.op).is_some() && matches!(*b.left, Expr::Index(_)) => {
                let op = compound(&b.op).unwrap_or(Bin::Add);
                self.element_update(&b.left, op, &b.right);
                Val::Unit
            }
            Expr::Binary(b) if compound(&b.op).is_some() => {
                let op = compound(&b.op).unwrap_or(Bin::Add);
                let cur = self.expr(&b.left);
                let rhs = self.expr(&b.right);
                // `a -= b` is `a = (a) - (b)`: the value kept as written
                // if the operands are of no known type.
                let (l, r, span) = (&b.left, &b.right, b.op.span());
                let value: Expr = match op {
                    Bin::Add => syn::parse_quote_spanned!(span=> (#l) + (#r)),
                    Bin::Sub => syn::parse_quote_spanned!(span=> (#l) - (#r)),
                    Bin::Mul => syn::parse_quote_spanned!(span=> (#l) * (#r)),
                    _ => syn::parse_quote_spanned!(span=> (#l) / (#r)),
                };
                let v = self.arith(&value, op, cur, rhs, &b.left, &b.right);
                self.assign_to(&b.left, v);
                Val::Unit
            }
            // `n %= 3`, `n >>= 1`, ...: `n = (n) % (3)`, an assignment
            // like any (of integers, or of floats kept as written).
            Expr::Binary(b) if other_compound(&b.op).is_some() => {
                let (l, r, op) = (&b.left, &b.right, other_compound(&b.op));
                let assign: Expr = syn::parse_quote_spanned!(b.op.span()=> #l = (#l) #op (#r));
                self.expr_stmt(&assign)
            }
            Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => self.exit(e),
            Expr::If(_) | Expr::Match(_) | Expr::Block(_) | Expr::Paren(_) => self.expr(e),
            Expr::ForLoop(f) => self.for_loop(f),
            Expr::While(w) => self.while_loop(w),
            Expr::Loop(l) => self.forever(l),
            Expr::Macro(m) if m.mac.path.is_ident("vec") => self.expr(e),
            Expr::Macro(m) if diverges(&m.mac) => Val::Never,
            Expr::Macro(_) => Val::Unit,
            _ if self.is_value_expr(e) => self.expr(e),
            _ => {
                // A statement of another kind: harmless if it touches no
                // binding of the body, otherwise not supported.
                let refs = self.mentions(e.to_token_stream());
                if refs.is_empty() {
                    Val::Unit
                } else {
                    let what = construct(e);
                    self.error(
                        head(e),
                        format!(
                            "{what} that uses `{}` is not supported by #[differentiate]; {}",
                            refs[0],
                            hint(&what)
                        ),
                    )
                }
            }
        }
    }

    /// Expression kinds whose value (not effect) is what matters.
    fn is_value_expr(&self, e: &Expr) -> bool {
        matches!(
            e,
            Expr::Binary(_)
                | Expr::Unary(_)
                | Expr::Lit(_)
                | Expr::Path(_)
                | Expr::MethodCall(_)
                | Expr::Call(_)
                | Expr::Tuple(_)
                | Expr::Cast(_)
                | Expr::Field(_)
                | Expr::Group(_)
                | Expr::Index(_)
                | Expr::Array(_)
                | Expr::Repeat(_)
                | Expr::Reference(_)
        )
    }

    /// `y[i] op= v`: `+=` and `-=` accumulate in place; `*=` and `/=`
    /// read the element and store the result.
    fn element_update(&mut self, target: &Expr, op: Bin, rhs: &Expr) {
        let Some((name, arr, idx)) = self.element_target(target) else {
            return;
        };
        let r = self.expr(rhs);
        let r = self.node(r, rhs);
        let ty = self.g.ty(arr);
        let new = match op {
            Bin::Add | Bin::Sub => {
                let v = if op == Bin::Sub {
                    self.add(Op::Un(Un::Neg), vec![r], self.g.ty(r))
                } else {
                    r
                };
                let mut args = vec![arr];
                args.extend(&idx);
                args.push(v);
                self.add(Op::AddAt, args, ty)
            }
            _ => {
                let mut args = vec![arr];
                args.extend(&idx);
                let cur = self.add(
                    Op::Index,
                    args.clone(),
                    Ty::Float(ty.elem().unwrap_or(self.lit_ty)),
                );
                let v = self.add(Op::Bin(op), vec![cur, r], self.g.ty(cur));
                args.push(v);
                self.add(Op::Store, args, ty)
            }
        };
        self.assign(&name, Val::Node(new));
    }

    /// The array binding, its node and the lowered indices of an element
    /// target `y[i]` / `m[i][j]`, or `None` after reporting why not.
    fn element_target(&mut self, target: &Expr) -> Option<(String, NodeId, Vec<NodeId>)> {
        let mut indices = Vec::new();
        let mut base = target;
        while let Expr::Index(ix) = base {
            indices.push(&*ix.index);
            base = &ix.expr;
        }
        indices.reverse();
        let name = match base {
            Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
            _ => None,
        };
        let arr = self.array_binding(base);
        let (Some(name), Some(arr)) = (name, arr) else {
            self.errors.at(target, "#[differentiate] can write elements only of a local float array (`let mut y = [0.0; N];` or `vec![0.0; n]`)");
            return None;
        };
        let Ty::Array(_, rank) = self.g.ty(arr) else {
            return None;
        };
        if indices.len() != rank as usize {
            self.errors.at(
                target,
                format!("write one element: this array has {rank} dimension(s)"),
            );
            return None;
        }
        let mut idx = Vec::new();
        for ix in indices {
            if self.mentions_active(ix) {
                self.errors.at(ix, "an index cannot depend on a differentiated value; compute indices from integers and loop variables");
                return None;
            }
            let v = self.expr(ix);
            idx.push(self.node(v, ix));
        }
        let arr = self.owned_for_writes(&name, arr);
        Some((name, arr, idx))
    }

    /// Array `arr` that `name` holds, made writable: arrays are updated in
    /// place, so a parameter, or an array another name still holds (`let
    /// z = y;` copies a fixed array), is copied first.
    pub(super) fn owned_for_writes(&mut self, name: &str, arr: NodeId) -> NodeId {
        let aliased = self
            .scopes
            .iter()
            .flat_map(|s| s.iter())
            .any(|(n, v)| n != name && *v == Val::Node(arr));
        if aliased || matches!(self.g.op(arr), Op::Param { .. }) {
            let ty = self.g.ty(arr);
            self.add(Op::Owned, vec![arr], ty)
        } else {
            arr
        }
    }

    fn assign_to(&mut self, target: &Expr, v: Val) {
        if let Expr::Index(_) = target {
            if let Some((name, arr, mut args)) = self.element_target(target) {
                let value = match v {
                    Val::Node(n) => n,
                    _ => return,
                };
                args.insert(0, arr);
                args.push(value);
                let ty = self.g.ty(arr);
                let new = self.add(Op::Store, args, ty);
                self.assign(&name, Val::Node(new));
            }
            return;
        }
        // `(a, b) = (b, a + b)`: each part to its target (`_` to none).
        if let (Expr::Tuple(t), Val::Tuple(parts)) = (target, &v) {
            if t.elems.len() == parts.len() {
                for (target, part) in t.elems.iter().zip(parts.clone()) {
                    if !matches!(target, Expr::Infer(_)) {
                        self.assign_to(target, part);
                    }
                }
                return;
            }
        }
        if let Expr::Paren(p) = target {
            return self.assign_to(&p.expr, v);
        }
        if let Expr::Path(p) = target {
            if let Some(id) = p.path.get_ident() {
                if self.assign(&id.to_string(), v) {
                    return;
                }
            }
        }
        let what = match target {
            Expr::Index(_) => "writing an array element (`x[i] = ...`)",
            Expr::Field(_) => "assignment to a field",
            Expr::Unary(_) => "assignment through a reference",
            _ => "this assignment target",
        };
        self.errors.at(
            target,
            format!(
                "{what} is not supported by #[differentiate] yet; accumulate into a scalar `let mut` variable"
            ),
        );
    }

    // ---- expressions ----

    fn expr(&mut self, e: &Expr) -> Val {
        let outer = std::mem::replace(&mut self.g.span, e.span());
        let v = self.expr_at(e);
        self.g.span = outer;
        v
    }

    /// [`Lower::expr`], with new nodes spanning `e`.
    fn expr_at(&mut self, e: &Expr) -> Val {
        match e {
            Expr::Lit(l) => self.lit(e, &l.lit),
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Group(g) => self.expr(&g.expr),
            Expr::Path(p) => {
                if let Some(id) = p.path.get_ident() {
                    if let Some(v) = self.lookup(&id.to_string()) {
                        return v.clone();
                    }
                }
                // A constant path (`PI`, `std::f64::consts::E`, `LIMIT`).
                self.opaque(e, Ty::Other, "a path")
            }
            Expr::Block(b) if b.label.is_none() && b.attrs.is_empty() => self.block(&b.block),
            Expr::Tuple(t) => Val::Tuple(t.elems.iter().map(|x| self.expr(x)).collect()),
            Expr::If(i) => match &*i.cond {
                Expr::Let(l) => self.if_let(i, l),
                _ => self.if_expr(i),
            },
            Expr::Match(m) if self.mentions_active(e) => self.match_expr(e, m),
            Expr::Binary(b) => self.binary(e, b),
            Expr::Unary(u) => self.unary(e, u),
            Expr::MethodCall(m) => {
                if self.mentions_active(e) {
                    if let Some(rewrite) = desugar::chain(&self.gen, m) {
                        return self.rewritten(rewrite);
                    }
                }
                let name = m.method.to_string();
                let mut args = vec![&*m.receiver];
                args.extend(m.args.iter());
                self.method(e, &name, &m.method, &args, m.turbofish.is_some())
            }
            Expr::Call(c) => self.call(e, c),
            Expr::Cast(c) => self.cast(e, c),
            Expr::Field(f) => self.field(e, f),
            Expr::Index(_) => self.index(e),
            Expr::Repeat(r) => self.repeat(e, r),
            Expr::Array(a) => self.array_lit(e, a),
            Expr::Macro(m) if m.mac.path.is_ident("vec") => self.vec_macro(e, &m.mac),
            Expr::Macro(m) if diverges(&m.mac) => Val::Never,
            Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => self.exit(e),
            // `&x`, `&x[a..b]` of an array: the array or the window.
            Expr::Reference(r) if r.mutability.is_none() && self.array_like(&r.expr) => {
                self.expr(&r.expr)
            }
            // `&m[i]`: the row.
            Expr::Reference(r) if r.mutability.is_none() && self.row_of_matrix(&r.expr) => {
                let outer = std::mem::replace(&mut self.borrowing, true);
                let v = self.expr(&r.expr);
                self.borrowing = outer;
                v
            }
            Expr::ForLoop(f) => self.for_loop(f),
            Expr::While(w) => self.while_loop(w),
            Expr::Loop(l) => self.forever(l),
            _ => {
                let what = construct(e);
                self.opaque(e, Ty::Other, &what)
            }
        }
    }

    fn lit(&mut self, e: &Expr, lit: &Lit) -> Val {
        match lit {
            Lit::Float(f) => {
                let ty = self.cx.float_named(f.suffix()).unwrap_or(self.lit_ty);
                match f.base10_parse::<f64>() {
                    Ok(v) => {
                        let n = self.konst(v, ty);
                        if f.suffix().is_empty() {
                            self.loose.insert(n, f.clone());
                        }
                        Val::Node(n)
                    }
                    Err(err) => self.error(e, err),
                }
            }
            Lit::Int(i) => {
                if let Some(ty) = self.cx.float_named(i.suffix()) {
                    return match i.base10_parse::<f64>() {
                        Ok(v) => Val::Node(self.konst(v, ty)),
                        Err(err) => self.error(e, err),
                    };
                }
                match i.base10_parse::<i64>() {
                    Ok(v) if i.suffix().is_empty() => {
                        Val::Node(self.add(Op::Int(v), vec![], Ty::Int))
                    }
                    _ => self.opaque(e, Ty::Other, "a literal"),
                }
            }
            Lit::Bool(b) => Val::Node(self.add(Op::Bool(b.value), vec![], Ty::Bool)),
            _ => self.opaque(e, Ty::Other, "a literal"),
        }
    }

    fn binary(&mut self, e: &Expr, b: &syn::ExprBinary) -> Val {
        let arith = match b.op {
            BinOp::Add(_) => Some(Bin::Add),
            BinOp::Sub(_) => Some(Bin::Sub),
            BinOp::Mul(_) => Some(Bin::Mul),
            BinOp::Div(_) => Some(Bin::Div),
            _ => None,
        };
        if let Some(op) = arith {
            let l = self.expr(&b.left);
            let r = self.expr(&b.right);
            return self.arith(e, op, l, r, &b.left, &b.right);
        }
        if let BinOp::Rem(_) = b.op {
            let (l, r) = (self.expr(&b.left), self.expr(&b.right));
            let (l, r) = (self.node(l, &b.left), self.node(r, &b.right));
            if self.g.ty(l) == Ty::Int && self.g.ty(r) == Ty::Int {
                return Val::Node(self.g_int(IntOp::Rem, l, r));
            }
            let what = construct(e);
            return self.opaque(e, Ty::Other, &what);
        }
        let cmp = match b.op {
            BinOp::Lt(_) => Some(Cmp::Lt),
            BinOp::Le(_) => Some(Cmp::Le),
            BinOp::Gt(_) => Some(Cmp::Gt),
            BinOp::Ge(_) => Some(Cmp::Ge),
            BinOp::Eq(_) => Some(Cmp::Eq),
            BinOp::Ne(_) => Some(Cmp::Ne),
            _ => None,
        };
        let logic = match b.op {
            BinOp::And(_) => Some(Op::And),
            BinOp::Or(_) => Some(Op::Or),
            _ => None,
        };
        if let Some(and) = logic {
            return self.short_circuit(b, and == Op::And);
        }
        let Some(c) = cmp else {
            let what = construct(e);
            return self.opaque(e, Ty::Other, &what);
        };
        let active = self.mentions_active(e);
        let l = self.expr(&b.left);
        let r = self.expr(&b.right);
        let (l, r) = (self.node(l, &b.left), self.node(r, &b.right));
        let [l, r] = self.unify(&[l, r])[..] else {
            return self.poison();
        };
        let typed = |t: Ty| matches!(t, Ty::Float(_) | Ty::Int | Ty::Bool);
        if active || (typed(self.g.ty(l)) && typed(self.g.ty(r))) {
            Val::Node(self.add(Op::Cmp(c), vec![l, r], Ty::Bool))
        } else {
            // Values of unknown type: the comparison as written.
            self.opaque(e, Ty::Bool, "a condition")
        }
    }

    /// `a && b` as `if a { b } else { false }`, `a || b` as `if a { true }
    /// else { b }`: `b` is evaluated only when Rust would (`j > 0 &&
    /// a[j - 1] > a[j]`).
    fn short_circuit(&mut self, b: &syn::ExprBinary, and: bool) -> Val {
        let (l, r) = (&b.left, &b.right);
        let span = b.op.span();
        let branches: ExprIf = if and {
            syn::parse_quote_spanned!(span=> if #l { #r } else { false })
        } else {
            syn::parse_quote_spanned!(span=> if #l { true } else { #r })
        };
        self.if_expr(&branches)
    }

    /// An integer operation `a op b`.
    fn g_int(&mut self, op: IntOp, a: NodeId, b: NodeId) -> NodeId {
        self.add(Op::IntBin(op), vec![a, b], Ty::Int)
    }

    /// Does `e` mention a binding holding an active value?
    fn mentions_active(&self, e: &Expr) -> bool {
        !self.active_mentions(e.to_token_stream()).is_empty()
    }

    /// `l op r` on floats. Operands that are not floats (integers, values of
    /// unknown type) with no active side keep the whole expression as
    /// written.
    fn arith(&mut self, e: &Expr, op: Bin, l: Val, r: Val, le: &Expr, re: &Expr) -> Val {
        let (l, r) = (self.node(l, le), self.node(r, re));
        let [l, r] = self.unify(&[l, r])[..] else {
            return self.poison();
        };
        let (tl, tr) = (self.g.ty(l), self.g.ty(r));
        if (tl, tr) == (Ty::Int, Ty::Int) {
            let op = match op {
                Bin::Add => IntOp::Add,
                Bin::Sub => IntOp::Sub,
                Bin::Mul => IntOp::Mul,
                _ => IntOp::Div,
            };
            return Val::Node(self.g_int(op, l, r));
        }
        let any_active = self.is_active(l) || self.is_active(r);
        let float = tl.float().or(tr.float());
        match float {
            Some(f) if any_active || (tl.float().is_some() && tr.float().is_some()) => {
                // A value kept as written that meets a differentiated float
                // in arithmetic is a float of that type.
                for n in [l, r] {
                    self.as_float(n, Ty::Float(f));
                }
                Val::Node(self.add(Op::Bin(op), vec![l, r], Ty::Float(f)))
            }
            _ => self.opaque(e, Ty::Other, "an arithmetic expression"),
        }
    }

    fn unary(&mut self, e: &Expr, u: &syn::ExprUnary) -> Val {
        match u.op {
            UnOp::Neg(_) => {
                let v = self.expr(&u.expr);
                let x = self.node(v, &u.expr);
                match self.g.ty(x) {
                    Ty::Float(_) => Val::Node(self.add(Op::Un(Un::Neg), vec![x], self.g.ty(x))),
                    Ty::Int => {
                        let zero = self.add(Op::Int(0), vec![], Ty::Int);
                        Val::Node(self.g_int(IntOp::Sub, zero, x))
                    }
                    _ => self.opaque(e, Ty::Other, "a negation"),
                }
            }
            // `*v` of a float (a closure's `&v`, a `&f64` parameter): the
            // float itself.
            UnOp::Deref(_) if self.mentions_active(e) => self.expr(&u.expr),
            UnOp::Deref(_) => match self.expr(&u.expr) {
                Val::Node(n) if self.g.ty(n).float().is_some() => Val::Node(n),
                _ => self.opaque(e, Ty::Other, "a dereference"),
            },
            UnOp::Not(_) => {
                let v = self.expr(&u.expr);
                let x = self.node(v, &u.expr);
                if self.g.ty(x) == Ty::Bool || self.mentions_active(e) {
                    Val::Node(self.add(Op::Not, vec![x], Ty::Bool))
                } else {
                    self.opaque(e, Ty::Other, "`!`")
                }
            }
            _ => {
                let what = construct(e);
                self.opaque(e, Ty::Other, &what)
            }
        }
    }

    /// Is `e` (a name, or a reference to one) a fixed-size float array:
    /// a parameter of a `[T; N]` type, or a local made by `[v; N]` or an
    /// array literal?
    fn fixed_size(&self, e: &Expr) -> bool {
        let e = match e {
            Expr::Reference(r) => &*r.expr,
            Expr::Paren(p) => &*p.expr,
            other => other,
        };
        let Some(arr) = self.array_binding(e) else {
            return false;
        };
        match self.g.op(arr) {
            Op::Param { index, field: None } => {
                matches!(
                    unref(&self.sig.params[*index as usize].ty),
                    syn::Type::Array(_)
                )
            }
            Op::ArrayLit => true,
            _ => matches!(
                self.g.array_root(arr).map(|r| self.g.op(r)),
                Some(Op::FillFixed(_))
            ),
        }
    }

    /// `recv.name(args)` or `f64::name(recv, args)`: `args[0]` is the
    /// receiver.
    fn method(
        &mut self,
        e: &Expr,
        name: &str,
        name_tokens: &dyn ToTokens,
        args: &[&Expr],
        turbofish: bool,
    ) -> Val {
        if (name == "len" || name == "is_empty") && args.len() == 1 {
            let len = match (self.array_binding(args[0]), self.view(args[0])) {
                (Some(arr), _) => Some(self.add(Op::Len, vec![arr], Ty::Int)),
                (_, Some(Val::Window(w))) => Some(w.len),
                (_, Some(other)) => return other,
                _ => None,
            };
            if let Some(len) = len {
                if name == "len" {
                    return Val::Node(len);
                }
                let zero = self.add(Op::Int(0), vec![], Ty::Int);
                return Val::Node(self.add(Op::Cmp(Cmp::Eq), vec![len, zero], Ty::Bool));
            }
        }
        // `x.to_vec()` of a fixed-size array is a `Vec` (a copy would keep
        // the array's type): a `vec!` with the elements copied in.
        if let ("to_vec", [x]) = (name, args) {
            if self.fixed_size(x) {
                let span = e.span();
                let v = self.gen.id("to_vec", span);
                let vec: Expr = syn::parse_quote_spanned! {span=> {
                    let mut #v = vec![0.0; #x.len()];
                    #v.copy_from_slice(&#x);
                    #v
                }};
                return self.expr(&vec);
            }
        }
        // Copies of a differentiated value are the value (arrays are
        // values here; a write to one copies it first).
        if let ("to_vec" | "clone" | "to_owned", [x]) = (name, args) {
            let array = self.array_like(x) || self.view_of(x);
            if self.mentions_active(x) || array {
                let v = match self.view(x) {
                    Some(w) => w,
                    None => self.expr(x),
                };
                let n = self.node(v, x);
                return Val::Node(match self.g.ty(n) {
                    ty @ Ty::Array(..) => self.add(Op::Owned, vec![n], ty),
                    _ => n,
                });
            }
        }
        // `(s, c) = x.sin_cos()`.
        if let ("sin_cos", [x]) = (name, args) {
            if self.mentions_active(x) {
                let v = self.expr(x);
                let x = self.node(v, x);
                if let Ty::Float(f) = self.g.ty(x) {
                    let sin = self.add(Op::Un(Un::Sin), vec![x], Ty::Float(f));
                    let cos = self.add(Op::Un(Un::Cos), vec![x], Ty::Float(f));
                    return Val::Tuple(vec![Val::Node(sin), Val::Node(cos)]);
                }
            }
        }
        // `to_degrees`/`to_radians` are a product with a constant, the one
        // the standard library multiplies by.
        if let ("to_degrees" | "to_radians", [x]) = (name, args) {
            let v = self.expr(x);
            let x = self.node(v, x);
            if let Ty::Float(f) = self.g.ty(x) {
                #[allow(clippy::excessive_precision)]
                let k = match (name, f) {
                    ("to_degrees", FloatTy::F32) => {
                        57.295_779_513_082_320_876_798_154_814_105_170_3_f32 as f64
                    }
                    ("to_degrees", _) => 57.295_779_513_082_320_876_798_154_814_105_170_3_f64,
                    (_, FloatTy::F32) => (std::f32::consts::PI / 180.0) as f64,
                    _ => std::f64::consts::PI / 180.0,
                };
                let k = self.konst(k, f);
                return Val::Node(self.add(Op::Bin(Bin::Mul), vec![x, k], Ty::Float(f)));
            }
            return self.opaque(e, Ty::Other, "a method call");
        }
        if let (Some(p), [x]) = (crate::ir::Pred::from_method(name), args) {
            let v = self.expr(x);
            let x = self.node(v, x);
            if self.g.ty(x).float().is_some() {
                return Val::Node(self.add(Op::Pred(p), vec![x], Ty::Bool));
            }
            return self.opaque(e, Ty::Bool, "a method call");
        }
        let Some(m) = ops::method(name).filter(|_| !turbofish) else {
            if !self.mentions_active(e) {
                return self.opaque(e, Ty::Other, "a method call");
            }
            // `self.g(x)`: a call to the method `Self::g`, through its
            // companions.
            if matches!(args[0], Expr::Path(p) if p.path.is_ident("self")) {
                let span = name_tokens
                    .to_token_stream()
                    .into_iter()
                    .next()
                    .map_or_else(proc_macro2::Span::call_site, |t| t.span());
                let ident = syn::Ident::new(name, span);
                let path: syn::Path = syn::parse_quote!(Self::#ident);
                return self.differentiable_call(args.iter().copied(), &path);
            }
            let receiver_active = self.mentions_active(args[0]);
            // `x.first().unwrap()`: the cause is `first`, not `unwrap`.
            if let Some((at, msg)) = unread_option(args[0]).filter(|_| receiver_active) {
                self.errors.at(at, msg);
                return self.poison();
            }
            let msg = if receiver_active && ITERATORS.contains(&name) {
                format!("#[differentiate] reads an iterator where it is consumed: a `for` loop over it (`for v in x.{name}()`) or a chain ending in `sum`, `product`, `fold` or `collect`; it does not keep one in a variable or step it with `next()`")
            } else if receiver_active {
                format!("method `{name}` has no derivative rule; rewrite it with the supported float methods (`sin`, `exp`, `powi`, ...; the list is in the autodiff docs), or make its receiver a constant")
            } else {
                format!("method `{name}` of a value that is not a float is called with a differentiated argument, and #[differentiate] cannot see through it; compute the value with float operations, or make the argument constant")
            };
            self.errors.at(name_tokens, msg);
            return self.poison();
        };
        if args.len() != m.arity() + 1 {
            return self.error(
                e,
                format!(
                    "`{name}` takes {} argument(s) besides the receiver",
                    m.arity()
                ),
            );
        }
        if !self.mentions_active(e) && float_of_expr(self, args[0]).is_none() {
            // `n.min(m)` on integers (a `zip`'s length, which may be a
            // row's); else, e.g. `PI.sin()`: a constant.
            if let (MethodOp::Bin(b @ (Bin::Min | Bin::Max)), [x, y]) = (m, args) {
                if let (Val::Node(x), Val::Node(y)) = (self.expr(x), self.expr(y)) {
                    if self.g.ty(x) == Ty::Int && self.g.ty(y) == Ty::Int {
                        let op = if b == Bin::Min {
                            IntOp::Min
                        } else {
                            IntOp::Max
                        };
                        return Val::Node(self.g_int(op, x, y));
                    }
                }
            }
            return self.opaque(e, Ty::Other, "a method call");
        }
        let vals: Vec<NodeId> = args
            .iter()
            .map(|a| {
                let v = self.expr(a);
                self.node(v, a)
            })
            .collect();
        let vals = self.unify(&vals);
        let f = vals
            .iter()
            .find_map(|v| self.g.ty(*v).float())
            .unwrap_or(self.lit_ty);
        let ty = Ty::Float(f);
        // Operands kept as written (a constant's `alpha.tanh().exp()`)
        // are floats of that type too: a branch that does not compute one
        // yields a float zero for it, not `Default::default()` (seed 16
        // case 1342, a generic `T`).
        // (`powi`'s exponent is an integer.)
        let floats = if matches!(m, MethodOp::PowI) {
            1
        } else {
            vals.len()
        };
        for &n in &vals[..floats] {
            self.as_float(n, ty);
        }
        let node = match m {
            MethodOp::Un(u) => self.add(Op::Un(u), vals, ty),
            MethodOp::Bin(b) => self.add(Op::Bin(b), vals, ty),
            MethodOp::PowI => self.add(Op::PowI, vals, ty),
            MethodOp::MulAdd => self.add(Op::MulAdd, vals, ty),
            MethodOp::Clamp => self.add(Op::Clamp, vals, ty),
        };
        Val::Node(node)
    }

    fn call(&mut self, e: &Expr, c: &syn::ExprCall) -> Val {
        if let Some(Val::Closure(f)) = path_name(&c.func).and_then(|n| self.lookup(&n)) {
            let f = f.clone();
            return self.call_closure(&f, c);
        }
        if let Expr::Path(p) = &*c.func {
            let segs = desugar::segments(&p.path);
            // `f64::from(x)`: the lossless widening, a cast.
            if let ([owner, from], None, [x]) =
                (&segs[..], &p.qself, &c.args.iter().collect::<Vec<_>>()[..])
            {
                if (owner == "f64" || owner == "f32") && from == "from" {
                    let ty = syn::Ident::new(owner, p.path.segments[0].ident.span());
                    let cast: syn::ExprCast = syn::parse_quote!((#x) as #ty);
                    return self.cast(e, &cast);
                }
            }
            if let Some(last) = p.path.segments.last().filter(|_| self.float_fn_path(p)) {
                let name = last.ident.to_string();
                if ops::method(&name).is_some() && !c.args.is_empty() {
                    let args: Vec<&Expr> = c.args.iter().collect();
                    return self.method(e, &name, &last.ident, &args, false);
                }
            }
            if let Some(name) = desugar::helper_name(c) {
                // A constant helper call is a kernel too when its operands
                // are arrays (its result is then an array of known rank);
                // else it is kept as written.
                if self.mentions_active(e) || self.all_arrays(&c.args) {
                    return self.helper(c, &name);
                }
            }
            if let Some(rewrite) = desugar::scan(&self.gen, c).filter(|_| self.mentions_active(e)) {
                return self.rewritten(rewrite);
            }
            // The items and buffers of rewritten iterators (`desugar`).
            if segs == [self.gen.id("item", p.span()).to_string()] {
                return self.iterator_item(e, c);
            }
            if segs == [self.gen.zeros_like()] {
                if let Some(v) = self.zeros_like(c) {
                    return v;
                }
            }
            let stop = matches!(&segs[..], [n] | [_, n] if n == "stop_gradient");
            if let (true, [x]) = (stop, &c.args.iter().collect::<Vec<_>>()[..]) {
                return self.stop_gradient(x);
            }
            let from_fn = segs.ends_with(&["array".into(), "from_fn".into()]);
            if from_fn && self.mentions_active(e) {
                return self.array_from_fn(e, c, p);
            }
            if self.mentions_active(e) {
                return self.differentiable_call(&c.args, &p.path);
            }
        }
        self.opaque(e, Ty::Other, "a function call")
    }

    /// `autodiff::stop_gradient(x)`: the value of `x`, a constant to the
    /// transforms (an opaque value, which they never differentiate).
    fn stop_gradient(&mut self, x: &Expr) -> Val {
        let v = self.expr(x);
        let n = self.node(v, x);
        let ty = self.g.ty(n);
        let name = self.gen.id("stopped", x.span());
        let expr: Expr = syn::parse_quote!(#name);
        let opaque = crate::ir::Opaque::new(expr, vec![name]);
        let id = self.g.add_opaque(self.region, opaque, vec![n], ty);
        if id.0 as usize == self.active.len() {
            self.active.push(false);
        }
        Val::Node(id)
    }

    /// `core::array::from_fn(|i| ..)` of a length the `let` declares
    /// (`let y: [f64; N] = ..`) or the turbofish gives (`from_fn::<_, N,
    /// _>`): an array filled by a loop.
    fn array_from_fn(&mut self, e: &Expr, c: &syn::ExprCall, p: &syn::ExprPath) -> Val {
        let turbofish = p.path.segments.last().and_then(|s| match &s.arguments {
            syn::PathArguments::AngleBracketed(a) => match a.args.iter().nth(1) {
                Some(syn::GenericArgument::Const(n)) => Some(n.clone()),
                Some(syn::GenericArgument::Type(syn::Type::Path(t))) => Some(syn::parse_quote!(#t)),
                _ => None,
            },
            _ => None,
        });
        let declared = match &self.let_ty {
            Some(syn::Type::Array(a)) => Some(a.len.clone()),
            _ => None,
        };
        let Some(len) = turbofish.or(declared) else {
            return self.error(e, "write the length of the array `core::array::from_fn` builds: `let y: [f64; N] = core::array::from_fn(..)`");
        };
        let (Some(Expr::Closure(f)), 1) = (c.args.first(), c.args.len()) else {
            return self.error(e, "`core::array::from_fn` takes one closure `|i| ..`");
        };
        let Some(pat) = f.inputs.first().filter(|_| f.inputs.len() == 1) else {
            return self.error(
                f,
                "the closure of `core::array::from_fn` takes the index: `|i| ..`",
            );
        };
        let span = p.span();
        let (out, i) = (self.gen.id("array", span), self.gen.id("i", span));
        let body = &f.body;
        let fill: Expr = syn::parse_quote_spanned!(span=> {
            let mut #out = [0.0; #len];
            for #i in 0..#len {
                let #pat = #i;
                #out[#i] = #body;
            }
            #out
        });
        self.expr(&fill)
    }

    /// `let name = |params| body;`: a closure, inlined where it is called,
    /// in the bindings of its definition. One that assigns to a binding
    /// of the body (an `FnMut`) is not read.
    fn closure(&mut self, c: &syn::ExprClosure, name: &syn::Ident) {
        let writes: Vec<String> = assigned_names_in(&c.body)
            .into_iter()
            .filter(|n| self.lookup(n).is_some())
            .collect();
        if let Some(w) = writes.first() {
            self.errors.at(c, format!("#[differentiate] inlines closures where they are called, and this one assigns to `{w}`, which it captures; write the update where the closure is called"));
            return;
        }
        let closure = Closure {
            expr: c.clone(),
            scopes: self.scopes.clone(),
        };
        self.bind_ident(name, Val::Closure(std::rc::Rc::new(closure)));
    }

    /// `f(args)` of a closure bound with `let`: its body, with its
    /// parameters bound to the arguments, in the bindings of its
    /// definition.
    fn call_closure(&mut self, f: &Closure, c: &syn::ExprCall) -> Val {
        let params = &f.expr.inputs;
        if params.len() != c.args.len() {
            return self.error(
                c,
                format!("this closure takes {} argument(s)", params.len()),
            );
        }
        let args: Vec<Val> = c.args.iter().map(|a| self.expr(a)).collect();
        let saved = std::mem::replace(&mut self.scopes, f.scopes.clone());
        self.scopes.push(Scope::new());
        for (p, v) in params.iter().zip(args) {
            self.bind_pat(p, v);
        }
        self.closure_depth += 1;
        let frames = std::mem::take(&mut self.frames);
        let v = self.expr(&f.expr.body);
        self.frames = frames;
        self.closure_depth -= 1;
        self.scopes = saved;
        v
    }

    /// Does the path name a function of a float type: `f64::sin`,
    /// `T::sin`, `<f64 as Float>::sin`, `Float::sin`,
    /// `num_traits::Float::sin`?
    fn float_fn_path(&self, p: &syn::ExprPath) -> bool {
        let segs = &p.path.segments;
        let float_ty = |ty: &syn::Type| self.cx.float_of(ty).is_some();
        match &p.qself {
            Some(q) => float_ty(&q.ty),
            None if segs.len() >= 2 => {
                let owner = segs[segs.len() - 2].ident.to_string();
                (segs.len() == 2 && self.cx.float_named(&owner).is_some()) || owner == "Float"
            }
            None => false,
        }
    }

    /// Are these expressions (`&a` or `a`) all names or helper calls of
    /// arrays the function knows?
    fn all_arrays(&self, args: &syn::punctuated::Punctuated<Expr, syn::token::Comma>) -> bool {
        args.iter().all(|a| {
            let inner = match a {
                Expr::Reference(r) => &*r.expr,
                other => other,
            };
            match inner {
                Expr::Call(c) => desugar::helper_name(c).is_some() && self.all_arrays(&c.args),
                _ => self.array_binding(inner).is_some(),
            }
        })
    }

    /// A call to an array helper (`dot(&x, &y)`, ...): one
    /// [`Op::Kernel`], whose derivative is the rule table's.
    /// `sigmoid`/`softplus` of a scalar are the scalar ops.
    fn helper(&mut self, c: &syn::ExprCall, name: &str) -> Val {
        let Some(first) = c.args.first() else {
            return self.error(&c.func, format!("`{name}` needs an argument"));
        };
        let errors = self.errors.len();
        let mut vals = Vec::new();
        for a in &c.args {
            let inner = match a {
                Expr::Reference(r) => &*r.expr,
                other => other,
            };
            let v = self.expr(inner);
            vals.push(self.node(v, inner));
        }
        // An argument already reported stands for nothing to check.
        if self.errors.len() > errors {
            return self.poison();
        }
        self.data_vectors(&mut vals, &c.args);
        let ty = self.g.ty(vals[0]);
        let un = match name {
            "sigmoid" => Some(Un::Sigmoid),
            "softplus" => Some(Un::Softplus),
            _ => None,
        };
        if let (Some(u), Some(_)) = (un, ty.float()) {
            if c.args.len() != 1 {
                return self.error(&c.func, format!("`{name}` takes one argument"));
            }
            return Val::Node(self.add(Op::Un(u), vals, ty));
        }
        let Some(helper) = ops::helper_named(name) else {
            return self.error(&c.func, format!("`{name}` is not an array helper"));
        };
        let usage = helper.usage;
        let Ty::Array(f, _) = ty else {
            let msg = format!("`{name}` needs an array (or a slice) here: write {usage}");
            return self.error(first, msg);
        };
        if c.args.len() != helper.ranks.len() {
            let n = helper.ranks.len();
            let msg = format!("`{name}` takes {n} argument(s): write {usage}");
            return self.error(&c.func, msg);
        }
        for (k, (&v, want)) in vals.iter().zip(helper.ranks).enumerate() {
            let rank = match self.g.ty(v) {
                Ty::Array(_, r) => r,
                _ => 0,
            };
            if !want.contains(&rank) {
                let want = match want {
                    [1, 2] => "a vector or a matrix",
                    [1] => "a vector (`[T; N]`, `&[T]` or `Vec<T>`)",
                    _ => "a matrix (rows `[T; C]`: `[[T; C]; R]`, `&[[T; C]]`)",
                };
                let which = ["first", "second"][k.min(1)];
                let field = match &c.args[k] {
                    Expr::Reference(r) => matches!(*r.expr, Expr::Field(_)),
                    other => matches!(other, Expr::Field(_)),
                };
                let why = match field {
                    true => " (#[differentiate] does not see a field's type: bind the field with its type first, `let w: [[f64; C]; R] = p.w;`, or write the product as a loop)",
                    false => "",
                };
                let msg = format!(
                    "the {which} argument of `{name}` must be {want} here{why}: write {usage}"
                );
                return self.error(&c.args[k], msg);
            }
        }
        let (kernel, out) = (helper.kernel, helper.out);
        let ty = match out {
            HelperOut::Float => Ty::Float(f),
            HelperOut::SameRank => ty,
            HelperOut::Rank(r) => Ty::Array(f, r),
        };
        Val::Node(self.add(Op::Kernel(kernel), vals, ty))
    }

    /// Constant data of no known type passed to an array helper (`&xs[k]`,
    /// a row of a table): a vector of the other arguments' float type, read
    /// through a reference.
    fn data_vectors<'e>(&mut self, vals: &mut [NodeId], args: impl IntoIterator<Item = &'e Expr>) {
        let f = vals
            .iter()
            .find_map(|&v| self.g.ty(v).float())
            .unwrap_or(self.lit_ty);
        for (v, a) in vals.iter_mut().zip(args) {
            let inner = match a {
                Expr::Reference(r) => &*r.expr,
                other => other,
            };
            if self.g.ty(*v) == Ty::Other && !self.is_active(*v) && pure(inner) {
                let r: Expr = syn::parse_quote_spanned!(inner.span()=> &#inner);
                if let Val::Node(n) = self.opaque(&r, Ty::Array(f, 1), "a data vector") {
                    *v = n;
                }
            }
        }
    }

    /// The value of code `desugar` rewrote, or its error.
    fn rewritten(&mut self, rewrite: desugar::Rewrite) -> Val {
        match rewrite {
            Ok(loops) => self.expr(&loops),
            Err((span, msg)) => {
                self.errors.push(syn::Error::new(span, msg));
                self.poison()
            }
        }
    }

    /// `zeros_like(&a)`: the zero buffer that rewritten code (see
    /// `desugar`) fills, as `Op::ZerosLike`.
    fn zeros_like(&mut self, c: &syn::ExprCall) -> Option<Val> {
        let [Expr::Reference(r)] = &c.args.iter().collect::<Vec<_>>()[..] else {
            return None;
        };
        let arr = self.array_binding(&r.expr)?;
        let ty = self.g.ty(arr);
        ty.elem()?;
        Some(Val::Node(self.add(Op::ZerosLike, vec![arr], ty)))
    }

    /// `g(a, &x, n)` on differentiated values: a call the transforms take
    /// through `g_jvp` and `g_vjp` (SPEC §5). The callee returns a float.
    /// `let (a, b) = g(x, y);` of a differentiated `g` returning a tuple of
    /// floats: one call, whose parts are read by [`Op::Field`] (and whose
    /// cotangent is assembled from theirs in reverse mode).
    fn tuple_call(&mut self, declared: &Pat, pat: &Pat, call: &Expr) {
        const HELP: &str = "#[differentiate] reads a call's tuple result destructured into names, each a float: `let (a, b) = g(x);`; return an array `[T; N]` for anything else";
        let Pat::Tuple(t) = pat else {
            self.errors.at(pat, HELP);
            return;
        };
        if let Pat::Type(pt) = declared {
            let floats = matches!(&*pt.ty, syn::Type::Tuple(tt) if tt.elems.iter().all(|e| self.cx.float_of(e).is_some()));
            if !floats {
                self.errors.at(&pt.ty, HELP);
                return;
            }
        }
        let names: Vec<Option<&syn::Ident>> = t
            .elems
            .iter()
            .map(|e| match e {
                Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                    Some(Some(&pi.ident))
                }
                Pat::Wild(_) => Some(None),
                _ => None,
            })
            .collect::<Option<_>>()
            .unwrap_or_default();
        // A part the body indexes is an array, which the call's
        // cotangent cannot be built for.
        let indexed = names
            .iter()
            .flatten()
            .any(|n| self.indexed.contains(&n.to_string()));
        if names.len() != t.elems.len() || names.is_empty() || indexed {
            self.errors.at(pat, HELP);
            return;
        }
        let Expr::Call(c) = call else {
            self.errors.at(call, HELP);
            return;
        };
        let Expr::Path(p) = &*c.func else {
            self.errors.at(call, HELP);
            return;
        };
        let Val::Node(node) = self.differentiable_call(&c.args, &p.path) else {
            return;
        };
        let f = self.g.ty(node).float().unwrap_or(self.lit_ty);
        if let Some(callee) = self.g.calls.last_mut() {
            callee.tuple_len = Some(names.len() as u32);
            callee.vec_out = Some(false);
        }
        self.g.nodes[node.0 as usize].ty = Ty::Other;
        for (j, name) in names.iter().enumerate() {
            if let Some(name) = name {
                let part = self.add(Op::Field(vec![j as u32]), vec![node], Ty::Float(f));
                self.bind_ident(name, Val::Node(part));
            }
        }
    }

    fn differentiable_call<'e>(
        &mut self,
        call_args: impl IntoIterator<Item = &'e Expr>,
        path: &syn::Path,
    ) -> Val {
        let declared = self.call_out.take();
        let mut args = Vec::new();
        let mut by_ref = Vec::new();
        for a in call_args {
            let (inner, r) = match a {
                Expr::Reference(r) if r.mutability.is_none() => (&*r.expr, true),
                // A `&f64` parameter passed on: a reference, as written.
                Expr::Path(p)
                    if p.path
                        .get_ident()
                        .is_some_and(|i| self.cx.by_ref.contains(i)) =>
                {
                    (a, true)
                }
                // A window (`for w in x.windows(2) { g(w) }`) is a
                // reference too: its copy is passed by reference.
                other => (other, self.window_binding(other).is_some()),
            };
            if self.window_binding(inner).is_some_and(|w| w.row.is_some()) {
                return self.error(inner, "#[differentiate] does not pass a matrix's row to a function; pass the matrix and the row's index, or the elements");
            }
            let v = self.expr(inner);
            args.push(self.node(v, inner));
            by_ref.push(r);
        }
        let f = args
            .iter()
            .find_map(|a| self.g.ty(*a).elem())
            .unwrap_or(self.lit_ty);
        // A constant passed by value (`g(x, h(c))`, `g(SCALE, x)`) is kept
        // as written, of a type lowering cannot see: as an argument of a
        // differentiated function it is a float of the others' type (its
        // tangent a zero), as in arithmetic. Values that are plainly not
        // floats (copies, arrays, structs, tuples) stay what they are.
        for (a, r) in args.iter().zip(&by_ref) {
            // (A float method of a constant, `cfg.k.atan()`, too: seed 19
            // case 1874 passed it without its zero tangent.)
            // (And its negation: seed 38 case 474 passed `-theta.k`.)
            let kept = self.g.ty(*a) == Ty::Other
                && matches!(self.g.op(*a), Op::Opaque(k) if scalar_form(&self.g.opaques[*k as usize].expr));
            if kept && !r {
                self.g.nodes[a.0 as usize].ty = Ty::Float(f);
                // (Unless a float, its tangent is a zero of its own type.)
                if let (&Op::Opaque(k), false) = (self.g.op(*a), f == FloatTy::Generic) {
                    self.g.opaques[k as usize].unseen = true;
                }
            }
        }
        let (ty, vec_out) = match declared {
            Some(CallOut::Declared(ty, vec)) => (ty, Some(vec)),
            Some(CallOut::Array) => (Ty::Array(f, 1), None),
            None => (Ty::Float(f), Some(false)),
        };
        self.g.calls.push(crate::ir::Callee {
            path: path.clone(),
            by_ref,
            vec_out,
            tuple_len: None,
        });
        let k = self.g.calls.len() as u32 - 1;
        Val::Node(self.add(Op::Call(k), args, ty))
    }

    /// `x as T`: between integers and floats, `f32` and `f64` (the
    /// derivative passes through, converted), and a float to an integer
    /// (piecewise constant, derivative 0, like `floor`).
    fn cast(&mut self, e: &Expr, c: &syn::ExprCast) -> Val {
        let to = self.cx.float_of(&c.ty);
        let int = crate::signature::int_of(&c.ty);
        let active = self.mentions_active(&c.expr);
        let v = self.expr(&c.expr);
        let x = self.node(v, &c.expr);
        let generic = |f: FloatTy| f == FloatTy::Generic;
        let node = match (self.g.ty(x), to, int) {
            (Ty::Int, Some(f), _) => self.add(Op::IntToFloat, vec![x], Ty::Float(f)),
            (Ty::Int, _, Some(t)) => self.add(Op::IntCast(t), vec![x], Ty::Int),
            (Ty::Float(f), Some(t), _) if f == t => x,
            (Ty::Float(f), Some(t), _) if !generic(f) && !generic(t) => {
                self.add(Op::FloatCast, vec![x], Ty::Float(t))
            }
            (Ty::Float(f), _, Some(t)) if !generic(f) => {
                self.add(Op::FloatToInt(t), vec![x], Ty::Int)
            }
            _ if active => {
                let to = c.ty.to_token_stream().to_string();
                return self.error(e, format!("#[differentiate] cannot differentiate through a cast to `{to}`; casts between `f32` and `f64` and to integers are read (a generic `T` converts with `T::from(..)`)"));
            }
            (_, Some(f), _) => return self.opaque(e, Ty::Float(f), "a cast"),
            (_, _, Some(_)) => return self.opaque(e, Ty::Int, "a cast"),
            _ => return self.opaque(e, Ty::Other, "a cast"),
        };
        Val::Node(node)
    }

    fn field(&mut self, e: &Expr, f: &syn::ExprField) -> Val {
        if let syn::Member::Unnamed(idx) = &f.member {
            if let Expr::Path(p) = &*f.base {
                if let Some(Val::Tuple(items)) =
                    p.path.get_ident().and_then(|i| self.lookup(&i.to_string()))
                {
                    if let Some(v) = items.get(idx.index as usize) {
                        return v.clone();
                    }
                }
            }
        }
        self.opaque(e, Ty::Other, "a field access")
    }

    /// `[v; N]` of a float `v` (or of a row `[v; C]`): a local array.
    fn repeat(&mut self, e: &Expr, r: &syn::ExprRepeat) -> Val {
        if float_of_expr(self, &r.expr).is_none()
            && !matches!(*r.expr, Expr::Repeat(_))
            && !self.mentions_active(&r.expr)
        {
            return self.opaque(e, Ty::Other, "an array");
        }
        if !self.mentions(r.len.to_token_stream()).is_empty() {
            return self.error(&r.len, "the length of `[v; N]` must be a constant; use `vec![v; n]` for a length known at run time");
        }
        let v = self.expr(&r.expr);
        let v = self.node(v, &r.expr);
        let ty = match self.g.ty(v) {
            Ty::Float(f) => Ty::Array(f, 1),
            Ty::Array(_, 1) if self.is_active(v) => {
                return self.error(&r.expr, "#[differentiate] fills a matrix only with a constant row; write `[[0.0; C]; R]` and set the elements");
            }
            Ty::Array(f, 1) => Ty::Array(f, 2),
            _ => {
                return self.error(
                    &r.expr,
                    "the element of a differentiated array must be a float or a row `[v; C]`",
                )
            }
        };
        self.g
            .opaques
            .push(crate::ir::Opaque::new((*r.len).clone(), vec![]));
        let len = self.g.opaques.len() as u32 - 1;
        Val::Node(self.add(Op::FillFixed(len), vec![v], ty))
    }

    /// `[a, b, c]` of floats.
    fn array_lit(&mut self, e: &Expr, a: &syn::ExprArray) -> Val {
        // A matrix literal `[[a, b], [c, d]]`: a matrix of zeros, written.
        let rows: Vec<&syn::ExprArray> = a
            .elems
            .iter()
            .filter_map(|r| match r {
                Expr::Array(row) => Some(row),
                _ => None,
            })
            .collect();
        if !rows.is_empty() && rows.len() == a.elems.len() && self.mentions_active(e) {
            let c = rows[0].elems.len();
            if rows.iter().any(|r| r.elems.len() != c) {
                return self.error(e, "the rows of a matrix literal must have the same length");
            }
            let span = e.span();
            let m = self.gen.id("matrix", span);
            let r = rows.len();
            let mut writes: Vec<syn::Stmt> = Vec::new();
            for (i, row) in rows.iter().enumerate() {
                for (j, v) in row.elems.iter().enumerate() {
                    writes.push(syn::parse_quote_spanned!(v.span()=> #m[#i][#j] = #v;));
                }
            }
            let fill: Expr = syn::parse_quote_spanned!(span=> {
                let mut #m = [[0.0; #c]; #r];
                #(#writes)*
                #m
            });
            return self.expr(&fill);
        }
        // (A window's elements are floats, and a window cannot be kept as
        // written: `[b[0], b[1]]` of a row `b = &m[i]`.)
        let floats = a.elems.iter().any(|x| {
            float_of_expr(self, x).is_some() || self.mentions_active(x) || self.mentions_window(x)
        });
        if !floats || a.elems.is_empty() {
            return self.opaque(e, Ty::Other, "an array");
        }
        let mut items = Vec::new();
        for x in &a.elems {
            let v = self.expr(x);
            items.push(self.node(v, x));
        }
        let items = self.unify(&items);
        let f = items
            .iter()
            .find_map(|n| self.g.ty(*n).float())
            .unwrap_or(self.lit_ty);
        if items.iter().any(|n| self.g.ty(*n).is_array()) {
            return self.error(e, "#[differentiate] supports array literals of floats; build a matrix with `[[0.0; C]; R]` and element writes");
        }
        Val::Node(self.add(Op::ArrayLit, items, Ty::Array(f, 1)))
    }

    /// `vec![v; n]` of a float `v`: a local array of run-time length.
    fn vec_macro(&mut self, e: &Expr, mac: &syn::Macro) -> Val {
        let parsed = mac.parse_body_with(|input: syn::parse::ParseStream| {
            let v: Expr = input.parse()?;
            input.parse::<syn::Token![;]>()?;
            let n: Expr = input.parse()?;
            Ok((v, n))
        });
        let Ok((v, n)) = parsed else {
            return self.opaque(e, Ty::Other, "the macro `vec!`");
        };
        if float_of_expr(self, &v).is_none() && !self.mentions_active(&v) {
            return self.opaque(e, Ty::Other, "the macro `vec!`");
        }
        if self.mentions_active(&n) {
            return self.error(
                &n,
                "the length of `vec![v; n]` cannot depend on a differentiated value",
            );
        }
        let (vv, nn) = (self.expr(&v), self.expr(&n));
        let (vv, nn) = (self.node(vv, &v), self.node(nn, &n));
        let Some(f) = self.g.ty(vv).float() else {
            return self.error(&v, "the element of a differentiated `vec!` must be a float");
        };
        Val::Node(self.add(Op::FillVec, vec![vv, nn], Ty::Array(f, 1)))
    }

    /// A window as an array of its own: a copy, made by a loop.
    fn materialize(&mut self, w: Window) -> NodeId {
        let name = self.gen.id("window", self.g.span);
        self.bind(&name.to_string(), Val::Window(w));
        let copy: Expr = syn::parse_quote!({
            let mut out = vec![0.0; #name.len()];
            for i in 0..#name.len() {
                out[i] = #name[i];
            }
            out
        });
        match self.expr(&copy) {
            Val::Node(n) => n,
            _ => self.add(Op::Int(0), vec![], Ty::Int),
        }
    }

    /// Is `e` an array, a window, or a sub-slice of one?
    fn array_like(&self, e: &Expr) -> bool {
        match e {
            Expr::Index(ix) if matches!(*ix.index, Expr::Range(_)) => self.array_like(&ix.expr),
            Expr::Paren(p) => self.array_like(&p.expr),
            _ => self.array_binding(e).is_some() || self.window_binding(e).is_some(),
        }
    }

    /// Is `e` a sub-slice of an array (`x[a..b]`, `&x[..k]`)?
    fn view_of(&self, e: &Expr) -> bool {
        match e {
            Expr::Paren(p) => self.view_of(&p.expr),
            Expr::Reference(r) => self.view_of(&r.expr),
            Expr::Index(ix) => matches!(*ix.index, Expr::Range(_)) && self.array_like(&ix.expr),
            _ => false,
        }
    }

    /// The window a plain path names, if it names one.
    fn window_binding(&self, e: &Expr) -> Option<Window> {
        match self.lookup(&path_name(e)?)? {
            Val::Window(w) => Some(*w),
            _ => None,
        }
    }

    /// `e` as a window if it is one: a name bound to a window, or a
    /// sub-slice (`&x[a..b]`, `(w[1..])`) of a float vector or window. An
    /// error comes back as the value to return.
    fn view(&mut self, e: &Expr) -> Option<Val> {
        match e {
            Expr::Paren(p) => self.view(&p.expr),
            Expr::Reference(r) => self.view(&r.expr),
            Expr::Index(ix) => match &*ix.index {
                Expr::Range(r) => self.sub_slice(e, &ix.expr, r),
                _ => None,
            },
            _ => self.window_binding(e).map(Val::Window),
        }
    }

    /// `x[a..b]` (`x[..b]`, `x[a..]`, `x[a..=b]`) of a float vector or a
    /// window: a window.
    fn sub_slice(&mut self, e: &Expr, base: &Expr, r: &syn::ExprRange) -> Option<Val> {
        let (arr, offset, whole) = match (self.array_binding(base), self.window_binding(base)) {
            (Some(a), _) if matches!(self.g.ty(a), Ty::Array(_, 1)) => {
                let len = self.add(Op::Len, vec![a], Ty::Int);
                let zero = self.add(Op::Int(0), vec![], Ty::Int);
                (a, zero, len)
            }
            (_, Some(w)) => (w.arr, w.start, w.len),
            _ => return None,
        };
        let row = self.window_binding(base).and_then(|w| w.row);
        if [&r.start, &r.end]
            .into_iter()
            .flatten()
            .any(|b| self.mentions_active(b))
        {
            return Some(self.error(
                e,
                "the bounds of a sub-slice cannot depend on a differentiated value",
            ));
        }
        let bound = |cx: &mut Self, b: &Option<Box<Expr>>, default: NodeId| match b {
            Some(b) => {
                let v = cx.expr(b);
                cx.node(v, b)
            }
            None => default,
        };
        let zero = self.add(Op::Int(0), vec![], Ty::Int);
        let a = bound(self, &r.start, zero);
        let mut b = bound(self, &r.end, whole);
        if matches!(r.limits, syn::RangeLimits::Closed(_)) {
            let one = self.add(Op::Int(1), vec![], Ty::Int);
            b = self.g_int(IntOp::Add, b, one);
        }
        let start = self.g_int(IntOp::Add, offset, a);
        let len = self.g_int(IntOp::Sub, b, a);
        Some(Val::Window(Window {
            arr,
            start,
            len,
            row,
        }))
    }

    /// The array node a plain path names, if it names one.
    fn array_binding(&self, e: &Expr) -> Option<NodeId> {
        let Expr::Path(p) = e else { return None };
        match self.lookup(&p.path.get_ident()?.to_string())? {
            Val::Node(n) if self.g.ty(*n).is_array() => Some(*n),
            _ => None,
        }
    }

    /// `x[i]` or `m[i][j]` on an array parameter; any other indexing is a
    /// constant kept as written.
    fn index(&mut self, e: &Expr) -> Val {
        if let Expr::Index(ix) = e {
            if let Expr::Range(r) = &*ix.index {
                if let Some(v) = self.sub_slice(e, &ix.expr, r) {
                    return v;
                }
            }
            if let Some(w) = self.window_binding(&ix.expr) {
                return self.window_element(w, &ix.index);
            }
            if let Some(row) = self.data_row(ix) {
                return row;
            }
        }
        let mut indices = Vec::new();
        let mut base = e;
        while let Expr::Index(ix) = base {
            indices.push(&*ix.index);
            base = &ix.expr;
        }
        indices.reverse();
        // An element of a computed array (`log_softmax(&z)[k]`): the array
        // bound to a name first, `{ let t = log_softmax(&z); t[k] }`.
        if !matches!(base, Expr::Path(_) | Expr::Field(_)) && self.mentions_active(base) {
            let span = base.span();
            let t = self.gen.id("indexed", span);
            let mut element: Expr = syn::parse_quote_spanned!(span=> #t);
            for i in &indices {
                element = syn::parse_quote_spanned!(span=> #element[#i]);
            }
            let block: Expr = syn::parse_quote_spanned!(span=> { let #t = #base; #element });
            return self.expr(&block);
        }
        let Some(arr) = self.array_binding(base) else {
            return self.opaque(e, Ty::Other, "indexing");
        };
        let Ty::Array(f, rank) = self.g.ty(arr) else {
            return self.poison();
        };
        if let (1, 2, Expr::Range(_)) = (indices.len(), rank, indices[0]) {
            // `&m[a..b]` (a window of `m.windows(k)`): rows of constant
            // data kept as written, borrowed.
            if self.is_active(arr) {
                return self.error(e, "#[differentiate] reads a range of rows of a differentiated matrix (`&m[a..b]`, `m.windows(k)`, `m.chunks(k)`) only through its elements: loop over the row indices and read `m[i][j]`");
            }
            let rows: Expr = syn::parse_quote_spanned!(e.span()=> &#e);
            return self.opaque(&rows, Ty::Other, "a range of a matrix's rows");
        }
        if (indices.len(), rank) == (1, 2) {
            // `&m[i]`, or `m[i]` of a parameter (never written in place):
            // the row, read by its elements. A copy of a local matrix's row
            // would be read after later writes to the matrix.
            if !self.borrowing && !matches!(self.g.op(arr), Op::Param { .. }) {
                return self.error(e, "#[differentiate] reads a row of a local matrix through a borrow (`let r = &m[i];`) or by its elements (`m[i][j]`), not as a copy (`let r = m[i];`)");
            }
            if self.mentions_active(indices[0]) {
                return self.error(indices[0], "an index cannot depend on a differentiated value; compute indices from integers and loop variables");
            }
            let v = self.expr(indices[0]);
            let i = self.node(v, indices[0]);
            return self.row_window(arr, i);
        }
        if indices.len() != rank as usize {
            return self.error(
                e,
                format!(
                    "index every dimension of this array: it has {rank}, so write {}",
                    if rank == 2 { "`m[i][j]`" } else { "`x[i]`" }
                ),
            );
        }
        let mut args = vec![arr];
        for ix in indices {
            if self.mentions_active(ix) {
                return self.error(ix, "an index cannot depend on a differentiated value; compute indices from integers and loop variables");
            }
            let v = self.expr(ix);
            args.push(self.node(v, ix));
        }
        Val::Node(self.add(Op::Index, args, Ty::Float(f)))
    }

    /// `xs[k]` of a parameter whose rows are float vectors (`&[Vec<f64>]`,
    /// SPEC §5 data tables): a constant vector, read through `&xs[k]`.
    fn data_row(&mut self, ix: &syn::ExprIndex) -> Option<Val> {
        let Val::Node(table) = self.lookup(&path_name(&ix.expr)?)? else {
            return None;
        };
        let (&Op::Param { index, field: None }, Ty::Other) = (self.g.op(*table), self.g.ty(*table))
        else {
            return None;
        };
        let f = crate::signature::row_of(self.cx, &self.sig.params[index as usize].ty)?;
        if matches!(*ix.index, Expr::Range(_)) || self.mentions_active(&ix.index) {
            return None;
        }
        let row: Expr = syn::parse_quote_spanned!(ix.span()=> &#ix);
        Some(self.opaque(&row, Ty::Array(f, 1), "a row of a table"))
    }

    /// A value kept as written (of a type the macro cannot see) that is
    /// used where a float `ty` is: that float, so that the zeros built
    /// for it (a branch that does not compute it, its tangent) are floats,
    /// not `Default::default()`, which a generic `T: Float` lacks.
    fn as_float(&mut self, n: NodeId, ty: Ty) {
        if ty.float().is_some()
            && self.g.ty(n) == Ty::Other
            && matches!(self.g.op(n), Op::Opaque(_))
        {
            self.g.nodes[n.0 as usize].ty = ty;
        }
    }

    /// The function's outputs, checked against its declared shape.
    fn outputs(&mut self, result: Val, block: &Block) -> Vec<NodeId> {
        let span_at = block
            .stmts
            .last()
            .map_or_else(|| block.to_token_stream(), |s| s.to_token_stream());
        let ok = match (&self.sig.out_shape, &result) {
            (OutShape::Leaf, Val::Node(_)) => true,
            (OutShape::Tuple(items), Val::Tuple(vals)) => {
                items.len() == vals.len() && vals.iter().all(|v| matches!(v, Val::Node(_)))
            }
            _ => false,
        };
        if !ok {
            // A wrong return type was already reported by the signature.
            if self.sig.out_known {
                self.errors.at(span_at, "#[differentiate] could not match this value to the function's return type; end the body with an expression of that type");
            }
            return (0..self.sig.out_shape.len())
                .map(|_| self.konst(0.0, self.lit_ty))
                .collect();
        }
        let mut out = Vec::new();
        result.leaves(&mut out);
        // A literal output takes the declared output type; so does a
        // value kept as written (its tangent is that type's zero, not
        // `Default::default()`: seed 16 case 2543, a generic `T`).
        for (k, o) in out.iter_mut().enumerate() {
            if let Some(v) = self.g.const_value(*o) {
                *o = self.konst(v, self.sig.out_floats[k]);
            } else if let Some((_, ty)) = self.sig.outs.get(k) {
                let ty = *ty;
                self.as_float(*o, ty);
            }
        }
        out
    }
}

/// The float type of `e` if it is plainly a float (literal, float
/// binding, or a float-typed cast).
fn float_of_expr(cx: &Lower, e: &Expr) -> Option<FloatTy> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Float(f) => Some(cx.cx.float_named(f.suffix()).unwrap_or(cx.lit_ty)),
            _ => None,
        },
        Expr::Paren(p) => float_of_expr(cx, &p.expr),
        Expr::Cast(c) => cx.cx.float_of(&c.ty),
        Expr::Path(p) => match p.path.get_ident().and_then(|i| cx.lookup(&i.to_string())) {
            Some(Val::Node(n)) => cx.g.ty(*n).float(),
            _ => None,
        },
        Expr::Unary(u) => float_of_expr(cx, &u.expr),
        Expr::Binary(b) => float_of_expr(cx, &b.left).or_else(|| float_of_expr(cx, &b.right)),
        // `.sum::<f64>()`, `.fold(0.0, ..)`, `x.max(y)`.
        Expr::MethodCall(m) => {
            let turbofish = m.turbofish.as_ref().and_then(|t| match t.args.first() {
                Some(syn::GenericArgument::Type(ty)) => cx.cx.float_of(ty),
                _ => None,
            });
            let init = (m.method == "fold").then(|| m.args.first()).flatten();
            turbofish
                .or_else(|| init.and_then(|i| float_of_expr(cx, i)))
                .or_else(|| float_of_expr(cx, &m.receiver))
        }
        // An element of a float array.
        Expr::Index(ix) => float_of_expr(cx, &ix.expr).or_else(|| match &*ix.expr {
            Expr::Path(_) => cx.array_binding(&ix.expr).and_then(|a| cx.g.ty(a).elem()),
            _ => None,
        }),
        // `T::zero()`, `f64::from(k)`: an associated function of a float type.
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 2 => {
                cx.cx.float_named(&p.path.segments[0].ident.to_string())
            }
            _ => None,
        },
        _ => None,
    }
}

/// The names a pattern binds.
fn pattern_names(pat: &Pat) -> Vec<syn::Ident> {
    struct Names(Vec<syn::Ident>);
    impl<'ast> syn::visit::Visit<'ast> for Names {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.push(p.ident.clone());
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut names = Names(Vec::new());
    syn::visit::Visit::visit_pat(&mut names, pat);
    names.0
}

/// Do user tokens read a value the same way each time they are evaluated
/// (paths, fields, indices, references, literals, arithmetic; no call)?
fn pure(e: &Expr) -> bool {
    match e {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Paren(p) => pure(&p.expr),
        Expr::Group(g) => pure(&g.expr),
        Expr::Reference(r) => pure(&r.expr),
        Expr::Field(f) => pure(&f.base),
        Expr::Index(i) => pure(&i.expr) && pure(&i.index),
        Expr::Cast(c) => pure(&c.expr),
        Expr::Unary(u) => pure(&u.expr),
        Expr::Binary(b) => pure(&b.left) && pure(&b.right),
        Expr::Tuple(t) => t.elems.iter().all(pure),
        _ => false,
    }
}

/// Names an expression assigns (`name = ...`, `name += ...`).
fn assigned_names_in(e: &Expr) -> Vec<String> {
    let block: Block = syn::parse_quote!({ #e });
    assigned_names(&block)
}

/// Is `e` of a form that, passed by value to a differentiated function, is
/// a float: a call, a path, a field, a float method, or the negation of
/// one?
fn scalar_form(e: &Expr) -> bool {
    match e {
        Expr::Call(_) | Expr::Path(_) | Expr::Field(_) | Expr::Paren(_) => true,
        Expr::MethodCall(m) => crate::ir::ops::method(&m.method.to_string()).is_some(),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => scalar_form(&u.expr),
        _ => false,
    }
}

/// The methods that change a float array in place (`v.swap(i, j);`):
/// element writes, like `v[i] = ..`.
const IN_PLACE: &[&str] = &["copy_from_slice", "swap", "fill"];

/// The methods that make an iterator of an array.
const ITERATORS: &[&str] = &[
    "iter",
    "into_iter",
    "iter_mut",
    "windows",
    "chunks",
    "chunks_exact",
];

/// `x.first()`, `x.last()`, `x.get(i)` in a receiver: an `Option` of an
/// element, which is not read; where and what to write instead.
fn unread_option(e: &Expr) -> Option<(syn::Ident, String)> {
    let Expr::MethodCall(m) = e else { return None };
    let x = m.receiver.to_token_stream().to_string().replace(' ', "");
    let index = match (m.method.to_string().as_str(), m.args.len()) {
        ("first", 0) => format!("{x}[0]"),
        ("last", 0) => format!("{x}[{x}.len() - 1]"),
        ("get", 1) => format!(
            "{x}[{}]",
            m.args[0].to_token_stream().to_string().replace(' ', "")
        ),
        _ => return unread_option(&m.receiver),
    };
    let method = &m.method;
    Some((
        method.clone(),
        format!("`{method}` gives an `Option`, which #[differentiate] does not read; index the element instead: `{index}`"),
    ))
}

/// `Vec::new()`, `Vec::with_capacity(n)`, `vec![]`: an empty `Vec`.
fn empty_vec(e: &Expr) -> bool {
    match e {
        Expr::Call(c) => {
            let segs = desugar::segments(match &*c.func {
                Expr::Path(p) => &p.path,
                _ => return false,
            });
            matches!(&segs[..], [v, f] if v == "Vec" && (f == "new" || f == "with_capacity"))
        }
        Expr::Macro(m) => m.mac.path.is_ident("vec") && m.mac.tokens.is_empty(),
        _ => false,
    }
}

/// The two names of `std::mem::swap(&mut a, &mut b)` (also through
/// `core::`, `mem::` or a bare `swap` of two `&mut` names).
fn mem_swap(e: &Expr) -> Option<(String, String)> {
    let Expr::Call(c) = e else { return None };
    let Expr::Path(p) = &*c.func else { return None };
    let segs = desugar::segments(&p.path);
    let named = matches!(
        segs.iter().map(String::as_str).collect::<Vec<_>>()[..],
        ["std" | "core", "mem", "swap"] | ["mem", "swap"] | ["swap"]
    );
    let name = |a: &Expr| match a {
        Expr::Reference(r) if r.mutability.is_some() => path_name(&r.expr),
        _ => None,
    };
    match (named, &c.args.iter().collect::<Vec<_>>()[..]) {
        (true, [a, b]) => Some((name(a)?, name(b)?)),
        _ => None,
    }
}

/// Does a macro call never return (`panic!`, `unreachable!`, `todo!`,
/// `unimplemented!`)? Like a `return`, its branch gives no value, and the
/// other branch's decides the shape (`_ => unreachable!()` in a `match`).
/// Companions compute values, not effects, as for statement macros: where
/// the function panics, they do not.
fn diverges(m: &syn::Macro) -> bool {
    m.path.segments.last().is_some_and(|s| {
        ["panic", "unreachable", "todo", "unimplemented"]
            .iter()
            .any(|n| s.ident == n)
    })
}

/// The single name a path is, if it is one.
fn path_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    }
}

/// The variable an assignment target writes: `a`, or `y` of `y[i][j]`.
fn target_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        Expr::Index(ix) => target_name(&ix.expr),
        _ => None,
    }
}

fn compound(op: &BinOp) -> Option<Bin> {
    match op {
        BinOp::AddAssign(_) => Some(Bin::Add),
        BinOp::SubAssign(_) => Some(Bin::Sub),
        BinOp::MulAssign(_) => Some(Bin::Mul),
        BinOp::DivAssign(_) => Some(Bin::Div),
        _ => None,
    }
}

/// The operator `op` of a compound assignment `l op= r` other than the
/// arithmetic ones [`compound`] reads (`%=`, `<<=`, `>>=`, `&=`, `|=`,
/// `^=`): `l = (l) op (r)`.
fn other_compound(op: &BinOp) -> Option<BinOp> {
    Some(match *op {
        BinOp::RemAssign(t) => BinOp::Rem(syn::Token![%](t.spans[0])),
        BinOp::ShlAssign(t) => BinOp::Shl(syn::Token![<<](t.spans[0])),
        BinOp::ShrAssign(t) => BinOp::Shr(syn::Token![>>](t.spans[0])),
        BinOp::BitAndAssign(t) => BinOp::BitAnd(syn::Token![&](t.spans[0])),
        BinOp::BitOrAssign(t) => BinOp::BitOr(syn::Token![|](t.spans[0])),
        BinOp::BitXorAssign(t) => BinOp::BitXor(syn::Token![^](t.spans[0])),
        _ => return None,
    })
}

/// A short name of an expression's kind, for messages.
fn construct(e: &Expr) -> String {
    let s = match e {
        Expr::Closure(_) => "a closure",
        Expr::While(_) => "a `while` loop",
        Expr::Loop(_) => "a `loop`",
        Expr::ForLoop(_) => "a `for` loop",
        Expr::Match(_) => "a `match`",
        Expr::Macro(m) => {
            return format!(
                "the macro `{}!`",
                m.mac.path.to_token_stream().to_string().replace(' ', "")
            )
        }
        Expr::Index(_) => "indexing",
        Expr::Reference(_) => "a reference",
        Expr::Unary(_) => "a dereference or `!`",
        Expr::Array(_) | Expr::Repeat(_) => "an array",
        Expr::Struct(_) => "a struct literal",
        Expr::Range(_) => "a range",
        Expr::Try(_) => "the `?` operator",
        Expr::Unsafe(_) => "an `unsafe` block",
        Expr::Break(_) | Expr::Continue(_) => "`break`/`continue`",
        Expr::Binary(_) => "this operator",
        Expr::Call(_) => "a function call",
        Expr::MethodCall(_) => "a method call",
        _ => "this expression",
    };
    s.to_string()
}

/// The tokens to point an error about `e` at: the keyword of a loop,
/// `match` or closure, the path of a macro, else the whole expression.
fn head(e: &Expr) -> TokenStream {
    match e {
        Expr::While(w) => w.while_token.to_token_stream(),
        Expr::Loop(l) => l.loop_token.to_token_stream(),
        Expr::ForLoop(f) => f.for_token.to_token_stream(),
        Expr::Match(m) => {
            let (k, scrutinee) = (&m.match_token, &m.expr);
            quote::quote!(#k #scrutinee)
        }
        Expr::Closure(c) => {
            let (a, b) = (&c.or1_token, &c.or2_token);
            let inputs = &c.inputs;
            quote::quote!(#a #inputs #b)
        }
        Expr::Macro(m) => {
            let (p, bang) = (&m.mac.path, &m.mac.bang_token);
            quote::quote!(#p #bang)
        }
        _ => e.to_token_stream(),
    }
}

/// What to do instead of a construct, for messages.
fn hint(what: &str) -> &'static str {
    if what.contains("closure") {
        "write the expression inline instead of in a closure"
    } else if what.contains("while") || what.contains("loop") {
        "#[differentiate] reads `for i in a..b` loops only: write the loop over an index range, with an `if` in the body instead of an early exit"
    } else if what.contains("match") {
        "use `if`/`else` instead of `match`"
    } else if what.contains("macro") {
        "macros are kept as written and cannot be differentiated; compute the value with plain expressions"
    } else if what.contains("indexing") || what.contains("array") {
        "index an array bound to a name (a parameter, or `let t = ...;`) in every dimension (`x[i]`, `m[i][j]`)"
    } else {
        "rewrite it with the supported operations: arithmetic, float methods, `let`, and `if`/`else`"
    }
}

/// `T` of `&T` (and `&mut T`), else `ty`.
fn unref(ty: &syn::Type) -> &syn::Type {
    match ty {
        syn::Type::Reference(r) => &r.elem,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use crate::args::Args;
    use crate::error::Errors;
    use crate::signature;

    /// The IR of `src`, or the error messages.
    fn ir(src: &str) -> String {
        let item: syn::ItemFn = syn::parse_str(src).expect("test source parses");
        let mut errors = Errors::default();
        let sig = signature::read(
            &crate::context::Cx::default(),
            &item,
            &Args::default(),
            &mut errors,
        );
        let lowered = super::lower(
            &crate::context::Cx::default(),
            &sig,
            &item.block,
            &mut errors,
        );
        if errors.is_empty() {
            lowered.func.to_string()
        } else {
            errors.to_compile_errors().to_string()
        }
    }

    #[test]
    fn shadowing_and_reassignment_rebind_names() {
        let text =
            ir("fn f(x: f64) -> f64 { let a = x; let a = a * 2.0; let mut b = a; b += 1.0; b }");
        assert!(text.contains("mul %0, %1"), "{text}");
        assert!(text.contains("add %2, %3"), "{text}");
        assert!(text.trim_end().ends_with("return %4\n}"), "{text}");
    }

    #[test]
    fn method_and_path_forms_are_one_node() {
        let text = ir("fn f(x: f64) -> f64 { x.sin() + f64::sin(x) }");
        assert_eq!(text.matches("sin %0").count(), 1, "{text}");
        assert!(text.contains("add %1, %1"), "{text}");
    }

    #[test]
    fn a_branch_yields_the_outer_bindings_it_changes() {
        let text = ir("fn f(x: f64, y: f64) -> f64 { let mut a = x; let b = y; if x > y { a = x * y; } a + b }");
        // `a` is yielded (changed in one branch), `b` is not.
        assert!(text.contains("yield %"), "{text}");
        assert_eq!(text.matches("proj.").count(), 1, "{text}");
    }

    #[test]
    fn constants_are_kept_as_written_with_their_bindings() {
        let text = ir("fn f(x: f64, n: usize) -> f64 { let k = n * 2; x * scale(k) }");
        assert!(text.contains("opaque `scale (k)` %3"), "{text}");
    }

    #[test]
    fn integer_arithmetic_is_typed() {
        let text = ir("fn f(x: f64, n: usize) -> f64 { let k = n * 2 % 3; x * (k as f64) }");
        assert!(text.contains("intbin(mul) %1, %2"), "{text}");
        assert!(text.contains("intbin(rem) %3, %4"), "{text}");
        assert!(text.contains("inttofloat %5"), "{text}");
    }

    #[test]
    fn tuples_destructure() {
        let text = ir("fn f(x: f64, y: f64) -> (f64, f64) { let (a, b) = (y, x); (a * b, a) }");
        assert!(text.contains("return %2, %1"), "{text}");
    }

    #[test]
    fn all_errors_are_collected() {
        let text =
            ir("fn f(x: f64) -> f64 { let a = x.rem_euclid(2.0); let b = match (x, x) { (p, _) => p }; a + b }");
        assert_eq!(text.matches("compile_error").count(), 2, "{text}");
    }

    #[test]
    fn literals_take_the_function_float_type() {
        let text = ir("fn f(x: f32) -> f32 { x * 0.1 }");
        assert!(
            text.contains(&format!("const {:?}", 0.1_f32 as f64)),
            "{text}"
        );
    }
}
