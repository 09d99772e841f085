//! The one table of derivative rules.
//!
//! Every differentiable op gives, for each operand, its local partial
//! derivative as IR nodes built from the primal nodes (never copies of
//! them). The forward transform multiplies partials by operand tangents and
//! sums; the reverse transform multiplies the output's adjoint by each
//! partial and accumulates. Adding an op is adding its arm here.

use crate::ir::IntOp;
use crate::ir::{Bin, Cmp, Graph, Kernel, NodeId, Op, Pred, RegionId, Ty, Un};

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
    /// Multiply by the second node where the condition holds, zero
    /// elsewhere (a slope that is NaN or infinite where it does not hold).
    GatedScale(NodeId, NodeId),
    /// [`Partial::DivScale`] where the condition (the first node) holds,
    /// zero elsewhere.
    GatedDivScale(NodeId, NodeId, NodeId),
}

impl Partial {
    /// The divisor and condition of a partial that divides (`Div`,
    /// `DivScale`, `GatedDivScale`): terms with the same one can share
    /// their division.
    pub fn divisor(self) -> Option<(NodeId, Option<NodeId>)> {
        match self {
            Partial::Div(q) | Partial::DivScale(q, _) => Some((q, None)),
            Partial::GatedDivScale(c, q, _) => Some((q, Some(c))),
            _ => None,
        }
    }

    /// A gated slope as its condition and the slope where it holds.
    pub fn gated(self) -> Option<(NodeId, Partial)> {
        match self {
            Partial::GatedScale(c, s) => Some((c, Partial::Scale(s))),
            Partial::GatedDivScale(c, q, s) => Some((c, Partial::DivScale(q, s))),
            _ => None,
        }
    }
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
                Signum | Floor | Ceil | Round | Trunc | Sign0 => return Partial::Zero,
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
                // y x^(y - 1), and 0 where y = 0 (x^0 is 1 for every x;
                // the formula gives 0 * inf at x = 0). Where the value
                // p = x^y is a normal number and y is finite, x^(y - 1) is
                // p / x: the value already computed, divided (x is then
                // finite and nonzero, and p / x is x^(y - 1) to rounding,
                // overflow and underflow included; closer than the formula
                // where y - 1 rounds, as for a tiny y). Elsewhere (x = 0,
                // infinities, NaN, p out of the normal range) the formula,
                // computed only there: its `powf` is in the branch not
                // taken. A literal y folds its half of the test.
                (Powf, 0) => {
                    let normal = g.add(r, Op::Pred(Pred::Normal), vec![out], Ty::Bool);
                    let finite = g.add(r, Op::Pred(Pred::Finite), vec![y], Ty::Bool);
                    let normal = g.add(r, Op::And, vec![normal, finite], Ty::Bool);
                    let q = g.bin(r, Div, out, x);
                    let reuse = g.bin(r, Mul, y, q);
                    let one = c(g, 1.0);
                    let e = g.bin(r, Sub, y, one);
                    let p = g.bin(r, Powf, x, e);
                    let formula = g.bin(r, Mul, y, p);
                    let slope = g.select(r, normal, reuse, formula);
                    return unless_zero(g, r, y, slope);
                }
                // x^y ln x, and 0 where x = 0 (JAX's convention: the `ln 0`
                // of a base at 0 never poisons the result).
                (Powf, _) => {
                    let l = g.un(r, Un::Ln, x);
                    let slope = g.bin(r, Mul, out, l);
                    return unless_zero(g, r, x, slope);
                }
                // atan2(x, y) = atan(x / y): ∂x = y / (x² + y²), ∂y = -x / (x² + y²),
                // and 0 where x² + y² is 0 (the origin, where atan2 jumps:
                // 0 / 0 there would poison a zero tangent, as `hypot`'s
                // partials would; seed 21 case 4355).
                (Atan2, _) => {
                    let xx = g.bin(r, Mul, x, x);
                    let yy = g.bin(r, Mul, y, y);
                    let d = g.bin(r, Add, xx, yy);
                    let slope = if i == 0 {
                        g.bin(r, Div, y, d)
                    } else {
                        let q = g.bin(r, Div, x, d);
                        g.un(r, Un::Neg, q)
                    };
                    return unless_zero(g, r, d, slope);
                }
                // x / h, and 0 at the origin (h = 0), where hypot is a
                // cone: the value `abs` takes at 0 (|x| is hypot(x, 0)).
                // As a division by h, which the two operands' terms share.
                (Hypot, _) => {
                    return match g.const_value(out) {
                        Some(0.0) => Partial::Zero,
                        Some(_) => Partial::DivScale(out, a[i]),
                        None => {
                            let zero = g.filler(r, g.ty(out));
                            let nonzero = g.cmp(r, Cmp::Ne, out, zero);
                            Partial::GatedDivScale(nonzero, out, a[i])
                        }
                    };
                }
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
                // A literal exponent is not `i32::MIN` here: a positive one
                // is `n - 1` as written (Theano's raw `x ** (2 - 1)`).
                let one = g.int(r, 1);
                let m = match *g.op(n) {
                    Op::Int(k) if k > 0 => g.int_bin(r, IntOp::Sub, n, one),
                    Op::Int(k) => g.int(r, k - 1),
                    _ => g.int_bin(r, IntOp::WrappingSubI32, n, one),
                };
                let p = g.add(r, Op::PowI, vec![x, m], Ty::Float(ty));
                if matches!(g.op(n), Op::Int(_)) {
                    p
                } else {
                    let min = g.add(r, Op::Int(i32::MIN as i64), vec![], Ty::Int);
                    let is_min = g.cmp(r, Cmp::Eq, n, min);
                    let q = wrapped(g);
                    g.select(r, is_min, q, p)
                }
            };
            let slope = g.bin(r, Bin::Mul, nf, p);
            if matches!(g.op(n), Op::Int(_)) {
                slope
            } else {
                // Gated, not selected: at n = 0 not even a NaN tangent of
                // `x` reaches the result (x^0 does not depend on x).
                let int_zero = g.add(r, Op::Int(0), vec![], Ty::Int);
                let nonzero = g.cmp(r, Cmp::Ne, n, int_zero);
                return Partial::GatedScale(nonzero, slope);
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

// ---------------------------------------------------------------------------
// The array helpers' kernels. Their rules are built from other kernels: a
// tangent or an adjoint is a call to a runtime kernel, never a loop through
// the helper's body. Adjoints accumulate in place (`Acc*` kernels on the
// operand's adjoint); a tangent that sums terms starts from the first
// term's fresh array and accumulates the rest into it.
// ---------------------------------------------------------------------------

/// `slope`, but 0 where `z` is 0: a literal `z` decides now, a runtime one
/// gates the partial (the gate is applied last, so a NaN or infinite slope
/// where `z` is 0 never reaches the result).
fn unless_zero(g: &mut Graph, r: RegionId, z: NodeId, slope: NodeId) -> Partial {
    match g.const_value(z) {
        Some(0.0) => Partial::Zero,
        Some(_) => Partial::Scale(slope),
        None => {
            let zero = g.filler(r, g.ty(z));
            let nonzero = g.cmp(r, Cmp::Ne, z, zero);
            Partial::GatedScale(nonzero, slope)
        }
    }
}

fn kernel(g: &mut Graph, r: RegionId, k: Kernel, args: Vec<NodeId>, ty: Ty) -> NodeId {
    g.add(r, Op::Kernel(k), args, ty)
}

/// `acc` with a term added in place by kernel `k` on `rest`.
fn acc_kernel(g: &mut Graph, r: RegionId, k: Kernel, acc: NodeId, rest: &[NodeId]) -> NodeId {
    let mut args = vec![acc];
    args.extend_from_slice(rest);
    let ty = g.ty(acc);
    kernel(g, r, k, args, ty)
}

/// `ȳ / x` where `x != 0`, else 0: the gradient factor of `norm`, with
/// 0 (a subgradient) where the norm is 0 instead of NaN.
fn over_nonzero(g: &mut Graph, r: RegionId, y: NodeId, x: NodeId) -> NodeId {
    let ty = g.float_ty(x);
    let zero = g.konst(r, ty, 0.0);
    let is_zero = g.cmp(r, Cmp::Eq, x, zero);
    let q = g.bin(r, Bin::Div, y, x);
    g.select(r, is_zero, zero, q)
}

/// The tangent of kernel `k` (node `out` on operands `a`) given the
/// operands' tangents `t` (`None` = zero); `None` if it is zero.
///
/// Kernels only a derivative program holds are differentiated once more
/// here (forward over reverse, for Hessians); the `*Dot` kernels of second
/// order and the tangent-only `LogsumexpDot`/`AccLogSoftmaxDot` are never
/// differentiated again (no companion is third order or a jvp of a jvp).
pub fn kernel_tangent(
    g: &mut Graph,
    r: RegionId,
    k: Kernel,
    a: &[NodeId],
    out: NodeId,
    t: &[Option<NodeId>],
) -> Option<NodeId> {
    use Kernel::*;
    let ty = g.ty(out);
    let zeros = |g: &mut Graph| g.add(r, Op::ZerosLike, vec![out], ty);
    // `a` with operand `j` replaced by `d`.
    let with = |j: usize, d: NodeId| -> Vec<NodeId> {
        let mut v = a.to_vec();
        v[j] = d;
        v
    };
    match k {
        Sum | Mean | Transpose => Some(kernel(g, r, k, vec![t[0]?], ty)),
        Dot => {
            let mut sum = None;
            for (j, d) in t.iter().enumerate() {
                if let Some(d) = *d {
                    let term = kernel(g, r, Dot, with(j, d), ty);
                    sum = Some(super::accumulate(g, r, sum, term));
                }
            }
            sum
        }
        Norm => {
            let d = kernel(g, r, Dot, vec![a[0], t[0]?], ty);
            Some(over_nonzero(g, r, d, out))
        }
        Logsumexp => Some(kernel(g, r, LogsumexpDot, vec![a[0], out, t[0]?], ty)),
        // Symmetric Jacobians: the tangent is the adjoint kernel on ẋ.
        Softmax | Sigmoid | LogSoftmax | Softplus => {
            let d = t[0]?;
            let z = zeros(g);
            let (acc, second) = match k {
                Softmax => (AccSoftmaxBar, out),
                Sigmoid => (AccSigmoidBar, out),
                LogSoftmax => (AccLogSoftmaxDot, out),
                _ => (AccSoftplusBar, a[0]),
            };
            Some(acc_kernel(g, r, acc, z, &[d, second]))
        }
        // Bilinear: the first term is a fresh array, the second adds into
        // it.
        Matvec | Vecmat | Matmul | Outer => {
            let acc = match k {
                Matvec => AccMatvec,
                Vecmat => AccVecmat,
                Matmul => AccMatmul,
                _ => AccOuter,
            };
            let first = t[0].map(|d| kernel(g, r, k, with(0, d), ty));
            match (first, t[1]) {
                (first, None) => first,
                (None, Some(d)) => Some(kernel(g, r, k, with(1, d), ty)),
                (Some(f), Some(d)) => Some(acc_kernel(g, r, acc, f, &with(1, d))),
            }
        }
        LogsumexpDot | ZeroOf => None,
        _ => acc_tangent(g, r, k, a, t),
    }
}

/// The tangent of an accumulating kernel: the accumulator's tangent plus
/// the tangent of the added term, operand by operand.
fn acc_tangent(
    g: &mut Graph,
    r: RegionId,
    k: Kernel,
    a: &[NodeId],
    t: &[Option<NodeId>],
) -> Option<NodeId> {
    use Kernel::*;
    let mut cur = t[0];
    for j in 1..a.len() {
        let Some(d) = t[j] else { continue };
        let acc = match cur {
            Some(c) => c,
            None => g.add(r, Op::ZerosLike, vec![a[0]], g.ty(a[0])),
        };
        let mut rest = a[1..].to_vec();
        let (kk, rest) = match (k, j) {
            // Linear in each operand: the same kernel on the tangent.
            (AccFill | AccScaled | AccMatvec | AccVecmat | AccOuter, _)
            | (AccMatmul | AccMatmulNt | AccMatmulTn | AccTranspose, _)
            | (AccSigmoidBar | AccSoftplusBar | AccSoftmaxBar | AccLogSoftmaxBar, 1)
            | (AccLogsumexpBar, 1) => {
                rest[j - 1] = d;
                (k, rest)
            }
            (AccSigmoidBar, _) => (AccSigmoidBarDot, vec![a[1], a[2], d]),
            (AccSoftplusBar, _) => (AccSoftplusBarDot, vec![a[1], a[2], d]),
            (AccSoftmaxBar, _) => (AccSoftmaxBarDot, vec![a[1], a[2], d]),
            (AccLogSoftmaxBar, _) => (AccLogSoftmaxBarDot, vec![a[1], a[2], d]),
            // [acc, ȳ, x]: the term is ȳ·softmax(x).
            (AccLogsumexpBar, 2) => (AccLogsumexpBarDot, vec![a[1], a[2], d]),
            _ => continue,
        };
        cur = Some(acc_kernel(g, r, kk, acc, &rest));
    }
    cur
}

/// The adjoint of operand `j` of kernel `k` (node `out` on operands `a`,
/// whose adjoint is `bar`), added to that operand's accumulator `acc` (an
/// array, or for a scalar operand its adjoint so far). `None` for a kernel
/// that reverse mode never meets (the derivative kernels).
#[allow(clippy::too_many_arguments)]
pub fn kernel_adjoint(
    g: &mut Graph,
    r: RegionId,
    k: Kernel,
    a: &[NodeId],
    out: NodeId,
    bar: NodeId,
    j: usize,
    acc: NodeId,
) -> Option<NodeId> {
    use Kernel::*;
    let x = a[0];
    let (kk, rest) = match (k, j) {
        (Sum, _) => (AccFill, vec![bar]),
        (Mean, _) => {
            let n = g.add(r, Op::Len, vec![x], Ty::Other);
            let nf = g.add(r, Op::IntToFloat, vec![n], g.ty(out));
            (AccFill, vec![g.bin(r, Bin::Div, bar, nf)])
        }
        (Dot, 0) => (AccScaled, vec![bar, a[1]]),
        (Dot, _) => (AccScaled, vec![bar, a[0]]),
        (Norm, _) => (AccScaled, vec![over_nonzero(g, r, bar, out), x]),
        // (Not the value: a gradient that does not use it does not compute it.)
        (Logsumexp, _) => (AccLogsumexpBar, vec![bar, x]),
        (Softmax, _) => (AccSoftmaxBar, vec![bar, out]),
        (LogSoftmax, _) => (AccLogSoftmaxBar, vec![bar, out]),
        (Sigmoid, _) => (AccSigmoidBar, vec![bar, out]),
        (Softplus, _) => (AccSoftplusBar, vec![bar, x]),
        (Matvec, 0) => (AccOuter, vec![bar, a[1]]),
        (Matvec, _) => (AccVecmat, vec![bar, a[0]]),
        (Vecmat, 0) => (AccMatvec, vec![a[1], bar]),
        (Vecmat, _) => (AccOuter, vec![a[0], bar]),
        (Matmul, 0) => (AccMatmulNt, vec![bar, a[1]]),
        (Matmul, _) => (AccMatmulTn, vec![a[0], bar]),
        (Transpose, _) => (AccTranspose, vec![bar]),
        (Outer, 0) => (AccMatvec, vec![bar, a[1]]),
        (Outer, _) => (AccVecmat, vec![a[0], bar]),
        _ => return None,
    };
    Some(acc_kernel(g, r, kk, acc, &rest))
}
