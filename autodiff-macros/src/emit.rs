//! Emission: an IR [`Function`] to the statements and result expression of
//! a Rust function body. A node used once in its own region is written
//! inline; every other node gets one `let`, so the code is linear in the
//! size of the graph.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::Ident;

use crate::context::Cx;
use crate::ir::ops::UnForm;
use crate::ir::{Bin, Cmp, FloatTy, Function, NodeId, Op, RegionId, Ty, ROOT};
use crate::ir::{IntOp, IntTy};

/// The index among `args[..n]` of the `k`-th float or array argument (the
/// one whose tangent is `args[n + k]` of a `CallJvp`).
fn differentiable_arg(g: &crate::ir::Graph, args: &[NodeId], n: usize, k: usize) -> usize {
    (0..n)
        .filter(|&i| g.ty(args[i]).elem().is_some())
        .nth(k)
        .unwrap_or(0)
}

/// How argument `i` of a call op is passed.
#[derive(Clone, Copy, PartialEq)]
enum Pass {
    Value,
    Ref,
    /// An output's cotangent for a callee whose output type the caller
    /// did not write: `Cotangent::cotangent(&bar)` takes the form the
    /// callee's signature names.
    Cotangent,
}

/// Arguments and their tangents are passed as the user wrote the argument
/// (`&x` or `x`); an output's cotangent, and its tangent, as a slice if the
/// output is a `Vec`, by value if it is a fixed-size array.
fn call_arg_pass(g: &crate::ir::Graph, op: &Op, args: &[NodeId], i: usize) -> Pass {
    let (Op::Call(k) | Op::CallJvp(k) | Op::CallVjp(k) | Op::CallVjpJvp(k)) = *op else {
        return Pass::Value;
    };
    let callee = &g.calls[k as usize];
    let n = callee.by_ref.len();
    let by_ref = if i < n {
        callee.by_ref[i]
    } else {
        match op {
            Op::CallJvp(_) => callee.by_ref[differentiable_arg(g, args, n, i - n)],
            Op::CallVjpJvp(_) if i > n && i < args.len() - 1 => {
                callee.by_ref[differentiable_arg(g, args, n, i - n - 1)]
            }
            _ => match callee.vec_out {
                Some(vec) => vec,
                None => return Pass::Cotangent,
            },
        }
    };
    if by_ref {
        Pass::Ref
    } else {
        Pass::Value
    }
}

/// The deepest an emitted expression nests: an inline value deeper than
/// this gets a `let` of its own, so that rustc never overflows its stack on
/// a long chain of values each used once.
const MAX_NESTING: u32 = 16;

/// Makes a node that would nest deeper than [`MAX_NESTING`] inline values
/// a `let` instead. Nodes come in build order: operands first.
fn bound_nesting(g: &crate::ir::Graph, inline: &mut [bool]) {
    let mut depth = vec![0u32; g.nodes.len()];
    for (i, node) in g.nodes.iter().enumerate() {
        if !inline[i] {
            continue;
        }
        let inner = node.args.iter().map(|a| depth[a.0 as usize]).max();
        depth[i] = 1 + inner.unwrap_or(0);
        if depth[i] > MAX_NESTING {
            inline[i] = false;
            depth[i] = 0;
        }
    }
}

/// The longest loop whose tapes are fixed arrays (on the stack).
const MAX_FIXED_TAPE: i64 = 4096;

/// How flat outputs are grouped into the returned value.
#[derive(Clone, Debug)]
pub enum Tree {
    Leaf(usize),
    Tuple(Vec<Tree>),
    Array(Vec<Tree>),
}

/// Emits the body of a function computing `f` and returning `result`
/// (indices into `f.outputs`).
/// `companion` names the function the body is for, in run-time checks.
pub fn body<'a>(
    cx: &'a Cx,
    f: &'a Function,
    result: &Tree,
    companion: Option<&'a str>,
) -> TokenStream {
    let mut roots = Vec::new();
    collect(result, &f.outputs, &mut roots);
    let mut e = Emitter::new(cx, f, &roots);
    e.companion = companion;
    let stmts = e.region(ROOT);
    let value = e.tree(result);
    quote! { #(#stmts)* #value }
}

fn collect(t: &Tree, outputs: &[NodeId], into: &mut Vec<NodeId>) {
    match t {
        Tree::Leaf(i) => into.push(outputs[*i]),
        Tree::Tuple(items) | Tree::Array(items) => {
            items.iter().for_each(|t| collect(t, outputs, into))
        }
    }
}

/// Binding strength of an emitted expression, for parentheses.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Prec {
    If,
    Or,
    And,
    Cmp,
    Add,
    Mul,
    Cast,
    Unary,
    Atom,
}

struct Emitter<'a> {
    cx: &'a Cx,
    companion: Option<&'a str>,
    private: TokenStream,
    f: &'a Function,
    live: Vec<bool>,
    inline: Vec<bool>,
    names: Vec<Option<TokenStream>>,
    /// Nodes bound under the name the body gave them (see
    /// [`Opaque::name`](crate::ir::Opaque::name)).
    user_named: Vec<bool>,
    next: usize,
    /// Per loop being emitted, outermost first: the declarations of the
    /// tapes of loops nested in its body, which go before it (a tape
    /// reused by every iteration instead of allocated in each).
    hoisted: Vec<Vec<TokenStream>>,
    /// `(inner loop, output)` -> the tape of the loop around it whose
    /// rows hold that output's tape (see [`Emitter::holds_rows`]).
    rows: HashMap<(NodeId, usize), TokenStream>,
}

/// How a loop stores the values it stacks (its outputs after the carried
/// ones).
enum Tape {
    /// A fixed array on the stack (scalars, a literal trip count), written
    /// by position.
    Fixed(proc_macro2::Literal),
    /// One slot per iteration, written by position: a `Vec` of its own ...
    Slots,
    /// ... this iteration's slots of a buffer the enclosing loop reuses ...
    Reused,
    /// ... or a new row of the enclosing loop's `Rows` tape (given).
    Row(TokenStream),
    /// The tapes of an inner loop's output, one row per iteration, in one
    /// buffer the inner loop writes (it is `Row` or `PushRow`): a grid
    /// when the inner loop (given) has slots over a range that is the same
    /// at every iteration.
    Rows(Option<NodeId>),
    /// Pushed to the enclosing loop's `Rows` tape, after this loop starts
    /// a row there (values that have no slot to fill: of an unbounded
    /// loop, or of a type the macro cannot see).
    PushRow(TokenStream),
    /// Copies of an array (of floats, rank 1) at the end of each
    /// iteration, one row each, in one buffer: the copy (the given value's
    /// operand) is not made on its own.
    Copies(NodeId),
    /// A `Vec` pushed to, with room for the trip count.
    Push,
    /// A `Vec` pushed to (an unbounded loop's).
    Grow,
}

impl<'a> Emitter<'a> {
    fn new(cx: &'a Cx, f: &'a Function, roots: &[NodeId]) -> Self {
        let g = &f.graph;
        let live = g.live(roots);
        let uses = g.use_counts(roots);
        // A node is written inline when its one use is in its own region.
        let mut use_region: Vec<Option<RegionId>> = vec![None; g.nodes.len()];
        for node in &g.nodes {
            for a in &node.args {
                use_region[a.0 as usize] = Some(node.region);
            }
            if let Op::If { then, els } = node.op {
                for r in [then, els] {
                    for o in &g.region(r).outputs {
                        use_region[o.0 as usize] = Some(r);
                    }
                }
            }
        }
        let used_once_here =
            |i: usize| uses[i] == 1 && use_region[i].is_none_or(|r| r == g.nodes[i].region);
        let mut inline: Vec<bool> = (0..g.nodes.len())
            .map(|i| {
                let node = &g.nodes[i];
                match node.op {
                    Op::Param { .. } | Op::Const(_) | Op::Int(_) | Op::Bool(_) | Op::Default => {
                        true
                    }
                    Op::If { .. }
                    | Op::Loop { .. }
                    | Op::Proj(_)
                    | Op::RegionArg(..)
                    | Op::Checked => false,
                    ref op if op.updates_in_place() => false,
                    // A value read from an array that may be written later
                    // (an element, a call's or a helper's result; not a
                    // length, which writes keep) is computed where it
                    // stands.
                    Op::Len => used_once_here(i),
                    // Zeros shaped like a value the function returns are
                    // made before the value is moved into the result.
                    Op::ZerosLike => false,
                    _ if node
                        .args
                        .iter()
                        .any(|&a| g.ty(a).is_array() && !matches!(g.op(a), Op::Param { .. })) =>
                    {
                        false
                    }
                    // Arrays are variables, updated in place.
                    _ if node.ty.is_array() => false,
                    // A value of a declared type keeps its `let`.
                    Op::Opaque(k) if g.opaques[k as usize].ty.is_some() => false,
                    _ => used_once_here(i),
                }
            })
            .collect();
        bound_nesting(g, &mut inline);
        Emitter {
            cx,
            companion: None,
            private: cx.private(),
            f,
            live,
            inline,
            names: vec![None; g.nodes.len()],
            user_named: vec![false; g.nodes.len()],
            next: 0,
            hoisted: Vec::new(),
            rows: HashMap::new(),
        }
    }

    fn fresh(&mut self) -> Ident {
        self.next += 1;
        format_ident!("t{}", self.next - 1, span = Span::mixed_site())
    }

    fn region(&mut self, r: RegionId) -> Vec<TokenStream> {
        let g = &self.f.graph;
        let mut stmts = Vec::new();
        for &id in &g.region(r).nodes {
            let i = id.0 as usize;
            if !self.live[i] || self.inline[i] {
                continue;
            }
            match *g.op(id) {
                Op::Proj(_) | Op::RegionArg(..) => {}
                Op::If { then, els } => stmts.push(self.if_stmt(id, then, els)),
                Op::Loop { .. } => stmts.push(self.loop_stmt(id)),
                Op::AddAt | Op::Store => stmts.push(self.add_at(id)),
                Op::Checked => stmts.push(self.checked(id)),
                Op::Push | Op::PadTo => stmts.push(self.fill(id)),
                Op::AddArray => {
                    let a = self.f.graph.args(id).to_vec();
                    let acc = self.operand(a[0], Prec::Atom);
                    let b = self.operand(a[1], Prec::If);
                    self.names[i] = Some(acc.clone());
                    let private = &self.private;
                    stmts.push(quote! { #private::AddAssign::add_assign(&mut #acc, &#b); });
                }
                // `rules::acc_*(&mut acc, ..)`: the accumulator keeps its
                // name.
                Op::Kernel(k) if k.accumulates() => {
                    let a = self.f.graph.args(id).to_vec();
                    let f = kernel_fn(g, k, &a);
                    let acc = self.operand(a[0], Prec::Atom);
                    let rest = self.kernel_args(&a[1..]);
                    self.names[i] = Some(acc.clone());
                    let private = &self.private;
                    stmts.push(quote! { #private::rules::#f(&mut #acc, #(#rest),*); });
                }
                _ => {
                    let (value, _) = self.build(id);
                    let name = match g.op(id) {
                        Op::Opaque(k) if g.opaques[*k as usize].name.is_some() => {
                            self.user_named[i] = true;
                            g.opaques[*k as usize]
                                .name
                                .clone()
                                .unwrap_or_else(|| self.fresh())
                        }
                        _ => self.fresh(),
                    };
                    // Arrays are adjoint accumulators, updated in place.
                    let mutable = (g.ty(id).is_array() && !matches!(g.op(id), Op::Opaque(_)))
                        .then(|| quote!(mut));
                    let ty = match g.op(id) {
                        Op::Opaque(k) => g.opaques[*k as usize].ty.as_ref().map(|t| quote!(: #t)),
                        _ => None,
                    };
                    stmts.push(quote! { let #mutable #name #ty = #value; });
                    self.names[i] = Some(name.into_token_stream());
                }
            }
        }
        stmts
    }

    /// `acc[i] += v;` or `y[i] = v;`: the new version of the array takes
    /// the old one's name (each version is used once). A generic `T:
    /// Float` has no `+=`: `acc[i] = acc[i] + v;`.
    fn add_at(&mut self, id: NodeId) -> TokenStream {
        let g = &self.f.graph;
        let store = *g.op(id) == Op::Store;
        let generic = g.ty(id).elem() == Some(FloatTy::Generic);
        let args = g.args(id).to_vec();
        let (arr, rest) = args.split_first().unwrap_or((&id, &[]));
        let Some((v, idx)) = rest.split_last() else {
            return TokenStream::new();
        };
        let name = self.operand(*arr, Prec::Atom);
        let idx: Vec<TokenStream> = idx.iter().map(|i| self.operand(*i, Prec::If)).collect();
        self.names[id.0 as usize] = Some(name.clone());
        let place = quote!(#name #([#idx])*);
        if store {
            let v = self.operand(*v, Prec::If);
            quote! { #place = #v; }
        } else if generic {
            let v = self.operand(*v, Prec::Mul);
            quote! { #place = #place + #v; }
        } else {
            let v = self.operand(*v, Prec::If);
            quote! { #place += #v; }
        }
    }

    /// `check_len("f_vjp", "out_bar", value.len(), out_bar.len());`: the
    /// checked array keeps its name. (Nothing outside a companion.)
    fn checked(&mut self, id: NodeId) -> TokenStream {
        let args = self.f.graph.args(id).to_vec();
        let arr = self.operand(args[0], Prec::Atom);
        self.names[id.0 as usize] = Some(arr.clone());
        let (Some(companion), Op::Param { index, .. }) = (self.companion, self.f.graph.op(args[0]))
        else {
            return TokenStream::new();
        };
        let name = self.f.params[*index as usize].name.to_string();
        let like = self.operand(args[1], Prec::Atom);
        let private = &self.private;
        quote! { #private::check_len(#companion, #name, #like.len(), #arr.len()); }
    }

    /// `Fill::push(&mut buf, v);` or `Fill::pad_to(&mut buf, n);`: the new
    /// version of the buffer keeps its name.
    fn fill(&mut self, id: NodeId) -> TokenStream {
        let args = self.f.graph.args(id).to_vec();
        let buf = self.operand(args[0], Prec::Atom);
        let v = self.operand(args[1], Prec::If);
        self.names[id.0 as usize] = Some(buf.clone());
        let method = if *self.f.graph.op(id) == Op::Push {
            quote!(push)
        } else {
            quote!(pad_to)
        };
        let private = &self.private;
        quote! { #private::Fill::#method(&mut #buf, #v); }
    }

    /// The `Push` of a loop whose only effect is one `Push` per index onto
    /// the buffer it carries (forward, nothing else reading the buffer).
    fn pushes_once(&self, body: RegionId, carried: usize, rev: bool) -> Option<NodeId> {
        let g = &self.f.graph;
        let outs = &g.region(body).outputs;
        let (&[push], false, 1) = (&outs[..], rev, carried) else {
            return None;
        };
        let arg = *g.args(push).first()?;
        let uses = g.nodes.iter().flat_map(|n| &n.args).filter(|&&a| a == arg);
        let yielded = g.regions.iter().flat_map(|r| &r.outputs);
        let once = uses.count() == 1 && !yielded.clone().any(|&o| o == arg);
        let pushes = *g.op(push) == Op::Push && g.node(push).region == body;
        (pushes && *g.op(arg) == Op::RegionArg(body, 1) && once).then_some(push)
    }

    /// A loop pushing one element per index: `Extend::extend(&mut buf,
    /// (start..end).map(|i| { ...; v }));`, which reserves once and writes
    /// without further checks, so the optimizer can vectorize the body.
    fn extend_stmt(&mut self, id: NodeId, body: RegionId, push: NodeId) -> TokenStream {
        let g = &self.f.graph;
        let args = g.args(id).to_vec();
        let start = self.operand(args[0], Prec::Add);
        let end = self.operand(args[1], Prec::Add);
        let buf = self.operand(args[2], Prec::Atom);
        let index = self.fresh();
        for (j, node) in g.nodes.iter().enumerate() {
            match node.op {
                Op::RegionArg(r, 0) if r == body => {
                    self.names[j] = Some(index.to_token_stream());
                }
                Op::RegionArg(r, _) if r == body => self.names[j] = Some(buf.clone()),
                _ => {}
            }
        }
        // The push is the closure's value, not a statement.
        self.inline[push.0 as usize] = true;
        self.names[push.0 as usize] = Some(buf.clone());
        let stmts = self.region(body);
        let v = self.operand(g.args(push)[1], Prec::If);
        for (_, proj) in self.projections(id) {
            self.names[proj.0 as usize] = Some(buf.clone());
        }
        let value = if stmts.is_empty() {
            v
        } else {
            quote!({ #(#stmts)* #v })
        };
        quote! {
            ::core::iter::Extend::extend(&mut #buf, (#start..#end).map(|#index| #value));
        }
    }

    /// The declaration of tape `t` (output `k`, the stacked value `out`) of
    /// a loop over `start..end`, stored as `kind` says: in the loop's own
    /// frame, or in the enclosing loop's (hoisted), then emptied here.
    fn tape_decl(
        &mut self,
        t: &TokenStream,
        kind: &Tape,
        (k, out): (usize, NodeId),
        (start, end): (&TokenStream, &TokenStream),
        projections: &[(usize, NodeId)],
    ) -> TokenStream {
        // Filled with zeros of the element type (a generic `T: Float`
        // has no `Default`), or the type's default.
        let empty = match self.f.graph.ty(out) {
            Ty::Float(f) => float_const(self.cx, 0.0, f),
            _ => quote!(::core::default::Default::default()),
        };
        let private = self.private.clone();
        match kind {
            Tape::Fixed(n) => quote! { let mut #t = [#empty; #n]; },
            Tape::Row(rows) => {
                quote! { let #t = #private::tape_row(&mut #rows, #start, #end, #empty); }
            }
            Tape::PushRow(rows) => quote! { #rows.start_row(); },
            Tape::Reused => {
                // The buffer lives in the enclosing loop's frame; the
                // tape is this iteration's slots of it.
                let buf = self.fresh();
                self.hoist(quote! { let mut #buf = ::std::vec::Vec::new(); });
                quote! { let #t = #private::retape_slots(&mut #buf, #start, #end, #empty); }
            }
            Tape::Slots => quote! { let mut #t = #private::tape_slots(#start, #end, #empty); },
            Tape::Copies(_) | Tape::Rows(_) => {
                let grid = match kind {
                    Tape::Rows(grid) => *grid,
                    _ => None,
                };
                let range = grid.map(|inner| {
                    let a = self.f.graph.args(inner);
                    (self.operand(a[0], Prec::If), self.operand(a[1], Prec::If))
                });
                let hoist = self.reused(k, projections);
                let (new, decl) = match range {
                    Some((from, to)) if hoist => (
                        quote!(#private::TapeGrid::default()),
                        quote! { #private::retape_grid(&mut #t, #start, #end, #from, #to); },
                    ),
                    Some((from, to)) => (
                        quote!(#private::tape_grid(#start, #end, #from, #to)),
                        quote!(),
                    ),
                    None if hoist => (
                        quote!(#private::TapeRows::default()),
                        quote! { #private::retape_rows(&mut #t, #start, #end); },
                    ),
                    None => (quote!(#private::tape_rows(#start, #end)), quote!()),
                };
                if hoist {
                    self.hoist(quote! { let mut #t = #new; });
                    decl
                } else {
                    quote! { let mut #t = #new; #decl }
                }
            }
            Tape::Grow => quote! { let mut #t = ::std::vec::Vec::new(); },
            Tape::Push if self.reused(k, projections) => {
                self.hoist(quote! { let mut #t = ::std::vec::Vec::new(); });
                quote! { #private::retape(&mut #t, #start, #end); }
            }
            Tape::Push => quote! { let mut #t = #private::tape(#start, #end); },
        }
    }

    /// How loop `id` stores its output `k` (a stacked value): see [`Tape`].
    fn tape_kind(&self, id: NodeId, k: usize, projections: &[(usize, NodeId)]) -> Tape {
        let g = &self.f.graph;
        let Op::Loop { body, exit, .. } = *g.op(id) else {
            return Tape::Push;
        };
        let outputs = &g.region(body).outputs;
        let carried = g.args(id).len() - 2;
        let scalar = self.scalar(outputs[k]);
        if let Some(rows) = self.rows.get(&(id, k)) {
            return match self.slot_row(id, k) {
                true => Tape::Row(rows.clone()),
                false => Tape::PushRow(rows.clone()),
            };
        }
        let unbounded = exit.is_some_and(|e| e.unbounded);
        let (start, end) = (g.op(g.args(id)[0]), g.op(g.args(id)[1]));
        if let (Op::Int(a), Op::Int(b)) = (start, end) {
            let scalars = outputs[carried..].iter().all(|&o| self.scalar(o));
            if scalars && !unbounded && (0..=MAX_FIXED_TAPE).contains(&(b - a)) {
                return Tape::Fixed(proc_macro2::Literal::usize_unsuffixed((b - a) as usize));
            }
        }
        if let Some(copied) = self.copied(id, k) {
            return Tape::Copies(copied);
        }
        if let Some((inner, j)) = self.holds_rows(id, k) {
            let range = &g.args(inner)[..2];
            let fixed = range
                .iter()
                .all(|&a| matches!(g.op(a), Op::Int(_)) || !g.within(g.node(a).region, body));
            return Tape::Rows((fixed && self.slot_row(inner, j)).then_some(inner));
        }
        match (unbounded, scalar, self.reused(k, projections)) {
            (true, ..) => Tape::Grow,
            (_, false, _) => Tape::Push,
            (_, true, true) => Tape::Reused,
            (_, true, false) => Tape::Slots,
        }
    }

    /// Is stacked value `o` a float, an integer or a boolean? (A tape of
    /// integers or booleans has their type: an inner loop's tape stacked
    /// again is not a scalar.)
    fn scalar(&self, o: NodeId) -> bool {
        matches!(self.f.graph.ty(o), Ty::Float(_) | Ty::Int | Ty::Bool) && !self.f.graph.is_tape(o)
    }

    /// Does loop `id` count in `usize` for certain (its bounds literals,
    /// lengths, or `usize` arithmetic on them)? A parameter or a value kept
    /// as written may be of any integer type (`0..n` with `n: u32` counts
    /// in `u32`), so its tapes are written and read at positions converted
    /// with `as usize`.
    fn counts_in_usize(&self, id: NodeId) -> bool {
        let g = &self.f.graph;
        g.args(id)[..2].iter().all(|&b| self.known_usize(b))
    }

    /// Is integer node `n` a `usize` for certain (see
    /// [`Emitter::counts_in_usize`])?
    fn known_usize(&self, n: NodeId) -> bool {
        let g = &self.f.graph;
        match *g.op(n) {
            Op::Int(_) | Op::Len => true,
            Op::IntCast(t) => t == IntTy::Usize,
            Op::Param { index, field: None } => {
                self.f.params.get(index as usize).is_some_and(|p| p.usize)
            }
            Op::IntBin(_) => g.args(n).iter().all(|&a| self.known_usize(a)),
            // The index of a loop (the reversal's loops included).
            Op::RegionArg(r, 0) => g
                .nodes
                .iter()
                .position(|l| matches!(l.op, Op::Loop { body, .. } if body == r))
                .is_some_and(|l| self.counts_in_usize(NodeId(l as u32))),
            _ => false,
        }
    }

    /// Is `a` a loop's tape that a pullback captured?
    fn captured_tape(&self, a: NodeId) -> bool {
        match *self.f.graph.op(a) {
            Op::Param { index, field: None } => {
                self.f.params.get(index as usize).is_some_and(|p| p.tape)
            }
            _ => false,
        }
    }

    /// Is output `k` of loop `id` the tape of a value that is not an array,
    /// of a loop directly in `id`'s body (given, with the output), used by
    /// nothing else? Its tapes, one per iteration of `id`, are then rows
    /// of one buffer that the inner loop writes in place or pushes to (a
    /// `Vec` per iteration would be an allocation each).
    fn holds_rows(&self, id: NodeId, k: usize) -> Option<(NodeId, usize)> {
        let g = &self.f.graph;
        let Op::Loop { body, .. } = *g.op(id) else {
            return None;
        };
        let o = g.region(body).outputs[k];
        let (Op::Proj(j), &[inner]) = (g.op(o), g.args(o)) else {
            return None;
        };
        let Op::Loop {
            body: inner_body,
            carried,
            ..
        } = *g.op(inner)
        else {
            return None;
        };
        let value = g.region(inner_body).outputs[*j as usize];
        let rows = g.node(inner).region == body
            && *j >= carried
            && !g.ty(value).is_array()
            && !self.f.graph.is_tape(value)
            && self.only_stacked(o);
        rows.then_some((inner, *j as usize))
    }

    /// Does bounded loop `id` write its stacked output `k`, a float, an
    /// integer or a boolean, by position (else it pushes it)?
    fn slot_row(&self, id: NodeId, k: usize) -> bool {
        let g = &self.f.graph;
        let Op::Loop { body, exit, .. } = *g.op(id) else {
            return false;
        };
        !exit.is_some_and(|e| e.unbounded) && self.scalar(g.region(body).outputs[k])
    }

    /// The array whose copy is output `k` of loop `id`, if nothing else
    /// reads the copy, it is a rank-1 `Vec` of floats, and nothing updates
    /// the array after the copy is made (its last contents in an
    /// iteration): the copy is then written straight into a row of the
    /// tape as the iteration ends. (A fixed-size array's copy is pushed
    /// whole, no allocation either: its rows keep their length in their
    /// type.)
    fn copied(&self, id: NodeId, k: usize) -> Option<NodeId> {
        let g = &self.f.graph;
        let Op::Loop { body, .. } = *g.op(id) else {
            return None;
        };
        let o = g.region(body).outputs[k];
        let (Op::Owned, &[value], Ty::Array(_, 1)) = (g.op(o), g.args(o), g.ty(o)) else {
            return None;
        };
        let only_read = g.nodes.iter().enumerate().all(|(n, node)| {
            !self.live[n]
                || !node.args.contains(&value)
                || matches!(node.op, Op::Len | Op::Owned)
                || (node.op == Op::Index && !node.args[1..].contains(&value))
        });
        let fixed = g
            .array_root(value)
            .is_some_and(|root| matches!(g.op(root), Op::FillFixed(_)));
        // Yielded by a branch in the body (`else { x }`), it is moved
        // before the iteration ends.
        let moved = g
            .regions
            .iter()
            .enumerate()
            .any(|(r, region)| RegionId(r as u32) != body && region.outputs.contains(&value));
        (only_read && !fixed && !moved && self.only_stacked(o)).then_some(value)
    }

    /// Is `o` read by nothing but one region's outputs (a stacked output
    /// of a loop)?
    fn only_stacked(&self, o: NodeId) -> bool {
        let g = &self.f.graph;
        let read = g
            .nodes
            .iter()
            .enumerate()
            .any(|(n, node)| self.live[n] && node.args.contains(&o));
        let yielded = g
            .regions
            .iter()
            .flat_map(|r| &r.outputs)
            .filter(|&&x| x == o);
        !read && yielded.count() == 1
    }

    /// Can tape `k` of a loop be one buffer declared before the enclosing
    /// loop (see [`Emitter::only_read`])?
    fn reused(&self, k: usize, projections: &[(usize, NodeId)]) -> bool {
        !self.hoisted.is_empty()
            && projections
                .iter()
                .filter(|(j, _)| *j == k)
                .all(|(_, proj)| self.only_read(*proj))
    }

    /// Is `id` (a tape) only read, element by element, within the region
    /// its loop is in: never moved, carried or yielded, so one buffer can
    /// serve every iteration of an enclosing loop?
    fn only_read(&self, id: NodeId) -> bool {
        let g = &self.f.graph;
        let read = g.nodes.iter().enumerate().all(|(j, node)| {
            !self.live[j]
                || !node.args.contains(&id)
                || (node.op == Op::Index && node.args[0] == id && !node.args[1..].contains(&id))
        });
        read && g.regions.iter().all(|r| !r.outputs.contains(&id))
    }

    /// The projections of a region node: (output index, node).
    fn projections(&self, id: NodeId) -> Vec<(usize, NodeId)> {
        let g = &self.f.graph;
        g.nodes
            .iter()
            .enumerate()
            .filter_map(|(j, node)| match node.op {
                Op::Proj(k) if self.live[j] && node.args[0] == id => {
                    Some((k as usize, NodeId(j as u32)))
                }
                _ => None,
            })
            .collect()
    }

    /// `let (a, b) = if c { ...; (x, y) } else { ...; (z, w) };` An array
    /// both branches update in place is not yielded: it keeps its name.
    fn if_stmt(&mut self, id: NodeId, then: RegionId, els: RegionId) -> TokenStream {
        let cond = self.operand(self.f.graph.args(id)[0], Prec::If);
        let mut bodies = Vec::new();
        let mut outs: Vec<Vec<TokenStream>> = Vec::new();
        for r in [then, els] {
            bodies.push(self.region(r));
            let o = self.f.graph.region(r).outputs.clone();
            outs.push(o.iter().map(|o| self.operand(*o, Prec::If)).collect());
        }
        let n = outs[0].len();
        let in_place: Vec<bool> = (0..n)
            .map(|k| {
                let o = self.f.graph.region(then).outputs[k];
                self.f.graph.ty(o).is_array() && outs[0][k].to_string() == outs[1][k].to_string()
            })
            .collect();
        let mut pats = vec![quote!(_); n];
        for (k, proj) in self.projections(id) {
            if in_place[k] {
                self.names[proj.0 as usize] = Some(outs[0][k].clone());
            } else {
                let name = self.fresh();
                // An array may be updated in place after the branch.
                let mutable = self.f.graph.ty(proj).is_array().then(|| quote!(mut));
                pats[k] = quote!(#mutable #name);
                self.names[proj.0 as usize] = Some(name.into_token_stream());
            }
        }
        let keep: Vec<usize> = (0..n).filter(|&k| !in_place[k]).collect();
        let pats: Vec<&TokenStream> = keep.iter().map(|&k| &pats[k]).collect();
        let values: Vec<TokenStream> = outs
            .iter()
            .map(|o| {
                let v: Vec<&TokenStream> = keep.iter().map(|&k| &o[k]).collect();
                if v.len() == 1 {
                    quote!(#(#v)*)
                } else {
                    quote!((#(#v),*))
                }
            })
            .collect();
        let (t, e) = (&bodies[0], &bodies[1]);
        if keep.is_empty() {
            // Only in-place updates: a statement, with no value.
            let els = (!e.is_empty()).then(|| quote!(else { #(#e)* }));
            return quote! { if #cond { #(#t)* } #els };
        }
        let (tv, ev) = (&values[0], &values[1]);
        let branches = quote!(if #cond { #(#t)* #tv } else { #(#e)* #ev });
        match pats.len() {
            0 => quote! { #branches },
            1 => quote! { let #(#pats)* = #branches; },
            _ => quote! { let (#(#pats),*) = #branches; },
        }
    }

    /// Declares `decl` before the innermost enclosing loop.
    fn hoist(&mut self, decl: TokenStream) {
        if let Some(frame) = self.hoisted.last_mut() {
            frame.push(decl);
        }
    }

    /// A loop: carried values are `let mut` variables (an array accumulator
    /// keeps its variable), stacked values are stored on a tape.
    /// A loop with an early exit ends each iteration with `if !go {
    /// break; }`; an unbounded one is a `loop`, its index the count of
    /// iterations run.
    fn loop_stmt(&mut self, id: NodeId) -> TokenStream {
        let Op::Loop {
            body,
            carried,
            rev,
            exit,
        } = *self.f.graph.op(id)
        else {
            return TokenStream::new();
        };
        let carried = carried as usize;
        if exit.is_none() {
            if let Some(push) = self.pushes_once(body, carried, rev) {
                return self.extend_stmt(id, body, push);
            }
        }
        let g = &self.f.graph;
        let args = g.args(id).to_vec();
        let outputs = g.region(body).outputs.clone();
        let start = self.operand(args[0], Prec::Add);
        let end = self.operand(args[1], Prec::Add);
        let mut pre = Vec::new();
        let mut vars = Vec::new();
        for &init in &args[2..] {
            let value = self.operand(init, Prec::If);
            let reuse = g.ty(init).is_array() && !self.inline[init.0 as usize];
            let var = if reuse {
                value
            } else {
                let v = self.fresh().into_token_stream();
                pre.push(quote! { let mut #v = #value; });
                v
            };
            vars.push(var);
        }
        let projections = self.projections(id);
        let mut tapes = Vec::new();
        let mut kinds = Vec::new();
        for (k, &out) in outputs.iter().enumerate().skip(carried) {
            let t = self.fresh().into_token_stream();
            let kind = self.tape_kind(id, k, &projections);
            let decl = self.tape_decl(&t, &kind, (k, out), (&start, &end), &projections);
            if let Tape::Copies(_) = kind {
                // Written into the tape, never made on its own.
                self.inline[outputs[k].0 as usize] = true;
            }
            if let (Tape::Rows(_), &Op::Proj(j)) = (&kind, g.op(outputs[k])) {
                self.rows
                    .insert((g.args(outputs[k])[0], j as usize), t.clone());
            }
            pre.push(decl);
            tapes.push(t);
            kinds.push(kind);
        }
        // An unbounded loop (which starts at 0) counts its iterations.
        let index = match exit {
            Some(e) if e.unbounded => vars[e.count as usize].clone(),
            _ => self.fresh().into_token_stream(),
        };
        for (j, node) in g.nodes.iter().enumerate() {
            if let Op::RegionArg(r, k) = node.op {
                if r == body {
                    self.names[j] = Some(if k == 0 {
                        index.clone()
                    } else {
                        vars[k as usize - 1].clone()
                    });
                }
            }
        }
        self.hoisted.push(Vec::new());
        let stmts = self.region(body);
        let outs: Vec<TokenStream> = outputs.iter().map(|o| self.operand(*o, Prec::If)).collect();
        let mut hoisted = self.hoisted.pop().unwrap_or_default();
        hoisted.append(&mut pre);
        let pre = hoisted;
        let position = if rev {
            quote!(#end - 1 - #index)
        } else if self.f.graph.op(args[0]) == &Op::Int(0) {
            index.clone()
        } else {
            // (The start as the right operand of `-`: `i - (j + 1)`.)
            let start = self.operand(args[0], Prec::Mul);
            quote!(#index - #start)
        };
        // A loop counting in another integer type writes its tapes at a
        // `usize` position.
        let position = match self.counts_in_usize(id) {
            true => position,
            false if rev || self.f.graph.op(args[0]) != &Op::Int(0) => {
                quote!((#position) as ::core::primitive::usize)
            }
            false => quote!(#position as ::core::primitive::usize),
        };
        let mut pushes = Vec::new();
        for ((t, v), kind) in tapes.iter().zip(&outs[carried..]).zip(&kinds) {
            pushes.push(match kind {
                Tape::Rows(_) => quote!(),
                Tape::Push | Tape::Grow => quote! { #t.push(#v); },
                Tape::PushRow(rows) => quote! { #rows.push(#v); },
                Tape::Copies(value) => {
                    let value = self.operand(*value, Prec::If);
                    let private = &self.private;
                    quote! { #private::tape_copy(&mut #t, &#value); }
                }
                _ => quote! { #t[#position] = #v; },
            });
        }
        let (mut lhs, mut rhs) = (Vec::new(), Vec::new());
        for (var, out) in vars.iter().zip(&outs[..carried]) {
            if var.to_string() != out.to_string() {
                lhs.push(var.clone());
                rhs.push(out.clone());
            }
        }
        let update = match lhs.len() {
            0 => quote!(),
            1 => quote! { #(#lhs)* = #(#rhs)*; },
            _ => quote! { (#(#lhs),*) = (#(#rhs),*); },
        };
        for &(k, proj) in &projections {
            self.names[proj.0 as usize] = Some(if k < carried {
                vars[k].clone()
            } else {
                tapes[k - carried].clone()
            });
        }
        let range = if rev {
            quote!((#start..#end).rev())
        } else {
            quote!(#start..#end)
        };
        let stop = exit.map(|e| {
            let go = &vars[e.go as usize];
            quote! { if !#go { break; } }
        });
        let head = match exit {
            Some(e) if e.unbounded => quote!(loop),
            _ => quote!(for #index in #range),
        };
        quote! {
            #(#pre)*
            #head {
                #(#stmts)*
                #(#pushes)*
                #update
                #stop
            }
        }
    }

    fn tree(&mut self, t: &Tree) -> TokenStream {
        match t {
            Tree::Leaf(i) => self.operand(self.f.outputs[*i], Prec::If),
            Tree::Tuple(items) => {
                let items: Vec<_> = items.iter().map(|t| self.tree(t)).collect();
                quote!((#(#items,)*))
            }
            Tree::Array(items) => {
                let items: Vec<_> = items.iter().map(|t| self.tree(t)).collect();
                quote!([#(#items),*])
            }
        }
    }

    /// `id` as an operand needing at least binding strength `min`.
    fn operand(&mut self, id: NodeId, min: Prec) -> TokenStream {
        if let Some(name) = &self.names[id.0 as usize] {
            return name.clone();
        }
        let (tokens, prec) = self.build(id);
        if prec < min {
            quote!((#tokens))
        } else {
            tokens
        }
    }

    fn build(&mut self, id: NodeId) -> (TokenStream, Prec) {
        let g = &self.f.graph;
        let node = g.node(id).clone();
        let a = &node.args;
        let float = node
            .ty
            .float()
            .or_else(|| a.first().and_then(|x| g.ty(*x).float()))
            .unwrap_or(FloatTy::F64);
        let private = self.private.clone();
        match node.op {
            Op::Param { index, field } => {
                let name = &self.f.params[index as usize].name;
                match field {
                    Some(k) => {
                        let k = syn::Index::from(k as usize);
                        (quote!(#name.#k), Prec::Atom)
                    }
                    None => (quote!(#name), Prec::Atom),
                }
            }
            Op::Const(bits) => float_lit(self.cx, f64::from_bits(bits), float),
            Op::Int(n) => {
                let lit = proc_macro2::Literal::i64_unsuffixed(n.abs());
                if n < 0 {
                    (quote!(-#lit), Prec::Unary)
                } else {
                    (quote!(#lit), Prec::Atom)
                }
            }
            Op::Bool(b) => (quote!(#b), Prec::Atom),
            // An array of floats may have no `Default`: `[T; N]` of a
            // generic `T` (it needs `T: Default`), or of a const-generic `N`
            // (the standard library has it up to 32).
            Op::Default if node.ty.is_array() => {
                let elem = node.ty.elem().unwrap_or(FloatTy::F64);
                let (private, t) = (&self.private, self.cx.float(elem));
                (quote!(#private::filler::<#t, _>()), Prec::Atom)
            }
            Op::Default => (quote!(::core::default::Default::default()), Prec::Atom),
            Op::Opaque(k) => {
                let opaque = g.opaques[k as usize].clone();
                // A value taken as it is (`stop_gradient`): its operand.
                if let (syn::Expr::Path(p), [r], [x]) = (&opaque.expr, &opaque.refs[..], &a[..]) {
                    if p.path.is_ident(r) {
                        return (self.operand(*x, Prec::Atom), Prec::Atom);
                    }
                }
                let lets = self.rebind(&opaque, a);
                let mut expr = opaque.expr.clone();
                if let Some(t) = &self.cx.generic {
                    let mut literals = crate::signature::LiteralsAs {
                        t,
                        private: self.private.clone(),
                    };
                    syn::visit_mut::VisitMut::visit_expr_mut(&mut literals, &mut expr);
                }
                // A block: parenthesized as an operand, where it could be
                // read as the body of a `for` or an `if`.
                if !lets.is_empty() {
                    return (quote!({ #(#lets)* #expr }), Prec::If);
                }
                let atom = matches!(
                    opaque.expr,
                    syn::Expr::Lit(_)
                        | syn::Expr::Path(_)
                        | syn::Expr::Call(_)
                        | syn::Expr::MethodCall(_)
                        | syn::Expr::Macro(_)
                        | syn::Expr::Paren(_)
                        | syn::Expr::Field(_)
                        | syn::Expr::Index(_)
                );
                // Anything else is parenthesized wherever it is an operand.
                (
                    expr.into_token_stream(),
                    if atom { Prec::Atom } else { Prec::If },
                )
            }
            Op::Un(u) => match u.form() {
                UnForm::Neg => {
                    let x = self.operand(a[0], Prec::Unary);
                    (quote!(-#x), Prec::Unary)
                }
                UnForm::Method(m) => {
                    let x = self.operand(a[0], Prec::Atom);
                    let m = format_ident!("{}", m);
                    (quote!(#x.#m()), Prec::Atom)
                }
                UnForm::Runtime(f) => {
                    let x = self.operand(a[0], Prec::If);
                    let f = format_ident!("{}", f);
                    (quote!(#private::#f(#x)), Prec::Atom)
                }
            },
            Op::Bin(b @ (Bin::Add | Bin::Sub | Bin::Mul | Bin::Div)) => {
                let prec = if matches!(b, Bin::Add | Bin::Sub) {
                    Prec::Add
                } else {
                    Prec::Mul
                };
                let x = self.operand(a[0], prec);
                let y = self.operand(a[1], next(prec));
                let op = match b {
                    Bin::Add => quote!(+),
                    Bin::Sub => quote!(-),
                    Bin::Mul => quote!(*),
                    _ => quote!(/),
                };
                (quote!(#x #op #y), prec)
            }
            Op::Bin(b) => {
                let x = self.operand(a[0], Prec::Atom);
                let y = self.operand(a[1], Prec::If);
                let m = format_ident!("{}", b.method().unwrap_or("max"));
                (quote!(#x.#m(#y)), Prec::Atom)
            }
            Op::PowI | Op::MulAdd | Op::Clamp => {
                let x = self.operand(a[0], Prec::Atom);
                let rest: Vec<_> = a[1..].iter().map(|y| self.operand(*y, Prec::If)).collect();
                let m = match node.op {
                    Op::PowI => quote!(powi),
                    Op::MulAdd => quote!(mul_add),
                    _ => quote!(clamp),
                };
                (quote!(#x.#m(#(#rest),*)), Prec::Atom)
            }
            Op::IntToFloat => {
                let n = self.operand(a[0], Prec::Cast);
                let t = self.cx.float(float);
                if float == FloatTy::Generic {
                    (quote!(#private::cast::<#t, _>(#n)), Prec::Atom)
                } else {
                    (quote!(#n as ::core::primitive::#t), Prec::Cast)
                }
            }
            Op::IntBin(IntOp::WrappingSubI32) => {
                let x = self.operand(a[0], Prec::If);
                let y = self.operand(a[1], Prec::If);
                (
                    quote!(::core::primitive::i32::wrapping_sub(#x, #y)),
                    Prec::Atom,
                )
            }
            Op::IntBin(op @ (IntOp::Min | IntOp::Max)) => {
                let x = self.operand(a[0], Prec::If);
                let y = self.operand(a[1], Prec::If);
                let f = if op == IntOp::Min {
                    quote!(min)
                } else {
                    quote!(max)
                };
                (quote!(::core::cmp::Ord::#f(#x, #y)), Prec::Atom)
            }
            // `0 - x` is `-x`; `x + -m` (a rewrite's offset) is `x - m`.
            Op::IntBin(IntOp::Sub) if matches!(g.op(a[0]), Op::Int(0)) => {
                let x = self.operand(a[1], Prec::Unary);
                (quote!(-#x), Prec::Unary)
            }
            Op::IntBin(op) => {
                let (sym, prec, y) = match (op, g.op(a[1])) {
                    (IntOp::Add, Op::Int(m)) if *m < 0 => {
                        let m = proc_macro2::Literal::i64_unsuffixed(-m);
                        (quote!(-), Prec::Add, quote!(#m))
                    }
                    (IntOp::Add, _) => (quote!(+), Prec::Add, self.operand(a[1], Prec::Mul)),
                    (IntOp::Sub, _) => (quote!(-), Prec::Add, self.operand(a[1], Prec::Mul)),
                    (IntOp::Mul, _) => (quote!(*), Prec::Mul, self.operand(a[1], Prec::Cast)),
                    (IntOp::Div, _) => (quote!(/), Prec::Mul, self.operand(a[1], Prec::Cast)),
                    (_, _) => (quote!(%), Prec::Mul, self.operand(a[1], Prec::Cast)),
                };
                let x = self.operand(a[0], prec);
                (quote!(#x #sym #y), prec)
            }
            Op::FloatCast => {
                let x = self.operand(a[0], Prec::Cast);
                let t = self.cx.float(float);
                (quote!(#x as ::core::primitive::#t), Prec::Cast)
            }
            Op::FloatToInt(t) => {
                let x = self.operand(a[0], Prec::Cast);
                let t = format_ident!("{}", t.name());
                (quote!(#x as ::core::primitive::#t), Prec::Cast)
            }
            Op::Pred(p) => {
                let x = self.operand(a[0], Prec::Atom);
                let m = format_ident!("{}", p.method());
                (quote!(#x.#m()), Prec::Atom)
            }
            Op::IntCast(t) => {
                let x = self.operand(a[0], Prec::Cast);
                let t = format_ident!("{}", t.name());
                (quote!(#x as ::core::primitive::#t), Prec::Cast)
            }
            Op::Cmp(c @ (Cmp::MaxFirst | Cmp::MinFirst)) => {
                let x = self.operand(a[0], Prec::If);
                let y = self.operand(a[1], Prec::If);
                let f = if c == Cmp::MaxFirst {
                    quote!(max_first)
                } else {
                    quote!(min_first)
                };
                (quote!(#private::#f(#x, #y)), Prec::Atom)
            }
            Op::Cmp(c) => {
                // `x as f64 < y` would read `f64<` as generics.
                let x = self.operand(a[0], Prec::Unary);
                let y = self.operand(a[1], Prec::Add);
                let op = match c {
                    Cmp::Lt => quote!(<),
                    Cmp::Le => quote!(<=),
                    Cmp::Gt => quote!(>),
                    Cmp::Ge => quote!(>=),
                    Cmp::Eq => quote!(==),
                    _ => quote!(!=),
                };
                (quote!(#x #op #y), Prec::Cmp)
            }
            Op::Not => {
                let x = self.operand(a[0], Prec::Unary);
                (quote!(!#x), Prec::Unary)
            }
            Op::And | Op::Or => {
                let prec = if node.op == Op::And {
                    Prec::And
                } else {
                    Prec::Or
                };
                let x = self.operand(a[0], prec);
                let y = self.operand(a[1], next(prec));
                let op = if node.op == Op::And {
                    quote!(&&)
                } else {
                    quote!(||)
                };
                (quote!(#x #op #y), prec)
            }
            Op::Select => {
                let c = self.operand(a[0], Prec::If);
                let x = self.operand(a[1], Prec::If);
                let y = self.operand(a[2], Prec::If);
                (quote!(if #c { #x } else { #y }), Prec::If)
            }
            Op::Index => {
                let arr = self.operand(a[0], Prec::Atom);
                // A tape (a pullback's captured one too) is read at loop
                // positions, `usize` ones.
                let tape = self.f.graph.is_tape(a[0]) || self.captured_tape(a[0]);
                let idx: Vec<TokenStream> = a[1..]
                    .iter()
                    .map(|&i| match tape && !self.known_usize(i) {
                        true => {
                            let i = self.operand(i, Prec::Cast);
                            quote!(#i as ::core::primitive::usize)
                        }
                        false => self.operand(i, Prec::If),
                    })
                    .collect();
                if node.ty.is_array() {
                    // An array read from a tape of copies: borrowed (it
                    // may be a `Vec`), and copied where it is updated.
                    (quote!(&#arr #([#idx])*), Prec::Unary)
                } else {
                    (quote!(#arr #([#idx])*), Prec::Atom)
                }
            }
            Op::Len => {
                let arr = self.operand(a[0], Prec::Atom);
                // `[m, i]`: the length of row `i` of a matrix.
                let row = a.get(1).map(|&i| self.operand(i, Prec::If));
                let row = row.map(|i| quote!([#i]));
                (quote!(#arr #row .len()), Prec::Atom)
            }
            Op::ZerosLike => {
                let arr = self.operand(a[0], Prec::If);
                (quote!(#private::ZerosLike::zeros_like(&#arr)), Prec::Atom)
            }
            Op::FillLike => {
                let arr = self.operand(a[0], Prec::If);
                (quote!(#private::FillLike::fill_like(&#arr)), Prec::Atom)
            }
            Op::Finish => {
                let buf = self.operand(a[0], Prec::If);
                (quote!(#private::Fill::finish(#buf)), Prec::Atom)
            }
            Op::FillFixed(k) => {
                let v = self.operand(a[0], Prec::If);
                let len = &g.opaques[k as usize].expr;
                (quote!([#v; #len]), Prec::Atom)
            }
            Op::FillVec => {
                let v = self.operand(a[0], Prec::If);
                let n = self.operand(a[1], Prec::If);
                (quote!(#private::filled(#v, #n)), Prec::Atom)
            }
            Op::ArrayLit => {
                let items: Vec<TokenStream> =
                    a.iter().map(|x| self.operand(*x, Prec::If)).collect();
                (quote!([#(#items),*]), Prec::Atom)
            }
            Op::Owned => {
                let arr = self.operand(a[0], Prec::If);
                (quote!(#private::Owned::owned(&#arr)), Prec::Atom)
            }
            Op::SumAll => {
                let arr = self.operand(a[0], Prec::If);
                (quote!(#private::SumAll::sum_all(&#arr)), Prec::Atom)
            }
            Op::Call(k) | Op::CallJvp(k) | Op::CallVjp(k) | Op::CallVjpJvp(k) => {
                let callee = &g.calls[k as usize];
                let path = match node.op {
                    Op::CallJvp(_) => callee.companion("jvp"),
                    Op::CallVjp(_) => callee.companion("vjp"),
                    Op::CallVjpJvp(_) => callee.companion("vjp_jvp"),
                    _ => callee.path.clone(),
                };
                let args: Vec<TokenStream> = a
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        let v = self.operand(*x, Prec::If);
                        match call_arg_pass(g, &node.op, a, i) {
                            Pass::Value => v,
                            Pass::Ref => quote!(&#v),
                            Pass::Cotangent => {
                                let private = &self.private;
                                quote!(#private::Cotangent::cotangent(&#v))
                            }
                        }
                    })
                    .collect();
                let span = node.span;
                (quote_spanned!(span=> #path(#(#args),*)), Prec::Atom)
            }
            Op::TupleAt { at, len } => {
                let v = self.operand(a[0], Prec::If);
                let zero = match g.ty(a[0]) {
                    crate::ir::Ty::Float(f) => float_const(self.cx, 0.0, f),
                    _ => quote!(0.0),
                };
                let parts = (0..len).map(|k| if k == at { v.clone() } else { zero.clone() });
                (quote!((#(#parts,)*)), Prec::Atom)
            }
            Op::Field(ref path) => {
                let x = self.operand(a[0], Prec::Atom);
                let fields = path.iter().map(|k| syn::Index::from(*k as usize));
                (quote!(#x #(.#fields)*), Prec::Atom)
            }
            Op::Kernel(k) => {
                let f = kernel_fn(g, k, a);
                let args = self.kernel_args(a);
                (quote!(#private::rules::#f(#(#args),*)), Prec::Atom)
            }
            // Regions and in-place updates are statements; projections and
            // region arguments are always named.
            Op::If { .. }
            | Op::Loop { .. }
            | Op::Proj(_)
            | Op::Checked
            | Op::AddAt
            | Op::Store
            | Op::AddArray
            | Op::Push
            | Op::PadTo
            | Op::RegionArg(..) => (quote!(()), Prec::Atom),
        }
    }

    /// `let name = value;` for each binding the user tokens of `opaque`
    /// mention (`args[k]` holds `refs[k]`), except those already in scope
    /// under their own name: a parameter, or a value emitted under the
    /// name the body gave it. An array is cloned (it may be a `Vec` that
    /// later code still reads).
    fn rebind(&mut self, opaque: &crate::ir::Opaque, args: &[NodeId]) -> Vec<TokenStream> {
        let mut lets = Vec::new();
        for (name, &n) in opaque.refs.iter().zip(args) {
            if self.in_scope_as(n, name) {
                continue;
            }
            let v = self.operand(n, Prec::If);
            let v = if self.f.graph.ty(n).is_array() {
                quote!(::core::clone::Clone::clone(&#v))
            } else if self.cx.by_ref.contains(name)
                || (self.f.graph.ty(n) == crate::ir::Ty::Other && places_only(&opaque.expr, name))
            {
                // A value of unknown type may not be `Copy`: borrowed
                // where the tokens only read its fields, index it or call
                // its methods, so that other tokens can read it again.
                quote!(&#v)
            } else {
                v
            };
            lets.push(quote!(let #name = #v;));
        }
        lets
    }

    /// Is node `n` a variable the user's own `name` reaches?
    fn in_scope_as(&self, n: NodeId, name: &Ident) -> bool {
        match *self.f.graph.op(n) {
            Op::Param { index, field: None } => {
                self.f.params[index as usize].name == *name && !self.cx.by_ref.contains(name)
            }
            Op::Opaque(k) => {
                self.user_named[n.0 as usize]
                    && self.f.graph.opaques[k as usize].name.as_ref() == Some(name)
            }
            _ => false,
        }
    }

    /// A kernel's operands: arrays by reference, scalars by value.
    fn kernel_args(&mut self, a: &[NodeId]) -> Vec<TokenStream> {
        a.iter()
            .map(|&x| {
                let v = self.operand(x, Prec::If);
                if self.f.graph.ty(x).is_array() {
                    quote!(&#v)
                } else {
                    v
                }
            })
            .collect()
    }
}

/// Does `expr` mention `name` only as a place: the base of a field
/// access, an index or a method call (which all see through a reference)?
fn places_only(expr: &syn::Expr, name: &Ident) -> bool {
    struct Places<'a> {
        name: &'a Ident,
        other: bool,
    }
    impl Places<'_> {
        /// Skips `base` when it is the name itself.
        fn base(&mut self, base: &syn::Expr) {
            match base {
                syn::Expr::Path(p) if p.path.is_ident(self.name) => {}
                _ => syn::visit::Visit::visit_expr(self, base),
            }
        }
    }
    impl<'ast> syn::visit::Visit<'ast> for Places<'_> {
        fn visit_expr_field(&mut self, e: &'ast syn::ExprField) {
            self.base(&e.base);
        }
        fn visit_expr_index(&mut self, e: &'ast syn::ExprIndex) {
            self.base(&e.expr);
            self.visit_expr(&e.index);
        }
        fn visit_expr_method_call(&mut self, e: &'ast syn::ExprMethodCall) {
            self.base(&e.receiver);
            for arg in &e.args {
                self.visit_expr(arg);
            }
        }
        fn visit_ident(&mut self, i: &'ast Ident) {
            self.other |= i == self.name;
        }
    }
    let mut v = Places { name, other: false };
    syn::visit::Visit::visit_expr(&mut v, expr);
    !v.other
}

/// The runtime function of kernel `k` on operands `a`: its matrix form
/// when the first array operand is a matrix.
fn kernel_fn(g: &crate::ir::Graph, k: crate::ir::Kernel, a: &[NodeId]) -> Ident {
    let matrix = k.has_matrix_form()
        && a.iter()
            .find_map(|&x| match g.ty(x) {
                crate::ir::Ty::Array(_, r) => Some(r == 2),
                _ => None,
            })
            .unwrap_or(false);
    let suffix = if matrix { "2" } else { "" };
    format_ident!("{}{}", k.runtime_fn(), suffix)
}

fn next(p: Prec) -> Prec {
    match p {
        Prec::Or => Prec::And,
        Prec::And => Prec::Cmp,
        Prec::Add => Prec::Mul,
        Prec::Mul => Prec::Cast,
        other => other,
    }
}

/// A float constant of type `ty`, as an expression: `2.0_f64`,
/// `::core::primitive::f64::NAN`, `lit::<T>(2.0_f64)`, ...
pub fn float_const(cx: &Cx, v: f64, ty: FloatTy) -> TokenStream {
    let (tokens, prec) = float_lit(cx, v, ty);
    match prec {
        Prec::Atom => tokens,
        _ => quote!((#tokens)),
    }
}

fn float_lit(cx: &Cx, v: f64, ty: FloatTy) -> (TokenStream, Prec) {
    let t = cx.float(ty);
    if ty == FloatTy::Generic {
        let lit = float_lit(cx, v, FloatTy::F64).0;
        let private = cx.private();
        return (quote!(#private::lit::<#t>(#lit)), Prec::Atom);
    }
    if v.is_nan() {
        return (quote!(::core::primitive::#t::NAN), Prec::Atom);
    }
    if v.is_infinite() {
        let c = if v > 0.0 {
            quote!(INFINITY)
        } else {
            quote!(NEG_INFINITY)
        };
        return (quote!(::core::primitive::#t::#c), Prec::Atom);
    }
    let (text, suffix) = match ty {
        FloatTy::F32 => (format!("{:?}", (v.abs() as f32)), "f32"),
        _ => (format!("{:?}", v.abs()), "f64"),
    };
    let lit = syn::LitFloat::new(&format!("{text}_{suffix}"), Span::call_site());
    if v.is_sign_negative() {
        (quote!(-#lit), Prec::Unary)
    } else {
        (quote!(#lit), Prec::Atom)
    }
}
