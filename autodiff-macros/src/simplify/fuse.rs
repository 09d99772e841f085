//! Loop fusion of a forward sweep with its reversal, where the reversal's
//! iterations are independent of one another.
//!
//! Reverse mode runs a loop forward, taping what its reversal reads, then
//! runs the reversal backwards. When the reversal only *accumulates* (every
//! value it carries from one iteration to the next is a sum: an adjoint
//! array updated by `AddAt`s, a float by `+`) and reads the forward loop
//! only through its tapes at the current iteration, the order of its
//! iterations does not matter, and iteration `i` of the reversal can run
//! right after iteration `i` of the forward loop: one loop, no tape, and
//! each row of the data read once while it is in cache. This is the
//! gradient of every sum over rows (a loss over a dataset); ADBench's
//! logistic regression took twice as long as by hand without it.
//!
//! # When it applies
//!
//! A forward `Loop` `F` and a reversed `Loop` `R` of one region, neither
//! with an exit, over the same `start` and `end` nodes, qualify when
//!
//! - `R` stacks nothing, and each value it carries is a chain from its
//!   argument to its output of `AddAt`s (the array first), float `Add`s or
//!   inner loops that sum into it the same way, in the body itself, each
//!   version used once, by the next update;
//! - `R`'s body reads `F` only as `tape[pos]`, `pos` the iteration's
//!   position (`i - start`, or `i` from 0), and at least once (so `R` is a
//!   reversal, not a loop of the user's), and nothing else reads `F`'s
//!   tapes; nothing `R` reads depends on `F`'s carried results;
//! - what `R` reads that the region computes after `F` can be computed
//!   before it: no region, no update in place, nothing from `F`;
//! - `F` neither reads an array `R` updates nor updates an array `R` reads.
//!
//! A reversed loop whose iteration `i` only adds into element `i` of the
//! arrays it carries, unpaired, runs forward: bit for bit the same.
//!
//! # Rounding
//!
//! An accumulator receives the same terms in the opposite order (forward
//! instead of backward), as a gradient written by hand does: the sum can
//! differ in its last bits.

use std::collections::{HashMap, HashSet};

use super::copy::{Copier, Pass};
use crate::ir::{Function, Graph, IntOp, NodeId, Op, RegionId, Ty, ROOT};

/// `f` with every qualifying pair of loops fused, or `None` if no pair
/// qualifies. The result needs [`super::simplify`] (dead tapes).
pub fn fuse(f: &Function) -> Option<Function> {
    let c = Copier::new(f);
    let (src, live) = (&f.graph, &c.live);
    // (The function comes simplified: a dead user, if any, only makes a
    // plan fail.)
    let users = src.users();
    let mut pairs = HashMap::new();
    let mut flip = HashSet::new();
    for (i, node) in src.nodes.iter().enumerate() {
        let r = NodeId(i as u32);
        if !live[i] || !matches!(node.op, Op::Loop { rev: true, .. }) {
            continue;
        }
        if let Some(p) = plan(src, &users, r) {
            if let std::collections::hash_map::Entry::Vacant(slot) = pairs.entry(p.forward) {
                slot.insert(p);
                continue;
            }
        }
        if order_free(src, &users, r) {
            flip.insert(r);
        }
    }
    if pairs.is_empty() && flip.is_empty() {
        return None;
    }
    let mut fuse = Fuse {
        c,
        pairs,
        flip,
        fused: HashMap::new(),
        tapes: HashMap::new(),
    };
    fuse.region(ROOT, ROOT);
    Some(fuse.c.finish(f))
}

/// One pair of loops to fuse.
struct Plan {
    forward: NodeId,
    reverse: NodeId,
    /// Nodes of the region after `forward` that `reverse` reads: copied
    /// before the fused loop, in source order.
    hoist: Vec<NodeId>,
}

fn plan(src: &Graph, users: &[Vec<NodeId>], rev: NodeId) -> Option<Plan> {
    let Op::Loop {
        body: rb,
        carried: rc,
        exit: None,
        ..
    } = *src.op(rev)
    else {
        return None;
    };
    let region = src.node(rev).region;
    let ra = src.args(rev);
    if src.region(rb).outputs.len() != rc as usize {
        return None;
    }
    // The forward loop: the one whose tapes the body reads.
    let inside = |n: NodeId| src.within(src.node(n).region, rb);
    let body_nodes: Vec<NodeId> = (0..src.nodes.len() as u32)
        .map(NodeId)
        .filter(|&n| inside(n))
        .collect();
    let mut outer: Vec<NodeId> = ra.to_vec();
    for &n in &body_nodes {
        outer.extend(src.args(n).iter().copied().filter(|&a| !inside(a)));
        for r in src.op(n).regions() {
            outer.extend(
                src.region(r)
                    .outputs
                    .iter()
                    .copied()
                    .filter(|&a| !inside(a)),
            );
        }
    }
    outer.extend(
        src.region(rb)
            .outputs
            .iter()
            .copied()
            .filter(|&a| !inside(a)),
    );
    let fwd = outer.iter().find_map(|&a| match src.op(a) {
        Op::Proj(_) if matches!(src.op(src.args(a)[0]), Op::Loop { .. }) => Some(src.args(a)[0]),
        _ => None,
    })?;
    let Op::Loop {
        body: fb,
        carried: fc,
        rev: false,
        exit: None,
    } = *src.op(fwd)
    else {
        return None;
    };
    let fa = src.args(fwd);
    if src.node(fwd).region != region || fa[..2] != ra[..2] {
        return None;
    }
    // Every use of F: its carried results outside R's reach, its tapes
    // only as `tape[pos]` in R's body.
    let idx = src.region_arg(rb, 0);
    let at_pos = |p: NodeId| match idx {
        Some(i) if p == i => src.op(fa[0]) == &Op::Int(0),
        Some(i) => src.op(p) == &Op::IntBin(IntOp::Sub) && src.args(p) == [i, fa[0]],
        None => false,
    };
    let mut tapes = HashSet::new();
    for &u in &users[fwd.0 as usize] {
        let Op::Proj(k) = *src.op(u) else {
            return None;
        };
        if k < fc {
            continue;
        }
        for &read in &users[u.0 as usize] {
            let ok = src.op(read) == &Op::Index
                && inside(read)
                && src.args(read).len() == 2
                && src.args(read)[0] == u
                && at_pos(src.args(read)[1]);
            if !ok {
                return None;
            }
        }
        tapes.insert(u);
    }
    // (Reading a tape makes `R` a reversal: a loop of the user's is never
    // reordered.)
    if tapes.is_empty() {
        return None;
    }
    // R carries sums only.
    for k in 1..=rc {
        if !sum_chain(src, users, rb, k) {
            return None;
        }
    }
    // What R reads from the region after F can move before it.
    let pos_of = |n: NodeId| src.region(region).nodes.iter().position(|&m| m == n);
    let f_pos = pos_of(fwd)?;
    let mut hoist = HashSet::new();
    for &a in &outer {
        if tapes.contains(&a) {
            continue;
        }
        if !movable(src, region, &pos_of, f_pos, fwd, a, &mut hoist) {
            return None;
        }
    }
    // No array flows between F's updates and R's reads or updates.
    let f_reads: HashSet<NodeId> = (0..src.nodes.len() as u32)
        .map(NodeId)
        .filter(|&n| src.within(src.node(n).region, fb))
        .flat_map(|n| src.args(n).to_vec())
        .collect();
    if ra[2..]
        .iter()
        .any(|a| src.ty(*a).is_array() && f_reads.contains(a))
    {
        return None;
    }
    if fa[2..]
        .iter()
        .any(|a| src.ty(*a).is_array() && outer.contains(a))
    {
        return None;
    }
    let mut hoist: Vec<NodeId> = hoist.into_iter().collect();
    hoist.sort_by_key(|&n| pos_of(n));
    Some(Plan {
        forward: fwd,
        reverse: rev,
        hoist,
    })
}

/// Can reversed loop `id` run forward with the same result, bit for bit:
/// does it stack nothing, never stop early, and carry only arrays that
/// each iteration `i` adds into at `i` alone (`acc[i] += ..`, in the body
/// itself)? Its iterations then touch disjoint elements; forward, the
/// compiler vectorizes the loop more readily.
fn order_free(src: &Graph, users: &[Vec<NodeId>], id: NodeId) -> bool {
    let Op::Loop {
        body,
        carried,
        exit: None,
        rev: true,
    } = *src.op(id)
    else {
        return false;
    };
    let Some(idx) = src.region_arg(body, 0) else {
        return false;
    };
    src.region(body).outputs.len() == carried as usize
        && (1..=carried).all(|k| {
            let Some(mut cur) = src.region_arg(body, k) else {
                return false;
            };
            let out = src.region(body).outputs[k as usize - 1];
            while cur != out {
                let [next] = users[cur.0 as usize][..] else {
                    return false;
                };
                let n = src.node(next);
                let at_idx = n.op == Op::AddAt && n.args.len() == 3 && n.args[..2] == [cur, idx];
                if !at_idx || n.region != body || n.args[2] == cur {
                    return false;
                }
                cur = next;
            }
            users[out.0 as usize].is_empty()
        })
}

/// Is carried value `k` of loop body `body` a sum: from its argument to
/// its output, a chain of `AddAt`s (array first), float `Add`s and loops
/// that sum into it the same way, in the body itself, each version used
/// once, by the next update?
fn sum_chain(src: &Graph, users: &[Vec<NodeId>], body: RegionId, k: u32) -> bool {
    let out = src.region(body).outputs[k as usize - 1];
    let Some(mut cur) = src.region_arg(body, k) else {
        return false;
    };
    if cur == out {
        // Passed through unchanged: the same in every iteration.
        return true;
    }
    while cur != out {
        let [next] = users[cur.0 as usize][..] else {
            return false;
        };
        let n = src.node(next);
        if n.region != body || n.args.iter().filter(|&&a| a == cur).count() != 1 {
            return false;
        }
        cur = match n.op {
            Op::AddAt if n.args[0] == cur => next,
            Op::Bin(crate::ir::Bin::Add) if n.ty.float().is_some() => next,
            // A loop in the body that sums into it too: the chain goes on
            // from the loop's result.
            Op::Loop {
                body: inner,
                exit: None,
                ..
            } => {
                let Some(slot) = n.args.iter().skip(2).position(|&a| a == cur) else {
                    return false;
                };
                if !sum_chain(src, users, inner, slot as u32 + 1) {
                    return false;
                }
                let proj = users[next.0 as usize]
                    .iter()
                    .copied()
                    .filter(|&u| src.op(u) == &Op::Proj(slot as u32))
                    .collect::<Vec<_>>();
                let [proj] = proj[..] else {
                    return false;
                };
                proj
            }
            _ => return false,
        };
    }
    users[out.0 as usize].is_empty()
        && src
            .region(body)
            .outputs
            .iter()
            .filter(|&&o| o == out)
            .count()
            == 1
}

/// Can `a`, read by the reversal, be computed before the forward loop at
/// position `f_pos` of `region`? Nodes of the region after it that need
/// moving are collected in `hoist`.
fn movable(
    src: &Graph,
    region: RegionId,
    pos_of: &dyn Fn(NodeId) -> Option<usize>,
    f_pos: usize,
    fwd: NodeId,
    a: NodeId,
    hoist: &mut HashSet<NodeId>,
) -> bool {
    if a == fwd {
        return false;
    }
    let region_input = matches!(src.op(a), Op::RegionArg(..));
    if src.node(a).region != region || hoist.contains(&a) || region_input {
        return true;
    }
    match pos_of(a) {
        Some(p) if p < f_pos => return true,
        None => return true,
        _ => {}
    }
    let op = src.op(a);
    if !op.regions().is_empty() || op.updates_in_place() || matches!(op, Op::Proj(_)) {
        return false;
    }
    hoist.insert(a);
    src.args(a)
        .iter()
        .all(|&b| movable(src, region, pos_of, f_pos, fwd, b, hoist))
}

/// Copies the live part of a function, fusing the planned pairs.
struct Fuse<'a> {
    c: Copier<'a>,
    pairs: HashMap<NodeId, Plan>,
    /// Reversed loops to run forward.
    flip: HashSet<NodeId>,
    /// Source loop (either of a pair) -> the fused loop and where its
    /// outputs went (source output `k` is new output `outs[k]`).
    fused: HashMap<NodeId, (NodeId, Vec<u32>)>,
    /// The forward loop's tapes -> the body outputs they stack.
    tapes: HashMap<NodeId, NodeId>,
}

impl<'a> Pass<'a> for Fuse<'a> {
    fn copy(&mut self) -> &mut Copier<'a> {
        &mut self.c
    }

    fn rewrite(&mut self, id: NodeId, dr: RegionId) -> Option<NodeId> {
        let node = self.c.src.node(id);
        let arg = node.args.first().copied();
        match node.op {
            Op::Loop { .. } if self.pairs.contains_key(&id) => Some(self.fuse_pair(id, dr)),
            Op::Proj(k) => {
                let (l, outs) = self.fused.get(&arg?)?;
                let (l, k) = (*l, outs[k as usize]);
                Some(self.c.dst.add(dr, Op::Proj(k), vec![l], node.ty))
            }
            Op::Index => Some(self.c.get(*self.tapes.get(&arg?)?)),
            _ => None,
        }
    }

    fn reversed(&self, id: NodeId, rev: bool) -> bool {
        rev && !self.flip.contains(&id)
    }
}

impl Fuse<'_> {
    /// The forward loop `fwd` and its reversal as one forward loop: the
    /// forward body, then the reversal's, carrying the forward loop's
    /// values, then the reversal's, then stacking the forward loop's tapes.
    fn fuse_pair(&mut self, fwd: NodeId, dr: RegionId) -> NodeId {
        let src = self.c.src;
        let p = self.pairs.remove(&fwd).expect("planned");
        for &h in &p.hoist {
            if self.c.map[h.0 as usize].is_none() {
                self.node(h, dr);
            }
        }
        let (
            Op::Loop {
                body: fb,
                carried: fc,
                ..
            },
            Op::Loop {
                body: rb,
                carried: rc,
                ..
            },
        ) = (src.op(fwd).clone(), src.op(p.reverse).clone())
        else {
            unreachable!("planned pairs are loops");
        };
        let nb = self.c.dst.new_region(dr);
        self.c.bodies.insert(fb, (nb, 0));
        self.c.bodies.insert(rb, (nb, fc));
        self.region(fb, nb);
        let f_outs = src.region(fb).outputs.clone();
        for (i, n) in src.nodes.iter().enumerate() {
            match n.op {
                Op::Proj(k) if k >= fc && n.args[0] == fwd => {
                    self.tapes.insert(NodeId(i as u32), f_outs[k as usize]);
                }
                _ => {}
            }
        }
        self.region(rb, nb);
        let r_outs = src.region(rb).outputs.clone();
        let (f_carried, f_stacked) = f_outs.split_at(fc as usize);
        let outs = [f_carried, &r_outs, f_stacked].concat();
        let outs = self.c.all(&outs);
        self.c.dst.set_outputs(nb, outs);
        let args = [src.args(fwd), &src.args(p.reverse)[2..]].concat();
        let args = self.c.all(&args);
        let op = Op::Loop {
            body: nb,
            carried: fc + rc,
            rev: false,
            exit: None,
        };
        let l = self.c.dst.add(dr, op, args, Ty::Other);
        let f_map = (0..f_outs.len() as u32)
            .map(|k| if k < fc { k } else { k + rc })
            .collect();
        let r_map = (0..rc).map(|k| fc + k).collect();
        self.fused.insert(fwd, (l, f_map));
        self.fused.insert(p.reverse, (l, r_map));
        // The reversal is built here: mark it copied.
        self.c.map[p.reverse.0 as usize] = Some(l);
        l
    }
}
