//! Where the emitted code keeps each array version (its variable), and
//! the shape of the array a branch's `Default` stands for.

use std::collections::HashMap;

use super::opaque::opaque_value;
use crate::ir::{Graph, NodeId, Op, RegionId};

/// The variable the emitter keeps an array version in: its own, or the
/// one of the version it updates in place (`AddAt`, `Store`, `AddArray`),
/// of the loop that carries it, of the `If` that yields it from both
/// branches under one name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) enum Var {
    Node(NodeId),
    /// Carried value `k` of a loop whose initial array is not a variable
    /// the loop can take over (a parameter, a `Default`).
    Slot(NodeId, u32),
}

/// The variable of every node (of array type; any other node is its own).
pub(super) fn variables(g: &Graph) -> Vec<Var> {
    let mut loop_of = HashMap::new();
    for (i, node) in g.nodes.iter().enumerate() {
        if let Op::Loop { body, .. } = node.op {
            loop_of.insert(body, NodeId(i as u32));
        }
    }
    let mut memo = vec![None; g.nodes.len()];
    (0..g.nodes.len())
        .map(|i| var_of(g, &loop_of, &mut memo, NodeId(i as u32)))
        .collect()
}

fn var_of(
    g: &Graph,
    loop_of: &HashMap<RegionId, NodeId>,
    memo: &mut Vec<Option<Var>>,
    id: NodeId,
) -> Var {
    if let Some(v) = memo[id.0 as usize] {
        return v;
    }
    // Provisional, against cycles in a malformed graph.
    memo[id.0 as usize] = Some(Var::Node(id));
    let node = g.node(id);
    // The loop variable of carried value `k` of loop `l`: the initial
    // array's own variable when it has one (the emitter's `reuse`).
    let slot = |memo: &mut Vec<Option<Var>>, l: NodeId, k: u32| match g.args(l).get(2 + k as usize)
    {
        Some(&init) if !matches!(g.op(init), Op::Param { .. } | Op::Default) => {
            var_of(g, loop_of, memo, init)
        }
        _ => Var::Slot(l, k),
    };
    let v = if !node.ty.is_array() {
        Var::Node(id)
    } else {
        match node.op {
            ref op if op.updates_in_place() && !node.args.is_empty() => {
                var_of(g, loop_of, memo, node.args[0])
            }
            Op::RegionArg(body, k) if k >= 1 => match loop_of.get(&body) {
                Some(&l) => slot(memo, l, k - 1),
                None => Var::Node(id),
            },
            Op::Proj(k) => match *g.op(node.args[0]) {
                Op::Loop { carried, .. } if k < carried => slot(memo, node.args[0], k),
                Op::If { then, els } => {
                    let out = |r: RegionId| g.region(r).outputs.get(k as usize).copied();
                    match (out(then), out(els)) {
                        (Some(a), Some(b)) => {
                            let (a, b) = (var_of(g, loop_of, memo, a), var_of(g, loop_of, memo, b));
                            if a == b {
                                a
                            } else {
                                Var::Node(id)
                            }
                        }
                        _ => Var::Node(id),
                    }
                }
                _ => Var::Node(id),
            },
            _ => Var::Node(id),
        }
    };
    memo[id.0 as usize] = Some(v);
    v
}

/// For each array `Default` a branch yields: what the other branch yields
/// in its place.
pub(super) fn default_siblings(g: &Graph) -> HashMap<NodeId, NodeId> {
    let mut out = HashMap::new();
    for node in &g.nodes {
        if let Op::If { then, els } = node.op {
            let (t, e) = (&g.region(then).outputs, &g.region(els).outputs);
            for (&a, &b) in t.iter().zip(e) {
                for (d, other) in [(a, b), (b, a)] {
                    if *g.op(d) == Op::Default && g.ty(d).is_array() {
                        out.insert(d, other);
                    }
                }
            }
        }
    }
    out
}

/// The dimensions of array node `id` if it is a fixed-size array (made by
/// `[v; N]` with a literal `N`, or `[a, b, ..]`, or a version or copy of
/// one), `None` for a `Vec` or a slice (or unknown).
pub(super) fn fixed_shape(g: &Graph, id: NodeId, depth: usize) -> Option<Vec<usize>> {
    if depth > 64 {
        return None;
    }
    let node = g.node(id);
    let init_of = |l: NodeId, k: u32| g.args(l).get(2 + k as usize).copied();
    match node.op {
        Op::FillFixed(k) => {
            let len = opaque_value::<f64>(&g.opaques[k as usize].expr, &[], &[])
                .ok()
                .and_then(|v| v.int().ok())
                .and_then(|n| usize::try_from(n).ok())?;
            let mut dims = vec![len];
            if g.ty(node.args[0]).is_array() {
                dims.extend(fixed_shape(g, node.args[0], depth + 1)?);
            }
            Some(dims)
        }
        Op::ArrayLit => Some(vec![node.args.len()]),
        Op::AddAt | Op::Store | Op::AddArray | Op::Owned | Op::ZerosLike => {
            fixed_shape(g, *node.args.first()?, depth + 1)
        }
        Op::Kernel(k) if k.accumulates() => fixed_shape(g, *node.args.first()?, depth + 1),
        Op::RegionArg(body, k) if k >= 1 => {
            let l = g
                .nodes
                .iter()
                .position(|n| matches!(n.op, Op::Loop { body: b, .. } if b == body))?;
            fixed_shape(g, init_of(NodeId(l as u32), k - 1)?, depth + 1)
        }
        Op::Proj(k) => match *g.op(node.args[0]) {
            Op::Loop { carried, .. } if k < carried => {
                fixed_shape(g, init_of(node.args[0], k)?, depth + 1)
            }
            Op::If { then, els } => [then, els].iter().find_map(|&r| {
                let o = *g.region(r).outputs.get(k as usize)?;
                fixed_shape(g, o, depth + 1)
            }),
            _ => None,
        },
        _ => None,
    }
}
