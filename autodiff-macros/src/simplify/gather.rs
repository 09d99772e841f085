//! Scatter to gather (the adjoint stencil transform, as in PerforAD): a loop
//! whose iteration `i` adds into `acc[i + c]` for a few constant offsets
//! `c` becomes a loop over the output index `j` that adds, into `acc[j]`
//! alone, the contributions of the iterations `i = j - c`.
//!
//! Reverse mode turns a read `x[i + 1]` into a write `x_bar[i + 1] += ..`,
//! so the adjoint of a stencil loop scatters: iteration `i` writes
//! `x_bar[i]` and `x_bar[i + 1]`, the next one reads back what this one
//! wrote, and the compiler can neither keep the values in registers nor
//! vectorize. After the transform each iteration writes one element that
//! no other iteration touches.
//!
//! # When it applies
//!
//! A `Loop` (either direction) over `[s, e)` qualifies when
//!
//! - it stacks nothing (its outputs are its carried values) and every
//!   carried value is a rank-1 array, updated only by a chain of `AddAt`s
//!   in the body itself, from the body's argument to its output;
//! - each chain version (the argument included) is used once, by the next
//!   update: nothing in the body reads the array (no `Index`, `Len`, no
//!   other op), so the values added cannot depend on it;
//! - every index written is the loop index plus a literal offset: `i`,
//!   `i + 1` / `i - 2` as `IntAdd`/`IntSub` with an `Int` (not `IntAdd`
//!   of a negative `Int`: that is a `powi` exponent), or opaque user
//!   tokens of that form (`i + 1`, `(i - 1) + 2`);
//! - the rest of the body is pure and straight-line: arithmetic,
//!   comparisons, `Select`, reads (`Index`, `Len`) of arrays nothing updates
//!   in place, opaque tokens without calls or macros; no `If`, `Loop`,
//!   call, allocation or other update;
//! - there are 2 to [`MAX_OFFSETS`] distinct offsets spanning at most
//!   [`MAX_SPAN`], no costly op (see [`crate::diff::reverse::costly`]) is
//!   needed by the values of two offsets (it would be computed twice per
//!   element), and no array starts as a parameter or a `Default` (the
//!   loop updates its first array in place).
//!
//! Then the iterations commute: element `j` receives the sum of the
//! contributions of offsets `c` with `s <= j - c < e`.
//!
//! # What it builds
//!
//! With offsets `cmin..=cmax`, `j` runs over `[s + cmin, e + cmax)` in three
//! segments, all under `if s < e`:
//!
//! - prologue `[s + cmin, s + cmax)`: each offset guarded by `s <= j - c <
//!   e` where that is not known (an `If` whose branch is the only place the
//!   contribution is computed: the body is never run out of its range);
//! - main `[s + cmax, max(e + cmin, s + cmax))`: no guard, one `AddAt` per
//!   array adding the sum of the offsets' contributions (one per
//!   contribution when the array does not start as zeros, see below);
//! - epilogue `[max(e + cmin, s + cmax), e + cmax)`: guarded like the
//!   prologue.
//!
//! With one offset step (`cmax = cmin + 1`, Rosenbrock's `{0, 1}`) the
//! prologue and the epilogue are one iteration each and need no guard:
//! they are written without a loop. Every integer the segments compute
//! is a bound, an index the source computes, or `j` plus a positive
//! offset, so no `usize` arithmetic underflows where the source's does
//! not.
//!
//! The body is instantiated once per offset with `i = j - c` (integer
//! nodes of the form `i + k` become `j + (k - c)`); hash-consing shares
//! what offsets have in common and the simplifier drops the rest.
//!
//! # Filling a fresh array
//!
//! When the loop carries one array that starts as a `zeros_like` made for
//! it alone (the adjoint of a parameter), the segments fill a buffer in
//! index order instead of updating zeros in place: `FillLike` makes an
//! empty buffer shaped like the parameter, `PadTo` writes the zeros before
//! `s + cmin`, each element is one `Push` of its value (a guarded offset's
//! contributions come from an `If` yielding zeros where it does not
//! contribute), and `Finish` writes the zeros after `e + cmax`. No zero-fill
//! pass and no read-modify-write; the emitter writes a loop of pushes as
//! `extend` of a mapped range, which vectorizes.
//!
//! # Rounding
//!
//! Each element receives its contributions in the order the source loop
//! made them, so the result is the source's bit for bit. The guarded
//! segments add them one by one, as the source does. The main segment adds
//! their sum, `acc[j] + (a + b)` for the source's `(acc[j] + a) + b`, only
//! where the array starts as zeros (`zeros_like`, the adjoint of a
//! parameter; `vec![0.0; n]`, `[0.0; N]`): `0 + (a + b)` is `(0 + a) + b`
//! up to the sign of a zero (which the simplifier does not keep either).
//! Elsewhere (an array an earlier loop added to, or a scatter into
//! `vec![0.5; n]`) it adds them one by one: `acc[j] += a; acc[j] += b;`,
//! still one element per iteration.

use std::collections::{HashMap, HashSet};

use super::copy::{Copier, Pass};
use crate::diff::reverse::costly;
use crate::ir::IntOp;
use crate::ir::{Cmp, Function, Graph, NodeId, Op, RegionId, Ty, ROOT};

/// Most distinct offsets of a gathered loop (each one instantiates the
/// body once per element).
pub const MAX_OFFSETS: usize = 4;

/// Largest `cmax - cmin` of a gathered loop (the length of the guarded
/// prologue and epilogue).
pub const MAX_SPAN: i64 = 8;

/// `f` with every qualifying loop gathered, or `None` if no loop
/// qualifies. The result needs [`super::simplify`]: the instantiated
/// bodies hold dead nodes.
pub fn gather(f: &Function) -> Option<Function> {
    let c = Copier::new(f);
    let (src, live) = (&f.graph, &c.live);
    let uses = live_uses(src, live, &f.outputs);
    let plans: HashMap<NodeId, Plan> = (0..src.nodes.len())
        .filter(|&i| live[i])
        .filter_map(|i| {
            let id = NodeId(i as u32);
            plan(src, live, &uses, id).map(|p| (id, p))
        })
        .collect();
    if plans.is_empty() {
        return None;
    }
    let mut g = Gather {
        c,
        plans,
        replaced: HashMap::new(),
    };
    g.region(ROOT, ROOT);
    Some(g.c.finish(f))
}

/// How one qualifying loop is gathered.
#[derive(Debug)]
struct Plan {
    body: RegionId,
    /// Per carried array: its updates in chain order, `(offset, value)`.
    adds: Vec<Vec<(i64, NodeId)>>,
    /// The distinct offsets, in the order an element receives them in the
    /// source loop (descending for a forward loop, ascending reversed).
    order: Vec<i64>,
    cmin: i64,
    cmax: i64,
    /// Body nodes that are the loop index plus a constant.
    shifted: HashMap<NodeId, i64>,
    /// The chains (carried arguments and updates): not instantiated.
    chain: HashSet<NodeId>,
    /// Per carried array: does it start as zeros?
    zero: Vec<bool>,
    /// The array to fill in index order instead (see [`Plan::fill`]).
    fill: Option<NodeId>,
}

impl Plan {
    /// The loop carries one array, zeros shaped like `like` made for it
    /// alone: the segments then fill a buffer in index order (`FillLike`,
    /// `Push`, `Finish`): each element written once, no zero-fill pass.
    /// Gives `like`.
    fn fill(g: &Graph, uses: &[u32], inits: &[NodeId]) -> Option<NodeId> {
        let &[init] = inits else {
            return None;
        };
        let fresh = *g.op(init) == Op::ZerosLike && uses[init.0 as usize] == 1;
        fresh.then(|| g.args(init)[0])
    }
}

/// Uses of each node by live nodes, the regions they hold, and `outputs`.
fn live_uses(g: &Graph, live: &[bool], outputs: &[NodeId]) -> Vec<u32> {
    let mut uses = vec![0u32; g.nodes.len()];
    let mut count = |n: &NodeId| uses[n.0 as usize] += 1;
    outputs.iter().for_each(&mut count);
    for (i, node) in g.nodes.iter().enumerate() {
        if live[i] {
            node.args.iter().for_each(&mut count);
            for r in node.op.regions() {
                g.region(r).outputs.iter().for_each(&mut count);
            }
        }
    }
    uses
}

/// An integer `(coefficient of the loop index, constant)`.
type Lin = (i64, i64);

/// The plan for loop `id`, if it qualifies (see the module docs).
fn plan(g: &Graph, live: &[bool], uses: &[u32], id: NodeId) -> Option<Plan> {
    let Op::Loop {
        body,
        carried,
        rev,
        exit: None,
    } = *g.op(id)
    else {
        return None;
    };
    let carried = carried as usize;
    let args = g.args(id);
    if carried == 0 || g.region(body).outputs.len() != carried {
        return None;
    }
    // Integer nodes of the body that are linear in the index.
    let mut lin: HashMap<NodeId, Lin> = HashMap::new();
    for &n in &g.region(body).nodes {
        if let Some(l) = linear(g, body, n, &lin) {
            lin.insert(n, l);
        }
    }
    let (adds, chain) = chains(g, body, &args[2..], &lin)?;
    // Each chain version is used once: by the next update, or as the
    // body's output.
    if chain.iter().any(|n| uses[n.0 as usize] != 1) || !pure_body(g, live, body, &chain) {
        return None;
    }
    let mut order: Vec<i64> = adds.iter().flatten().map(|&(c, _)| c).collect();
    order.sort_unstable();
    order.dedup();
    let (cmin, cmax) = (*order.first()?, *order.last()?);
    if order.len() < 2 || order.len() > MAX_OFFSETS || cmax - cmin > MAX_SPAN {
        return None;
    }
    // A literal bound with a negative offset would be a negative literal.
    let literal = |n: NodeId| matches!(g.op(n), Op::Int(m) if m + cmin < 0);
    if literal(args[0]) || literal(args[1]) || costly_shared(g, body, &adds, &order) {
        return None;
    }
    if !rev {
        order.reverse();
    }
    let shifted = lin
        .into_iter()
        .filter(|&(n, (coef, _))| coef == 1 && g.node(n).region == body)
        .map(|(n, (_, k))| (n, k))
        .collect();
    let zero = (0..carried).map(|k| zeros(g, args[2 + k])).collect();
    let fill = Plan::fill(g, uses, &args[2..]);
    Some(Plan {
        body,
        adds,
        order,
        cmin,
        cmax,
        shifted,
        chain,
        zero,
        fill,
    })
}

/// The updates of each carried array (`inits` are their initial values):
/// per array, its `(offset, value)` additions in the body's order, and
/// every node of the chains; `None` unless each is a chain of `AddAt`s at
/// the index plus a literal, from the body's argument to its output.
#[allow(clippy::type_complexity)]
fn chains(
    g: &Graph,
    body: RegionId,
    inits: &[NodeId],
    lin: &HashMap<NodeId, Lin>,
) -> Option<(Vec<Vec<(i64, NodeId)>>, HashSet<NodeId>)> {
    let outs = &g.region(body).outputs;
    let mut adds = Vec::new();
    let mut chain = HashSet::new();
    for (k, &init) in inits.iter().enumerate() {
        let variable = !matches!(g.op(init), Op::Param { .. } | Op::Default);
        if !matches!(g.ty(init), Ty::Array(_, 1)) || !variable {
            return None;
        }
        let mut list = Vec::new();
        let mut at = outs[k];
        while *g.op(at) == Op::AddAt {
            let a = g.args(at);
            if a.len() != 3 || g.node(at).region != body {
                return None;
            }
            let (1, c) = *lin.get(&a[1])? else {
                return None;
            };
            list.push((c, a[2]));
            chain.insert(at);
            at = a[0];
        }
        if *g.op(at) != Op::RegionArg(body, k as u32 + 1) {
            return None;
        }
        chain.insert(at);
        list.reverse();
        adds.push(list);
    }
    Some((adds, chain))
}

/// Is the body, apart from the `chain`, pure straight-line code that reads
/// no outer array updated in place anywhere (reading one would see the
/// order of the iterations)?
fn pure_body(g: &Graph, live: &[bool], body: RegionId, chain: &HashSet<NodeId>) -> bool {
    let mut mutated = HashSet::new();
    for (i, node) in g.nodes.iter().enumerate() {
        if !live[i] {
            continue;
        }
        match node.op {
            ref op if op.updates_in_place() => {
                mutated.insert(node.args[0]);
            }
            Op::Loop { .. } => mutated.extend(&node.args[2..]),
            _ => {}
        }
        for r in node.op.regions() {
            let outs = g.region(r).outputs.iter().copied();
            mutated.extend(outs.filter(|&o| g.ty(o).is_array()));
        }
    }
    g.region(body).nodes.iter().all(|&n| {
        if !live[n.0 as usize] || chain.contains(&n) {
            return true;
        }
        let node = g.node(n);
        let pure = match &node.op {
            Op::Default => !node.ty.is_array(),
            Op::RegionArg(r, 0) => *r == body,
            Op::Param { .. }
            | Op::Const(_)
            | Op::Int(_)
            | Op::Bool(_)
            | Op::Un(_)
            | Op::Bin(_)
            | Op::PowI
            | Op::MulAdd
            | Op::Clamp
            | Op::IntToFloat
            | Op::IntBin(_)
            | Op::IntCast(_)
            | Op::Cmp(_)
            | Op::Not
            | Op::And
            | Op::Or
            | Op::Select
            | Op::Index
            | Op::Len
            | Op::SumAll => true,
            _ => false,
        };
        let reads_mutated = node
            .args
            .iter()
            .any(|a| g.node(*a).region != body && g.ty(*a).is_array() && mutated.contains(a));
        pure && !reads_mutated
    })
}

/// Would a costly op (see [`costly`]) be needed by the values of two
/// offsets (and so computed twice per element)?
fn costly_shared(g: &Graph, body: RegionId, adds: &[Vec<(i64, NodeId)>], order: &[i64]) -> bool {
    let mut needed_by: HashMap<NodeId, i64> = HashMap::new();
    for &c in order {
        let roots: Vec<NodeId> = adds
            .iter()
            .flatten()
            .filter(|&&(o, _)| o == c)
            .map(|&(_, v)| v)
            .collect();
        let reach = g.live(&roots);
        for &n in &g.region(body).nodes {
            if reach[n.0 as usize]
                && costly(g.op(n))
                && needed_by.insert(n, c).is_some_and(|o| o != c)
            {
                return true;
            }
        }
    }
    false
}

/// Is array `a` all zeros (`zeros_like`, `vec![0.0; n]`, `[0.0; N]`)?
fn zeros(g: &Graph, a: NodeId) -> bool {
    match g.op(a) {
        Op::ZerosLike => true,
        Op::FillVec | Op::FillFixed(_) => g.const_value(g.args(a)[0]) == Some(0.0),
        _ => false,
    }
}

/// Node `n` of `body` (or a literal) as `coef * i + k`, for the nodes
/// already known in `lin`.
fn linear(g: &Graph, body: RegionId, n: NodeId, lin: &HashMap<NodeId, Lin>) -> Option<Lin> {
    let of = |a: NodeId| match g.op(a) {
        Op::Int(m) => Some((0, *m)),
        _ => lin.get(&a).copied(),
    };
    let node = g.node(n);
    let (a, b) = match node.op {
        Op::RegionArg(r, 0) if r == body => return Some((1, 0)),
        Op::Int(m) => return Some((0, m)),
        Op::IntBin(IntOp::Add | IntOp::Sub) => (of(node.args[0])?, of(node.args[1])?),
        _ => return None,
    };
    let sum = |s: i64| Some((a.0.checked_add(s * b.0)?, a.1.checked_add(s * b.1)?));
    if node.op == Op::IntBin(IntOp::Add) {
        sum(1)
    } else {
        sum(-1)
    }
}

/// `base + c` for an integer `base` (a literal folded), never subtracting
/// more than the value holds when `base + c >= 0`.
fn offset(g: &mut Graph, r: RegionId, base: NodeId, c: i64) -> NodeId {
    if c == 0 {
        return base;
    }
    if let Op::Int(m) = *g.op(base) {
        return g.add(r, Op::Int(m + c), vec![], Ty::Int);
    }
    let (op, k) = if c > 0 {
        (Op::IntBin(IntOp::Add), c)
    } else {
        (Op::IntBin(IntOp::Sub), -c)
    };
    let k = g.add(r, Op::Int(k), vec![], Ty::Int);
    g.add(r, op, vec![base, k], Ty::Other)
}

/// An integer `base + plus`, built on demand.
#[derive(Clone, Copy)]
struct At {
    base: NodeId,
    plus: i64,
}

impl At {
    fn node(self, g: &mut Graph, r: RegionId, k: i64) -> NodeId {
        offset(g, r, self.base, self.plus + k)
    }
}

/// Which part of the output range a segment covers.
#[derive(Clone, Copy, PartialEq)]
enum Segment {
    Prologue,
    Main,
    Epilogue,
}

/// Copies the live part of a function, gathering the planned loops.
struct Gather<'a> {
    c: Copier<'a>,
    plans: HashMap<NodeId, Plan>,
    /// Source loop -> the values standing for its outputs (a filled
    /// array's `Finish`).
    replaced: HashMap<NodeId, Vec<NodeId>>,
}

impl<'a> Pass<'a> for Gather<'a> {
    fn copy(&mut self) -> &mut Copier<'a> {
        &mut self.c
    }

    fn rewrite(&mut self, id: NodeId, dr: RegionId) -> Option<NodeId> {
        let src = self.c.src;
        match *src.op(id) {
            Op::Loop { .. } => {
                let p = self.plans.remove(&id)?;
                Some(self.gathered(id, &p, dr))
            }
            Op::Proj(k) => Some(self.replaced.get(&src.args(id)[0])?[k as usize]),
            _ => None,
        }
    }
}

impl Gather<'_> {
    /// Loop `id` gathered: `if s < e { prologue; main; epilogue }`, an
    /// `If` whose outputs are the loop's.
    fn gathered(&mut self, id: NodeId, p: &Plan, dr: RegionId) -> NodeId {
        let args = self.c.all(self.c.src.args(id));
        let (s, e, inits) = (args[0], args[1], args[2..].to_vec());
        let cond = self.c.dst.add(dr, Op::Cmp(Cmp::Lt), vec![s, e], Ty::Bool);
        let then = self.c.dst.new_region(dr);
        let els = self.c.dst.new_region(dr);
        let like = p.fill.map(|l| self.c.get(l));
        let g = &mut self.c.dst;
        let b = offset(g, then, s, p.cmax);
        let c = if p.cmax - p.cmin <= 1 {
            // e - s >= 1 = cmax - cmin: e + cmin >= s + cmax.
            offset(g, then, e, p.cmin)
        } else {
            let ec = offset(g, then, e, p.cmin);
            let short = g.add(then, Op::Cmp(Cmp::Lt), vec![ec, b], Ty::Bool);
            g.select(then, short, b, ec)
        };
        let d = offset(g, then, e, p.cmax);
        let (mut arrays, els_out) = match like {
            Some(like) => {
                // An empty buffer, zeros up to the first element written.
                let ty = g.ty(inits[0]);
                let buf = g.add(dr, Op::FillLike, vec![like], ty);
                let first = offset(g, then, s, p.cmin);
                let padded = match g.op(first) {
                    Op::Int(0) => buf,
                    _ => g.add(then, Op::PadTo, vec![buf, first], ty),
                };
                (vec![padded], vec![buf])
            }
            None => (inits.clone(), inits.clone()),
        };
        let bounds = (s, e);
        let pro = At {
            base: s,
            plus: p.cmin,
        };
        arrays = self.segment(p, then, Segment::Prologue, pro, b, arrays, bounds);
        let main = At { base: b, plus: 0 };
        arrays = self.segment(p, then, Segment::Main, main, c, arrays, bounds);
        let epi = At { base: c, plus: 0 };
        arrays = self.segment(p, then, Segment::Epilogue, epi, d, arrays, bounds);
        self.c.dst.set_outputs(then, arrays);
        self.c.dst.set_outputs(els, els_out);
        let op = Op::If { then, els };
        let node = self.c.dst.add(dr, op, vec![cond], Ty::Other);
        if let Some(like) = like {
            let ty = self.c.dst.ty(inits[0]);
            let buf = self.c.dst.add(dr, Op::Proj(0), vec![node], ty);
            let array = self.c.dst.add(dr, Op::Finish, vec![buf, like], ty);
            self.replaced.insert(id, vec![array]);
        }
        node
    }

    /// One segment `[lo, hi)` in region `r`, updating `arrays`: a loop, or
    /// straight-line code when the segment is one element (a prologue or
    /// an epilogue with one offset step; then `lo` may be `e + cmin`).
    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        p: &Plan,
        r: RegionId,
        seg: Segment,
        lo: At,
        hi: NodeId,
        arrays: Vec<NodeId>,
        bounds: (NodeId, NodeId),
    ) -> Vec<NodeId> {
        let one_step = p.cmax - p.cmin == 1;
        if seg != Segment::Main && one_step {
            let lo = match seg {
                Segment::Prologue => lo,
                _ => At {
                    base: bounds.1,
                    plus: p.cmin,
                },
            };
            return self.element(p, r, seg, lo, arrays, bounds);
        }
        let lo = lo.node(&mut self.c.dst, r, 0);
        let nb = self.c.dst.new_region(r);
        let tys: Vec<Ty> = arrays.iter().map(|&a| self.c.dst.ty(a)).collect();
        let vars: Vec<NodeId> = tys
            .iter()
            .enumerate()
            .map(|(k, &ty)| {
                self.c
                    .dst
                    .add_local(nb, Op::RegionArg(nb, k as u32 + 1), vec![], ty)
            })
            .collect();
        let j = self
            .c
            .dst
            .add_local(nb, Op::RegionArg(nb, 0), vec![], Ty::Int);
        let j = At { base: j, plus: 0 };
        let outs = self.element(p, nb, seg, j, vars, bounds);
        self.c.dst.set_outputs(nb, outs);
        let mut loop_args = vec![lo, hi];
        loop_args.extend(&arrays);
        let op = Op::Loop {
            body: nb,
            carried: arrays.len() as u32,
            rev: false,
            exit: None,
        };
        let l = self.c.dst.add(r, op, loop_args, Ty::Other);
        tys.iter()
            .enumerate()
            .map(|(k, &ty)| self.c.dst.add(r, Op::Proj(k as u32), vec![l], ty))
            .collect()
    }

    /// The updates of element `j` of a segment, in region `r`.
    fn element(
        &mut self,
        p: &Plan,
        r: RegionId,
        seg: Segment,
        j: At,
        mut arrays: Vec<NodeId>,
        (s, e): (NodeId, NodeId),
    ) -> Vec<NodeId> {
        if p.fill.is_some() {
            let v = self.value(p, r, seg, j, (s, e));
            let ty = self.c.dst.ty(arrays[0]);
            arrays[0] = self.c.dst.add(r, Op::Push, vec![arrays[0], v], ty);
            return arrays;
        }
        if seg == Segment::Main {
            // Every offset is in range: the contributions in the source's
            // order, added as one sum to an element that starts at zero,
            // else one by one (the source's rounding either way).
            let maps: Vec<(i64, HashMap<NodeId, NodeId>)> = p
                .order
                .iter()
                .map(|&c| (c, self.instantiate(p, r, j, c)))
                .collect();
            let idx = j.node(&mut self.c.dst, r, 0);
            for (k, adds) in p.adds.iter().enumerate() {
                let mut values = Vec::new();
                for (c, m) in &maps {
                    for &(_, v) in adds.iter().filter(|(o, _)| o == c) {
                        values.push(m.get(&v).copied().unwrap_or_else(|| self.c.get(v)));
                    }
                }
                if p.zero[k] {
                    let sum = values
                        .into_iter()
                        .reduce(|acc, v| self.c.dst.bin(r, crate::ir::Bin::Add, acc, v));
                    values = sum.into_iter().collect();
                }
                for v in values {
                    let ty = self.c.dst.ty(arrays[k]);
                    arrays[k] = self.c.dst.add(r, Op::AddAt, vec![arrays[k], idx, v], ty);
                }
            }
            return arrays;
        }
        for &c in &p.order {
            let Some(guard) = self.guard(p, r, seg, j, c, (s, e)) else {
                continue;
            };
            let touched: Vec<usize> = (0..arrays.len())
                .filter(|&k| p.adds[k].iter().any(|&(o, _)| o == c))
                .collect();
            let Some(cond) = guard else {
                self.add_offset(p, r, j, c, &mut arrays);
                continue;
            };
            let then = self.c.dst.new_region(r);
            let els = self.c.dst.new_region(r);
            let mut updated = arrays.clone();
            self.add_offset(p, then, j, c, &mut updated);
            let outs = touched.iter().map(|&k| updated[k]).collect();
            self.c.dst.set_outputs(then, outs);
            let outs = touched.iter().map(|&k| arrays[k]).collect();
            self.c.dst.set_outputs(els, outs);
            let op = Op::If { then, els };
            let node = self.c.dst.add(r, op, vec![cond], Ty::Other);
            for (pos, &k) in touched.iter().enumerate() {
                let ty = self.c.dst.ty(arrays[k]);
                arrays[k] = self.c.dst.add(r, Op::Proj(pos as u32), vec![node], ty);
            }
        }
        arrays
    }

    /// Whether offset `c` contributes to element `j` of a segment: `None`
    /// if never, `Some(None)` if always, else the condition.
    fn guard(
        &mut self,
        p: &Plan,
        r: RegionId,
        seg: Segment,
        j: At,
        c: i64,
        (s, e): (NodeId, NodeId),
    ) -> Option<Option<NodeId>> {
        // The prologue never reaches the last offset, the epilogue never the
        // first.
        let never = match seg {
            Segment::Prologue => p.cmax,
            _ => p.cmin,
        };
        if seg != Segment::Main && c == never {
            return None;
        }
        // s <= j - c, needed in the prologue after the first offset; j - c
        // < e, needed in the epilogue before the last offset and in the
        // prologue when the loop may be shorter than the offsets left
        // (e - s >= 1 is known).
        let lower = seg == Segment::Prologue && c > p.cmin;
        let upper = match seg {
            Segment::Main => false,
            Segment::Prologue => p.cmax - c >= 2,
            Segment::Epilogue => c < p.cmax,
        };
        let g = &mut self.c.dst;
        let mut conds = Vec::new();
        if lower {
            conds.push(if c >= 0 {
                let sc = offset(g, r, s, c);
                let jn = j.node(g, r, 0);
                g.add(r, Op::Cmp(Cmp::Ge), vec![jn, sc], Ty::Bool)
            } else {
                let jc = j.node(g, r, -c);
                g.add(r, Op::Cmp(Cmp::Ge), vec![jc, s], Ty::Bool)
            });
        }
        if upper {
            conds.push(if c >= 0 {
                let ec = offset(g, r, e, c);
                let jn = j.node(g, r, 0);
                g.add(r, Op::Cmp(Cmp::Lt), vec![jn, ec], Ty::Bool)
            } else {
                let jc = j.node(g, r, -c);
                g.add(r, Op::Cmp(Cmp::Lt), vec![jc, e], Ty::Bool)
            });
        }
        Some(
            conds
                .into_iter()
                .reduce(|a, b| g.add(r, Op::And, vec![a, b], Ty::Bool)),
        )
    }

    /// The value of element `j` of a segment of a filled array, in region
    /// `r`: its contributions in the source's order, summed (from a zero
    /// start, see the module docs); a guarded offset's from an `If`
    /// yielding zeros where it does not contribute.
    fn value(
        &mut self,
        p: &Plan,
        r: RegionId,
        seg: Segment,
        j: At,
        bounds: (NodeId, NodeId),
    ) -> NodeId {
        // The type of the values added.
        let ty = self.c.src.ty(p.adds[0][0].1);
        let mut terms = Vec::new();
        for &c in &p.order {
            let Some(guard) = self.guard(p, r, seg, j, c, bounds) else {
                continue;
            };
            let Some(cond) = guard else {
                terms.extend(self.contributions(p, r, j, c));
                continue;
            };
            // Each contribution a term of its own, so that the sum
            // associates as the source's one by one updates do.
            let then = self.c.dst.new_region(r);
            let els = self.c.dst.new_region(r);
            let vs = self.contributions(p, then, j, c);
            let zero = self.c.dst.filler(els, ty);
            let zeros = vec![zero; vs.len()];
            let n = vs.len() as u32;
            self.c.dst.set_outputs(then, vs);
            self.c.dst.set_outputs(els, zeros);
            let node = self
                .c
                .dst
                .add(r, Op::If { then, els }, vec![cond], Ty::Other);
            for k in 0..n {
                terms.push(self.c.dst.add(r, Op::Proj(k), vec![node], ty));
            }
        }
        self.sum(r, terms)
    }

    /// The values offset `c` adds to element `j` of the (one) array, in
    /// chain order, in region `r`.
    fn contributions(&mut self, p: &Plan, r: RegionId, j: At, c: i64) -> Vec<NodeId> {
        let m = self.instantiate(p, r, j, c);
        p.adds[0]
            .iter()
            .filter(|&&(o, _)| o == c)
            .map(|&(_, v)| m.get(&v).copied().unwrap_or_else(|| self.c.get(v)))
            .collect()
    }

    /// `((a + b) + c) ...` in region `r`.
    fn sum(&mut self, r: RegionId, terms: Vec<NodeId>) -> NodeId {
        terms
            .into_iter()
            .reduce(|acc, v| self.c.dst.bin(r, crate::ir::Bin::Add, acc, v))
            .unwrap_or(NodeId(u32::MAX))
    }

    /// The updates of offset `c` to element `j`, one by one, in region `r`.
    fn add_offset(&mut self, p: &Plan, r: RegionId, j: At, c: i64, arrays: &mut [NodeId]) {
        let m = self.instantiate(p, r, j, c);
        let idx = j.node(&mut self.c.dst, r, 0);
        for (k, adds) in p.adds.iter().enumerate() {
            for &(_, v) in adds.iter().filter(|&&(o, _)| o == c) {
                let v = m.get(&v).copied().unwrap_or_else(|| self.c.get(v));
                let ty = self.c.dst.ty(arrays[k]);
                arrays[k] = self.c.dst.add(r, Op::AddAt, vec![arrays[k], idx, v], ty);
            }
        }
    }

    /// The body of the planned loop in region `r` at the index `j - c`:
    /// source body node -> its copy.
    fn instantiate(&mut self, p: &Plan, r: RegionId, j: At, c: i64) -> HashMap<NodeId, NodeId> {
        let src = self.c.src;
        let at = At {
            base: j.base,
            plus: j.plus - c,
        };
        let mut m: HashMap<NodeId, NodeId> = HashMap::new();
        for &n in &src.region(p.body).nodes {
            if !self.c.live[n.0 as usize] || p.chain.contains(&n) {
                continue;
            }
            let new = match p.shifted.get(&n) {
                Some(&k) => at.node(&mut self.c.dst, r, k),
                None => {
                    let node = src.node(n);
                    let args = node
                        .args
                        .iter()
                        .map(|a| m.get(a).copied().unwrap_or_else(|| self.c.get(*a)))
                        .collect();
                    self.c.dst.add(r, node.op.clone(), args, node.ty)
                }
            };
            m.insert(n, new);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::forward::jvp;
    use crate::diff::reverse::vjp;
    use crate::diff::Seed;
    use crate::interp::{self, Val, Value};
    use crate::ir::{Bin, FloatTy, OutShape, Param};
    use crate::simplify::{finish, simplify};

    const F64: Ty = Ty::Float(FloatTy::F64);
    const ARR: Ty = Ty::Array(FloatTy::F64, 1);

    use crate::proptests::lowered;

    /// The simplified gradient program of `src` in all its parameters.
    fn gradient(src: &str) -> Function {
        let f = lowered(src);
        let wrt: Vec<(u32, Option<u32>)> = (0..f.params.len() as u32).map(|i| (i, None)).collect();
        simplify(&vjp(&f, vec![], &[Seed::One], &wrt))
    }

    /// `n` floats in [-1.5, 1.5].
    fn point(n: usize) -> Value {
        Val::Array(
            (0..n)
                .map(|i| Val::F(1.5 * (0.7 * i as f64 + 0.3).sin()))
                .collect(),
        )
    }

    /// Runs `f` as emitted before and after gathering; their outputs,
    /// flat.
    fn both(f: &Function, params: &[Value]) -> (Vec<f64>, Vec<f64>) {
        let run = |f: &Function| match interp::try_run(f, params) {
            Ok(v) => v.iter().flat_map(Value::floats).collect::<Vec<f64>>(),
            Err(e) => panic!("{}\n{f}", e.0),
        };
        (run(&simplify(f)), run(&finish(f)))
    }

    /// Does `f` fill a buffer in index order?
    fn fills(f: &Function) -> bool {
        let live = f.graph.live(&f.outputs);
        let fill = |(i, n): (usize, &crate::ir::Node)| live[i] && n.op == Op::FillLike;
        f.graph.nodes.iter().enumerate().any(fill)
    }

    /// Number of live loops.
    fn loops(f: &Function) -> usize {
        let live = f.graph.live(&f.outputs);
        let is_loop =
            |(i, n): (usize, &crate::ir::Node)| live[i] && matches!(n.op, Op::Loop { .. });
        f.graph
            .nodes
            .iter()
            .enumerate()
            .filter(|&n| is_loop(n))
            .count()
    }

    const ROSENBROCK: &str = "fn f(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..x.len() - 1 {
            s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
        }
        s
    }";

    const SMOOTHNESS: &str = "fn f(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 1..x.len() - 1 {
            s += (x[i + 1] - 2.0 * x[i] + x[i - 1]).powi(2);
        }
        s
    }";

    #[test]
    fn rosenbrock_gradient_is_gathered_bit_for_bit() {
        let g = gradient(ROSENBROCK);
        assert!(gather(&g).is_some(), "{g}");
        // The forward loop, and a main loop between one-element ends,
        // filling the gradient (zeros made for it alone).
        assert_eq!(loops(&finish(&g)), 2, "{}", finish(&g));
        assert!(fills(&finish(&g)));
        // (`x.len() - 1` underflows at n = 0, in Rust as here.)
        for n in (1..=6).chain([50]) {
            let (before, after) = both(&g, &[point(n)]);
            assert_eq!(before, after, "n = {n}");
        }
    }

    /// Offsets -1, 0, 1 over `1..n - 1`: no iteration (n <= 2), fewer
    /// than the span of the offsets (n = 3), as many (n = 4), more.
    #[test]
    fn three_point_stencil_at_every_trip_count() {
        let g = gradient(SMOOTHNESS);
        assert!(gather(&g).is_some(), "{g}");
        // The forward loop, prologue, main, epilogue.
        assert_eq!(loops(&finish(&g)), 4, "{}", finish(&g));
        for n in 1..=9 {
            let (before, after) = both(&g, &[point(n)]);
            assert_eq!(before, after, "n = {n}");
        }
    }

    /// Literal bounds (a fixed array): the guard `1 < 5` folds away.
    #[test]
    fn literal_bounds_fold_the_guard() {
        let g = gradient(
            "fn f(x: [f64; 6]) -> f64 {
                let mut s = 0.0;
                for i in 1..5 {
                    s += x[i - 1] * x[i] * x[i + 1];
                }
                s
            }",
        );
        let f = finish(&g);
        let live = f.graph.live(&f.outputs);
        let ifs = f.graph.nodes.iter().enumerate();
        let mut ifs = ifs.filter(|&(i, n)| live[i] && matches!(n.op, Op::If { .. }));
        // Only the guards in the prologue and the epilogue loops.
        assert!(ifs.all(|(_, n)| n.region != ROOT), "{f}");
        assert!(fills(&f));
        let (before, after) = both(&g, &[point(6)]);
        assert_eq!(before, after);
    }

    /// The forward over reverse program (`_hvp`) gathers the same way.
    #[test]
    fn forward_over_reverse_is_gathered() {
        let g = gradient(SMOOTHNESS);
        let extra = vec![Param {
            name: syn::parse_str("x_dot").unwrap(),
            fields: vec![ARR],
            usize: false,
            tape: false,
        }];
        let h = simplify(&jvp(&g, extra, 1, &|_, index, _| match index {
            0 => Seed::Param {
                index: 1,
                field: None,
            },
            _ => Seed::Zero,
        }));
        assert!(gather(&h).is_some(), "{h}");
        // The adjoint and its tangent are carried together: updated in
        // place.
        assert!(!fills(&finish(&h)));
        for n in 1..=7 {
            let dir = Val::Array((0..n).map(|i| Val::F(0.5 - 0.1 * i as f64)).collect());
            let (before, after) = both(&h, &[point(n), dir]);
            assert_eq!(before, after, "n = {n}");
        }
    }

    /// `fn(a) -> [..]`: a loop over `start..a.len() - back` (reversed if
    /// `rev`) carrying the array `init(a)`, whose body `body(g, r, acc, i,
    /// a)` gives the array at the end of an iteration.
    fn looped(
        start: i64,
        back: i64,
        rev: bool,
        init: Op,
        body: impl FnOnce(&mut Graph, RegionId, NodeId, NodeId, NodeId) -> NodeId,
    ) -> Function {
        let mut g = Graph::default();
        let a = g.add(
            ROOT,
            Op::Param {
                index: 0,
                field: None,
            },
            vec![],
            ARR,
        );
        let acc = g.add(ROOT, init, vec![a], ARR);
        let s = g.add(ROOT, Op::Int(start), vec![], Ty::Int);
        let len = g.add(ROOT, Op::Len, vec![a], Ty::Int);
        let back = int(&mut g, ROOT, back);
        let e = g.int_bin(ROOT, IntOp::Sub, len, back);
        let b = g.new_region(ROOT);
        let arg = g.add_local(b, Op::RegionArg(b, 1), vec![], ARR);
        let i = g.add_local(b, Op::RegionArg(b, 0), vec![], Ty::Int);
        let out = body(&mut g, b, arg, i, a);
        g.set_outputs(b, vec![out]);
        let l = g.add(
            ROOT,
            Op::Loop {
                body: b,
                carried: 1,
                rev,
                exit: None,
            },
            vec![s, e, acc],
            Ty::Other,
        );
        let p = g.add(ROOT, Op::Proj(0), vec![l], ARR);
        Function {
            params: vec![Param {
                name: syn::parse_str("a").unwrap(),
                fields: vec![ARR],
                usize: false,
                tape: false,
            }],
            graph: g,
            outputs: vec![p],
            shape: OutShape::Leaf,
        }
    }

    fn int(g: &mut Graph, r: RegionId, n: i64) -> NodeId {
        g.add(r, Op::Int(n), vec![], Ty::Int)
    }

    /// `i + 3`, `i - 2`, `i` and `i + 1 - 1`:
    /// offsets -2, 0 (twice) and 3, in both directions, starting from
    /// zeros (bit for bit) or from the values of `a` (close).
    #[test]
    fn offsets_of_every_form_in_both_directions() {
        for rev in [false, true] {
            for init in [Op::ZerosLike, Op::Owned] {
                let exact = init == Op::ZerosLike;
                let f = looped(2, 3, rev, init, |g, r, acc, i, a| {
                    let three = int(g, r, 3);
                    let i3 = g.add(r, Op::IntBin(IntOp::Add), vec![i, three], Ty::Int);
                    let two = int(g, r, 2);
                    let im2 = g.int_bin(r, IntOp::Sub, i, two);
                    let one = int(g, r, 1);
                    let i1 = g.add(r, Op::IntBin(IntOp::Add), vec![i, one], Ty::Int);
                    let i0 = g.add(r, Op::IntBin(IntOp::Sub), vec![i1, one], Ty::Int);
                    let ai = g.add(r, Op::Index, vec![a, i], F64);
                    let a1 = g.add(r, Op::Index, vec![a, i1], F64);
                    let sq = g.bin(r, Bin::Mul, ai, ai);
                    let prod = g.bin(r, Bin::Mul, ai, a1);
                    let acc = g.add(r, Op::AddAt, vec![acc, i3, sq], ARR);
                    let acc = g.add(r, Op::AddAt, vec![acc, im2, prod], ARR);
                    let acc = g.add(r, Op::AddAt, vec![acc, i, a1], ARR);
                    g.add(r, Op::AddAt, vec![acc, i0, sq], ARR)
                });
                assert!(gather(&f).is_some(), "{f}");
                // Fresh zeros are filled in index order, a copy of `a`
                // updated in place.
                assert_eq!(fills(&finish(&f)), exact, "{}", finish(&f));
                // (`a.len() - 3` underflows below n = 3.)
                for n in 3..=12 {
                    let (before, after) = both(&f, &[point(n)]);
                    let close = before.iter().zip(&after).all(|(x, y)| {
                        if exact {
                            x == y
                        } else {
                            (x - y).abs() <= 1e-15 * (1.0 + x.abs())
                        }
                    });
                    assert!(close, "rev {rev}, n = {n}: {before:?} vs {after:?}");
                }
            }
        }
    }

    #[test]
    fn reading_the_accumulated_array_blocks_the_pass() {
        let f = looped(0, 1, true, Op::ZerosLike, |g, r, acc, i, _| {
            let one = int(g, r, 1);
            let i1 = g.add(r, Op::IntBin(IntOp::Add), vec![i, one], Ty::Int);
            let next = g.add(r, Op::Index, vec![acc, i1], F64);
            let acc = g.add(r, Op::AddAt, vec![acc, i, next], ARR);
            g.add(r, Op::AddAt, vec![acc, i1, next], ARR)
        });
        assert!(gather(&f).is_none(), "{f}");
    }

    #[test]
    fn other_indices_block_the_pass() {
        // `a.len() - 1 - i` and `(i + 1) % a.len()`, each beside `i`.
        for expr in ["a.len() - 1 - i", "(i + 1) % a.len()", "2 * i"] {
            let f = looped(0, 1, false, Op::ZerosLike, |g, r, acc, i, a| {
                let opaque = crate::ir::Opaque::parsed(expr, &["a", "i"]);
                let j = g.add_opaque(r, opaque, vec![a, i], Ty::Other);
                let v = g.add(r, Op::Index, vec![a, i], F64);
                let acc = g.add(r, Op::AddAt, vec![acc, i, v], ARR);
                g.add(r, Op::AddAt, vec![acc, j, v], ARR)
            });
            assert!(gather(&f).is_none(), "{expr}: {f}");
        }
    }

    #[test]
    fn carried_scalars_block_the_pass() {
        // The adjoint of `y` is summed across iterations.
        let g = gradient(
            "fn f(x: &[f64], y: f64) -> f64 {
                let mut s = 0.0;
                for i in 0..x.len() - 1 {
                    s += y * x[i] * x[i + 1];
                }
                s
            }",
        );
        assert!(gather(&g).is_none(), "{g}");
    }

    #[test]
    fn one_offset_is_left_alone() {
        let g = gradient(
            "fn f(x: &[f64]) -> f64 {
                let mut s = 0.0;
                for i in 0..x.len() {
                    s += x[i] * x[i];
                }
                s
            }",
        );
        assert!(gather(&g).is_none(), "{g}");
    }

    /// `cos(x[i] x[i + 1])` is needed for both offsets: computing it twice
    /// per element would cost more than the gather saves.
    #[test]
    fn costly_ops_needed_twice_block_the_pass() {
        let g = gradient(
            "fn f(x: &[f64]) -> f64 {
                let mut s = 0.0;
                for i in 0..x.len() - 1 {
                    s += (x[i] * x[i + 1]).sin();
                }
                s
            }",
        );
        assert!(gather(&g).is_none(), "{g}");
    }
}
