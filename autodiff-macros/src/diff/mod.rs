//! The IR -> IR transforms: forward (`jvp`) and reverse (`vjp`) mode. Both
//! read the one rule table in [`rules`].

pub mod forward;
pub mod reverse;
pub mod rules;

use crate::ir::{Bin, Graph, NodeId, Op, RegionId, Ty};
use rules::Partial;

/// What a transform seeds a derivative with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seed {
    /// A structural zero: no derivative flows from here.
    Zero,
    /// The constant 1 (a basis direction, or the seed of a gradient).
    One,
    /// A parameter of the new function (`x_dot`, `out_bar`).
    Param { index: u32, field: Option<u32> },
    /// Element `k` of an array is 1, the others 0: one direction of a
    /// basis over an array's elements (a forward seed only; see
    /// [`one_hot`]).
    Basis(u32),
}

impl Seed {
    /// The node for this seed in the root region of `g`, `None` for zero;
    /// `like` is the value seeded (an array seed has its shape).
    pub fn node(self, g: &mut Graph, ty: Ty, like: NodeId) -> Option<NodeId> {
        let f = ty.elem()?;
        match self {
            Seed::Zero => None,
            Seed::One if ty.is_array() => None,
            Seed::Basis(_) if !ty.is_array() => None,
            Seed::Basis(k) => {
                let zeros = g.add(crate::ir::ROOT, Op::ZerosLike, vec![like], ty);
                let (k, one) = (
                    g.int(crate::ir::ROOT, k as i64),
                    g.konst(crate::ir::ROOT, f, 1.0),
                );
                Some(g.add(crate::ir::ROOT, Op::Store, vec![zeros, k, one], ty))
            }
            Seed::One => Some(g.konst(crate::ir::ROOT, f, 1.0)),
            Seed::Param { index, field } => {
                Some(g.add(crate::ir::ROOT, Op::Param { index, field }, vec![], ty))
            }
        }
    }
}

/// The position and value of the one nonzero element of a [`Seed::Basis`]
/// array (seen through the copies and length checks a cotangent goes
/// through), so that reading an element of it is a literal or a
/// structural zero.
pub fn one_hot(g: &Graph, mut n: NodeId) -> Option<(i64, NodeId)> {
    while matches!(g.op(n), Op::Owned | Op::Checked) {
        n = g.args(n)[0];
    }
    match (g.op(n), g.args(n)) {
        (Op::Store, &[zeros, k, v]) if *g.op(zeros) == Op::ZerosLike => match g.op(k) {
            Op::Int(k) => Some((*k, v)),
            _ => None,
        },
        _ => None,
    }
}

/// `d * partial`: the derivative `d` carried through a partial.
fn apply(g: &mut Graph, r: RegionId, p: Partial, d: NodeId) -> Option<NodeId> {
    match p {
        Partial::Zero => None,
        Partial::Scale(s) => Some(g.bin(r, Bin::Mul, d, s)),
        Partial::Div(s) => Some(g.bin(r, Bin::Div, d, s)),
        Partial::DivScale(q, s) => {
            let t = g.bin(r, Bin::Div, d, q);
            Some(g.bin(r, Bin::Mul, t, s))
        }
        Partial::GatedScale(..) | Partial::GatedDivScale(..) => {
            let (cond, slope) = p.gated()?;
            let scaled = apply(g, r, slope, d)?;
            let zero = g.filler(r, g.ty(d));
            Some(g.select(r, cond, scaled, zero))
        }
        Partial::Gate(cond, when) => {
            let zero = g.filler(r, g.ty(d));
            Some(if when {
                g.select(r, cond, d, zero)
            } else {
                g.select(r, cond, zero, d)
            })
        }
    }
}

/// `Σ dᵢ · partialᵢ`: the tangent of one node from its operands'
/// tangents `dᵢ`. Terms that divide by the same node share one division:
/// the quotient rule's `(ẋ - out · ẏ) / y` rather than `ẋ / y - ẏ / y ·
/// out`, `hypot`'s `(x ẋ + y ẏ) / h`.
fn tangent_sum(g: &mut Graph, r: RegionId, terms: &[(Partial, NodeId)]) -> Option<NodeId> {
    let mut sum = None;
    let mut done = vec![false; terms.len()];
    for (i, &(p, d)) in terms.iter().enumerate() {
        if done[i] {
            continue;
        }
        done[i] = true;
        let shared: Vec<usize> = match p.divisor() {
            Some(key) => (i + 1..terms.len())
                .filter(|&j| !done[j] && terms[j].0.divisor() == Some(key))
                .collect(),
            None => Vec::new(),
        };
        let term = match (p.divisor(), shared.is_empty()) {
            (Some((q, cond)), false) => {
                let mut num = None;
                for &(pj, dj) in std::iter::once(&(p, d)).chain(shared.iter().map(|&j| &terms[j])) {
                    let scaled = match pj {
                        Partial::DivScale(_, s) | Partial::GatedDivScale(_, _, s) => {
                            g.bin(r, Bin::Mul, dj, s)
                        }
                        _ => dj,
                    };
                    num = Some(accumulate(g, r, num, scaled));
                }
                for &j in &shared {
                    done[j] = true;
                }
                let num = num?;
                let v = g.bin(r, Bin::Div, num, q);
                match cond {
                    Some(c) => {
                        let zero = g.filler(r, g.ty(v));
                        Some(g.select(r, c, v, zero))
                    }
                    None => Some(v),
                }
            }
            _ => apply(g, r, p, d),
        };
        if let Some(t) = term {
            sum = Some(accumulate(g, r, sum, t));
        }
    }
    sum
}

/// `acc + d`, where `None` is a structural zero.
fn accumulate(g: &mut Graph, r: RegionId, acc: Option<NodeId>, d: NodeId) -> NodeId {
    match acc {
        Some(a) => g.bin(r, Bin::Add, a, d),
        None => d,
    }
}

/// Which nodes depend differentiably on a parameter `active_param`
/// accepts: the values an adjoint may flow to. Loops and branches are
/// followed to a fixed point (a loop-carried value becomes active when its
/// body makes it so).
pub fn activity(g: &Graph, active_param: &dyn Fn(u32, Option<u32>) -> bool) -> Vec<bool> {
    let mut loop_of = std::collections::HashMap::new();
    for (i, node) in g.nodes.iter().enumerate() {
        if let Op::Loop { body, .. } = node.op {
            loop_of.insert(body, i);
        }
    }
    let mut act = vec![false; g.nodes.len()];
    loop {
        let mut changed = false;
        for (i, node) in g.nodes.iter().enumerate() {
            if act[i] {
                continue;
            }
            let on = |n: &NodeId| act[n.0 as usize];
            let outputs_on = |r: RegionId, k: usize| g.region(r).outputs.get(k).is_some_and(on);
            let a = match node.op {
                Op::Param { index, field } => {
                    node.ty.elem().is_some() && active_param(index, field)
                }
                Op::RegionArg(body, k) => {
                    k >= 1
                        && (outputs_on(body, k as usize - 1)
                            || loop_of
                                .get(&body)
                                .is_some_and(|&l| on(&g.nodes[l].args[1 + k as usize])))
                }
                // A loop of no iteration yields its initial value.
                Op::Proj(k) => {
                    let owner = g.node(node.args[0]);
                    let init_on = matches!(owner.op, Op::Loop { carried, .. } if k < carried && on(&owner.args[2 + k as usize]));
                    init_on
                        || owner
                            .op
                            .regions()
                            .iter()
                            .any(|r| outputs_on(*r, k as usize))
                }
                Op::If { .. } | Op::Loop { .. } => {
                    node.op
                        .regions()
                        .iter()
                        .any(|r| g.region(*r).outputs.iter().any(on))
                        || node.args.iter().any(on)
                }
                Op::Const(_)
                | Op::Int(_)
                | Op::Bool(_)
                | Op::Default
                | Op::Opaque(_)
                | Op::ZerosLike => false,
                _ if node.ty == Ty::Bool => false,
                _ => node.args.iter().any(on),
            };
            if a {
                act[i] = true;
                changed = true;
            }
        }
        if !changed {
            return act;
        }
    }
}
