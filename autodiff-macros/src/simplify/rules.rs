//! The rewrite rules, applied as each node is rebuilt (its operands are
//! already simplified). Each rule makes the expression no larger.

use crate::ir::eval;
use crate::ir::IntOp;
use crate::ir::{Bin, Cmp, Graph, NodeId, Op, RegionId, Ty, Un};

/// Builds `op(args)` in `r`, rewritten by the first rule that applies.
/// `shared(n)` tells whether node `n` has other uses, so that a rewrite
/// never recomputes a value the code keeps anyway.
pub fn build(
    g: &mut Graph,
    r: RegionId,
    op: &Op,
    args: Vec<NodeId>,
    ty: Ty,
    shared: &dyn Fn(NodeId) -> bool,
) -> NodeId {
    if let Some(n) = fold(g, r, op, &args, ty) {
        return n;
    }
    let rewritten = match (op, ty.float()) {
        (Op::Un(u), Some(_)) => unary(g, r, *u, args[0], shared),
        (Op::Bin(b), Some(_)) => binary(g, r, *b, args[0], args[1]),
        (Op::PowI, Some(f)) => match g.op(args[1]) {
            Op::Int(1) => Some(args[0]),
            Op::Int(0) => Some(g.konst(r, f, 1.0)),
            _ => None,
        },
        (Op::Select, _) => select(g, r, args[0], args[1], args[2]),
        // `i - 0`, `i + 0`, `i * 1`, `i / 1` on integers (tape positions,
        // say).
        (Op::IntBin(IntOp::Sub | IntOp::Add), _) if *g.op(args[1]) == Op::Int(0) => Some(args[0]),
        (Op::IntBin(IntOp::Mul | IntOp::Div), _) if *g.op(args[1]) == Op::Int(1) => Some(args[0]),
        // An element of a basis direction read at a known index.
        (Op::Index, Some(f)) if args.len() == 2 => {
            match (crate::diff::one_hot(g, args[0]), g.op(args[1])) {
                (Some((k, one)), Op::Int(j)) if *j == k => Some(one),
                (Some(_), Op::Int(_)) => Some(g.konst(r, f, 0.0)),
                _ => None,
            }
        }
        // Zeros shaped like a copy of `a`, like zeros, or like `a` updated
        // in place, are zeros like `a`.
        (Op::ZerosLike, _) => match g.op(args[0]) {
            Op::ZerosLike | Op::Owned | Op::Checked | Op::AddAt | Op::Store | Op::AddArray => {
                let inner = g.args(args[0])[0];
                Some(g.add(r, Op::ZerosLike, vec![inner], ty))
            }
            _ => None,
        },
        _ => None,
    };
    rewritten.unwrap_or_else(|| g.add(r, op.clone(), args, ty))
}

/// Constant folding: an op whose operands are all literals.
fn fold(g: &mut Graph, r: RegionId, op: &Op, args: &[NodeId], ty: Ty) -> Option<NodeId> {
    let c = |i: usize| g.const_value(args[i]);
    let int = |i: usize| match g.op(args[i]) {
        Op::Int(n) => Some(*n),
        _ => None,
    };
    let boolean = |i: usize| match g.op(args[i]) {
        Op::Bool(b) => Some(*b),
        _ => None,
    };
    let value = match (op, ty) {
        (Op::Un(u), Ty::Float(f)) => eval::un(f, *u, c(0)?),
        (Op::Bin(b), Ty::Float(f)) => eval::bin(f, *b, c(0)?, c(1)?),
        (Op::PowI, Ty::Float(f)) => eval::powi(f, c(0)?, int(1)?),
        (Op::MulAdd, Ty::Float(f)) => eval::mul_add(f, c(0)?, c(1)?, c(2)?),
        (Op::Clamp, Ty::Float(_)) => eval::clamp(c(0)?, c(1)?, c(2)?)?,
        (Op::IntToFloat, Ty::Float(_)) => int(0)? as f64,
        (Op::FloatCast, Ty::Float(f)) => f.round(c(0)?),
        (Op::IntBin(op), _) => {
            let (a, b) = (int(0)?, int(1)?);
            let n = match op {
                IntOp::Add => a.checked_add(b),
                // Not below zero: the type may be unsigned.
                IntOp::Sub => a.checked_sub(b).filter(|d| *d >= 0),
                IntOp::Mul => a.checked_mul(b),
                IntOp::Div => a.checked_div(b),
                IntOp::Rem => a.checked_rem(b),
                IntOp::Min => Some(a.min(b)),
                IntOp::Max => Some(a.max(b)),
                IntOp::WrappingSubI32 => {
                    let (a, b) = (i32::try_from(a).ok()?, i32::try_from(b).ok()?);
                    Some(i64::from(a.wrapping_sub(b)))
                }
            }?;
            return Some(g.int(r, n));
        }
        (Op::Cmp(k), _) => {
            let b = match (int(0), int(1)) {
                // Integers: bounds and guards of gathered loops.
                (Some(a), Some(b)) => match k {
                    Cmp::Lt => a < b,
                    Cmp::Le | Cmp::MinFirst => a <= b,
                    Cmp::Gt => a > b,
                    Cmp::Ge | Cmp::MaxFirst => a >= b,
                    Cmp::Eq => a == b,
                    Cmp::Ne => a != b,
                },
                _ => eval::cmp(*k, c(0)?, c(1)?),
            };
            return Some(g.add(r, Op::Bool(b), vec![], Ty::Bool));
        }
        (Op::Not, _) => return Some(g.add(r, Op::Bool(!boolean(0)?), vec![], Ty::Bool)),
        (Op::Pred(p), _) => {
            let b = p.eval(g.float_ty(args[0]), c(0)?);
            return Some(g.add(r, Op::Bool(b), vec![], Ty::Bool));
        }
        (Op::FloatToInt(t), _) => return Some(g.int(r, t.cast(c(0)?))),
        (Op::And | Op::Or, _) => {
            let (a, b) = (boolean(0), boolean(1));
            let and = matches!(op, Op::And);
            // `false && _`, `true || _` and the fully known cases.
            let v = match (a, b) {
                (Some(a), Some(b)) => Some(if and { a && b } else { a || b }),
                (Some(a), _) | (_, Some(a)) if a != and => Some(a),
                _ => None,
            }?;
            return Some(g.add(r, Op::Bool(v), vec![], Ty::Bool));
        }
        _ => return None,
    };
    Some(g.konst(r, ty.float()?, value))
}

fn neg_of(g: &Graph, x: NodeId) -> Option<NodeId> {
    match g.op(x) {
        Op::Un(Un::Neg) => Some(g.args(x)[0]),
        _ => None,
    }
}

fn unary(
    g: &mut Graph,
    r: RegionId,
    u: Un,
    x: NodeId,
    shared: &dyn Fn(NodeId) -> bool,
) -> Option<NodeId> {
    match u {
        // --x = x
        Un::Neg => neg_of(g, x),
        Un::Ln => match *g.op(x) {
            // ln(1 + y) -> ln_1p(y); ln(1 + exp(y)) -> softplus(y)
            Op::Bin(Bin::Add) => {
                let [a, b] = [g.args(x)[0], g.args(x)[1]];
                let y = if g.is_const(a, 1.0) {
                    b
                } else if g.is_const(b, 1.0) {
                    a
                } else {
                    return None;
                };
                Some(ln_1p(g, r, y, shared))
            }
            _ => None,
        },
        Un::Ln1p => match *g.op(x) {
            Op::Un(Un::Exp) if !shared(x) => {
                let y = g.args(x)[0];
                Some(g.un(r, Un::Softplus, y))
            }
            _ => None,
        },
        _ => None,
    }
}

/// `ln(1 + y)`: `softplus` when `y` is an `exp` used nowhere else (else
/// `softplus` would compute the `exp` again), `ln_1p` otherwise.
fn ln_1p(g: &mut Graph, r: RegionId, y: NodeId, shared: &dyn Fn(NodeId) -> bool) -> NodeId {
    match *g.op(y) {
        Op::Un(Un::Exp) if !shared(y) => {
            let z = g.args(y)[0];
            g.un(r, Un::Softplus, z)
        }
        _ => g.un(r, Un::Ln1p, y),
    }
}

fn binary(g: &mut Graph, r: RegionId, b: Bin, x: NodeId, y: NodeId) -> Option<NodeId> {
    let is = |g: &Graph, n: NodeId, v: f64| g.is_const(n, v);
    match b {
        Bin::Add => {
            if is(g, y, 0.0) {
                return Some(x);
            }
            if is(g, x, 0.0) {
                return Some(y);
            }
            // x + x = 2x (exact)
            if x == y {
                let two = g.konst(r, g.float_ty(x), 2.0);
                return Some(g.bin(r, Bin::Mul, two, x));
            }
            if let Some(ny) = neg_of(g, y) {
                return Some(g.bin(r, Bin::Sub, x, ny));
            }
            if let Some(nx) = neg_of(g, x) {
                return Some(g.bin(r, Bin::Sub, y, nx));
            }
            merge_selects(g, r, x, y)
        }
        Bin::Sub => {
            if is(g, y, 0.0) {
                return Some(x);
            }
            if is(g, x, 0.0) {
                return Some(g.un(r, Un::Neg, y));
            }
            if let Some(ny) = neg_of(g, y) {
                return Some(g.bin(r, Bin::Add, x, ny));
            }
            // exp(z) - 1 -> exp_m1(z)
            if is(g, y, 1.0) && matches!(g.op(x), Op::Un(Un::Exp)) {
                let z = g.args(x)[0];
                return Some(g.un(r, Un::ExpM1, z));
            }
            None
        }
        Bin::Mul => {
            if is(g, y, 1.0) {
                return Some(x);
            }
            if is(g, x, 1.0) {
                return Some(y);
            }
            if is(g, y, -1.0) {
                return Some(g.un(r, Un::Neg, x));
            }
            if is(g, x, -1.0) {
                return Some(g.un(r, Un::Neg, y));
            }
            match (neg_of(g, x), neg_of(g, y)) {
                (Some(a), Some(b)) => return Some(g.bin(r, Bin::Mul, a, b)),
                (Some(a), None) => {
                    let m = g.bin(r, Bin::Mul, a, y);
                    return Some(g.un(r, Un::Neg, m));
                }
                (None, Some(b)) => {
                    let m = g.bin(r, Bin::Mul, x, b);
                    return Some(g.un(r, Un::Neg, m));
                }
                (None, None) => {}
            }
            // Constants first: `2 * x`.
            if g.const_value(y).is_some() && g.const_value(x).is_none() {
                return Some(g.bin(r, Bin::Mul, y, x));
            }
            // c1 * (c2 * z) -> (c1 c2) * z when c1 or c2 is a power of two:
            // scaling by a power of two is exact, so both sides round the
            // same product (the merged constant must be a normal number).
            if let (Some(c1), Op::Bin(Bin::Mul)) = (g.const_value(x), g.op(y).clone()) {
                let (a, z) = (g.args(y)[0], g.args(y)[1]);
                if let Some(c2) = g.const_value(a) {
                    let f = g.float_ty(x);
                    let c = f.round(c1 * c2);
                    if (power_of_two(c1) || power_of_two(c2)) && c.is_normal() && c == c1 * c2 {
                        let k = g.konst(r, f, c);
                        return Some(g.bin(r, Bin::Mul, k, z));
                    }
                }
            }
            None
        }
        Bin::Div => {
            if is(g, y, 1.0) {
                return Some(x);
            }
            // 1 / y -> y.recip()
            if is(g, x, 1.0) {
                return Some(g.un(r, Un::Recip, y));
            }
            None
        }
        _ => None,
    }
}

/// `select(c, a, 0) + select(c, 0, b) -> select(c, a, b)`.
fn merge_selects(g: &mut Graph, r: RegionId, x: NodeId, y: NodeId) -> Option<NodeId> {
    let (Op::Select, Op::Select) = (g.op(x), g.op(y)) else {
        return None;
    };
    let (a, b) = (g.args(x).to_vec(), g.args(y).to_vec());
    if a[0] != b[0] {
        return None;
    }
    let zero = |n: NodeId| g.is_const(n, 0.0);
    if zero(a[2]) && zero(b[1]) {
        return Some(g.select(r, a[0], a[1], b[2]));
    }
    if zero(a[1]) && zero(b[2]) {
        return Some(g.select(r, a[0], b[1], a[2]));
    }
    None
}

fn select(g: &mut Graph, r: RegionId, c: NodeId, a: NodeId, b: NodeId) -> Option<NodeId> {
    if a == b {
        return Some(a);
    }
    // `if c { if c { x } else { y } } else { z }` is `if c { x } else { z }`
    // (and the same in the other branch).
    let inner = |g: &Graph, n: NodeId, then: bool| match g.op(n) {
        Op::Select if g.args(n)[0] == c => Some(g.args(n)[if then { 1 } else { 2 }]),
        _ => None,
    };
    if let Some(x) = inner(g, a, true) {
        return Some(g.select(r, c, x, b));
    }
    if let Some(z) = inner(g, b, false) {
        return Some(g.select(r, c, a, z));
    }
    match g.op(c) {
        Op::Bool(true) => Some(a),
        Op::Bool(false) => Some(b),
        Op::Not => {
            let inner = g.args(c)[0];
            Some(g.select(r, inner, b, a))
        }
        _ => None,
    }
}

/// Is `v` ±2^k?
fn power_of_two(v: f64) -> bool {
    v.is_normal() && v.abs().to_bits() & ((1u64 << 52) - 1) == 0
}
