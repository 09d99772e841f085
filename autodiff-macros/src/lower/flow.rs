//! Control flow: `if`, loops of every form (`for` over ranges and arrays,
//! `while`, `loop`), and the early exits `break`, `continue` and `return`.
//!
//! An early exit is a flag, an ordinary binding of the body: `break` sets
//! its loop's, `continue` its iteration's, `return e` the function's (and
//! the value's bindings). A statement that may set one is followed by the
//! rest of its block under `if !(flags) { .. }`, so that nothing after an
//! exit runs; a loop that may stop early carries a `go` flag and the count
//! of iterations run (an [`Exit`]), which reverse mode reverses. Branches
//! and loops carry the flags as they carry any binding they change.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::Visit;
use syn::{Block, Expr, ExprIf, Pat, Stmt};

use super::{compound, desugar, target_name, Lower, Scope, Val, IN_PLACE};
use crate::ir::{Exit, IntOp, NodeId, Op, OutShape, RegionId, Ty};

/// The flags of the loop being lowered (binding names).
pub(super) struct Frame {
    brk: Option<String>,
    cont: Option<String>,
    /// `break value`'s value.
    value: Option<String>,
}

/// The function's `return`: its flag, and one value per flat output.
pub(super) struct Ret {
    flag: String,
    values: Vec<String>,
}

/// The exits a statement may take, for the loop being lowered (`break`
/// and `continue` of nested loops are theirs) and the function.
#[derive(Clone, Copy, Default)]
pub(super) struct Exits {
    pub brk: bool,
    pub cont: bool,
    pub ret: bool,
    pub brk_value: bool,
}

/// Finds the exits of some syntax, outside closures and nested items.
#[derive(Default)]
struct ExitFinder {
    exits: Exits,
    /// Loops entered: their `break`s are not the outer loop's.
    depth: usize,
    /// A labeled `break`/`continue`, which is not read.
    labeled: Option<proc_macro2::Span>,
}

impl<'ast> Visit<'ast> for ExitFinder {
    fn visit_expr_break(&mut self, b: &'ast syn::ExprBreak) {
        if let Some(l) = &b.label {
            self.labeled.get_or_insert(l.apostrophe);
        } else if self.depth == 0 {
            self.exits.brk = true;
            self.exits.brk_value |= b.expr.is_some();
        }
        syn::visit::visit_expr_break(self, b);
    }

    fn visit_expr_continue(&mut self, c: &'ast syn::ExprContinue) {
        if let Some(l) = &c.label {
            self.labeled.get_or_insert(l.apostrophe);
        } else if self.depth == 0 {
            self.exits.cont = true;
        }
    }

    fn visit_expr_return(&mut self, r: &'ast syn::ExprReturn) {
        self.exits.ret = true;
        syn::visit::visit_expr_return(self, r);
    }

    fn visit_expr_for_loop(&mut self, f: &'ast syn::ExprForLoop) {
        self.visit_expr(&f.expr);
        self.nested(|v| v.visit_block(&f.body));
    }

    fn visit_expr_while(&mut self, w: &'ast syn::ExprWhile) {
        self.nested(|v| syn::visit::visit_expr_while(v, w));
    }

    fn visit_expr_loop(&mut self, l: &'ast syn::ExprLoop) {
        self.nested(|v| syn::visit::visit_expr_loop(v, l));
    }

    // A closure's `return` is its own; an item is not the body.
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}

    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

impl ExitFinder {
    fn nested(&mut self, f: impl FnOnce(&mut Self)) {
        self.depth += 1;
        f(self);
        self.depth -= 1;
    }
}

/// The exits of a statement.
fn exits_of_stmt(stmt: &Stmt) -> Exits {
    let mut finder = ExitFinder::default();
    finder.visit_stmt(stmt);
    finder.exits
}

/// The exits of a loop body, and the span of a labeled `break` or
/// `continue` in it.
fn exits_of_block(block: &Block) -> (Exits, Option<proc_macro2::Span>) {
    let mut finder = ExitFinder::default();
    finder.visit_block(block);
    (finder.exits, finder.labeled)
}

/// Does the function body return other than by its last statement?
pub(super) fn returns_early(block: &Block) -> bool {
    let n = block.stmts.len();
    block.stmts.iter().enumerate().any(|(i, s)| {
        let trailing = i + 1 == n && matches!(s, Stmt::Expr(Expr::Return(_), _));
        !trailing && exits_of_stmt(s).ret
    })
}

/// What a loop runs over.
enum Head<'e> {
    /// `for`: the range's start and end, the direction, and the loop
    /// variable.
    Range {
        start: NodeId,
        end: NodeId,
        rev: bool,
        index: LoopIndex,
    },
    /// `while cond`.
    While(&'e Expr),
    /// `loop`.
    Forever,
}

impl Lower<'_> {
    /// Statements in order. After one that may exit, the rest of them run
    /// under `if !(flags) { .. }`.
    pub(super) fn stmts<S: std::borrow::Borrow<Stmt>>(&mut self, stmts: &[S]) -> Val {
        let n = stmts.len();
        for (i, stmt) in stmts.iter().enumerate() {
            let stmt: &Stmt = stmt.borrow();
            let last = i + 1 == n;
            if let Stmt::Local(_) = stmt {
                self.indexed = super::indexed_later(&stmts[i + 1..]);
            }
            if last {
                return self.stmt(stmt, true);
            }
            self.stmt(stmt, false);
            let exits = exits_of_stmt(stmt);
            if let Some(go) = self.running(exits) {
                return self.guarded(go, &stmts[i + 1..]);
            }
        }
        Val::Unit
    }

    /// `!(brk || cont || ret)` for the flags `exits` may have set, `None`
    /// if it sets none that exists here.
    fn running(&mut self, exits: Exits) -> Option<NodeId> {
        let mut flags: Vec<String> = Vec::new();
        if let Some(frame) = self.frames.last() {
            if exits.brk {
                flags.extend(frame.brk.clone());
            }
            if exits.cont {
                flags.extend(frame.cont.clone());
            }
        }
        if exits.ret {
            flags.extend(self.ret.as_ref().map(|r| r.flag.clone()));
        }
        let mut any: Option<NodeId> = None;
        for f in flags {
            let Some(Val::Node(v)) = self.lookup(&f).cloned() else {
                continue;
            };
            any = Some(match any {
                Some(a) => self.add(Op::Or, vec![a, v], Ty::Bool),
                None => v,
            });
        }
        any.map(|a| self.add(Op::Not, vec![a], Ty::Bool))
    }

    /// `if go { rest } else { fillers }`.
    fn guarded<S: std::borrow::Borrow<Stmt>>(&mut self, go: NodeId, rest: &[S]) -> Val {
        self.branch_with(
            go,
            rest[0].borrow(),
            |cx| {
                cx.scopes.push(Scope::new());
                let v = cx.stmts(rest);
                cx.scopes.pop();
                v
            },
            |cx, then_val| cx.fillers(then_val),
        )
    }

    /// Values shaped like `v`, each the filler of its type.
    fn fillers(&mut self, v: &Val) -> Val {
        let mut leaves = Vec::new();
        v.leaves(&mut leaves);
        let region = self.region;
        let fills: Vec<NodeId> = leaves
            .iter()
            .map(|&n| {
                let ty = self.g.ty(n);
                let f = self.g.filler(region, ty);
                self.note_inactive(f);
                f
            })
            .collect();
        v.rebuild(&mut fills.into_iter())
    }

    /// Records a node made outside [`Lower::add`] as inactive.
    fn note_inactive(&mut self, n: NodeId) {
        if n.0 as usize == self.active.len() {
            self.active.push(false);
        }
    }

    /// The function's `return` flag and value bindings, before the body.
    pub(super) fn set_up_return(&mut self) {
        let flag = self.flow_name("ret");
        let f = self.add(Op::Bool(false), vec![], Ty::Bool);
        self.bind(&flag, Val::Node(f));
        let mut values = Vec::new();
        for (k, &f) in self.sig.out_floats.clone().iter().enumerate() {
            let name = self.flow_name(&format!("ret{k}"));
            // An array output is returned early by a branch's array, of
            // whatever length: no placeholder fits (refused at `return`).
            let v = self.konst(0.0, f);
            self.bind(&name, Val::Node(v));
            values.push(name);
        }
        self.ret = Some(Ret { flag, values });
    }

    /// The body's value, or the value `return` gave.
    pub(super) fn returned(&mut self, result: Val) -> Val {
        let Some(ret) = self.ret.take() else {
            return result;
        };
        let values: Vec<NodeId> = ret
            .values
            .iter()
            .filter_map(|n| match self.lookup(n) {
                Some(Val::Node(v)) => Some(*v),
                _ => None,
            })
            .collect();
        let shaped = |values: Vec<NodeId>| match self.sig.out_shape {
            OutShape::Leaf => Val::Node(values[0]),
            OutShape::Tuple(_) => Val::Tuple(values.into_iter().map(Val::Node).collect()),
        };
        let mut leaves = Vec::new();
        result.leaves(&mut leaves);
        if values.is_empty() || leaves.len() != values.len() {
            // Every path returned (or the shape is wrong, reported later).
            return if values.is_empty() {
                result
            } else {
                shaped(values)
            };
        }
        let Some(Val::Node(flag)) = self.lookup(&ret.flag).cloned() else {
            return result;
        };
        let mut chosen = Vec::new();
        for (&v, &r) in values.iter().zip(&leaves) {
            let [v, r] = self.unify(&[v, r])[..] else {
                return result;
            };
            let ty = self.g.ty(r);
            chosen.push(self.add(Op::Select, vec![flag, v, r], ty));
        }
        shaped(chosen)
    }

    /// A fresh binding name for a flag of control flow.
    fn flow_name(&mut self, what: &str) -> String {
        self.flow_names += 1;
        self.gen
            .id(&format!("{what}{}", self.flow_names), self.g.span)
            .to_string()
    }

    /// `break`, `break value`, `continue` or `return value`: its flag set
    /// (and its value bound); the value is that of no expression.
    pub(super) fn exit(&mut self, e: &Expr) -> Val {
        match e {
            Expr::Break(b) if b.label.is_some() => self.error(b, LABELED),
            Expr::Continue(c) if c.label.is_some() => self.error(c, LABELED),
            Expr::Break(b) => {
                let Some(frame) = self.frames.last() else {
                    return self.error(b, "`break` outside a loop");
                };
                let (brk, slot) = (frame.brk.clone(), frame.value.clone());
                if let (Some(v), Some(slot)) = (&b.expr, slot) {
                    let value = self.expr(v);
                    self.set(&slot, value, v);
                }
                if let Some(brk) = brk {
                    self.set_flag(&brk);
                }
                Val::Never
            }
            Expr::Continue(c) => {
                let Some(cont) = self.frames.last().and_then(|f| f.cont.clone()) else {
                    return self.error(c, "`continue` outside a loop");
                };
                self.set_flag(&cont);
                Val::Never
            }
            Expr::Return(r) => self.early_return(r),
            _ => Val::Unit,
        }
    }

    fn early_return(&mut self, r: &syn::ExprReturn) -> Val {
        if self.closure_depth > 0 {
            return self.error(r, "#[differentiate] inlines closures, and a `return` in one would return from the function; give the closure a value instead");
        }
        let Some(ret) = &self.ret else {
            return self.error(r, "`return` here is not read");
        };
        let (flag, names) = (ret.flag.clone(), ret.values.clone());
        if self.sig.outs.iter().any(|(_, t)| t.is_array()) {
            return self.error(r, "#[differentiate] reads an early `return` of floats only; for an array output, assign the array to a `let mut` in the branches and return it at the end");
        }
        let value = match &r.expr {
            Some(e) => self.expr(e),
            None => Val::Unit,
        };
        let mut leaves = Vec::new();
        value.leaves(&mut leaves);
        if leaves.len() != names.len() {
            return self.error(
                r,
                "this `return` does not give a value of the function's output shape",
            );
        }
        for (name, v) in names.iter().zip(leaves) {
            self.assign(name, Val::Node(v));
        }
        self.set_flag(&flag);
        Val::Never
    }

    fn set_flag(&mut self, name: &str) {
        let t = self.add(Op::Bool(true), vec![], Ty::Bool);
        self.assign(name, Val::Node(t));
    }

    /// Assigns `v` to the flow binding `name`, of the type its value
    /// gives (a `break` value's placeholder takes the first value's type).
    fn set(&mut self, name: &str, v: Val, at: &Expr) {
        let v = self.node(v, at);
        let v = match self.lookup(name).cloned() {
            Some(Val::Node(old)) => self.unify(&[v, old])[0],
            _ => v,
        };
        self.assign(name, Val::Node(v));
    }

    /// `for pat in ..`: over a range of integers, or the elements of a
    /// float array (rewritten as an index loop).
    pub(super) fn for_loop(&mut self, f: &syn::ExprForLoop) -> Val {
        // A loop over the elements of an array (a float array, or a
        // parameter of a slice, array or `Vec` type; not of other
        // collections, which stay an error): an index loop.
        let over_arrays = self
            .mentions(f.expr.to_token_stream())
            .iter()
            .any(|n| self.indexable(&n.to_string()))
            || self.names_a_table(f.expr.to_token_stream());
        match desugar::for_loop(&self.gen, f).filter(|_| over_arrays) {
            Some(Ok(Expr::ForLoop(index_loop))) => return self.for_loop(&index_loop),
            Some(other) => return self.rewritten(other),
            None => {}
        }
        if let Some(l) = &f.label {
            return self.error(l, LABELED);
        }
        let Some(range) = loop_range(&f.expr) else {
            // Over a `Vec::new()` whose `push` was an error: that one.
            let pushed = self.empty_vecs.iter().any(|(n, ..)| {
                self.mentions(f.expr.to_token_stream())
                    .iter()
                    .any(|m| m == n)
            });
            if pushed && !self.errors.is_empty() {
                return self.poison();
            }
            return self.unread_source(&f.expr);
        };
        if let Some(filled) = self.pushed_loop(f, &range) {
            return self.expr(&filled);
        }
        let index_name = match &*f.pat {
            Pat::Ident(pi) => Some(pi.ident.to_string()),
            Pat::Wild(_) => None,
            other => return self.error(other, "the loop variable must be a name or `_`"),
        };
        for bound in [Some(range.start), Some(range.end), range.step]
            .into_iter()
            .flatten()
        {
            if self.mentions_active(bound) {
                return self.error(bound, "loop bounds cannot depend on a differentiated value");
            }
        }
        let (s, e) = (self.expr(range.start), self.expr(range.end));
        let (s, mut e) = (self.node(s, range.start), self.node(e, range.end));
        if range.inclusive {
            let one = self.add(Op::Int(1), vec![], Ty::Int);
            e = self.g_int(IntOp::Add, e, one);
        }
        // `(a..b).step_by(k)`: index `j` in `0..(b - a).div_ceil(k)`, and
        // the loop variable `a + j * k`.
        let (s, e, step) = match range.step {
            Some(k) => {
                let k_val = self.expr(k);
                let k = self.node(k_val, k);
                let count = self.step_count(s, e, k);
                let zero = self.add(Op::Int(0), vec![], Ty::Int);
                (zero, count, Some((s, k)))
            }
            None => (s, e, None),
        };
        let head = Head::Range {
            start: s,
            end: e,
            rev: range.rev,
            index: LoopIndex {
                name: index_name,
                step,
            },
        };
        self.lower_loop(head, &f.body)
    }

    /// The error for a loop source that is neither a range nor an array's
    /// elements, naming its cause.
    fn unread_source(&mut self, source: &Expr) -> Val {
        let adaptor = unread_adaptor(source);
        // A binding kept as written, of a type the attribute cannot see.
        let kept = self.mentions(source.to_token_stream()).into_iter().find(|n| {
            matches!(self.lookup(&n.to_string()), Some(Val::Node(v)) if self.g.ty(*v) == Ty::Other)
        });
        if let (Some(n), None) = (&kept, adaptor) {
            return self.error(n, format!("#[differentiate] cannot see the type of `{n}` (it is kept as written), so it cannot walk its elements; give it its type where it is bound (`let {n}: [f64; 3] = ..;`, `let {n}: &[f64] = ..;`) or loop over an index range"));
        }
        if let Some(m) = steps_from_the_end(source) {
            return self.error(&m.method, "#[differentiate] does not read `.rev().step_by(k)` (stepping down from the end); loop over the steps and compute the index: `for j in 0..(b - a).div_ceil(k) { let i = b - 1 - j * k; .. }`");
        }
        if let Some(m) = adaptor {
            let name = &m.method;
            let instead = match name.to_string().as_str() {
                "chunks_exact" => "`.chunks(k)`, which it reads, or an index range",
                _ => "an index range (`for i in a..b`), reading the elements `x[i]`",
            };
            return self.error(&m.method, format!("#[differentiate] does not read `.{name}(..)` in a `for` loop's source; loop over {instead}"));
        }
        self.error(source, "#[differentiate] supports `for` loops over `a..b`, `a..=b`, `.rev()`, `.step_by(k)`, and the elements of a float array (`x.iter()`, `&x`, `.enumerate()`, `.zip(..)`); write the loop over an index range")
    }

    /// `for i in a..b { ..; v.push(e); .. }` filling `v`, a name still
    /// bound to an empty `Vec` (`Vec::new()`), by one `push` at the top of
    /// each iteration: `v` made with the loop's trip count, and the push a
    /// write at a counter,
    /// `{ v = vec![0.0; n]; let mut k = 0; for i in a..b { ..; { v[k] = e; k += 1; } .. } }`.
    /// Only for a loop with no exit (every iteration pushes once) that
    /// reads `v` by index only (its length is not yet the final one).
    fn pushed_loop(&mut self, f: &syn::ExprForLoop, range: &LoopRange) -> Option<Expr> {
        if range.step.is_some() {
            return None;
        }
        let (path, push) = top_push(&f.body)?;
        let name = super::path_name(&push.receiver)?;
        // The latest binding of the name, made at this loop depth (a loop
        // nested deeper would push once per iteration of the outer one).
        let (_, empty, depth) = self.empty_vecs.iter().rev().find(|(n, ..)| *n == name)?;
        if self.lookup(&name) != Some(empty) || *depth != self.frames.len() {
            return None;
        }
        let (exits, labeled) = exits_of_block(&f.body);
        if exits.brk || exits.cont || exits.ret || labeled.is_some() {
            return None;
        }
        if !indexed_only(&f.body, &name) || !self.pushes_float(&push.args[0], &f.body) {
            return None;
        }
        let span = push.method.span();
        let (v, k) = (&push.receiver, self.gen.id("pushed", span));
        let (a, b) = (range.start, range.end);
        let end: Expr = if range.inclusive {
            syn::parse_quote_spanned!(span=> (#b) + 1)
        } else {
            syn::parse_quote_spanned!(span=> (#b))
        };
        let e = &push.args[0];
        let write: Stmt = syn::parse_quote_spanned!(span=> { #v[#k] = #e; #k += 1; });
        let mut filling = f.clone();
        let mut block = &mut filling.body;
        for &at in &path[..path.len() - 1] {
            let Stmt::Expr(Expr::Block(inner), _) = &mut block.stmts[at] else {
                return None;
            };
            block = &mut inner.block;
        }
        block.stmts[path[path.len() - 1]] = write;
        Some(syn::parse_quote_spanned! {span=> {
            #v = vec![0.0; ((#end).max(#a) - (#a)) as usize];
            let mut #k = 0;
            #filling
        }})
    }

    /// Is the value `e` a loop body pushes a float (the `Vec` is made of
    /// floats; one of indices stays an error)? Known from its form, an
    /// element of a float array, a float binding, or a `let` of the body
    /// that binds one: `let a = 2.0 * x[i]; v.push(a);`, or `v` of
    /// `for v in x.iter()`, bound at the top of the body by the rewritten
    /// loop.
    fn pushes_float(&self, e: &Expr, body: &Block) -> bool {
        self.float_in(e, body, 4)
    }

    /// [`Self::pushes_float`], following at most `depth` more `let`s.
    fn float_in(&self, e: &Expr, body: &Block, depth: usize) -> bool {
        if super::float_of_expr(self, e).is_some() {
            return true;
        }
        match e {
            Expr::Paren(p) => self.float_in(&p.expr, body, depth),
            Expr::Unary(u) => self.float_in(&u.expr, body, depth),
            Expr::MethodCall(m) => self.float_in(&m.receiver, body, depth),
            Expr::Binary(b) => {
                self.float_in(&b.left, body, depth) || self.float_in(&b.right, body, depth)
            }
            Expr::Index(ix) => {
                let mut base = &*ix.expr;
                while let Expr::Index(inner) = base {
                    base = &inner.expr;
                }
                self.array_binding(base)
                    .is_some_and(|n| self.g.ty(n).elem().is_some())
            }
            Expr::Path(_) => {
                let Some(name) = super::path_name(e) else {
                    return false;
                };
                // The body's `let` of the name, or else the binding seen
                // from the loop.
                let mut lets = Vec::new();
                locals(body, &mut lets);
                match lets.into_iter().rev().find(|l| binds(l, &name)) {
                    Some(l) => depth > 0 && self.local_float(l, body, depth - 1),
                    None => {
                        matches!(self.lookup(&name), Some(Val::Node(n)) if self.g.ty(*n).float().is_some())
                    }
                }
            }
            _ => false,
        }
    }

    /// Does `let` `l` bind a float: typed as one, an item of a float
    /// array, or a float value?
    fn local_float(&self, l: &syn::Local, body: &Block, depth: usize) -> bool {
        if let Pat::Type(t) = &l.pat {
            if self.cx.float_of(&t.ty).is_some() {
                return true;
            }
        }
        let item = self
            .gen
            .id("item", proc_macro2::Span::call_site())
            .to_string();
        l.init.as_ref().is_some_and(|i| match &*i.expr {
            Expr::Call(c) if super::path_name(&c.func).as_deref() == Some(item.as_str()) => {
                c.args.first().is_some_and(|a| {
                    let a = match a {
                        Expr::Reference(r) => &*r.expr,
                        other => other,
                    };
                    self.array_binding(a)
                        .is_some_and(|n| matches!(self.g.ty(n), Ty::Array(_, 1)))
                })
            }
            init => self.float_in(init, body, depth),
        })
    }

    /// Do the tokens name a `const` or `static` table (`for c in
    /// COEF.iter()`, `for &c in &TABLE`): a name in capitals, bound by no
    /// `let` or parameter, not a path's segment or a field?
    fn names_a_table(&self, tokens: TokenStream) -> bool {
        let tts: Vec<TokenTree> = tokens.into_iter().collect();
        let punct = |t: Option<&TokenTree>, c: char| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == c);
        tts.iter().enumerate().any(|(k, tt)| match tt {
            TokenTree::Group(g) => self.names_a_table(g.stream()),
            TokenTree::Ident(i) => {
                let name = i.to_string();
                // (The last segment of a path counts: `Self::WEIGHTS`.)
                let path_end = k > 0 && punct(tts.get(k - 1), ':');
                let after_dot = k > 0 && punct(tts.get(k - 1), '.');
                !after_dot
                    && !punct(tts.get(k + 1), ':')
                    && name.chars().any(|c| c.is_ascii_uppercase())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                    && (path_end || self.lookup(&name).is_none())
            }
            _ => false,
        })
    }

    /// Does `name` hold an array: a float array, a sub-slice or row bound
    /// to a name, or a parameter of a slice, array or `Vec` type?
    fn indexable(&self, name: &str) -> bool {
        match self.lookup(name) {
            Some(Val::Node(v)) if self.g.ty(*v).is_array() => return true,
            // `let tail = &x[1..];`, a row `&m[i]`.
            Some(Val::Window(_)) => return true,
            _ => {}
        }
        let param = self.sig.params.iter().find(|p| p.ident == name);
        param.is_some_and(|p| {
            let ty = super::unref(&p.ty);
            matches!(ty, syn::Type::Slice(_) | syn::Type::Array(_)) || crate::signature::is_vec(ty)
        }) && self
            .lookup(name)
            .is_some_and(|v| matches!(v, Val::Node(n) if matches!(self.g.op(*n), Op::Param { .. })))
    }

    /// `while cond { .. }`.
    pub(super) fn while_loop(&mut self, w: &syn::ExprWhile) -> Val {
        if let Some(l) = &w.label {
            return self.error(l, LABELED);
        }
        if let Expr::Let(l) = &*w.cond {
            return self.error(l, "#[differentiate] does not read `while let`; write `loop` with a `match` or an `if` that breaks");
        }
        self.lower_loop(Head::While(&w.cond), &w.body)
    }

    /// `loop { .. }`, whose value is its `break value`'s.
    pub(super) fn forever(&mut self, l: &syn::ExprLoop) -> Val {
        if let Some(label) = &l.label {
            return self.error(label, LABELED);
        }
        self.lower_loop(Head::Forever, &l.body)
    }

    /// A loop region carrying every outer binding its body assigns (and
    /// the flags of its exits).
    fn lower_loop(&mut self, head: Head, body: &Block) -> Val {
        let (exits, labeled) = exits_of_block(body);
        if let Some(span) = labeled {
            self.errors.push(syn::Error::new(span, LABELED));
            return self.poison();
        }
        let early = exits.brk || exits.ret || !matches!(head, Head::Range { .. });
        // The flags: `brk` and the `break` value before the loop, carried;
        // `go` and the count of iterations if it may stop early.
        let mut flow: Vec<String> = Vec::new();
        let frame = Frame {
            brk: exits.brk.then(|| self.flow_name("brk")),
            cont: exits.cont.then(|| self.flow_name("cont")),
            value: exits.brk_value.then(|| self.flow_name("brkv")),
        };
        for name in frame.brk.iter() {
            let f = self.add(Op::Bool(false), vec![], Ty::Bool);
            self.bind(name, Val::Node(f));
            flow.push(name.clone());
        }
        if let Some(name) = &frame.value {
            let v = self.konst(0.0, self.lit_ty);
            self.loose.insert(v, syn::parse_quote!(0.0));
            self.bind(name, Val::Node(v));
            flow.push(name.clone());
        }
        let (go, count) = (self.flow_name("go"), self.flow_name("count"));
        if early {
            let (t, zero) = (
                self.add(Op::Bool(true), vec![], Ty::Bool),
                self.add(Op::Int(0), vec![], Ty::Int),
            );
            self.bind(&go, Val::Node(t));
            self.bind(&count, Val::Node(zero));
            flow.extend([go.clone(), count.clone()]);
        }
        if exits.ret {
            if let Some(ret) = &self.ret {
                flow.push(ret.flag.clone());
                flow.extend(ret.values.iter().cloned());
            }
        }
        // (A name the body binds anew, shadowing a tuple or a window of
        // the same name, is the body's own: `let mut y = ..; y += ..`.)
        let mut own = std::collections::HashSet::new();
        let mut lets = Vec::new();
        locals(body, &mut lets);
        for l in lets {
            super::pat_names(&l.pat, &mut own);
        }
        let mut names: Vec<String> = assigned_names(body)
            .into_iter()
            .filter(|n| match self.lookup(n) {
                Some(Val::Node(_)) => true,
                Some(_) => !own.contains(n),
                None => false,
            })
            .chain(flow)
            .collect();
        names.sort();
        names.dedup();
        let mut inits = Vec::new();
        for n in &names {
            match self.lookup(n) {
                // The body writes it in place: a parameter or a shared
                // array is copied as the loop starts.
                Some(Val::Node(v)) if self.g.ty(*v).is_array() => {
                    let v = *v;
                    inits.push(self.owned_for_writes(n, v));
                }
                Some(Val::Node(v)) => inits.push(*v),
                other => {
                    let at = assignment_of(body, n).unwrap_or_else(|| body.to_token_stream());
                    let (what, instead) = match other {
                        Some(Val::Window(_)) => ("a sub-slice", "carry its start index in a `let mut` integer and slice where it is read"),
                        Some(Val::Closure(_)) => ("a closure", "define the closure inside the loop"),
                        _ => ("a tuple", "carry its parts in `let mut` variables of their own"),
                    };
                    return self.error(
                        at,
                        format!("`{n}` is {what}; a loop can carry only single values: {instead}"),
                    );
                }
            }
        }
        let exit = early.then(|| {
            let place = |n: &str| names.iter().position(|m| m == n).unwrap_or(0) as u32;
            Exit {
                go: place(&go),
                count: place(&count),
                unbounded: !matches!(head, Head::Range { .. }),
            }
        });
        let steps = Steps {
            frame,
            go: early.then_some(go),
            count: early.then_some(count),
            ret: exits.ret,
        };
        let (body, outs, tys) =
            self.carried_to_a_fixed_point(&head, body, &names, &mut inits, &steps);
        self.g.set_outputs(body, outs);
        let (start, end, rev) = match &head {
            Head::Range {
                start, end, rev, ..
            } => (*start, *end, *rev),
            _ => {
                let zero = self.add(Op::Int(0), vec![], Ty::Int);
                (zero, zero, false)
            }
        };
        let mut args = vec![start, end];
        args.extend(&inits);
        let op = Op::Loop {
            body,
            carried: names.len() as u32,
            rev,
            exit,
        };
        let node = self.add(op, args, Ty::Other);
        for (k, name) in names.iter().enumerate() {
            let proj = self.add(Op::Proj(k as u32), vec![node], tys[k]);
            self.assign(name, Val::Node(proj));
        }
        match &steps.frame.value {
            Some(v) => self.lookup(v).cloned().unwrap_or(Val::Unit),
            None => Val::Unit,
        }
    }

    /// Lowers a loop body until the activity and type of its carried
    /// values are stable: a carried value is active if its initial value
    /// is, or the body makes it so; a float if it starts or ends as one
    /// (an opaque initial value may not say), and an unsuffixed literal
    /// start takes the type the body gives.
    fn carried_to_a_fixed_point(
        &mut self,
        head: &Head,
        body: &Block,
        names: &[String],
        inits: &mut [NodeId],
        steps: &Steps,
    ) -> (RegionId, Vec<NodeId>, Vec<Ty>) {
        let mut active: Vec<bool> = inits.iter().map(|v| self.is_active(*v)).collect();
        let mut tys: Vec<Ty> = inits.iter().map(|v| self.g.ty(*v)).collect();
        let errors_before = self.errors.len();
        loop {
            let carried = Carried {
                names,
                inits,
                tys: &tys,
                active: &active,
            };
            let (region, outs) = self.loop_body(head, body, &carried, steps);
            let grown: Vec<usize> = (0..outs.len())
                .filter(|&k| !active[k] && self.is_active(outs[k]))
                .collect();
            let loose_retyped = |cx: &Self, k: usize| {
                let out = cx.g.ty(outs[k]);
                cx.loose.contains_key(&inits[k]) && out.float().is_some() && out != tys[k]
            };
            let retyped: Vec<usize> = (0..outs.len())
                .filter(|&k| {
                    carried_ty(tys[k], self.g.ty(outs[k])) != tys[k] || loose_retyped(self, k)
                })
                .collect();
            if grown.is_empty() && retyped.is_empty() {
                return (region, outs, tys);
            }
            grown.into_iter().for_each(|k| active[k] = true);
            for k in retyped {
                let out = self.g.ty(outs[k]);
                match out.float() {
                    Some(f) if self.loose.contains_key(&inits[k]) => {
                        inits[k] = self.retype(inits[k], f);
                        tys[k] = out;
                    }
                    _ => tys[k] = carried_ty(tys[k], out),
                }
            }
            self.errors.truncate(errors_before);
        }
    }

    /// Lowers a loop body once, with carried values as region arguments
    /// of the given activity; returns the region and the carried values
    /// at the end of the body.
    fn loop_body(
        &mut self,
        head: &Head,
        block: &Block,
        carried: &Carried,
        steps: &Steps,
    ) -> (RegionId, Vec<NodeId>) {
        let saved_scopes = self.scopes.clone();
        let outer = self.region;
        let body = self.g.new_region(outer);
        self.region = body;
        for (k, name) in carried.names.iter().enumerate() {
            let (ty, active) = (carried.tys[k], carried.active[k]);
            let arg = self.add_with(Op::RegionArg(body, k as u32 + 1), vec![], ty, active);
            if let Some(lit) = self.loose.get(&carried.inits[k]).cloned() {
                self.loose.insert(arg, lit);
            }
            self.assign(name, Val::Node(arg));
        }
        self.scopes.push(Scope::new());
        let i = self.add(Op::RegionArg(body, 0), vec![], Ty::Int);
        if let Head::Range { index, .. } = head {
            let mut i = i;
            if let Some((start, k)) = index.step {
                let offset = self.g_int(IntOp::Mul, i, k);
                i = self.g_int(IntOp::Add, start, offset);
            }
            if let Some(name) = &index.name {
                self.bind(name, Val::Node(i));
            }
        }
        self.iteration(head, block, steps);
        self.scopes.pop();
        let outs = carried
            .names
            .iter()
            .zip(carried.inits.iter())
            .map(|(n, init)| match self.lookup(n) {
                Some(Val::Node(v)) => *v,
                _ => *init,
            })
            .collect();
        self.scopes = saved_scopes;
        self.region = outer;
        (body, outs)
    }

    /// One iteration: its `continue` flag, the statements (under the
    /// condition of a `while`), then `go` and the count.
    fn iteration(&mut self, head: &Head, block: &Block, steps: &Steps) {
        if let Some(cont) = &steps.frame.cont {
            let f = self.add(Op::Bool(false), vec![], Ty::Bool);
            self.bind(cont, Val::Node(f));
        }
        self.frames.push(Frame {
            brk: steps.frame.brk.clone(),
            cont: steps.frame.cont.clone(),
            value: steps.frame.value.clone(),
        });
        let cond = match head {
            Head::While(c) => {
                let c = self.cond(c);
                self.branch_with(c, block, |cx| cx.block(block), |_, _| Val::Unit);
                Some(c)
            }
            _ => {
                self.block(block);
                None
            }
        };
        self.frames.pop();
        let (Some(go), Some(count)) = (&steps.go, &steps.count) else {
            return;
        };
        // Go on unless the condition failed, a `break` ran or the
        // function returned.
        let exits = Exits {
            brk: steps.frame.brk.is_some(),
            ret: steps.ret,
            ..Exits::default()
        };
        self.frames.push(Frame {
            brk: steps.frame.brk.clone(),
            cont: None,
            value: None,
        });
        let running = self.running(exits);
        self.frames.pop();
        let next = match (cond, running) {
            (Some(c), Some(r)) => self.add(Op::And, vec![c, r], Ty::Bool),
            (Some(c), None) => c,
            (None, Some(r)) => r,
            (None, None) => self.add(Op::Bool(true), vec![], Ty::Bool),
        };
        self.assign(go, Val::Node(next));
        if let Some(Val::Node(n)) = self.lookup(count).cloned() {
            let one = self.add(Op::Int(1), vec![], Ty::Int);
            let next = self.g_int(IntOp::Add, n, one);
            self.assign(count, Val::Node(next));
        }
    }

    /// The trip count of `(s..e).step_by(k)`: `(e - s + k - 1) / k` when
    /// `e > s`, else 0 (in an `If`: `e - s` may not go below zero).
    fn step_count(&mut self, s: NodeId, e: NodeId, k: NodeId) -> NodeId {
        let names = ["start", "end", "step"].map(|n| self.gen.id(n, self.g.span));
        for (name, v) in names.iter().zip([s, e, k]) {
            self.bind(&name.to_string(), Val::Node(v));
        }
        let [s, e, k] = &names;
        let count: ExprIf = syn::parse_quote!(if #e > #s { (#e - #s + #k - 1) / #k } else { 0 });
        match self.if_expr(&count) {
            Val::Node(n) => n,
            _ => self.add(Op::Int(0), vec![], Ty::Int),
        }
    }

    pub(super) fn cond(&mut self, e: &Expr) -> NodeId {
        if let Expr::Let(l) = e {
            self.errors.at(
                l,
                "#[differentiate] does not support `if let`; use a boolean condition",
            );
            return self.add(Op::Bool(false), vec![], Ty::Bool);
        }
        let v = self.expr(e);
        let c = self.node(v, e);
        if self.g.ty(c) == Ty::Other {
            // An opaque condition: it is a `bool`.
            self.g.nodes[c.0 as usize].ty = Ty::Bool;
        }
        c
    }

    pub(super) fn if_expr(&mut self, i: &ExprIf) -> Val {
        let cond = self.cond(&i.cond);
        self.branch_with(
            cond,
            i,
            |cx| cx.block(&i.then_branch),
            |cx, _| match &i.else_branch {
                Some((_, e)) => cx.expr(e),
                None => Val::Unit,
            },
        )
    }

    /// What a branch's value is, for messages.
    fn kind(&self, v: &Val) -> String {
        let kind = match v {
            Val::Node(n) => match self.g.ty(*n) {
                Ty::Float(_) => "a float",
                Ty::Array(_, 1) => "an array",
                Ty::Array(..) => "a matrix",
                Ty::Int => "an integer",
                Ty::Bool => "a `bool`",
                _ => "a value",
            },
            Val::Tuple(items) => return format!("a tuple of {}", items.len()),
            Val::Window(w) if w.row.is_some() => "a row of a matrix",
            Val::Window(_) => "a sub-slice",
            Val::Closure(_) => "a closure",
            Val::Unit | Val::Never => "no value",
        };
        kind.to_string()
    }

    /// A structured conditional: an `If` region for each branch, yielding
    /// the value and every outer binding a branch changes. A branch that
    /// ends in an exit (its value is [`Val::Never`]) yields fillers.
    fn branch_with(
        &mut self,
        cond: NodeId,
        at: &dyn ToTokens,
        then: impl FnOnce(&mut Self) -> Val,
        els: impl FnOnce(&mut Self, &Val) -> Val,
    ) -> Val {
        let saved_scopes = self.scopes.clone();
        let outer = self.region;

        let then_r = self.g.new_region(outer);
        self.region = then_r;
        let mut then_val = then(self);
        let then_scopes = std::mem::replace(&mut self.scopes, saved_scopes.clone());

        let els_r = self.g.new_region(outer);
        self.region = els_r;
        let mut els_val = els(self, &then_val);
        if then_val == Val::Never {
            then_val = self.in_region(then_r, |cx| cx.fillers(&els_val));
        } else if els_val == Val::Never {
            els_val = self.fillers(&then_val);
        }
        let els_scopes = std::mem::replace(&mut self.scopes, saved_scopes);
        self.region = outer;

        if !then_val.same_shape(&els_val) {
            let (t, e) = (self.kind(&then_val), self.kind(&els_val));
            return self.error(
                at,
                format!("the branches here give {t} and {e}; #[differentiate] reads a value of one kind from every branch of an `if` or a `match`: make them alike (a sub-slice in both, `x[..]` for the whole array, or an owned copy in both, `.to_vec()`)"),
            );
        }
        // Outer bindings either branch changed, in a fixed order.
        let mut changed = Vec::new();
        for (depth, scope) in self.scopes.iter().enumerate() {
            for (name, v) in scope {
                let t = &then_scopes[depth][name];
                let e = &els_scopes[depth][name];
                if (t != v || e != v) && t.same_shape(e) {
                    changed.push((name.clone(), v.clone(), t.clone(), e.clone()));
                }
            }
        }
        let (mut then_out, mut els_out) = (Vec::new(), Vec::new());
        then_val.leaves(&mut then_out);
        els_val.leaves(&mut els_out);
        for (_, _, t, e) in &changed {
            t.leaves(&mut then_out);
            e.leaves(&mut els_out);
        }
        if then_out.is_empty() {
            return if then_val == Val::Never {
                Val::Never
            } else {
                Val::Unit
            };
        }
        for k in 0..then_out.len() {
            if let [a, b] = self.unify(&[then_out[k], els_out[k]])[..] {
                (then_out[k], els_out[k]) = (a, b);
            }
        }
        let tys: Vec<Ty> = then_out
            .iter()
            .zip(&els_out)
            .map(|(a, b)| {
                let (ta, tb) = (self.g.ty(*a), self.g.ty(*b));
                if ta.float().is_some() {
                    ta
                } else {
                    tb
                }
            })
            .collect();
        // A branch yielding a value kept as written where the other yields
        // a float yields a float (seed 14 case 673).
        for (k, ty) in tys.iter().enumerate() {
            self.as_float(then_out[k], *ty);
            self.as_float(els_out[k], *ty);
        }
        self.g.set_outputs(then_r, then_out);
        self.g.set_outputs(els_r, els_out);
        let if_node = self.add(
            Op::If {
                then: then_r,
                els: els_r,
            },
            vec![cond],
            Ty::Other,
        );
        let projs: Vec<NodeId> = tys
            .iter()
            .enumerate()
            .map(|(k, ty)| self.add(Op::Proj(k as u32), vec![if_node], *ty))
            .collect();
        let mut projs = projs.into_iter();
        let result = then_val.rebuild(&mut projs);
        for (name, _, t, _) in changed {
            let v = t.rebuild(&mut projs);
            self.assign(&name, v);
        }
        result
    }

    /// Runs `f` with new nodes in `region`.
    fn in_region<T>(&mut self, region: RegionId, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = std::mem::replace(&mut self.region, region);
        let v = f(self);
        self.region = saved;
        v
    }
}

const LABELED: &str = "#[differentiate] does not read labeled loops or `break 'label`; move the inner loop into a function, or use a flag";

/// A loop's carried values: their names, initial values, types and
/// activity.
struct Carried<'a> {
    names: &'a [String],
    inits: &'a [NodeId],
    tys: &'a [Ty],
    active: &'a [bool],
}

/// The flags a loop body sets: its frame's, and the bindings of `go` and
/// the count when it may stop early.
struct Steps {
    frame: Frame,
    go: Option<String>,
    count: Option<String>,
    ret: bool,
}

/// The integers a `for` loop walks: `a..b`, `a..=b`, `.rev()`,
/// `.step_by(k)`.
struct LoopRange<'e> {
    start: &'e Expr,
    end: &'e Expr,
    inclusive: bool,
    rev: bool,
    step: Option<&'e Expr>,
}

fn loop_range(e: &Expr) -> Option<LoopRange<'_>> {
    match e {
        Expr::Range(r) => Some(LoopRange {
            start: r.start.as_deref()?,
            end: r.end.as_deref()?,
            inclusive: matches!(r.limits, syn::RangeLimits::Closed(_)),
            rev: false,
            step: None,
        }),
        Expr::Paren(p) => loop_range(&p.expr),
        Expr::MethodCall(m) if m.method == "rev" && m.args.is_empty() => {
            let r = loop_range(&m.receiver)?;
            Some(LoopRange { rev: !r.rev, ..r })
        }
        // `(a..b).rev().step_by(k)` steps from the end: not read.
        Expr::MethodCall(m) if m.method == "step_by" && m.args.len() == 1 => {
            let r = loop_range(&m.receiver)?;
            (!r.rev && r.step.is_none()).then_some(LoopRange {
                step: Some(&m.args[0]),
                ..r
            })
        }
        _ => None,
    }
}

/// A `for` loop's variable: its name, and for `.step_by(k)` the start and
/// the step (the loop then counts steps).
struct LoopIndex {
    name: Option<String>,
    step: Option<(NodeId, NodeId)>,
}

/// The type of a carried value: a float if it starts or ends as one.
fn carried_ty(init: Ty, out: Ty) -> Ty {
    if init.elem().is_some() {
        init
    } else {
        out
    }
}

/// The variables an assignment target writes: `a`, `y` of `y[i]`, and
/// each of a tuple's (`(a, b) = ..`).
fn target_names(e: &Expr) -> Vec<String> {
    match e {
        Expr::Tuple(t) => t.elems.iter().flat_map(target_names).collect(),
        Expr::Paren(p) => target_names(&p.expr),
        other => target_name(other).into_iter().collect(),
    }
}

/// The one `v.push(e);` that runs once each time `block` does (a
/// statement of it, or of a plain block in it), with the path of statement
/// indices to it; `None` if there is not exactly one.
fn top_push(block: &Block) -> Option<(Vec<usize>, &syn::ExprMethodCall)> {
    let mut found = None;
    for (k, stmt) in block.stmts.iter().enumerate() {
        let here = match stmt {
            Stmt::Expr(Expr::MethodCall(m), Some(_)) if m.method == "push" && m.args.len() == 1 => {
                Some((vec![k], m))
            }
            Stmt::Expr(Expr::Block(b), _) if b.label.is_none() => {
                top_push(&b.block).map(|(mut p, m)| {
                    p.insert(0, k);
                    (p, m)
                })
            }
            _ => None,
        };
        if here.is_some() {
            if found.is_some() {
                return None;
            }
            found = here;
        }
    }
    found
}

/// Does `block` read `name` only by index (`v[j]`), besides one `push` to
/// it?
fn indexed_only(block: &Block, name: &str) -> bool {
    struct Reads<'a> {
        name: &'a str,
        pushes: usize,
        other: bool,
    }
    impl<'ast> Visit<'ast> for Reads<'_> {
        fn visit_expr(&mut self, e: &'ast Expr) {
            let named = |e: &Expr| super::path_name(e).as_deref() == Some(self.name);
            match e {
                Expr::Index(ix) if named(&ix.expr) => self.visit_expr(&ix.index),
                Expr::MethodCall(m) if m.method == "push" && named(&m.receiver) => {
                    self.pushes += 1;
                    m.args.iter().for_each(|a| self.visit_expr(a));
                }
                Expr::Path(_) if named(e) => self.other = true,
                // Tokens of a macro may name it in any way.
                Expr::Macro(m) if m.mac.tokens.to_string().contains(self.name) => self.other = true,
                _ => syn::visit::visit_expr(self, e),
            }
        }
    }
    let mut reads = Reads {
        name,
        pushes: 0,
        other: false,
    };
    reads.visit_block(block);
    reads.pushes == 1 && !reads.other
}

/// Names a block assigns (`name = ...`, `name += ...`, the in-place writes
/// `name.swap(i, j)`, `name.fill(v)`, `name.copy_from_slice(s)`, and
/// `std::mem::swap(&mut a, &mut b)`), nested blocks included.
pub(super) fn assigned_names(block: &Block) -> Vec<String> {
    struct Assigned(Vec<String>);
    impl<'ast> Visit<'ast> for Assigned {
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            if let Some((a, b)) = super::mem_swap(&Expr::Call(c.clone())) {
                self.0.extend([a, b]);
            }
            syn::visit::visit_expr_call(self, c);
        }
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            if IN_PLACE.iter().any(|n| m.method == n) {
                self.0.extend(target_name(&m.receiver));
            }
            syn::visit::visit_expr_method_call(self, m);
        }
        fn visit_expr_assign(&mut self, a: &'ast syn::ExprAssign) {
            self.0.extend(target_names(&a.left));
            syn::visit::visit_expr_assign(self, a);
        }
        fn visit_expr_binary(&mut self, b: &'ast syn::ExprBinary) {
            if compound(&b.op).is_some() || super::other_compound(&b.op).is_some() {
                self.0.extend(target_name(&b.left));
            }
            syn::visit::visit_expr_binary(self, b);
        }
    }
    let mut v = Assigned(Vec::new());
    v.visit_block(block);
    v.0
}

/// Does `let` `l` bind `name` whole (`let name`, `let name: T`, `let &name`)?
fn binds(l: &syn::Local, name: &str) -> bool {
    let mut pat = &l.pat;
    loop {
        match pat {
            Pat::Reference(r) => pat = &r.pat,
            Pat::Type(t) => pat = &t.pat,
            Pat::Ident(pi) => return pi.ident == name,
            _ => return false,
        }
    }
}

/// `(a..b).rev().step_by(k)`: its `step_by`.
fn steps_from_the_end(e: &Expr) -> Option<&syn::ExprMethodCall> {
    match e {
        Expr::MethodCall(m) if m.method == "step_by" => match &*m.receiver {
            Expr::MethodCall(r) if r.method == "rev" => Some(m),
            _ => None,
        },
        Expr::Paren(p) => steps_from_the_end(&p.expr),
        _ => None,
    }
}

/// The first assignment `name = ..` in `block` (its tokens, to point at).
fn assignment_of(block: &Block, name: &str) -> Option<TokenStream> {
    struct First<'n>(&'n str, Option<TokenStream>);
    impl<'ast> Visit<'ast> for First<'_> {
        fn visit_expr_assign(&mut self, a: &'ast syn::ExprAssign) {
            if self.1.is_none() && target_names(&a.left).iter().any(|t| t == self.0) {
                self.1 = Some(a.to_token_stream());
            }
            syn::visit::visit_expr_assign(self, a);
        }
    }
    let mut v = First(name, None);
    v.visit_block(block);
    v.1
}

/// The first method of a loop's source chain that no loop form reads
/// (`.skip(1)`, `.filter(..)`, `.chunks_exact(k)`), from the source out.
fn unread_adaptor(e: &Expr) -> Option<&syn::ExprMethodCall> {
    const READ: &[&str] = &[
        "iter",
        "into_iter",
        "enumerate",
        "zip",
        "rev",
        "windows",
        "chunks",
        "copied",
        "cloned",
        "step_by",
    ];
    match e {
        Expr::MethodCall(m) => unread_adaptor(&m.receiver)
            .or_else(|| (!READ.contains(&m.method.to_string().as_str())).then_some(m)),
        Expr::Paren(p) => unread_adaptor(&p.expr),
        Expr::Reference(r) => unread_adaptor(&r.expr),
        _ => None,
    }
}

/// The `let`s of `block` and of the blocks it holds as statements (a
/// rewritten loop's body is the user's, nested), in order.
fn locals<'b>(block: &'b Block, out: &mut Vec<&'b syn::Local>) {
    for s in &block.stmts {
        match s {
            Stmt::Local(l) => out.push(l),
            Stmt::Expr(Expr::Block(b), _) => locals(&b.block, out),
            _ => {}
        }
    }
}
