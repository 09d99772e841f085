//! Reverse mode: `vjp(f)` runs a forward sweep (a copy of `f`), then walks
//! the nodes backwards accumulating adjoints. A branch is reversed by a
//! second `If` on the same condition; values a reversed branch needs from
//! its forward branch are yielded by the forward `If` (the other branch
//! yields a zero), so nothing is recomputed.

use std::collections::{BTreeMap, HashMap};

use super::forward::Forward;
use super::rules::{self, Partial};
use super::{accumulate, apply, Seed};
use crate::ir::{Function, Graph, NodeId, Op, Param, RegionId, Ty, ROOT};

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

struct Reverse<'a> {
    fwd: Forward<'a>,
    /// Source node -> its value exported to the root of the new graph.
    exported: HashMap<NodeId, NodeId>,
    /// Source `(If, k)` -> the `Proj` node reading output `k`.
    projs: HashMap<(NodeId, u32), NodeId>,
}

impl Reverse<'_> {
    fn src(&self) -> &Graph {
        self.fwd.src
    }

    /// The forward value of source node `id`, usable anywhere in the new
    /// graph: root values directly, branch values through `If` outputs.
    fn primal(&mut self, id: NodeId) -> NodeId {
        let region = self.src().node(id).region;
        let v = self.fwd.map[id.0 as usize];
        if region == ROOT {
            return v;
        }
        if let Some(&e) = self.exported.get(&id) {
            return e;
        }
        // A literal is rebuilt where it is needed, not exported: rules can
        // then still see it is a literal (a `powi` exponent, say).
        let node = self.src().node(id);
        if matches!(node.op, Op::Const(_) | Op::Int(_) | Op::Bool(_)) {
            let (op, ty) = (node.op.clone(), node.ty);
            return self.fwd.dst.add(ROOT, op, vec![], ty);
        }
        let mut v = v;
        let mut r = region;
        let ty = self.src().ty(id);
        // Yield it from each enclosing forward `If` up to the root.
        while r != ROOT {
            let copied = self.fwd.regions[&r];
            let g = &mut self.fwd.dst;
            let filler = g.filler(copied.sibling, ty);
            let mut this = g.region(copied.this).outputs.clone();
            let mut sib = g.region(copied.sibling).outputs.clone();
            this.push(v);
            sib.push(filler);
            let k = this.len() as u32 - 1;
            g.set_outputs(copied.this, this);
            g.set_outputs(copied.sibling, sib);
            v = g.add(copied.parent, Op::Proj(k), vec![copied.if_node], ty);
            // A branch region's parent is the region holding its `If`.
            r = self.src().region(r).parent.unwrap_or(ROOT);
        }
        self.exported.insert(id, v);
        v
    }

    /// Reverses source region `sr` into new region `dr`, consuming `bars`.
    fn region(&mut self, sr: RegionId, dr: RegionId, bars: &mut Bars) {
        let nodes = self.src().region(sr).nodes.clone();
        for &id in nodes.iter().rev() {
            let node = self.src().node(id).clone();
            match node.op {
                Op::Param { .. } | Op::Proj(_) => continue,
                Op::If { then, els } => {
                    self.branch(id, then, els, node.args[0], dr, bars);
                    continue;
                }
                _ => {}
            }
            let Some(bar) = bars.remove(&id) else {
                continue;
            };
            if node.ty.float().is_none() {
                continue;
            }
            let args: Vec<NodeId> = node.args.iter().map(|&a| self.primal(a)).collect();
            let out = self.primal(id);
            for (k, &a) in node.args.iter().enumerate() {
                if self.src().ty(a).float().is_none() {
                    continue;
                }
                let g = &mut self.fwd.dst;
                let contribution = match rules::partial(g, dr, &node.op, &args, out, k) {
                    Partial::Zero => continue,
                    Partial::Gate(c, when) => Bar {
                        node: bar.value(g, dr),
                        gate: Some((c, when)),
                    },
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
                Some(bar.value(&mut self.fwd.dst, dr))
            })
            .collect();
        if out_bars.iter().all(Option::is_none) {
            return;
        }
        let mut sent: [BTreeMap<NodeId, NodeId>; 2] = [BTreeMap::new(), BTreeMap::new()];
        let mut regions = [RegionId(0); 2];
        for (side, sr) in [then, els].into_iter().enumerate() {
            let r = self.fwd.dst.new_region(dr);
            regions[side] = r;
            let mut local = Bars::new();
            for (k, bar) in out_bars.iter().enumerate() {
                if let Some(bar) = *bar {
                    let o = self.src().region(sr).outputs[k];
                    add_bar(&mut self.fwd.dst, r, &mut local, o, Bar::open(bar));
                }
            }
            self.region(sr, r, &mut local);
            // What is left is sent to values defined outside this branch.
            for (k, bar) in local {
                if !self.src().within(self.src().node(k).region, sr) {
                    let v = bar.value(&mut self.fwd.dst, r);
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
                        self.fwd.dst.filler(r, ty)
                    }
                })
                .collect();
            self.fwd.dst.set_outputs(r, outs);
        }
        let c = self.primal(cond);
        let g = &mut self.fwd.dst;
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
            let ty = self.fwd.src.ty(t);
            // Sent by one branch only: zero unless that branch is taken.
            let gate = match (sent[0].contains_key(&t), sent[1].contains_key(&t)) {
                (true, false) => Some((c, true)),
                (false, true) => Some((c, false)),
                _ => None,
            };
            let g = &mut self.fwd.dst;
            let v = g.add(dr, Op::Proj(k as u32), vec![rev_if], ty);
            add_bar(g, dr, bars, t, Bar { node: v, gate });
        }
    }
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
    let mut rev = Reverse {
        fwd,
        exported: HashMap::new(),
        projs,
    };
    let mut outputs: Vec<NodeId> = f
        .outputs
        .iter()
        .map(|o| rev.fwd.map[o.0 as usize])
        .collect();
    let mut bars = Bars::new();
    for (&o, seed) in f.outputs.iter().zip(out_seeds) {
        let ty = f.graph.ty(o);
        if let Some(s) = seed.node(&mut rev.fwd.dst, ty) {
            add_bar(&mut rev.fwd.dst, ROOT, &mut bars, o, Bar::open(s));
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
            Some(b) => b.value(&mut rev.fwd.dst, ROOT),
            None => rev.fwd.dst.filler(ROOT, ty),
        };
        outputs.push(bar);
    }
    let mut params = f.params.clone();
    params.extend(extra);
    Function {
        params,
        graph: rev.fwd.dst,
        outputs,
        shape: f.shape.clone(),
    }
}
