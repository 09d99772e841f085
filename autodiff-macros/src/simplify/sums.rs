//! Sums in registers: what a loop adds into one element of an array it
//! carries, at an index the loop does not change (`x_bar[i] += ..` inside
//! a loop over `j`: the adjoint of reading `x[i]` there), is added into a
//! float the loop carries instead, and the float into the element once,
//! after the loop, if the loop ran.
//!
//! Added to in memory, the element is stored and loaded back at every
//! iteration: the store-to-load latency is on the loop's dependency chain,
//! since the compiler cannot tell the array from the others the loop
//! writes. GMM's packed-triangle reversal (`xc_bar[i] += qxc_bar[j] *
//! l[li]` over `j > i`) took 8% of the gradient more than with a float.
//!
//! # When it applies
//!
//! A `Loop` without an exit, and an array it carries whose versions in the
//! body, from the body's argument to the body's output, are a chain of
//! `AddAt`s in the body itself, each version used once: by the next
//! update, the last by the body's outputs. Nothing else in the body reads
//! or yields the array, so no value added depends on it, and the terms can
//! be added in any order. The updates at the index nodes of the first one
//! whose index is computed outside the body are summed; the others stay
//! (where such an index equals another's, the element receives both).
//!
//! # Rounding
//!
//! The element receives the sum of the loop's terms, not each term in
//! turn: `a + (v1 + v2)` where the source computed `(a + v1) + v2`.

use std::collections::HashMap;

use super::copy::{Copier, Pass};
use crate::ir::{Bin, Cmp, Function, Graph, NodeId, Op, RegionId, Ty, ROOT};

/// The float a loop adds into instead of one element of an array it
/// carries.
struct Summed {
    /// The array's carried value (from 0).
    slot: u32,
    /// The index it is added at.
    index: Vec<NodeId>,
    /// The element's type.
    ty: Ty,
}

/// `f` with every qualifying accumulation summed in a float, or `None`
/// if none qualifies.
pub fn sums(f: &Function) -> Option<Function> {
    // (Most programs have no loop that adds into an array: no copy then.)
    let adds = |r: RegionId| {
        f.graph
            .region(r)
            .nodes
            .iter()
            .any(|&n| *f.graph.op(n) == Op::AddAt)
    };
    let candidate = f.graph.nodes.iter().any(|n| match n.op {
        Op::Loop {
            body, exit: None, ..
        } => adds(body),
        _ => false,
    });
    if !candidate {
        return None;
    }
    let c = Copier::new(f);
    let src = &f.graph;
    let users = src.users();
    let mut plans: HashMap<NodeId, Vec<Summed>> = HashMap::new();
    let mut updates = HashMap::new();
    for (i, node) in src.nodes.iter().enumerate() {
        let Op::Loop {
            body,
            carried,
            exit: None,
            ..
        } = node.op
        else {
            continue;
        };
        if !c.live[i] {
            continue;
        }
        let l = NodeId(i as u32);
        for k in 0..carried {
            let Some((s, taken)) = summed(src, &c.live, &users, body, k) else {
                continue;
            };
            let plan = plans.entry(l).or_default();
            updates.extend(taken.into_iter().map(|u| (u, (l, plan.len()))));
            plan.push(s);
        }
    }
    if plans.is_empty() {
        return None;
    }
    let mut p = Sums {
        c,
        plans,
        updates,
        sums: HashMap::new(),
    };
    p.region(ROOT, ROOT);
    Some(p.c.finish(f))
}

/// Carried value `k` of loop body `body`, if it qualifies, and the
/// updates its float takes over.
fn summed(
    src: &Graph,
    live: &[bool],
    users: &[Vec<NodeId>],
    body: RegionId,
    k: u32,
) -> Option<(Summed, Vec<NodeId>)> {
    let arg = src.region_arg(body, k + 1)?;
    let ty = Ty::Float(src.ty(arg).elem()?);
    let out = *src.region(body).outputs.get(k as usize)?;
    let read_by = |n: NodeId| -> Vec<NodeId> {
        users[n.0 as usize]
            .iter()
            .copied()
            .filter(|u| live[u.0 as usize])
            .collect()
    };
    let mut versions = vec![arg];
    let mut index: Option<&[NodeId]> = None;
    let mut updates = Vec::new();
    while versions.last() != Some(&out) {
        let cur = *versions.last()?;
        let [u] = read_by(cur)[..] else {
            return None;
        };
        let node = src.node(u);
        let (Op::AddAt, true, Some((&v, at))) = (
            &node.op,
            node.region == body && node.args[0] == cur,
            node.args[1..].split_last(),
        ) else {
            return None;
        };
        // (A float added: not a tuple of a call, say.)
        src.ty(v).float()?;
        let invariant = at.iter().all(|&i| !src.within(src.node(i).region, body));
        if invariant && *index.get_or_insert(at) == at {
            updates.push(u);
        }
        versions.push(u);
    }
    // No region yields a version but the body, the last, as value `k`.
    let yielded = src.regions.iter().enumerate().all(|(r, region)| {
        region.outputs.iter().enumerate().all(|(j, o)| {
            !versions.contains(o) || (r == body.0 as usize && j == k as usize && *o == out)
        })
    });
    let index = index?.to_vec();
    let summed = Summed { slot: k, index, ty };
    (yielded && read_by(out).is_empty() && !updates.is_empty()).then_some((summed, updates))
}

struct Sums<'a> {
    c: Copier<'a>,
    /// Source loop -> the floats it adds into instead.
    plans: HashMap<NodeId, Vec<Summed>>,
    /// An update a float takes over -> its loop and plan.
    updates: HashMap<NodeId, (NodeId, usize)>,
    /// `(source loop, plan)` -> the float's value so far, while its body is
    /// copied.
    sums: HashMap<(NodeId, usize), NodeId>,
}

impl Sums<'_> {
    /// The copy of planned loop `id`: it also carries its floats, from 0.
    fn summed_loop(&mut self, id: NodeId, dr: RegionId) -> NodeId {
        let src = self.c.src;
        let node = src.node(id);
        let Op::Loop {
            body,
            carried,
            rev,
            exit,
        } = node.op
        else {
            return NodeId(u32::MAX);
        };
        let nb = self.c.dst.new_region(dr);
        self.c.bodies.insert(body, (nb, 0));
        let floats: Vec<Ty> = self.plans[&id].iter().map(|s| s.ty).collect();
        for (p, &ty) in floats.iter().enumerate() {
            let k = carried + 1 + p as u32;
            let arg = self.c.dst.add_local(nb, Op::RegionArg(nb, k), vec![], ty);
            self.sums.insert((id, p), arg);
        }
        self.region(body, nb);
        let outputs = &src.region(body).outputs;
        let mut outs = self.c.all(&outputs[..carried as usize]);
        outs.extend((0..floats.len()).map(|p| self.sums[&(id, p)]));
        outs.extend(self.c.all(&outputs[carried as usize..]));
        self.c.dst.set_outputs(nb, outs);
        let mut args = self.c.all(&node.args[..2 + carried as usize]);
        for &ty in &floats {
            let f = ty.float().unwrap_or(crate::ir::FloatTy::F64);
            args.push(self.c.dst.konst(dr, f, 0.0));
        }
        let op = Op::Loop {
            body: nb,
            carried: carried + floats.len() as u32,
            rev,
            exit,
        };
        self.c.dst.add(dr, op, args, Ty::Other)
    }

    /// Projection `k` of planned source loop `l`: a stacked value moves up
    /// past the floats; a summed array gets its float added at the index,
    /// if the loop ran.
    fn projection(&mut self, id: NodeId, l: NodeId, k: u32, dr: RegionId) -> NodeId {
        let src = self.c.src;
        let Op::Loop { carried, .. } = *src.op(l) else {
            return NodeId(u32::MAX);
        };
        let plans = &self.plans[&l];
        let new_loop = self.c.get(l);
        let ty = src.ty(id);
        if k >= carried {
            let k = k + plans.len() as u32;
            return self.c.dst.add(dr, Op::Proj(k), vec![new_loop], ty);
        }
        let array = self.c.dst.add(dr, Op::Proj(k), vec![new_loop], ty);
        let Some(p) = plans.iter().position(|s| s.slot == k) else {
            return array;
        };
        let (index, float) = (plans[p].index.clone(), plans[p].ty);
        let c = &mut self.c;
        let (start, end) = (c.get(src.args(l)[0]), c.get(src.args(l)[1]));
        let mut args = vec![array];
        args.extend(c.all(&index));
        let g = &mut c.dst;
        let sum = g.add(dr, Op::Proj(carried + p as u32), vec![new_loop], float);
        let ran = g.cmp(dr, Cmp::Lt, start, end);
        let (then, els) = (g.new_region(dr), g.new_region(dr));
        args.push(sum);
        let added = g.add(then, Op::AddAt, args, ty);
        g.set_outputs(then, vec![added]);
        g.set_outputs(els, vec![array]);
        let branch = g.add(dr, Op::If { then, els }, vec![ran], Ty::Other);
        g.add(dr, Op::Proj(0), vec![branch], ty)
    }
}

impl<'a> Pass<'a> for Sums<'a> {
    fn copy(&mut self) -> &mut Copier<'a> {
        &mut self.c
    }

    fn rewrite(&mut self, id: NodeId, dr: RegionId) -> Option<NodeId> {
        let src = self.c.src;
        let node = src.node(id);
        match node.op {
            Op::Loop { .. } if self.plans.contains_key(&id) => Some(self.summed_loop(id, dr)),
            // The array passes on; the float adds the term.
            Op::AddAt => {
                let key = *self.updates.get(&id)?;
                let term = self.c.get(*node.args.last()?);
                let so_far = self.sums[&key];
                let sum = self.c.dst.bin(dr, Bin::Add, so_far, term);
                self.sums.insert(key, sum);
                Some(self.c.get(node.args[0]))
            }
            Op::Proj(k) if self.plans.contains_key(&node.args[0]) => {
                Some(self.projection(id, node.args[0], k, dr))
            }
            _ => None,
        }
    }
}
