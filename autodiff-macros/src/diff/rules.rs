//! The one table of derivative rules.
//!
//! Every differentiable op gives, for each operand, its local partial
//! derivative as IR nodes built from the primal nodes (never copies of
//! them). The forward transform multiplies partials by operand tangents and
//! sums; the reverse transform multiplies the output's adjoint by each
//! partial and accumulates. Adding an op is adding its arm here.

use crate::ir::{Bin, Cmp, Graph, NodeId, Op, RegionId, Ty, Un};

/// The local derivative of an op's output with respect to one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partial {
    /// Operand does not influence the output differentiably.
    Zero,
    /// Multiply by this node.
    Scale(NodeId),
    /// Divide by this node (a partial `1 / d`, without computing `1 / d`).
    Div(NodeId),
    /// Divide by the first node, then multiply by the second (a partial
    /// `s / d`): the quotient rule's two halves then share one division.
    DivScale(NodeId, NodeId),
    /// Pass the derivative through when the condition node is `when`,
    /// zero otherwise (piecewise choices: `max`, `min`, `clamp`, `Select`).
    Gate(NodeId, bool),
}

/// Partial derivative of a node computing `op` with respect to operand `i`,
/// built in region `r` of `g`. `a` are the operands and `out` the result, as
/// nodes of `g` visible from `r`.
pub fn partial(
    g: &mut Graph,
    r: RegionId,
    op: &Op,
    a: &[NodeId],
    out: NodeId,
    i: usize,
) -> Partial {
    let Some(ty) = g.ty(out).float() else {
        return Partial::Zero;
    };
    let Some(&x) = a.first() else {
        return Partial::Zero;
    };
    let c = |g: &mut Graph, v: f64| g.konst(r, ty, v);
    let p = match *op {
        Op::Un(u) => {
            use Un::*;
            match u {
                Neg => c(g, -1.0),
                Sin => g.un(r, Cos, x),
                Cos => {
                    let s = g.un(r, Sin, x);
                    g.un(r, Neg, s)
                }
                // 1 + tan²x
                Tan => {
                    let one = c(g, 1.0);
                    let sq = g.bin(r, Bin::Mul, out, out);
                    g.bin(r, Bin::Add, one, sq)
                }
                // ±1 / sqrt(1 - x²)
                Asin | Acos => {
                    return Partial::Div({
                        let one = c(g, 1.0);
                        let sq = g.bin(r, Bin::Mul, x, x);
                        let d = g.bin(r, Bin::Sub, one, sq);
                        let s = g.un(r, Sqrt, d);
                        if u == Acos {
                            g.un(r, Neg, s)
                        } else {
                            s
                        }
                    })
                }
                // 1 / (1 + x²)
                Atan => {
                    let one = c(g, 1.0);
                    let sq = g.bin(r, Bin::Mul, x, x);
                    return Partial::Div(g.bin(r, Bin::Add, one, sq));
                }
                Sinh => g.un(r, Cosh, x),
                Cosh => g.un(r, Sinh, x),
                // 1 - tanh²x
                Tanh => {
                    let one = c(g, 1.0);
                    let sq = g.bin(r, Bin::Mul, out, out);
                    g.bin(r, Bin::Sub, one, sq)
                }
                // 1 / sqrt(x² + 1)
                Asinh => {
                    let one = c(g, 1.0);
                    return Partial::Div(g.bin(r, Bin::Hypot, x, one));
                }
                // 1 / (sqrt(x - 1) sqrt(x + 1))
                Acosh => {
                    let one = c(g, 1.0);
                    let lo = g.bin(r, Bin::Sub, x, one);
                    let hi = g.bin(r, Bin::Add, x, one);
                    let lo = g.un(r, Sqrt, lo);
                    let hi = g.un(r, Sqrt, hi);
                    return Partial::Div(g.bin(r, Bin::Mul, lo, hi));
                }
                // 1 / (1 - x²)
                Atanh => {
                    let one = c(g, 1.0);
                    let sq = g.bin(r, Bin::Mul, x, x);
                    return Partial::Div(g.bin(r, Bin::Sub, one, sq));
                }
                Exp => out,
                Exp2 => {
                    let ln2 = c(g, std::f64::consts::LN_2);
                    g.bin(r, Bin::Mul, out, ln2)
                }
                ExpM1 => {
                    let one = c(g, 1.0);
                    g.bin(r, Bin::Add, out, one)
                }
                Ln => return Partial::Div(x),
                Log2 | Log10 => {
                    let k = if u == Log2 {
                        std::f64::consts::LN_2
                    } else {
                        std::f64::consts::LN_10
                    };
                    let k = c(g, k);
                    return Partial::Div(g.bin(r, Bin::Mul, x, k));
                }
                Ln1p => {
                    let one = c(g, 1.0);
                    return Partial::Div(g.bin(r, Bin::Add, one, x));
                }
                // 0.5 / sqrt(x): +inf at 0, as the calculus gives (`abs`
                // makes it +inf at -0.0 too, where sqrt gives -0.0)
                Sqrt => {
                    let half = c(g, 0.5);
                    let root = g.un(r, Abs, out);
                    g.bin(r, Bin::Div, half, root)
                }
                // 1 / (3 cbrt(x)²)
                Cbrt => {
                    let three = c(g, 3.0);
                    let sq = g.bin(r, Bin::Mul, out, out);
                    return Partial::Div(g.bin(r, Bin::Mul, three, sq));
                }
                // -1/x² = -(out²)
                Recip => {
                    let sq = g.bin(r, Bin::Mul, out, out);
                    g.un(r, Neg, sq)
                }
                Abs => g.un(r, Sign0, x),
                Signum | Floor | Ceil | Round | Trunc | Sign0 | StopGradient => {
                    return Partial::Zero
                }
                Fract => c(g, 1.0),
                Softplus => g.un(r, Sigmoid, x),
                // s (1 - s)
                Sigmoid => {
                    let one = c(g, 1.0);
                    let d = g.bin(r, Bin::Sub, one, out);
                    g.bin(r, Bin::Mul, out, d)
                }
            }
        }
        Op::Bin(b) => {
            let y = a[1];
            use Bin::*;
            match (b, i) {
                (Add, _) | (Sub, 0) => c(g, 1.0),
                (Sub, _) => c(g, -1.0),
                (Mul, 0) => y,
                (Mul, _) => x,
                (Div, 0) => return Partial::Div(y),
                // -(x / y) / y, as (d / y) * -(x / y)
                (Div, _) => return Partial::DivScale(y, g.un(r, Un::Neg, out)),
                // y x^(y - 1)
                (Powf, 0) => {
                    let one = c(g, 1.0);
                    let e = g.bin(r, Sub, y, one);
                    let p = g.bin(r, Powf, x, e);
                    g.bin(r, Mul, y, p)
                }
                // x^y ln x
                (Powf, _) => {
                    let l = g.un(r, Un::Ln, x);
                    g.bin(r, Mul, out, l)
                }
                // atan2(x, y) = atan(x / y): ∂x = y / (x² + y²), ∂y = -x / (x² + y²)
                (Atan2, _) => {
                    let xx = g.bin(r, Mul, x, x);
                    let yy = g.bin(r, Mul, y, y);
                    let d = g.bin(r, Add, xx, yy);
                    if i == 0 {
                        g.bin(r, Div, y, d)
                    } else {
                        let q = g.bin(r, Div, x, d);
                        g.un(r, Un::Neg, q)
                    }
                }
                (Hypot, _) => g.bin(r, Div, a[i], out),
                // log_y(x) = ln x / ln y
                (Log, 0) => {
                    let ly = g.un(r, Un::Ln, y);
                    return Partial::Div(g.bin(r, Mul, x, ly));
                }
                (Log, _) => {
                    let ly = g.un(r, Un::Ln, y);
                    let d = g.bin(r, Mul, y, ly);
                    let q = g.bin(r, Div, out, d);
                    g.un(r, Un::Neg, q)
                }
                (Max | Min, _) => {
                    let k = if b == Max {
                        Cmp::MaxFirst
                    } else {
                        Cmp::MinFirst
                    };
                    let first = g.cmp(r, k, x, y);
                    return Partial::Gate(first, i == 0);
                }
            }
        }
        Op::PowI => {
            // x^0 is 1 everywhere, 0 included (where n x^(n-1) is 0 * inf).
            if i != 0 || *g.op(a[1]) == Op::Int(0) {
                return Partial::Zero;
            }
            // n x^(n - 1); for an exponent known only at run time, 0 when
            // it is 0 (where the formula gives 0 * inf at x = 0)
            let n = a[1];
            let nf = g.add(r, Op::IntToFloat, vec![n], Ty::Float(ty));
            // x^(n - 1), but x^n / x where n - 1 would wrap (n = i32::MIN).
            let wrapped = |g: &mut Graph| {
                let p = g.add(r, Op::PowI, vec![x, n], Ty::Float(ty));
                g.bin(r, Bin::Div, p, x)
            };
            let p = if *g.op(n) == Op::Int(i32::MIN as i64) {
                wrapped(g)
            } else {
                let minus_one = g.add(r, Op::Int(-1), vec![], Ty::Other);
                let m = g.add(r, Op::IntAdd, vec![n, minus_one], Ty::Other);
                let p = g.add(r, Op::PowI, vec![x, m], Ty::Float(ty));
                if matches!(g.op(n), Op::Int(_)) {
                    p
                } else {
                    let min = g.add(r, Op::Int(i32::MIN as i64), vec![], Ty::Other);
                    let is_min = g.cmp(r, Cmp::Eq, n, min);
                    let q = wrapped(g);
                    g.select(r, is_min, q, p)
                }
            };
            let slope = g.bin(r, Bin::Mul, nf, p);
            if matches!(g.op(n), Op::Int(_)) {
                slope
            } else {
                let int_zero = g.add(r, Op::Int(0), vec![], Ty::Other);
                let is_zero = g.cmp(r, Cmp::Eq, n, int_zero);
                let zero = c(g, 0.0);
                g.select(r, is_zero, zero, slope)
            }
        }
        Op::MulAdd => match i {
            0 => a[1],
            1 => a[0],
            _ => c(g, 1.0),
        },
        // x.clamp(lo, hi) is lo below, hi above, x otherwise
        Op::Clamp => {
            let (lo, hi) = (a[1], a[2]);
            match i {
                1 => return Partial::Gate(g.cmp(r, Cmp::Lt, x, lo), true),
                2 => return Partial::Gate(g.cmp(r, Cmp::Gt, x, hi), true),
                _ => {
                    let below = g.cmp(r, Cmp::Lt, x, lo);
                    let above = g.cmp(r, Cmp::Gt, x, hi);
                    let out_of = g.add(r, Op::Or, vec![below, above], Ty::Bool);
                    return Partial::Gate(out_of, false);
                }
            }
        }
        Op::Select => match i {
            1 => return Partial::Gate(a[0], true),
            2 => return Partial::Gate(a[0], false),
            _ => return Partial::Zero,
        },
        _ => return Partial::Zero,
    };
    Partial::Scale(p)
}
