//! What each float op computes, in the op's own float type. The simplifier
//! folds constants with this and the test interpreter runs programs with
//! it, so both agree with the emitted Rust.

use super::{Bin, Cmp, FloatTy, Un};

/// `signum` that is 0 at ±0 (and NaN at NaN).
pub fn sign0(x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x.signum()
    }
}

/// `ln(1 + exp(x))` without overflow.
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// `1 / (1 + exp(-x))` without overflow.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

macro_rules! un_impl {
    ($t:ty, $op:expr, $x:expr) => {{
        let x: $t = $x as $t;
        let y: $t = match $op {
            Un::Neg => -x,
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
            Un::Recip => x.recip(),
            Un::Abs => x.abs(),
            Un::Signum => x.signum(),
            Un::Floor => x.floor(),
            Un::Ceil => x.ceil(),
            Un::Round => x.round(),
            Un::Trunc => x.trunc(),
            Un::Fract => x.fract(),
            Un::Sign0 => sign0(x as f64) as $t,
            Un::Softplus => softplus(x as f64) as $t,
            Un::Sigmoid => sigmoid(x as f64) as $t,
        };
        y as f64
    }};
}

macro_rules! bin_impl {
    ($t:ty, $op:expr, $a:expr, $b:expr) => {{
        let (a, b): ($t, $t) = ($a as $t, $b as $t);
        let y: $t = match $op {
            Bin::Add => a + b,
            Bin::Sub => a - b,
            Bin::Mul => a * b,
            Bin::Div => a / b,
            Bin::Powf => a.powf(b),
            Bin::Atan2 => a.atan2(b),
            Bin::Hypot => a.hypot(b),
            Bin::Log => a.log(b),
            Bin::Min => a.min(b),
            Bin::Max => a.max(b),
        };
        y as f64
    }};
}

pub fn un(ty: FloatTy, op: Un, x: f64) -> f64 {
    match ty {
        FloatTy::F32 => un_impl!(f32, op, x),
        FloatTy::F64 | FloatTy::Generic => un_impl!(f64, op, x),
    }
}

pub fn bin(ty: FloatTy, op: Bin, a: f64, b: f64) -> f64 {
    match ty {
        FloatTy::F32 => bin_impl!(f32, op, a, b),
        FloatTy::F64 | FloatTy::Generic => bin_impl!(f64, op, a, b),
    }
}

pub fn powi(ty: FloatTy, x: f64, n: i64) -> f64 {
    let n = n.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
    match ty {
        FloatTy::F32 => (x as f32).powi(n) as f64,
        FloatTy::F64 | FloatTy::Generic => x.powi(n),
    }
}

pub fn mul_add(ty: FloatTy, a: f64, b: f64, c: f64) -> f64 {
    match ty {
        FloatTy::F32 => (a as f32).mul_add(b as f32, c as f32) as f64,
        FloatTy::F64 | FloatTy::Generic => a.mul_add(b, c),
    }
}

/// `x.clamp(lo, hi)`, or `None` where it would panic (`lo > hi` or a NaN
/// bound): that is left to the emitted code, as in the user's code.
pub fn clamp(x: f64, lo: f64, hi: f64) -> Option<f64> {
    (lo <= hi).then(|| x.clamp(lo, hi))
}

pub fn cmp(op: Cmp, a: f64, b: f64) -> bool {
    match op {
        Cmp::Lt => a < b,
        Cmp::Le => a <= b,
        Cmp::Gt => a > b,
        Cmp::Ge => a >= b,
        Cmp::Eq => a == b,
        Cmp::Ne => a != b,
        Cmp::MaxFirst => max_first(a, b),
        Cmp::MinFirst => min_first(a, b),
    }
}

/// Does `a.max(b)` pick `a`? Ties and a NaN `b` pick `a`.
pub fn max_first(a: f64, b: f64) -> bool {
    a >= b || b.is_nan()
}

/// Does `a.min(b)` pick `a`? Ties and a NaN `b` pick `a`.
pub fn min_first(a: f64, b: f64) -> bool {
    a <= b || b.is_nan()
}
