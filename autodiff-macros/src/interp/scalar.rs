//! The float scalars the interpreter computes with: `f64`, and `num-dual`'s
//! [`Dual64`], whose derivative part comes from `num-dual`'s own rules.

use std::fmt::Debug;

use num_dual::{Dual64, DualNum};

use crate::ir::{eval, Bin, FloatTy, Un};

/// A float scalar the interpreter can compute with. Every method gets the
/// node's float type; the real part of every result is the value
/// [`crate::ir::eval`] gives.
pub trait Scalar: Clone + Debug {
    /// A constant (no derivative).
    fn constant(v: f64) -> Self;
    /// The real (primal) part.
    fn re(&self) -> f64;
    fn un(ty: FloatTy, op: Un, x: &Self) -> Self;
    fn bin(ty: FloatTy, op: Bin, a: &Self, b: &Self) -> Self;
    fn powi(ty: FloatTy, x: &Self, n: i64) -> Self;
    fn mul_add(ty: FloatTy, a: &Self, b: &Self, c: &Self) -> Self;
}

impl Scalar for f64 {
    fn constant(v: f64) -> Self {
        v
    }
    fn re(&self) -> f64 {
        *self
    }
    fn un(ty: FloatTy, op: Un, x: &Self) -> Self {
        eval::un(ty, op, *x)
    }
    fn bin(ty: FloatTy, op: Bin, a: &Self, b: &Self) -> Self {
        eval::bin(ty, op, *a, *b)
    }
    fn powi(ty: FloatTy, x: &Self, n: i64) -> Self {
        eval::powi(ty, *x, n)
    }
    fn mul_add(ty: FloatTy, a: &Self, b: &Self, c: &Self) -> Self {
        eval::mul_add(ty, *a, *b, *c)
    }
}

/// `num-dual`'s derivative of one op at the dual operands (its real part is
/// replaced by the `eval` value by the caller).
fn dual_un(op: Un, x: &Dual64) -> Dual64 {
    let zero_slope = |v: f64| Dual64::new(v, 0.0);
    match op {
        Un::Neg => -*x,
        Un::Sin => x.sin(),
        Un::Cos => x.cos(),
        Un::Tan => x.tan(),
        Un::Asin => x.asin(),
        Un::Acos => x.acos(),
        Un::Atan => x.atan(),
        Un::Sinh => x.sinh(),
        Un::Cosh => x.cosh(),
        Un::Tanh => x.tanh(),
        Un::Asinh => x.asinh(),
        Un::Acosh => x.acosh(),
        Un::Atanh => x.atanh(),
        Un::Exp => x.exp(),
        Un::Exp2 => x.exp2(),
        Un::ExpM1 => x.exp_m1(),
        Un::Ln => x.ln(),
        Un::Log2 => x.log2(),
        Un::Log10 => x.log10(),
        Un::Ln1p => x.ln_1p(),
        Un::Sqrt => x.sqrt(),
        Un::Cbrt => x.cbrt(),
        Un::Recip => DualNum::recip(x),
        // |x| = x or -x by the sign (a kink at 0, where the slope is 0 as
        // the IR's rule has it).
        Un::Abs => {
            if x.re > 0.0 {
                *x
            } else if x.re < 0.0 {
                -*x
            } else {
                zero_slope(0.0)
            }
        }
        Un::Signum | Un::Floor | Un::Ceil | Un::Round | Un::Trunc | Un::Sign0 => zero_slope(0.0),
        // x - trunc(x): slope 1 between integers.
        Un::Fract => *x - x.re.trunc(),
        Un::Softplus => {
            if x.re > 0.0 {
                *x + (-*x).exp().ln_1p()
            } else {
                x.exp().ln_1p()
            }
        }
        Un::Sigmoid => DualNum::recip(&((-*x).exp() + 1.0)),
    }
}

fn dual_bin(op: Bin, a: &Dual64, b: &Dual64) -> Dual64 {
    match op {
        Bin::Add => *a + *b,
        Bin::Sub => *a - *b,
        Bin::Mul => *a * *b,
        Bin::Div => *a / *b,
        Bin::Powf => {
            if b.eps == 0.0 {
                DualNum::powf(a, b.re)
            } else {
                a.powd(*b)
            }
        }
        Bin::Atan2 => DualNum::atan2(a, *b),
        Bin::Hypot => (*a * *a + *b * *b).sqrt(),
        Bin::Log => a.ln() / b.ln(),
        Bin::Min => {
            if eval::min_first(a.re, b.re) {
                *a
            } else {
                *b
            }
        }
        Bin::Max => {
            if eval::max_first(a.re, b.re) {
                *a
            } else {
                *b
            }
        }
    }
}

impl Scalar for Dual64 {
    fn constant(v: f64) -> Self {
        Dual64::new(v, 0.0)
    }
    fn re(&self) -> f64 {
        self.re
    }
    fn un(ty: FloatTy, op: Un, x: &Self) -> Self {
        Dual64::new(eval::un(ty, op, x.re), dual_un(op, x).eps)
    }
    fn bin(ty: FloatTy, op: Bin, a: &Self, b: &Self) -> Self {
        Dual64::new(eval::bin(ty, op, a.re, b.re), dual_bin(op, a, b).eps)
    }
    fn powi(ty: FloatTy, x: &Self, n: i64) -> Self {
        let n32 = n.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        Dual64::new(eval::powi(ty, x.re, n), DualNum::powi(x, n32).eps)
    }
    fn mul_add(ty: FloatTy, a: &Self, b: &Self, c: &Self) -> Self {
        Dual64::new(eval::mul_add(ty, a.re, b.re, c.re), (*a * *b + *c).eps)
    }
}
