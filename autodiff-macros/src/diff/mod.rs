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
}

impl Seed {
    /// The node for this seed in the root region of `g`, `None` for zero.
    pub fn node(self, g: &mut Graph, ty: Ty) -> Option<NodeId> {
        let f = ty.elem()?;
        match self {
            Seed::Zero => None,
            Seed::One if ty.is_array() => None,
            Seed::One => Some(g.konst(crate::ir::ROOT, f, 1.0)),
            Seed::Param { index, field } => {
                Some(g.add(crate::ir::ROOT, Op::Param { index, field }, vec![], ty))
            }
        }
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

/// `acc + d`, where `None` is a structural zero.
fn accumulate(g: &mut Graph, r: RegionId, acc: Option<NodeId>, d: NodeId) -> NodeId {
    match acc {
        Some(a) => g.bin(r, Bin::Add, a, d),
        None => d,
    }
}
