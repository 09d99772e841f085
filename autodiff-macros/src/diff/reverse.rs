//! Reverse mode: `vjp(f)` runs a forward sweep (a copy of `f`), then walks
//! the nodes backwards accumulating adjoints. A branch is reversed by a
//! second `If` on the same condition; values a reversed branch needs from
//! its forward branch are yielded by the forward `If` (the other branch
//! yields a zero), so nothing is recomputed.

use std::collections::{BTreeMap, HashMap};

use super::forward::{CopiedRegion, Forward};
use super::rules::{self, Partial};
use super::{accumulate, apply, Seed};
use crate::ir::{Function, Graph, Kernel, NodeId, Op, Param, RegionId, Ty, ROOT};
use crate::ir::{IntOp, IntTy};
use quote::ToTokens;

/// An adjoint, possibly valid only when a condition has a given value
/// (and zero otherwise). Keeping the gate symbolic instead of multiplying
/// a zero through means a partial that is NaN or infinite where the gate
/// is closed (`sqrt` at a negative point in a branch not taken) never
/// reaches the result: the gate is applied last, as a `Select`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bar {
    node: NodeId,
    gate: Option<(NodeId, bool)>,
}

impl Bar {
    fn open(node: NodeId) -> Bar {
        Bar { node, gate: None }
    }

    /// The adjoint as one node: `if c { bar } else { 0 }` for a gate.
    fn value(self, g: &mut Graph, r: RegionId) -> NodeId {
        match self.gate {
            None => self.node,
            Some((c, when)) => {
                let zero = g.filler(r, g.ty(self.node));
                if when {
                    g.select(r, c, self.node, zero)
                } else {
                    g.select(r, c, zero, self.node)
                }
            }
        }
    }
}

/// Adjoints of source nodes (ordered, so output order is deterministic).
type Bars = BTreeMap<NodeId, Bar>;

/// Adds `bar` to the adjoint of `key`: gates are kept when both sides
/// share one, applied otherwise.
fn add_bar(g: &mut Graph, r: RegionId, bars: &mut Bars, key: NodeId, bar: Bar) {
    let sum = match bars.get(&key) {
        None => bar,
        // Array adjoints add elementwise, in place.
        Some(old) if g.ty(old.node).is_array() => {
            Bar::open(g.add(r, Op::AddArray, vec![old.node, bar.node], g.ty(old.node)))
        }
        Some(old) if old.gate == bar.gate => Bar {
            node: accumulate(g, r, Some(old.node), bar.node),
            gate: bar.gate,
        },
        Some(old) => {
            let (a, b) = (old.value(g, r), bar.value(g, r));
            Bar::open(accumulate(g, r, Some(a), b))
        }
    };
    bars.insert(key, sum);
}

/// Adds `v` to the adjoint of `key`.
fn seed_bar(g: &mut Graph, r: RegionId, bars: &mut Bars, key: NodeId, v: NodeId) {
    add_bar(g, r, bars, key, Bar::open(v));
}

/// A forward copy of a source region that reverse code reads primal
/// values from: the whole function (the forward sweep), or a loop body
/// recomputed in one iteration of the reverse loop.
struct Ctx {
    /// The source region copied.
    base: RegionId,
    /// New node of each source node copied (`u32::MAX` if none).
    map: Vec<NodeId>,
    /// Source branch regions and where this copy put them.
    regions: HashMap<RegionId, CopiedRegion>,
    /// Source node -> its value exported to the copy's base region.
    exported: HashMap<NodeId, NodeId>,
    /// For a loop body's copy: the source loop, and the node giving the
    /// position on its tapes of the iteration being reversed.
    looped: Option<(NodeId, NodeId)>,
}

/// Tapes of a loop `L2` nested directly in a loop `L1`, written by the
/// forward copy of `L1` one context out and read by `L2`'s reversal inside
/// `L1`'s: row `pos1` of a tape of `L1` holds `L2`'s tape for iteration
/// `pos1` (see [`Reverse::stacked`]).
#[derive(Clone, Copy)]
struct Stacked {
    /// The context holding the forward copies.
    c: usize,
    /// The forward copies of `L1` and `L2` (`l2` directly in `l1`'s body).
    l1: NodeId,
    l2: NodeId,
    /// The source region holding `L1`.
    l1_region: RegionId,
    /// `L1`'s iteration being reversed.
    pos1: NodeId,
}

struct Reverse<'a> {
    src: &'a Graph,
    g: Graph,
    /// Innermost last.
    ctxs: Vec<Ctx>,
    /// Source `(If or Loop, k)` -> the `Proj` node reading output `k`.
    projs: HashMap<(NodeId, u32), NodeId>,
    /// `(new loop, value in its body)` -> the tape of that value (a `Proj`
    /// of the loop).
    tapes: HashMap<(NodeId, NodeId), NodeId>,
    /// `(new loop, value in its body)` -> the `Proj` stacking that value
    /// per iteration, in the loop's region (see [`Reverse::stack`]).
    stacks: HashMap<(NodeId, NodeId), NodeId>,
    /// An array's last version in a forward loop body -> its copy as the
    /// iteration ends (see [`Reverse::last_contents`]).
    copies: HashMap<NodeId, NodeId>,
    /// Source nodes an adjoint may flow to (see [`super::activity`]).
    active: Vec<bool>,
}

impl<'a> Reverse<'a> {
    fn src(&self) -> &'a Graph {
        self.src
    }

    /// The context whose copy holds source node `id`.
    fn ctx_of(&self, id: NodeId) -> usize {
        let region = self.src.node(id).region;
        (0..self.ctxs.len())
            .rev()
            .find(|&c| self.src.within(region, self.ctxs[c].base))
            .unwrap_or(0)
    }

    /// The forward value of `a`, from outside the loop body context `c`
    /// copies, as that copy reads it where `at` can see it: the value it
    /// was given (the copy of an array updated in place after an enclosing
    /// loop, say), else the primal. (A loop nested in that body must read
    /// the same value: the primal is the array's later contents by then.)
    fn as_read_in(&mut self, c: usize, a: NodeId, at: RegionId) -> NodeId {
        let v = self.ctxs[c].map[a.0 as usize];
        if c > 0 && (v.0 as usize) < self.g.nodes.len() && self.g.within(at, self.g.node(v).region)
        {
            v
        } else {
            self.primal(a)
        }
    }

    /// The forward value of source node `id`, usable anywhere in the
    /// reverse code of its context: values of the context's base region
    /// directly, branch values through `If` outputs.
    fn primal(&mut self, id: NodeId) -> NodeId {
        let c = self.ctx_of(id);
        let region = self.src.node(id).region;
        let base = self.ctxs[c].base;
        let v = self.ctxs[c].map[id.0 as usize];
        if region == base {
            return v;
        }
        if let Some(&e) = self.ctxs[c].exported.get(&id) {
            return e;
        }
        // A literal is rebuilt where it is needed, not exported: rules can
        // then still see it is a literal (a `powi` exponent, say).
        let node = self.src.node(id);
        if matches!(node.op, Op::Const(_) | Op::Int(_) | Op::Bool(_)) {
            let (op, ty) = (node.op.clone(), node.ty);
            return self.g.add(ROOT, op, vec![], ty);
        }
        let base = self.ctxs[c].base;
        let e = self.export(c, v, region, node.ty, base);
        self.ctxs[c].exported.insert(id, e);
        e
    }

    /// Yields `v`, computed in (the copy of) source region `region`, from
    /// each enclosing `If` of context `c` up to source region `stop`.
    fn export(
        &mut self,
        c: usize,
        mut v: NodeId,
        mut region: RegionId,
        ty: Ty,
        stop: RegionId,
    ) -> NodeId {
        while region != stop {
            let Some(&copied) = self.ctxs[c].regions.get(&region) else {
                break;
            };
            let g = &mut self.g;
            // A loop's tape (a `Vec` of its values) is an empty one.
            let filler = if g.is_tape(v) {
                g.add_local(copied.sibling, Op::Default, vec![], ty)
            } else {
                g.filler(copied.sibling, ty)
            };
            let mut this = g.region(copied.this).outputs.clone();
            let mut sib = g.region(copied.sibling).outputs.clone();
            this.push(v);
            sib.push(filler);
            let k = this.len() as u32 - 1;
            g.set_outputs(copied.this, this);
            g.set_outputs(copied.sibling, sib);
            v = g.add(copied.parent, Op::Proj(k), vec![copied.if_node], ty);
            // A branch region's parent is the region holding its `If`.
            region = self.src.region(region).parent.unwrap_or(ROOT);
        }
        v
    }

    /// Reverses source region `sr` into new region `dr`, consuming `bars`.
    fn region(&mut self, sr: RegionId, dr: RegionId, bars: &mut Bars) {
        let nodes = self.src().region(sr).nodes.clone();
        for &id in nodes.iter().rev() {
            let node = self.src().node(id).clone();
            self.g.span = node.span;
            match node.op {
                Op::Param { .. } | Op::Proj(_) | Op::RegionArg(..) => continue,
                Op::If { then, els } => {
                    self.branch(id, then, els, node.args[0], dr, bars);
                    continue;
                }
                Op::Loop { .. } => {
                    self.loop_(id, dr, bars);
                    continue;
                }
                _ => {}
            }
            let Some(bar) = bars.remove(&id) else {
                continue;
            };
            if !self.active[id.0 as usize] {
                continue;
            }
            if node.op == Op::Index {
                if !self.active[node.args[0].0 as usize] {
                    continue;
                }
                // The adjoint goes to one element of the array's adjoint.
                let v = bar.value(&mut self.g, dr);
                let mut args: Vec<NodeId> =
                    node.args[1..].iter().map(|&a| self.primal(a)).collect();
                let arr = node.args[0];
                let acc = match bars.get(&arr) {
                    Some(b) => b.node,
                    None => {
                        let p = self.primal(arr);
                        self.g.add(dr, Op::ZerosLike, vec![p], self.src.ty(arr))
                    }
                };
                args.insert(0, acc);
                args.push(v);
                let updated = self.g.add(dr, Op::AddAt, args, self.src.ty(arr));
                bars.insert(arr, Bar::open(updated));
                continue;
            }
            if let Op::Call(k) = node.op {
                self.call(id, k, bar, dr, bars);
                continue;
            }
            // One part of a call's tuple result: the call's cotangent is
            // a tuple with this part's adjoint in its place.
            if let (Op::Field(path), [call]) = (&node.op, &node.args[..]) {
                if let (Op::Call(k), [at]) = (self.src().node(*call).op.clone(), &path[..]) {
                    if let Some(len) = self.src().calls[k as usize].tuple_len {
                        let v = bar.value(&mut self.g, dr);
                        let at = *at;
                        let tuple = self.g.add(dr, Op::TupleAt { at, len }, vec![v], Ty::Other);
                        self.call(*call, k, Bar::open(tuple), dr, bars);
                        continue;
                    }
                }
            }
            if let Op::Kernel(k) = node.op {
                self.kernel(id, k, bar, dr, bars);
                continue;
            }
            if node.ty.is_array() {
                self.array_op(id, bar.node, dr, bars);
                continue;
            }
            if node.ty.float().is_none() {
                continue;
            }
            // The adjoint, converted back.
            if node.op == Op::FloatCast {
                let a = node.args[0];
                if self.active[a.0 as usize] {
                    let b = bar.value(&mut self.g, dr);
                    let back = self.g.add(dr, Op::FloatCast, vec![b], self.src.ty(a));
                    add_bar(&mut self.g, dr, bars, a, Bar::open(back));
                }
                continue;
            }
            let args: Vec<NodeId> = node.args.iter().map(|&a| self.primal(a)).collect();
            let out = self.primal(id);
            for (k, &a) in node.args.iter().enumerate() {
                if self.src().ty(a).float().is_none() || !self.active[a.0 as usize] {
                    continue;
                }
                let g = &mut self.g;
                let p = rules::partial(g, dr, &node.op, &args, out, k);
                let contribution = match p {
                    Partial::Zero => continue,
                    Partial::Gate(c, when) => Bar {
                        node: bar.value(g, dr),
                        gate: Some((c, when)),
                    },
                    // The slope where the condition holds, the gate kept
                    // on the adjoint.
                    Partial::GatedScale(..) | Partial::GatedDivScale(..) => {
                        let Some((c, slope)) = p.gated() else {
                            continue;
                        };
                        let b = bar.value(g, dr);
                        match apply(g, dr, slope, b) {
                            Some(n) => Bar {
                                node: n,
                                gate: Some((c, true)),
                            },
                            None => continue,
                        }
                    }
                    p => match apply(g, dr, p, bar.node) {
                        Some(n) => Bar {
                            node: n,
                            gate: bar.gate,
                        },
                        None => continue,
                    },
                };
                add_bar(g, dr, bars, a, contribution);
            }
        }
    }

    /// Reverses an `If`: a new `If` on the same condition whose branches
    /// reverse the source branches and yield the adjoints they send to
    /// values outside the branch.
    fn branch(
        &mut self,
        id: NodeId,
        then: RegionId,
        els: RegionId,
        cond: NodeId,
        dr: RegionId,
        bars: &mut Bars,
    ) {
        let n = self.src().region(then).outputs.len() as u32;
        let out_bars: Vec<Option<NodeId>> = (0..n)
            .map(|k| {
                let bar = self.projs.get(&(id, k)).and_then(|p| bars.remove(p))?;
                Some(bar.value(&mut self.g, dr))
            })
            .collect();
        if out_bars.iter().all(Option::is_none) {
            return;
        }
        let mut sent: [BTreeMap<NodeId, NodeId>; 2] = [BTreeMap::new(), BTreeMap::new()];
        let mut regions = [RegionId(0); 2];
        // Adjoint arrays are threaded through both branches.
        self.seed_arrays(then, dr, bars, &[]);
        self.seed_arrays(els, dr, bars, &[]);
        let arrays = self.array_bars(bars);
        for (side, sr) in [then, els].into_iter().enumerate() {
            let r = self.g.new_region(dr);
            regions[side] = r;
            let mut local: Bars = arrays.iter().map(|&(a, b)| (a, Bar::open(b))).collect();
            for (k, bar) in out_bars.iter().enumerate() {
                if let Some(bar) = *bar {
                    let o = self.src().region(sr).outputs[k];
                    match local.get(&o) {
                        // An array the branch yields unchanged: its adjoint
                        // passes through, not added to fresh zeros (a copy).
                        Some(old) if *self.g.op(old.node) == Op::ZerosLike => {
                            local.insert(o, Bar::open(bar));
                        }
                        _ => add_bar(&mut self.g, r, &mut local, o, Bar::open(bar)),
                    }
                }
            }
            self.region(sr, r, &mut local);
            // What is left is sent to values defined outside this branch.
            for (k, bar) in local {
                if !self.src().within(self.src().node(k).region, sr) {
                    let v = bar.value(&mut self.g, r);
                    sent[side].insert(k, v);
                }
            }
        }
        let mut targets: Vec<NodeId> = sent[0].keys().chain(sent[1].keys()).copied().collect();
        targets.sort();
        targets.dedup();
        for (side, r) in regions.into_iter().enumerate() {
            let outs = targets
                .iter()
                .map(|t| match sent[side].get(t) {
                    Some(&v) => v,
                    None => {
                        let ty = self.src().ty(*t);
                        self.g.filler(r, ty)
                    }
                })
                .collect();
            self.g.set_outputs(r, outs);
        }
        let c = self.primal(cond);
        let g = &mut self.g;
        let rev_if = g.add(
            dr,
            Op::If {
                then: regions[0],
                els: regions[1],
            },
            vec![c],
            Ty::Other,
        );
        for (k, t) in targets.into_iter().enumerate() {
            let ty = self.src.ty(t);
            // Sent by one branch only: zero unless that branch is taken.
            let gate = match (sent[0].contains_key(&t), sent[1].contains_key(&t)) {
                (true, false) => Some((c, true)),
                (false, true) => Some((c, false)),
                _ => None,
            };
            let g = &mut self.g;
            let v = g.add(dr, Op::Proj(k as u32), vec![rev_if], ty);
            if ty.is_array() {
                bars.insert(t, Bar::open(v));
            } else {
                add_bar(g, dr, bars, t, Bar { node: v, gate });
            }
        }
    }

    /// The adjoint of an op building or updating an array, whose own
    /// adjoint is the array `b`.
    fn array_op(&mut self, id: NodeId, b: NodeId, dr: RegionId, bars: &mut Bars) {
        let node = self.src.node(id).clone();
        let elem = |g: &mut Graph, idx: Vec<NodeId>| {
            let mut args = vec![b];
            args.extend(idx);
            let ty = Ty::Float(g.ty(b).elem().unwrap_or(crate::ir::FloatTy::F64));
            g.add(dr, Op::Index, args, ty)
        };
        match node.op {
            // y = arr with y[i] = v: v gets b[i], arr gets b with b[i] = 0.
            // y = arr with y[i] += v: v gets b[i], arr gets b.
            Op::Store | Op::AddAt => {
                let last = node.args.len() - 1;
                let idx: Vec<NodeId> = node.args[1..last].iter().map(|&a| self.primal(a)).collect();
                let v = node.args[last];
                if self.src.ty(v).float().is_some() && self.active[v.0 as usize] {
                    let bv = elem(&mut self.g, idx.clone());
                    add_bar(&mut self.g, dr, bars, v, Bar::open(bv));
                }
                let rest = if node.op == Op::Store {
                    let zero = self.g.konst(
                        dr,
                        self.g.ty(b).elem().unwrap_or(crate::ir::FloatTy::F64),
                        0.0,
                    );
                    let mut args = vec![b];
                    args.extend(idx);
                    args.push(zero);
                    self.g.add(dr, Op::Store, args, self.g.ty(b))
                } else {
                    b
                };
                bars.insert(node.args[0], Bar::open(rest));
            }
            // [a, b, c]: element k gets b[k].
            Op::ArrayLit => {
                for (k, &item) in node.args.iter().enumerate() {
                    if !self.active[item.0 as usize] {
                        continue;
                    }
                    let i = self.g.add(dr, Op::Int(k as i64), vec![], Ty::Int);
                    let bv = elem(&mut self.g, vec![i]);
                    add_bar(&mut self.g, dr, bars, item, Bar::open(bv));
                }
            }
            // [v; n]: v gets the sum of b.
            Op::FillFixed(_) | Op::FillVec
                if self.src.ty(node.args[0]).float().is_some()
                    && self.active[node.args[0].0 as usize] =>
            {
                let ty = self.src.ty(node.args[0]);
                let sum = self.g.add(dr, Op::SumAll, vec![b], ty);
                add_bar(&mut self.g, dr, bars, node.args[0], Bar::open(sum));
            }
            // A copy: its adjoint joins the original's.
            Op::Owned => {
                let arr = node.args[0];
                let joined = match bars.get(&arr) {
                    Some(acc) => self
                        .g
                        .add(dr, Op::AddArray, vec![acc.node, b], self.src.ty(arr)),
                    None => b,
                };
                bars.insert(arr, Bar::open(joined));
            }
            _ => {}
        }
    }

    /// The adjoint of `g(args)`: `g_vjp(args, bar)` gives the adjoint of
    /// each float or array argument (one, or a tuple of them).
    fn call(&mut self, id: NodeId, k: u32, bar: Bar, dr: RegionId, bars: &mut Bars) {
        let src_args = self.src.args(id).to_vec();
        let mut args = self.operands_as_seen(id);
        args.push(bar.value(&mut self.g, dr));
        let pair = self.g.add(dr, Op::CallVjp(k), args, Ty::Other);
        let active: Vec<NodeId> = src_args
            .iter()
            .copied()
            .filter(|a| self.src.ty(*a).elem().is_some())
            .collect();
        for (j, &a) in active.iter().enumerate() {
            if !self.active[a.0 as usize] {
                continue;
            }
            let path = if active.len() == 1 {
                vec![1]
            } else {
                vec![1, j as u32]
            };
            let ty = self.src.ty(a);
            let adj = self.g.add(dr, Op::Field(path), vec![pair], ty);
            if ty.is_array() {
                let joined = match bars.get(&a) {
                    Some(acc) => self.g.add(dr, Op::AddArray, vec![acc.node, adj], ty),
                    None => adj,
                };
                bars.insert(a, Bar::open(joined));
            } else {
                add_bar(&mut self.g, dr, bars, a, Bar::open(adj));
            }
        }
    }

    /// The forward values of `id`'s operands as `id` saw them (see
    /// [`Reverse::as_seen`]).
    fn operands_as_seen(&mut self, id: NodeId) -> Vec<NodeId> {
        let src_args = self.src.args(id).to_vec();
        (0..src_args.len())
            .map(|j| self.as_seen(id, src_args[j], Some(j)))
            .collect()
    }

    /// The forward value of array `a`, operand `j` of source node `id` (or
    /// `id` itself for `None`), as `id` saw it: the forward value, or,
    /// when something updates `a` in place later, a copy made right after
    /// `id` in the forward code (the reverse code reads it after the
    /// update).
    fn as_seen(&mut self, id: NodeId, a: NodeId, j: Option<usize>) -> NodeId {
        let ty = self.src.ty(a);
        if !ty.is_array() || !updated_later(self.src, a) {
            return self.primal(a);
        }
        let c = self.ctx_of(id);
        let fwd = self.ctxs[c].map[id.0 as usize];
        let value = match j {
            Some(j) => self.g.args(fwd)[j],
            None => fwd,
        };
        let at = self.g.node(fwd).region;
        let copy = self.g.add_after(at, fwd, Op::Owned, vec![value], ty);
        let base = self.ctxs[c].base;
        self.export(c, copy, self.src.node(id).region, ty, base)
    }

    /// The adjoint of a helper kernel: its rule adds each active
    /// operand's share to that operand's adjoint, in place for arrays.
    fn kernel(&mut self, id: NodeId, k: Kernel, bar: Bar, dr: RegionId, bars: &mut Bars) {
        let src_args = self.src.args(id).to_vec();
        let args = self.operands_as_seen(id);
        let out = self.as_seen(id, id, None);
        let b = bar.value(&mut self.g, dr);
        for (j, &a) in src_args.iter().enumerate() {
            let ty = self.src.ty(a);
            if ty.elem().is_none() || !self.active[a.0 as usize] {
                continue;
            }
            let acc = match bars.get(&a) {
                Some(old) => old.value(&mut self.g, dr),
                None => self.g.add(dr, Op::ZerosLike, vec![args[j]], ty),
            };
            if let Some(new) = rules::kernel_adjoint(&mut self.g, dr, k, &args, out, b, j, acc) {
                bars.insert(a, Bar::open(new));
            }
        }
    }

    /// Gives every array that nodes of `region` read from outside it an
    /// adjoint (zeros) before the region is reversed, so the adjoint can
    /// be threaded through it. `skip` are handled by the caller.
    fn seed_arrays(&mut self, region: RegionId, dr: RegionId, bars: &mut Bars, skip: &[NodeId]) {
        let src = self.src;
        for node in &src.nodes {
            if !src.within(node.region, region) {
                continue;
            }
            for &a in &node.args {
                if src.ty(a).is_array()
                    && self.active[a.0 as usize]
                    && !src.within(src.node(a).region, region)
                    && !bars.contains_key(&a)
                    && !skip.contains(&a)
                {
                    let p = self.primal(a);
                    let z = self.g.add(dr, Op::ZerosLike, vec![p], src.ty(a));
                    bars.insert(a, Bar::open(z));
                }
            }
        }
    }

    /// The adjoint arrays in `bars` (accumulators, threaded through
    /// regions rather than summed).
    fn array_bars(&self, bars: &Bars) -> Vec<(NodeId, NodeId)> {
        bars.iter()
            .filter(|(k, _)| self.src.ty(**k).is_array())
            .map(|(k, b)| (*k, b.node))
            .collect()
    }

    /// Reverses a loop: a loop over the same range in the other direction
    /// whose body recomputes the forward body from the carried values
    /// taped at the start of each iteration, then reverses it. It carries
    /// the adjoints of the carried values, the adjoint arrays, and the
    /// adjoints the body sends to scalars outside the loop.
    fn loop_(&mut self, id: NodeId, dr: RegionId, bars: &mut Bars) {
        let src = self.src;
        let Op::Loop {
            body,
            carried,
            rev,
            exit,
        } = *src.op(id)
        else {
            return;
        };
        let carried = carried as usize;
        let outputs = src.region(body).outputs.clone();
        let inits = src.args(id)[2..].to_vec();
        let out_bars: Vec<Option<NodeId>> = (0..carried)
            .map(|k| {
                let bar = self
                    .projs
                    .get(&(id, k as u32))
                    .and_then(|p| bars.remove(p))?;
                Some(bar.value(&mut self.g, dr))
            })
            .collect();
        if out_bars.iter().all(Option::is_none) {
            return;
        }
        let arg_node: Vec<Option<NodeId>> = (0..=carried)
            .map(|k| {
                src.region(body)
                    .nodes
                    .iter()
                    .copied()
                    .find(|&n| *src.op(n) == Op::RegionArg(body, k as u32))
            })
            .collect();
        let active: Vec<bool> = (0..carried)
            .map(|k| self.active[outputs[k].0 as usize] || self.active[inits[k].0 as usize])
            .collect();
        let float = |k: usize| src.ty(outputs[k]).elem().is_some() && active[k];
        let mut slots: Vec<usize> = (0..carried)
            .filter(|&k| out_bars[k].is_some() && float(k))
            .collect();
        self.seed_arrays(body, dr, bars, &inits);
        let arrays = self.array_bars(bars);
        let start = self.primal(src.args(id)[0]);
        let end = self.primal(src.args(id)[1]);
        // A loop that stopped early is reversed over the iterations it
        // ran: `count` of them from its first.
        let (first, last) = match exit {
            Some(e) => {
                // (Lowering reads every carried value: the count has a
                // projection to take across branches.)
                let count = match self.projs.get(&(id, e.count)) {
                    Some(&p) => self.primal(p),
                    None => {
                        let dst_loop = self.primal(id);
                        self.g.add(dr, Op::Proj(e.count), vec![dst_loop], Ty::Int)
                    }
                };
                if rev {
                    (self.g.int_bin(dr, IntOp::Sub, end, count), end)
                } else {
                    (start, self.g.int_bin(dr, IntOp::Add, start, count))
                }
            }
            None => (start, end),
        };
        loop {
            let rb = self.g.new_region(dr);
            let idx = self.g.add_local(rb, Op::RegionArg(rb, 0), vec![], Ty::Int);
            let mut local = Bars::new();
            let mut next_arg = 1u32;
            let mut arg = |g: &mut Graph, ty: Ty| {
                next_arg += 1;
                g.add_local(rb, Op::RegionArg(rb, next_arg - 1), vec![], ty)
            };
            for &k in &slots {
                let a = arg(&mut self.g, src.ty(outputs[k]));
                seed_bar(&mut self.g, rb, &mut local, outputs[k], a);
            }
            for &(a, _) in &arrays {
                let v = arg(&mut self.g, src.ty(a));
                local.insert(a, Bar::open(v));
            }
            self.push_body_ctx(id, body, rev, rb, idx, start, end);
            self.region(body, rb, &mut local);
            self.ctxs.pop();
            let start_bar =
                |local: &Bars, k: usize| arg_node[k + 1].and_then(|n| local.get(&n).copied());
            let grown: Vec<usize> = (0..carried)
                .filter(|&k| !slots.contains(&k) && float(k) && start_bar(&local, k).is_some())
                .collect();
            if !grown.is_empty() {
                slots.extend(grown);
                continue;
            }
            // Outputs: the adjoints of the carried values at the start of
            // the iteration, the arrays, then outer scalar accumulators.
            let mut outs = Vec::new();
            let mut loop_inits = Vec::new();
            for &k in &slots {
                let ty = src.ty(outputs[k]);
                let like = self.primal(inits[k]);
                outs.push(match start_bar(&local, k) {
                    Some(b) => b.value(&mut self.g, rb),
                    None => self.g.zero_like(rb, ty, like),
                });
                loop_inits.push(match out_bars[k] {
                    Some(b) => b,
                    None => self.g.zero_like(dr, ty, like),
                });
            }
            for &(a, init) in &arrays {
                outs.push(local.get(&a).map_or(init, |b| b.node));
                loop_inits.push(init);
            }
            let outer: Vec<(NodeId, Bar)> = local
                .iter()
                .filter(|(k, _)| !src.within(src.node(**k).region, body) && !src.ty(**k).is_array())
                .map(|(k, b)| (*k, *b))
                .collect();
            for &(t, contribution) in &outer {
                let ty = src.ty(t);
                let acc = arg(&mut self.g, ty);
                let c = contribution.value(&mut self.g, rb);
                outs.push(self.g.bin(rb, crate::ir::Bin::Add, acc, c));
                loop_inits.push(match bars.remove(&t) {
                    Some(b) => b.value(&mut self.g, dr),
                    None => self.g.filler(dr, ty),
                });
            }
            self.g.set_outputs(rb, outs);
            let mut args = vec![first, last];
            args.extend(&loop_inits);
            let op = Op::Loop {
                body: rb,
                carried: loop_inits.len() as u32,
                rev: !rev,
                exit: None,
            };
            let node = self.g.add(dr, op, args, Ty::Other);
            let mut k = 0u32;
            let mut proj = |g: &mut Graph, ty: Ty| {
                k += 1;
                g.add(dr, Op::Proj(k - 1), vec![node], ty)
            };
            let slot_values: Vec<NodeId> = slots
                .iter()
                .map(|&c| proj(&mut self.g, src.ty(outputs[c])))
                .collect();
            // Threaded values replace the adjoints they started from ...
            for &(a, _) in &arrays {
                let v = proj(&mut self.g, src.ty(a));
                bars.insert(a, Bar::open(v));
            }
            for &(t, _) in &outer {
                let v = proj(&mut self.g, src.ty(t));
                bars.insert(t, Bar::open(v));
            }
            // ... then the initial values' adjoints add to them (an initial
            // value the body also reads gets both).
            for (&c, &v) in slots.iter().zip(&slot_values) {
                if self.active[inits[c].0 as usize] {
                    seed_bar(&mut self.g, dr, bars, inits[c], v);
                }
            }
            return;
        }
    }

    /// Pushes the context of one reverse iteration of loop `id`: the body
    /// copied into `rb`, reading the index from `idx` and the carried
    /// values from tapes of the forward loop.
    #[allow(clippy::too_many_arguments)]
    fn push_body_ctx(
        &mut self,
        id: NodeId,
        body: RegionId,
        rev: bool,
        rb: RegionId,
        idx: NodeId,
        start: NodeId,
        end: NodeId,
    ) {
        let src = self.src;
        let c = self.ctx_of(id);
        let dst_loop = self.ctxs[c].map[id.0 as usize];
        // Without a forward copy of the loop in this context there is
        // nothing to tape: carried values then read their initial values
        // (wrong after the first iteration; see the ignored
        // `bug_nested_loop_*` tests), but nothing panics.
        let taping = (dst_loop.0 as usize) < self.g.nodes.len()
            && matches!(self.g.op(dst_loop), Op::Loop { .. });
        let loop_region = src.node(id).region;
        // Position of iteration `idx` on the tape (tapes are in execution
        // order).
        let pos = if rev {
            let one = self.g.add(rb, Op::Int(1), vec![], Ty::Int);
            let last = self
                .g
                .add(rb, Op::IntBin(IntOp::Sub), vec![end, one], Ty::Int);
            self.g
                .add(rb, Op::IntBin(IntOp::Sub), vec![last, idx], Ty::Int)
        } else {
            self.g
                .add(rb, Op::IntBin(IntOp::Sub), vec![idx, start], Ty::Int)
        };
        let tp = Taping {
            c,
            dst_loop,
            loop_region,
            body,
            rb,
            pos,
            stacked: if taping { self.stacked(id, c) } else { None },
        };
        let mut presets = vec![];
        for (n, node) in src.nodes.iter().enumerate() {
            if !src.within(node.region, body) {
                continue;
            }
            let n = NodeId(n as u32);
            let copied = taping && (self.ctxs[c].map[n.0 as usize].0 as usize) < self.g.nodes.len();
            if let Op::RegionArg(r, k) = node.op {
                if r == body {
                    let v = if k == 0 {
                        idx
                    } else if !taping {
                        let init = src.args(id)[1 + k as usize];
                        self.primal(init)
                    } else if node.ty.is_array()
                        && snapshots(src, body, k)
                        && !dead_on_entry(src, &src.users(), id, n)
                    {
                        // Written in the body, and read by a loop nested in
                        // it (whose reads this level does not tape): a copy
                        // as each iteration starts is taped, and the
                        // recomputation updates a copy of that.
                        let Op::Loop { body: dst_body, .. } = *self.g.op(dst_loop) else {
                            continue;
                        };
                        let value =
                            self.g
                                .add_local(dst_body, Op::RegionArg(dst_body, k), vec![], node.ty);
                        let copy = self.g.add_first(dst_body, Op::Owned, vec![value], node.ty);
                        let snap = self.tape_read(c, dst_loop, loop_region, copy, rb, pos);
                        self.g.add(rb, Op::Owned, vec![snap], node.ty)
                    } else if let Some(root) = fresh_stand_in(src, id, n) {
                        // Overwritten before it is read in every
                        // iteration: a fresh array made as it was made
                        // stands in (the forward loop need not run for
                        // it). What the iteration leaves in it is read from
                        // a copy the forward loop keeps.
                        if let Some(snap) = self.last_contents(&tp, k) {
                            presets.push(snap);
                        }
                        let args = src.args(root).iter().map(|&a| self.primal(a)).collect();
                        let outer = self.g.region(rb).parent.unwrap_or(ROOT);
                        self.g.add(outer, src.op(root).clone(), args, node.ty)
                    } else if node.ty.is_array() {
                        // A carried array is updated in place, so it cannot
                        // be taped; its reads are (below). A copy of its
                        // final value, made once before the reverse loop,
                        // stands in for its shape: writes the recomputation
                        // keeps (in a branch, say) then land in the copy,
                        // not in the value the function returns.
                        let at = self.g.node(dst_loop).region;
                        let proj = self.g.add(at, Op::Proj(k - 1), vec![dst_loop], node.ty);
                        let base = self.ctxs[c].base;
                        let value = self.export(c, proj, loop_region, node.ty, base);
                        match self.g.region(rb).parent {
                            Some(outer) if writes(src, body, k) => {
                                self.g.add(outer, Op::Owned, vec![value], node.ty)
                            }
                            _ => value,
                        }
                    } else if let Some(step) = induction_step(src, body, n, k) {
                        // A counter stepped by a constant (`li += 1`): its
                        // value at an iteration is computed, not taped.
                        let init = self.primal(src.args(id)[1 + k as usize]);
                        let pos = self
                            .g
                            .add(rb, Op::IntCast(IntTy::Usize), vec![pos], Ty::Int);
                        let step_node =
                            self.g
                                .add(rb, Op::Int(step.unsigned_abs() as i64), vec![], Ty::Int);
                        let offset =
                            self.g
                                .add(rb, Op::IntBin(IntOp::Mul), vec![pos, step_node], Ty::Int);
                        let op = if step < 0 { IntOp::Sub } else { IntOp::Add };
                        self.g.add(rb, Op::IntBin(op), vec![init, offset], Ty::Int)
                    } else if let Some(v) = self.taped(&tp, n) {
                        v
                    } else {
                        continue;
                    };
                    presets.push((n, v));
                }
            }
            // The result of a loop nested in the body is taped rather than
            // recomputed (an inner product, say): the inner loop then runs
            // again only if its own reversal needs it. So is the result of
            // a transcendental function (`tanh`, `exp`, ...): a store per
            // iteration is cheaper than computing it again. Tapes the
            // reversal does not read are pruned.
            let inner_result =
                matches!(node.op, Op::Proj(_)) && matches!(src.op(node.args[0]), Op::Loop { .. });
            if (costly(&node.op) || inner_result)
                && node.region == body
                && node.ty.float().is_some()
                && copied
            {
                presets.extend(self.taped(&tp, n).map(|v| (n, v)));
            }
            // An element of an array the loop may write is read back from a
            // tape of the values read, not from the array (which holds
            // later values by the time the reverse loop runs); an array
            // from outside the loop that nothing updates in place (a
            // parameter, a helper's result) is read again instead.
            let arr = node.args.first().copied();
            let unchanging = arr.is_some_and(|a| {
                matches!(src.op(a), Op::Param { .. })
                    || (!src.within(src.node(a).region, body) && !updated_later(src, a))
            });
            // A read with no forward copy here cannot be taped; it is then
            // recomputed (see the ignored `bug_nested_loop_*` tests).
            if node.op == Op::Index
                && !unchanging
                && !in_inner_loop(src, node.region, body)
                && copied
            {
                presets.extend(self.taped(&tp, n).map(|v| (n, v)));
            }
            // Outer values the body reads: as operands, or yielded as they
            // are by a region in the body.
            let yielded = node
                .op
                .regions()
                .into_iter()
                .flat_map(|r| src.region(r).outputs.clone());
            for a in node.args.iter().copied().chain(yielded) {
                if !src.within(src.node(a).region, body) {
                    let v = if taping && updated_later(src, a) {
                        // An array updated in place after the loop: the
                        // recomputation reads a copy made as the forward
                        // loop ends, not the array's later contents.
                        let at = self.g.node(dst_loop).region;
                        let ty = src.ty(a);
                        let forward = self.as_read_in(c, a, at);
                        let copy = self.g.add_after(at, dst_loop, Op::Owned, vec![forward], ty);
                        let base = self.ctxs[c].base;
                        self.export(c, copy, loop_region, ty, base)
                    } else {
                        self.primal(a)
                    };
                    presets.push((a, v));
                }
            }
        }
        let g = std::mem::take(&mut self.g);
        let seeds = |_: usize, _: u32, _: Option<u32>| Seed::Zero;
        let mut fwd = Forward::with_graph(src, g, 0, &seeds);
        for (n, v) in presets {
            fwd.map[n.0 as usize] = v;
            fwd.fixed.insert(n);
        }
        fwd.copy(body, rb);
        self.ctxs.push(Ctx {
            base: body,
            map: fwd.map,
            regions: fwd.regions,
            exported: HashMap::new(),
            looped: Some((id, pos)),
        });
        self.g = fwd.dst;
    }

    /// `tape[pos]`: the value `value` (a node of the forward loop
    /// `dst_loop`'s body) at one iteration; the tape is added to the loop
    /// as a stacked output on first use.
    fn tape_read(
        &mut self,
        c: usize,
        dst_loop: NodeId,
        loop_region: RegionId,
        value: NodeId,
        rb: RegionId,
        pos: NodeId,
    ) -> NodeId {
        let ty = self.g.ty(value);
        let Some(tape) = self.tape(c, dst_loop, loop_region, value) else {
            return pos;
        };
        self.g.add(rb, Op::Index, vec![tape, pos], ty)
    }

    /// The tape of `value` (a node of the forward loop `dst_loop`'s body,
    /// the loop in source region `loop_region` of context `c`), usable in
    /// the context's base region.
    fn tape(
        &mut self,
        c: usize,
        dst_loop: NodeId,
        loop_region: RegionId,
        value: NodeId,
    ) -> Option<NodeId> {
        if let Some(&t) = self.tapes.get(&(dst_loop, value)) {
            return Some(t);
        }
        let proj = self.stack(dst_loop, value)?;
        let base = self.ctxs[c].base;
        let tape_ty = self.g.ty(proj);
        let t = self.export(c, proj, loop_region, tape_ty, base);
        self.tapes.insert((dst_loop, value), t);
        Some(t)
    }

    /// The values `value` (a node of new loop `dst_loop`'s body) takes,
    /// one per iteration: a stacked output of the loop, read by a `Proj`
    /// in the loop's region.
    fn stack(&mut self, dst_loop: NodeId, value: NodeId) -> Option<NodeId> {
        if let Some(&p) = self.stacks.get(&(dst_loop, value)) {
            return Some(p);
        }
        let Op::Loop { body, .. } = *self.g.op(dst_loop) else {
            return None;
        };
        let mut outs = self.g.region(body).outputs.clone();
        outs.push(value);
        let index = outs.len() as u32 - 1;
        self.g.set_outputs(body, outs);
        let tape_ty = match self.g.ty(value) {
            Ty::Float(f) => Ty::Array(f, 1),
            Ty::Array(f, rank) => Ty::Array(f, rank + 1),
            other => other,
        };
        let at = self.g.node(dst_loop).region;
        let proj = self.g.add(at, Op::Proj(index), vec![dst_loop], tape_ty);
        self.stacks.insert((dst_loop, value), proj);
        Some(proj)
    }

    /// Can the reversal of loop `id`, copied in context `c`, read its
    /// tapes from the forward copy of the loop `L1` holding it one context
    /// out? When `c` is the copy of `L1`'s body being reversed and `id`
    /// sits directly in that body, the copy of `L1` that taped `L1`'s own
    /// values ran `id` at each of its iterations: stacking `id`'s tapes by
    /// `L1`'s iteration there means `id` need not run a third time inside
    /// `L1`'s reversal (a loop nested `k` deep would otherwise run `k + 1`
    /// times forward).
    fn stacked(&self, id: NodeId, c: usize) -> Option<Stacked> {
        let (l1, pos1) = self.ctxs[c].looped?;
        let outer = c.checked_sub(1)?;
        let Op::Loop { body, .. } = *self.src.op(l1) else {
            return None;
        };
        if self.src.node(id).region != body {
            return None;
        }
        let copy = |n: NodeId| {
            let m = self.ctxs[outer].map[n.0 as usize];
            ((m.0 as usize) < self.g.nodes.len() && matches!(self.g.op(m), Op::Loop { .. }))
                .then_some(m)
        };
        let (f1, f2) = (copy(l1)?, copy(id)?);
        let Op::Loop { body: f1_body, .. } = *self.g.op(f1) else {
            return None;
        };
        (self.g.node(f2).region == f1_body).then_some(Stacked {
            c: outer,
            l1: f1,
            l2: f2,
            l1_region: self.src.node(l1).region,
            pos1,
        })
    }

    /// `tape[pos1][pos]`: the value `value` (a node of the body of
    /// `st.l2`) at one iteration of `L2` within one of `L1`.
    fn stacked_read(
        &mut self,
        st: Stacked,
        value: NodeId,
        rb: RegionId,
        pos: NodeId,
    ) -> Option<NodeId> {
        let ty = self.g.ty(value);
        let rows = self.stack(st.l2, value)?;
        let tape = self.tape(st.c, st.l1, st.l1_region, rows)?;
        Some(self.g.add(rb, Op::Index, vec![tape, st.pos1, pos], ty))
    }

    /// The tape read of source node `n` (of loop body `body`) at the
    /// iteration being reversed: from `L1`'s forward copy when `t.stacked`
    /// allows (values that are not arrays), else from the loop's own
    /// forward copy.
    fn taped(&mut self, t: &Taping, n: NodeId) -> Option<NodeId> {
        let scalar = !self.src.ty(n).is_array();
        if let Some(st) = t.stacked.filter(|_| scalar) {
            if let Some(v) = self.value_in(st.c, st.l2, t.body, n) {
                if let Some(read) = self.stacked_read(st, v, t.rb, t.pos) {
                    return Some(read);
                }
            }
        }
        let v = self.value_in(t.c, t.dst_loop, t.body, n)?;
        Some(self.tape_read(t.c, t.dst_loop, t.loop_region, v, t.rb, t.pos))
    }

    /// A scratch vector's contents at the end of each iteration (carried
    /// value `k`, a region argument from 1, of the loop being reversed),
    /// copied by the forward loop into one row of a tape per iteration:
    /// `(final version, its row)`. Only a rank-1 array of floats that the
    /// body writes and then reads only by element or length (the row is a
    /// slice): reading its last contents back, the reversal need not
    /// compute it again (GMM's centred point and its product with the
    /// Cholesky factor, read by the reversal of every inner loop).
    fn last_contents(&mut self, t: &Taping, k: u32) -> Option<(NodeId, NodeId)> {
        let src = self.src;
        let last = *src.region(t.body).outputs.get(k as usize - 1)?;
        let node = src.node(last);
        let (Ty::Array(_, 1), true) = (node.ty, node.region == t.body) else {
            return None;
        };
        if matches!(node.op, Op::RegionArg(..)) || !read_only_after(src, last) {
            return None;
        }
        let forward = self.ctxs[t.c].map[last.0 as usize];
        let Op::Loop { body, .. } = *self.g.op(t.dst_loop) else {
            return None;
        };
        if (forward.0 as usize) >= self.g.nodes.len() || self.g.node(forward).region != body {
            return None;
        }
        // (One copy, however often the reversal is built.)
        let copy = match self.copies.get(&forward) {
            Some(&copy) => copy,
            None => {
                let copy = self.g.add(body, Op::Owned, vec![forward], node.ty);
                self.copies.insert(forward, copy);
                copy
            }
        };
        Some((
            last,
            self.tape_read(t.c, t.dst_loop, t.loop_region, copy, t.rb, t.pos),
        ))
    }

    /// The value of source node `n` of loop body `body` in the copy
    /// `dst_loop` of that loop in context `c` (yielded out of the branches
    /// of the body it sits in), if the copy has it.
    fn value_in(
        &mut self,
        c: usize,
        dst_loop: NodeId,
        body: RegionId,
        n: NodeId,
    ) -> Option<NodeId> {
        let node = self.src.node(n);
        if let Op::RegionArg(r, k) = node.op {
            let Op::Loop { body: dst_body, .. } = *self.g.op(dst_loop) else {
                return None;
            };
            return (r == body).then(|| {
                self.g
                    .add_local(dst_body, Op::RegionArg(dst_body, k), vec![], node.ty)
            });
        }
        let forward = self.ctxs[c].map[n.0 as usize];
        if (forward.0 as usize) >= self.g.nodes.len() {
            return None;
        }
        Some(self.export(c, forward, node.region, node.ty, body))
    }
}

/// Where the reversal of one loop reads its tapes (see
/// [`Reverse::taped`]).
struct Taping {
    /// The context holding the loop's forward copy, and that copy.
    c: usize,
    dst_loop: NodeId,
    /// The source region holding the loop, and its body.
    loop_region: RegionId,
    body: RegionId,
    /// The reverse body and the position of its iteration on the tapes.
    rb: RegionId,
    pos: NodeId,
    /// Tapes stacked in the enclosing loop's forward copy, where they can be.
    stacked: Option<Stacked>,
}

/// Is array `a` only read after it is made: by element, for its length,
/// or yielded by its own region (as a loop body's carried value)?
fn read_only_after(src: &Graph, a: NodeId) -> bool {
    let region = src.node(a).region;
    let read = src.nodes.iter().all(|n| {
        !n.args.contains(&a)
            || (n.op == Op::Index && n.args[0] == a && !n.args[1..].contains(&a))
            || n.op == Op::Len
    });
    let yielded = src
        .regions
        .iter()
        .enumerate()
        .all(|(r, reg)| r == region.0 as usize || !reg.outputs.contains(&a));
    read && yielded
}

/// Does the reversal of loop body `body` tape a copy of carried array `k`
/// (its region argument `k`, `k >= 1`) per iteration? When the body writes
/// it and holds a loop of its own: the inner loop's reads are not taped at
/// this level, so its recomputation needs the array as it was.
fn snapshots(src: &Graph, body: RegionId, k: u32) -> bool {
    let written = writes(src, body, k);
    let inner_loop = src
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::Loop { .. }) && src.within(n.region, body));
    written && inner_loop
}

/// The constant step of carried value `k` of loop body `body`, whose
/// region argument is `arg`, if it is an index counter: a `usize` (the body
/// indexes an array with it) that every iteration steps by a literal
/// (`li += 1`, `li -= 2`). Its value at iteration `pos` is then
/// `init + pos * step`, which reverse mode computes instead of taping it
/// (ADBench's GMM taped its packed-triangle index once per row).
fn induction_step(src: &Graph, body: RegionId, arg: NodeId, k: u32) -> Option<i64> {
    // (An integer of a type lowering does not track is `Other`.)
    if !matches!(src.ty(arg), Ty::Int | Ty::Other) {
        return None;
    }
    let out = *src.region(body).outputs.get(k as usize - 1)?;
    if src.node(out).region != body {
        return None;
    }
    let step = match (src.op(out), src.args(out)) {
        (Op::IntBin(op @ (IntOp::Add | IntOp::Sub)), &[a, b]) if a == arg => {
            let Op::Int(c) = *src.op(b) else {
                return None;
            };
            if *op == IntOp::Add {
                c
            } else {
                -c
            }
        }
        (&Op::Opaque(o), &[a]) if a == arg => opaque_step(&src.opaques[o as usize])?,
        _ => return None,
    };
    let indexes = src.nodes.iter().any(|n| {
        matches!(n.op, Op::Index | Op::Store | Op::AddAt)
            && (n.args[1..].contains(&arg) || n.args[1..].contains(&out))
    });
    indexes.then_some(step)
}

/// The step `c` of `name + c` or `name - c` kept as written, `name` the
/// one binding it reads.
fn opaque_step(opaque: &crate::ir::Opaque) -> Option<i64> {
    let [name] = &opaque.refs[..] else {
        return None;
    };
    let syn::Expr::Binary(b) = unparen(&opaque.expr) else {
        return None;
    };
    let sign = match b.op {
        syn::BinOp::Add(_) => 1,
        syn::BinOp::Sub(_) => -1,
        _ => return None,
    };
    let is_name = matches!(unparen(&b.left), syn::Expr::Path(p) if p.path.is_ident(name));
    let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Int(step),
        ..
    }) = unparen(&b.right)
    else {
        return None;
    };
    let step: i64 = step.base10_parse().ok()?;
    is_name.then_some(sign * step)
}

fn unparen(e: &syn::Expr) -> &syn::Expr {
    match e {
        syn::Expr::Paren(p) => unparen(&p.expr),
        syn::Expr::Group(g) => unparen(&g.expr),
        other => other,
    }
}

/// Is carried array `arg` (a region argument of loop `id`'s body) dead as
/// each iteration starts: its only element access is a loop at the top of
/// the body that writes every element (`for i in 0..d { xc[i] = ..; }`,
/// over the length the array was made with) without reading any, or a
/// loop whose every iteration starts that way and after which the body
/// does not read it? Then the reversal needs no copy of it per iteration:
/// a recomputation overwrites whatever array it is given (ADBench's GMM
/// copied three scratch vectors per data point, twice).
fn dead_on_entry(src: &Graph, users: &[Vec<NodeId>], id: NodeId, arg: NodeId) -> bool {
    let Op::RegionArg(body, k) = *src.op(arg) else {
        return false;
    };
    if src.region(body).outputs.contains(&arg) {
        return false;
    }
    let mut first = None;
    for &u in &users[arg.0 as usize] {
        match src.op(u) {
            Op::Len => {}
            Op::Loop { .. } if first.is_none() => first = Some(u),
            _ => return false,
        }
    }
    let Some(l) = first else {
        return false;
    };
    let Op::Loop {
        body: lb,
        exit: None,
        ..
    } = *src.op(l)
    else {
        return false;
    };
    let a = src.args(l);
    let slots: Vec<usize> = (2..a.len()).filter(|&j| a[j] == arg).collect();
    let [slot] = slots[..] else {
        return false;
    };
    let Some(inner) = src.region_arg(lb, slot as u32 - 1) else {
        return false;
    };
    if src.node(l).region != body {
        return false;
    }
    if overwrites(src, users, l, inner, src.args(id)[1 + k as usize]) {
        return true;
    }
    // Nested: every iteration of the inner loop starts by overwriting it,
    // and its value after the inner loop is only carried on.
    let after = users[l.0 as usize]
        .iter()
        .filter(|&&p| src.op(p) == &Op::Proj(slot as u32 - 2))
        .flat_map(|p| &users[p.0 as usize])
        .next();
    let carried_on = src.region(body).outputs.iter().position(
        |&o| matches!(src.op(o), Op::Proj(j) if *j == slot as u32 - 2 && src.args(o) == [l]),
    ) == Some(k as usize - 1);
    after.is_none() && carried_on && dead_on_entry(src, users, l, inner)
}

/// The `vec![v; n]` or `[v; N]` that, made again, can stand in for array
/// `arg` (a region argument of loop `id`'s body) in the loop's
/// recomputation: `arg` is overwritten before it is read in every
/// iteration, and starts from that array.
fn fresh_stand_in(src: &Graph, id: NodeId, arg: NodeId) -> Option<NodeId> {
    let Op::RegionArg(_, k) = *src.op(arg) else {
        return None;
    };
    let root = src.array_root(src.args(id)[1 + k as usize])?;
    dead_on_entry(src, &src.users(), id, arg).then_some(root)
}

/// Does loop `l`, carrying array `inner` (a region argument of its body)
/// from `init`, write every element of it without reading any: `for i in
/// 0..n { a[i] = v; }` with `n` the length `init` was made with?
fn overwrites(src: &Graph, users: &[Vec<NodeId>], l: NodeId, inner: NodeId, init: NodeId) -> bool {
    let Op::RegionArg(lb, j) = *src.op(inner) else {
        return false;
    };
    let a = src.args(l);
    let same_len = src
        .array_root(init)
        .is_some_and(|root| made_with_len(src, root, a[1]));
    let (Op::Int(0), true, Some(i)) = (src.op(a[0]), same_len, src.region_arg(lb, 0)) else {
        return false;
    };
    let [store] = users[inner.0 as usize][..] else {
        return false;
    };
    let s = src.node(store);
    s.op == Op::Store
        && s.args.len() == 3
        && s.args[0] == inner
        && s.args[1] == i
        && s.region == lb
        && src.region(lb).outputs.get(j as usize - 1) == Some(&store)
}

/// Was `root` (a `vec![v; n]` or `[v; N]`) made with length `len`: the
/// length of an array made from it (`0..v.len()`), `n` itself, or the
/// same integer literal, or for `[v; N]` a binding of the same constant
/// tokens (`let d = D;` then `[0.0; D]`)?
fn made_with_len(src: &Graph, root: NodeId, len: NodeId) -> bool {
    let tokens = |k: u32| src.opaques[k as usize].expr.to_token_stream().to_string();
    if src.op(len) == &Op::Len
        && src.args(len).len() == 1
        && src.array_root(src.args(len)[0]) == Some(root)
    {
        return true;
    }
    match (src.op(root), src.op(len)) {
        (Op::FillVec, _) => {
            let n = src.args(root)[1];
            n == len || matches!((src.op(n), src.op(len)), (Op::Int(x), Op::Int(y)) if x == y)
        }
        (&Op::FillFixed(k), &Op::Int(y)) => tokens(k) == y.to_string(),
        (&Op::FillFixed(k), &Op::Opaque(j)) => src.args(len).is_empty() && tokens(k) == tokens(j),
        _ => false,
    }
}

/// Is array `a` updated in place (a later version is made from it, or a
/// loop carries it and writes it)?
fn updated_later(src: &Graph, a: NodeId) -> bool {
    src.ty(a).is_array()
        && src.nodes.iter().any(|n| match n.op {
            ref op if op.updates_in_place() => n.args.first() == Some(&a),
            Op::Loop { body, .. } => n.args[2..]
                .iter()
                .enumerate()
                .any(|(k, &init)| init == a && writes(src, body, k as u32 + 1)),
            _ => false,
        })
}

/// Is `op` costly enough (a transcendental function) that reverse mode
/// tapes its result in a loop rather than computing it again (and that
/// the gather pass does not compute it twice)?
pub(crate) fn costly(op: &Op) -> bool {
    match op {
        Op::Un(u) => u.costly(),
        Op::Bin(b) => b.costly(),
        _ => false,
    }
}

/// Does loop body `body` write its carried array `k` (region argument
/// `k >= 1`)?
fn writes(src: &Graph, body: RegionId, k: u32) -> bool {
    src.region(body)
        .outputs
        .get(k as usize - 1)
        .is_some_and(|&out| *src.op(out) != Op::RegionArg(body, k))
}

/// Is `region` inside a loop body nested in `body` (whose reversal
/// tapes its own reads)?
fn in_inner_loop(src: &Graph, mut region: RegionId, body: RegionId) -> bool {
    while region != body {
        let is_loop_body = src
            .nodes
            .iter()
            .any(|n| matches!(n.op, Op::Loop { body: b, .. } if b == region));
        if is_loop_body {
            return true;
        }
        match src.region(region).parent {
            Some(p) => region = p,
            None => return false,
        }
    }
    false
}

/// The vjp of `f`: params are `f`'s then `extra`; `out_seeds[k]` seeds the
/// adjoint of output `k`; outputs are `f`'s outputs followed by the
/// adjoint of each `wrt` `(param, field)` (zero where none flows).
pub fn vjp(
    f: &Function,
    extra: Vec<Param>,
    out_seeds: &[Seed],
    wrt: &[(u32, Option<u32>)],
) -> Function {
    let fwd = Forward::run(&f.graph, 0, &|_, _, _| Seed::Zero);
    let mut projs = HashMap::new();
    for (i, node) in f.graph.nodes.iter().enumerate() {
        if let Op::Proj(k) = node.op {
            projs.insert((node.args[0], k), NodeId(i as u32));
        }
    }
    let root = Ctx {
        base: ROOT,
        map: fwd.map,
        regions: fwd.regions,
        exported: HashMap::new(),
        looped: None,
    };
    let active = super::activity(&f.graph, &|index, field| wrt.contains(&(index, field)));
    let mut rev = Reverse {
        src: &f.graph,
        g: fwd.dst,
        ctxs: vec![root],
        projs,
        tapes: HashMap::new(),
        stacks: HashMap::new(),
        copies: HashMap::new(),
        active,
    };
    let mut outputs: Vec<NodeId> = f
        .outputs
        .iter()
        .map(|o| rev.ctxs[0].map[o.0 as usize])
        .collect();
    let mut bars = Bars::new();
    // Adjoint arrays start as zeros and are threaded through everything.
    for (i, node) in f.graph.nodes.iter().enumerate() {
        if matches!(node.op, Op::Param { .. }) && node.ty.is_array() && rev.active[i] {
            let p = rev.ctxs[0].map[i];
            let zeros = rev.g.add(ROOT, Op::ZerosLike, vec![p], node.ty);
            bars.insert(NodeId(i as u32), Bar::open(zeros));
        }
    }
    for (&o, seed) in f.outputs.iter().zip(out_seeds) {
        let ty = f.graph.ty(o);
        let value = rev.ctxs[0].map[o.0 as usize];
        if let Some(s) = seed.node(&mut rev.g, ty, value) {
            // An array cotangent is checked against the value's length,
            // and copied: its adjoint is updated in place.
            let s = if ty.is_array() {
                let s = rev.g.add(ROOT, Op::Checked, vec![s, value], ty);
                rev.g.add(ROOT, Op::Owned, vec![s], ty)
            } else {
                s
            };
            seed_bar(&mut rev.g, ROOT, &mut bars, o, s);
        }
    }
    rev.region(ROOT, ROOT, &mut bars);
    for &(index, field) in wrt {
        let param = f
            .graph
            .nodes
            .iter()
            .position(|n| n.op == Op::Param { index, field })
            .map(|p| NodeId(p as u32));
        let ty = f.params[index as usize].fields[field.unwrap_or(0) as usize];
        let bar = match param.and_then(|p| bars.get(&p).copied()) {
            Some(b) => b.value(&mut rev.g, ROOT),
            None if ty.is_array() => {
                let p = rev.g.add(ROOT, Op::Param { index, field }, vec![], ty);
                rev.g.add(ROOT, Op::ZerosLike, vec![p], ty)
            }
            None => rev.g.filler(ROOT, ty),
        };
        outputs.push(bar);
    }
    let mut params = f.params.clone();
    params.extend(extra);
    Function {
        params,
        graph: rev.g,
        outputs,
        shape: f.shape.clone(),
    }
}
