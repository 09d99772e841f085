//! Every companion of many real annotated functions, checked against two
//! independent references (see `common/mod.rs`):
//!
//! - num-dual forward mode (`num_dual::Dual64`) on a hand-written
//!   re-implementation `r` of each function `f` (tolerance, mixed
//!   abs/rel: 1e-12 for f64, 2e-4 for f32 whose reference runs in f64);
//! - central finite differences of the original function (1e-6 for f64,
//!   1e-2 for f32);
//!
//! and the value outputs of `_value_and_grad`, `_jvp`, `_vjp` against the
//! original function (1e-15 for f64, 1e-6 for f32, i.e. a few ulps).
//!
//! Each function lives in its own module as `f` (annotated) and `r` (the
//! num-dual reference), so that the `check!` macro can name the companions
//! `m::f_grad`, `m::f_jvp`, ...
// The functions under test are written the way users write them (index
// loops, manual copies and swaps), which clippy would rewrite.
#![allow(
    clippy::needless_range_loop,
    clippy::manual_memcpy,
    clippy::manual_swap,
    clippy::useless_vec,
    clippy::assign_op_pattern
)]

use crate::common;

use common::{c, Dual64, DualNum};

type D = Dual64;

// ---------------------------------------------------------------------------
// Classics
// ---------------------------------------------------------------------------

mod rosen {
    use super::*;
    use autodiff::differentiate;

    #[differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
    }

    pub fn r(x: D, y: D) -> D {
        (c(1.0) - x) * (c(1.0) - x) + (y - x * x) * (y - x * x) * 100.0
    }
}

#[test]
fn rosenbrock() {
    check!(rosen: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[1.0, 1.0], &[-1.2, 1.0], &[0.0, 0.0], &[1e-3, -1e-3], &[-3.5, 12.25], &[1e3, -1e3],
    ]);
}

mod logloss {
    use super::*;

    /// Logistic regression log-loss of one sample, differentiated with
    /// respect to the weights only (the sample `xi`, `yi` is data).
    #[autodiff::differentiate(wrt(w, b))]
    pub fn f(w: f64, b: f64, xi: f64, yi: f64) -> f64 {
        let z = w * xi + b;
        let p = 1.0 / (1.0 + (-z).exp());
        -(yi * p.ln() + (1.0 - yi) * (1.0 - p).ln())
    }

    pub fn r(w: D, b: D, xi: D, yi: D) -> D {
        let z = w * xi + b;
        let p = (c(1.0) + (-z).exp()).recip();
        -(yi * p.ln() + (c(1.0) - yi) * (c(1.0) - p).ln())
    }
}

#[test]
fn logistic_log_loss() {
    check!(logloss: f64, call(w, b, xi, yi), floats(w, b, xi, yi), wrt(w, b), scalar, points [
        &[0.5, -0.2, 1.5, 1.0], &[-2.0, 0.3, 0.7, 0.0], &[0.0, 0.0, 3.0, 1.0], &[1e-3, 1e-3, -2.0, 0.3], &[3.0, -1.0, -4.0, 0.0],
    ]);
}

// ---------------------------------------------------------------------------
// Binary ops with both sides active
// ---------------------------------------------------------------------------

mod atan2_both {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(y: f64, x: f64) -> f64 {
        y.atan2(x) + (x * y).atan2(y - 2.0 * x) * 0.5
    }

    pub fn r(y: D, x: D) -> D {
        common::datan2(y, x) + common::datan2(x * y, y - x * 2.0) * 0.5
    }
}

#[test]
fn atan2_both_sides() {
    // Points off the branch cuts (second argument < 0 with first == 0).
    check!(atan2_both: f64, call(y, x), floats(y, x), wrt(y, x), scalar, points [
        &[1.2, 0.5], &[0.3, -0.7], &[-2.0, -1.5], &[-0.4, 2.0], &[1e3, 1e-3], &[1e-3, 0.4], &[-5.0, 3.0],
    ]);
}

mod hypot_both {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.hypot(y) + (2.0 * x).hypot(y - 1.0) * y
    }

    pub fn r(x: D, y: D) -> D {
        common::dhypot(x, y) + common::dhypot(x * 2.0, y - 1.0) * y
    }
}

#[test]
fn hypot_both_sides() {
    check!(hypot_both: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[3.0, 4.0], &[-1.5, 0.25], &[1e-3, -2.0], &[-7.0, -3.0], &[1e3, 2e3],
    ]);
}

mod powf_both {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.powf(y) + y.powf(x.sin()) - f64::powf(x * y, 0.5)
    }

    pub fn r(x: D, y: D) -> D {
        common::dpowf(x, y) + common::dpowf(y, x.sin()) - common::dpowf(x * y, c(0.5))
    }
}

#[test]
fn powf_both_sides() {
    check!(powf_both: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[2.0, 3.0], &[0.5, 2.5], &[1e-2, 0.7], &[3.0, 1e-2], &[1.3, 0.25], &[20.0, 4.0],
    ]);
}

// ---------------------------------------------------------------------------
// Deep chains
// ---------------------------------------------------------------------------

mod deep1 {
    use super::*;

    /// 18 elementary operations in one chain.
    #[autodiff::differentiate]
    pub fn f(x: f64) -> f64 {
        let a = x.sin();
        let b = a.exp();
        let c = (b + 1.0).ln();
        let d = c.sqrt();
        let e = d.tanh();
        let g = e.cos() * 3.0;
        let h = g.atan();
        let k = h.sinh() + x.cosh();
        let m = (k * k + 1.0).sqrt().ln_1p();
        (m.exp_m1() * 0.3).tan()
    }

    pub fn r(x: D) -> D {
        let a = x.sin();
        let b = a.exp();
        let cc = (b + 1.0).ln();
        let d = cc.sqrt();
        let e = d.tanh();
        let g = e.cos() * 3.0;
        let h = g.atan();
        let k = h.sinh() + x.cosh();
        let m = (k * k + 1.0).sqrt().ln_1p();
        (m.exp_m1() * 0.3).tan()
    }
}

#[test]
fn deep_chain_unary() {
    check!(deep1: f64, call(x), floats(x), wrt(x), scalar, points [
        &[0.3], &[-0.8], &[1e-3], &[0.0], &[-1.7], &[2.2],
    ]);
}

mod deep2 {
    use super::*;

    /// A long chain mixing both inputs, with a reassigned `let mut`.
    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        let mut s = x * y;
        s = s.sin() * y.cos() + x.exp() / (1.0 + y * y);
        let t = (s * s + x * x).sqrt();
        let u = t.ln() - (y / (1.0 + t)).atan();
        let v = u.tanh().powi(3) + (x - y).sinh() * 0.1;
        let w = v.asinh() + (t + 1.0).log2();
        w * w.cos() - (x * 0.5).cosh().recip()
    }

    pub fn r(x: D, y: D) -> D {
        let mut s = x * y;
        s = s.sin() * y.cos() + x.exp() / (y * y + 1.0);
        let t = (s * s + x * x).sqrt();
        let u = t.ln() - (y / (t + 1.0)).atan();
        let v = u.tanh().powi(3) + (x - y).sinh() * 0.1;
        let w = v.asinh() + (t + 1.0).log2();
        w * w.cos() - (x * 0.5).cosh().recip()
    }
}

#[test]
fn deep_chain_binary() {
    check!(deep2: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[0.4, 0.9], &[-1.1, 0.3], &[1e-3, -2.0], &[2.5, -0.6], &[-0.2, -3.0],
    ]);
}

// ---------------------------------------------------------------------------
// Tuple outputs
// ---------------------------------------------------------------------------

mod tuple3 {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64, z: f64) -> (f64, f64, f64) {
        (x * y * z, x.sin() + z.exp(), (x * x + y * y).sqrt() / z)
    }

    pub fn r(x: D, y: D, z: D) -> (D, D, D) {
        (x * y * z, x.sin() + z.exp(), (x * x + y * y).sqrt() / z)
    }
}

#[test]
fn tuple_three_outputs() {
    check!(tuple3: f64, call(x, y, z), floats(x, y, z), wrt(x, y, z), tuple, points [
        &[0.5, -1.0, 2.0], &[1e-3, 2.0, -0.5], &[-3.0, 4.0, 1.5], &[10.0, -20.0, 0.1],
    ]);
}

mod softmax3 {
    use super::*;

    /// Softmax of three logits, stabilized with `max` (which must not
    /// change the derivative).
    #[autodiff::differentiate]
    pub fn f(a: f64, b: f64, c: f64) -> (f64, f64, f64) {
        let m = a.max(b).max(c);
        let (ea, eb, ec) = ((a - m).exp(), (b - m).exp(), (c - m).exp());
        let s = ea + eb + ec;
        (ea / s, eb / s, ec / s)
    }

    pub fn r(a: D, b: D, cc: D) -> (D, D, D) {
        let m = common::dmax(common::dmax(a, b), cc);
        let (ea, eb, ec) = ((a - m).exp(), (b - m).exp(), (cc - m).exp());
        let s = ea + eb + ec;
        (ea / s, eb / s, ec / s)
    }
}

#[test]
fn softmax_three_outputs() {
    check!(softmax3: f64, call(a, b, c), floats(a, b, c), wrt(a, b, c), tuple, points [
        &[0.1, 0.2, 0.3], &[-1.0, 2.0, 0.5], &[3.0, -4.0, 1e-3], &[100.0, 99.0, 101.5],
    ]);
}

mod polar {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(rho: f64, th: f64) -> (f64, f64) {
        (rho * th.cos(), rho * th.sin())
    }

    pub fn r(rho: D, th: D) -> (D, D) {
        (rho * th.cos(), rho * th.sin())
    }
}

#[test]
fn polar_two_outputs() {
    check!(polar: f64, call(rho, th), floats(rho, th), wrt(rho, th), tuple, points [
        &[2.0, 0.0], &[1.0, 2.5], &[-0.5, -1.0], &[1e3, 1e-3],
    ]);
}

mod tuple_wrt_x {
    use super::*;

    /// Tuple output with one `wrt` parameter: the Jacobian is `[f64; 3]`.
    #[autodiff::differentiate(wrt(x))]
    pub fn f(x: f64, y: f64) -> (f64, f64, f64) {
        (x * y, (x - y).exp(), x.cos() * y)
    }

    pub fn r(x: D, y: D) -> (D, D, D) {
        (x * y, (x - y).exp(), x.cos() * y)
    }
}

#[test]
fn tuple_output_one_wrt() {
    check!(tuple_wrt_x: f64, call(x, y), floats(x, y), wrt(x), tuple, points [
        &[0.5, 1.5], &[-2.0, 0.3], &[1e-3, -1e-3],
    ]);
    // The shape itself: one `[f64; 3]` per the spec.
    let j: [f64; 3] = tuple_wrt_x::f_jacobian(0.5, 1.5);
    assert!((j[0] - 1.5).abs() < 1e-15);
}

// ---------------------------------------------------------------------------
// f32
// ---------------------------------------------------------------------------

mod rosen32 {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f32, y: f32) -> f32 {
        (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
    }

    pub fn r(x: D, y: D) -> D {
        (c(1.0) - x) * (c(1.0) - x) + (y - x * x) * (y - x * x) * 100.0
    }
}

#[test]
fn rosenbrock_f32() {
    check!(rosen32: f32, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[1.0, 1.0], &[-1.2, 1.0], &[0.0, 0.0], &[0.25, -0.5], &[-2.0, 3.0],
    ]);
}

mod logistic32 {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(w: f32, x: f32, b: f32) -> f32 {
        1.0 / (1.0 + (-(w * x + b)).exp())
    }

    pub fn r(w: D, x: D, b: D) -> D {
        (c(1.0) + (-(w * x + b)).exp()).recip()
    }
}

#[test]
fn logistic_f32() {
    check!(logistic32: f32, call(w, x, b), floats(w, x, b), wrt(w, x, b), scalar, points [
        &[0.5, 1.5, -0.2], &[-2.0, 0.3, 1.0], &[0.0, 0.0, 0.0], &[3.0, -2.0, 0.5],
    ]);
}

mod trig32 {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f32, y: f32) -> f32 {
        (x.sin() * y.cos()).exp() + (x * y).tanh() + f32::sqrt(x * x + 1.0) - y.atan() * x.cosh()
    }

    pub fn r(x: D, y: D) -> D {
        (x.sin() * y.cos()).exp() + (x * y).tanh() + (x * x + 1.0).sqrt() - y.atan() * x.cosh()
    }
}

#[test]
fn trig_chain_f32() {
    check!(trig32: f32, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[0.3, 0.7], &[-1.0, 2.0], &[1.5, -0.5], &[0.01, 0.02],
    ]);
}

mod tuple32 {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f32, y: f32) -> (f32, f32, f32) {
        (x * y, x.ln() + y, x.hypot(y))
    }

    pub fn r(x: D, y: D) -> (D, D, D) {
        (x * y, x.ln() + y, common::dhypot(x, y))
    }
}

#[test]
fn tuple_f32() {
    check!(tuple32: f32, call(x, y), floats(x, y), wrt(x, y), tuple, points [
        &[0.5, 1.5], &[2.0, -0.3], &[1.25, 4.0],
    ]);
}

mod powi32 {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f32, n: usize) -> f32 {
        x.powi(n as i32) * (n as f32) + (x * 0.5).exp2() - x.cbrt()
    }

    pub fn r(x: D, n: usize) -> D {
        x.powi(n as i32) * (n as f64) + (x * 0.5).exp2() - x.cbrt()
    }
}

#[test]
fn integer_param_f32() {
    for n in [0usize, 1, 3] {
        check!(powi32: f32, call(x, n), floats(x), wrt(x), scalar, points [&[0.5], &[-1.25], &[2.0]]);
    }
}

// ---------------------------------------------------------------------------
// The method list, a few at a time
// ---------------------------------------------------------------------------

mod mul_add {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64, z: f64) -> f64 {
        x.mul_add(y, z) * z.mul_add(2.0, x) + f64::mul_add(y, y, 1.0).ln()
    }

    pub fn r(x: D, y: D, z: D) -> D {
        (x * y + z) * (z * 2.0 + x) + (y * y + 1.0).ln()
    }
}

#[test]
fn mul_add_all_operands() {
    check!(mul_add: f64, call(x, y, z), floats(x, y, z), wrt(x, y, z), scalar, points [
        &[0.5, -1.0, 2.0], &[1e-3, 3.0, -0.5], &[-2.0, -2.0, 1e3],
    ]);
}

mod clamp {
    use super::*;

    /// Clamp with constant bounds and with active bounds.
    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        (x * y).clamp(-1.0, 2.0) + x.clamp(y, y + 1.0) * 3.0
    }

    pub fn r(x: D, y: D) -> D {
        common::dclamp(x * y, c(-1.0), c(2.0)) + common::dclamp(x, y, y + 1.0) * 3.0
    }
}

#[test]
fn clamp_regions() {
    // below / inside / above for both clamps, away from the kinks.
    check!(clamp: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[0.5, 0.2], &[-3.0, 1.0], &[3.0, 1.0], &[1.5, 1.0], &[-0.5, -0.9], &[2.0, -3.0],
    ]);
}

mod minmax {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.max(y) * x.min(y * 2.0) + x.max(1.0) - f64::min(x, -y)
    }

    pub fn r(x: D, y: D) -> D {
        common::dmax(x, y) * common::dmin(x, y * 2.0) + common::dmax(x, c(1.0))
            - common::dmin(x, -y)
    }
}

#[test]
fn min_max() {
    check!(minmax: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[0.5, 0.2], &[0.2, 0.5], &[2.0, -1.5], &[-3.0, 0.7], &[5.0, 4.0], &[-0.1, -0.3],
    ]);
}

mod abs_fn {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        (x - y).abs() * x.abs() + (x * y).abs().sqrt()
    }

    pub fn r(x: D, y: D) -> D {
        common::dabs(x - y) * common::dabs(x) + common::dabs(x * y).sqrt()
    }
}

#[test]
fn abs_both_signs() {
    check!(abs_fn: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[0.5, 0.2], &[-0.5, 0.2], &[0.5, -2.0], &[-3.0, -1.0], &[1e-3, 2e-3],
    ]);
}

mod cbrt_fn {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64) -> f64 {
        (x * x + 1.0).cbrt() + x.cbrt() * 2.0
    }

    pub fn r(x: D) -> D {
        (x * x + 1.0).cbrt() + x.cbrt() * 2.0
    }
}

#[test]
fn cbrt_negative_and_positive() {
    check!(cbrt_fn: f64, call(x), floats(x), wrt(x), scalar, points [&[8.0], &[-8.0], &[0.3], &[-0.05], &[1e3]]);
}

mod exp_log {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.exp2() + y.log2() * x.log10() + y.log(x + 3.0)
    }

    pub fn r(x: D, y: D) -> D {
        // log_b(y) = ln y / ln b with both sides active
        x.exp2() + y.log2() * x.log10() + y.ln() / (x + 3.0).ln()
    }
}

#[test]
fn exp2_log2_log10_log() {
    check!(exp_log: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[0.5, 2.0], &[1e-2, 0.1], &[3.0, 1e3], &[10.0, 0.5],
    ]);
}

mod inv_hyp {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64, z: f64) -> f64 {
        x.asinh() + y.acosh() * z.atanh() + (x * z).atanh()
    }

    pub fn r(x: D, y: D, z: D) -> D {
        x.asinh() + y.acosh() * z.atanh() + (x * z).atanh()
    }
}

#[test]
fn inverse_hyperbolic() {
    check!(inv_hyp: f64, call(x, y, z), floats(x, y, z), wrt(x, y, z), scalar, points [
        &[0.5, 1.5, 0.3], &[-2.0, 3.0, -0.4], &[1e-3, 1.01, 0.9], &[10.0, 100.0, 0.05],
    ]);
}

mod recip_fn {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.recip() + (x * y).recip() * y - f64::recip(y + 3.0)
    }

    pub fn r(x: D, y: D) -> D {
        x.recip() + (x * y).recip() * y - (y + 3.0).recip()
    }
}

#[test]
fn recip() {
    check!(recip_fn: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[0.5, 2.0], &[-1.5, 0.3], &[1e-2, -1.0], &[1e3, 4.0],
    ]);
}

mod trig {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.tan() + y.asin() * x.acos() + x.atan() - (x * y).sinh().cosh().ln()
    }

    pub fn r(x: D, y: D) -> D {
        x.tan() + y.asin() * x.acos() + x.atan() - (x * y).sinh().cosh().ln()
    }
}

#[test]
fn trig_and_inverse_trig() {
    check!(trig: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[0.3, 0.5], &[-0.7, 0.2], &[1e-3, -0.9], &[0.95, -0.1],
    ]);
}

mod expm1_ln1p {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.exp_m1() * y.ln_1p() + x.sinh() / y.cosh()
    }

    pub fn r(x: D, y: D) -> D {
        x.exp_m1() * y.ln_1p() + x.sinh() / y.cosh()
    }
}

#[test]
fn exp_m1_ln_1p_sinh_cosh() {
    check!(expm1_ln1p: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[1e-3, 1e-3], &[0.5, 2.0], &[-1.5, -0.5], &[5.0, 10.0],
    ]);
}

mod signum_fn {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.signum() * x * y + y.signum()
    }

    pub fn r(x: D, y: D) -> D {
        let s = if x.re > 0.0 { 1.0 } else { -1.0 };
        x * y * s + c(y.re.signum())
    }
}

#[test]
fn signum_is_piecewise_constant() {
    check!(signum_fn: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [&[0.5, 2.0], &[-0.5, 2.0], &[-3.0, -1.0]]);
}

mod neg_div {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        -(x / y) / (x - y) + -x * -y - (-(x))
    }

    pub fn r(x: D, y: D) -> D {
        -(x / y) / (x - y) + (-x) * (-y) + x
    }
}

#[test]
fn negation_division_parentheses() {
    check!(neg_div: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [&[0.5, 2.0], &[-1.5, 0.3], &[1e3, -1e-3]]);
}

mod piecewise {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.fract() * y + x.floor() * y - x.round() + x.trunc() * x.ceil()
    }

    pub fn r(x: D, y: D) -> D {
        let v = x.re;
        // fract = x - trunc(x): derivative 1; the others are constants.
        (x - v.trunc()) * y + y * v.floor() - c(v.round()) + c(v.trunc() * v.ceil())
    }
}

#[test]
fn floor_ceil_round_trunc_fract() {
    // Away from integers and half-integers (kinks / jumps).
    check!(piecewise: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[2.3, 1.5], &[-2.3, 1.5], &[0.7, -2.0], &[-0.2, 0.4], &[12.9, 3.0],
    ]);
}

mod powi_fn {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.powi(-3) + x.powi(0) * y + y.powi(1) + (x * y).powi(4) - x.powf(2.5) + 2.0_f64.powf(y)
    }

    pub fn r(x: D, y: D) -> D {
        x.powi(-3) + y + y + (x * y).powi(4) - x.powf(2.5) + common::dpowf(c(2.0), y)
    }
}

#[test]
fn powi_and_constant_powf() {
    check!(powi_fn: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [&[0.5, 2.0], &[1.5, -0.3], &[0.1, 3.0], &[3.0, 1e-3]]);
}

mod fn_forms {
    use super::*;

    /// `f64::name(x)` call forms.
    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        f64::hypot(x, y)
            + f64::max(x, y)
            + f64::exp(x) * f64::powf(y, 1.5)
            + f64::sqrt(f64::abs(x))
            + f64::atan2(y, x)
    }

    pub fn r(x: D, y: D) -> D {
        common::dhypot(x, y)
            + common::dmax(x, y)
            + x.exp() * y.powf(1.5)
            + common::dabs(x).sqrt()
            + common::datan2(y, x)
    }
}

#[test]
fn associated_function_call_forms() {
    check!(fn_forms: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [&[0.5, 2.0], &[-1.5, 0.3], &[3.0, 1e-2]]);
}

mod consts {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64) -> f64 {
        std::f64::consts::PI * x.sin()
            + core::f64::consts::E.powf(x)
            + x * std::f64::consts::SQRT_2
            + f64::EPSILON * x
            + (x / std::f64::consts::FRAC_PI_2).cos()
            + 1e-1 * x
            + 2.
    }

    pub fn r(x: D) -> D {
        use std::f64::consts::*;
        x.sin() * PI
            + x.exp()
            + x * SQRT_2
            + x * f64::EPSILON
            + (x / FRAC_PI_2).cos()
            + x * 0.1
            + 2.0
    }
}

#[test]
fn paths_to_constants() {
    check!(consts: f64, call(x), floats(x), wrt(x), scalar, points [&[0.5], &[-2.0], &[1e-3], &[10.0]]);
}

// ---------------------------------------------------------------------------
// Control flow and bindings
// ---------------------------------------------------------------------------

mod branches {
    use super::*;

    /// `if`/`else` reassigning outer `let mut` variables, an `if` used as a
    /// value, and an `if` as the tail expression.
    #[autodiff::differentiate]
    #[allow(clippy::assign_op_pattern)]
    pub fn f(x: f64, y: f64) -> f64 {
        let mut a = x * y;
        let mut b = x + 1.0;
        if x > y {
            a = a * x;
            b -= y;
        } else {
            a = a.sin();
            b = b * b;
        }
        let c = if a > 0.0 { a.exp() } else { -a };
        if b < 0.0 {
            c * b
        } else {
            c + b.sqrt()
        }
    }

    pub fn r(x: D, y: D) -> D {
        let mut a = x * y;
        let mut b = x + 1.0;
        if x.re > y.re {
            a *= x;
            b -= y;
        } else {
            a = a.sin();
            b = b * b;
        }
        let cc = if a.re > 0.0 { a.exp() } else { -a };
        if b.re < 0.0 {
            cc * b
        } else {
            cc + b.sqrt()
        }
    }
}

#[test]
fn if_else_with_reassignments() {
    check!(branches: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[2.0, 0.5],   // x > y, a > 0, b >= 0
        &[2.0, 4.0],   // else, a > 0
        &[-2.0, 1.5],  // else, a < 0
        &[-0.5, -3.0], // x > y, a < 0, b >= 0
        &[-3.0, -3.5], // x > y, b < 0
    ]);
}

mod nested_if {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        let mut s = x * 0.5;
        if x < -1.0 {
            s *= x * 2.0;
        } else if x < 1.0 {
            s = x.sin() * y;
            if y > 0.0 {
                s += y.exp();
            } else {
                s -= y * y;
            }
        } else {
            s = x.ln() * y;
        }
        s * 2.0
    }

    pub fn r(x: D, y: D) -> D {
        let s = if x.re < -1.0 {
            x * 0.5 * (x * 2.0)
        } else if x.re < 1.0 {
            let s = x.sin() * y;
            if y.re > 0.0 {
                s + y.exp()
            } else {
                s - y * y
            }
        } else {
            x.ln() * y
        };
        s * 2.0
    }
}

#[test]
fn nested_if_else_chain() {
    check!(nested_if: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [
        &[-2.0, 1.0], &[0.5, 1.0], &[0.5, -1.0], &[3.0, 2.0], &[-0.99, -0.5],
    ]);
}

mod if_no_else {
    use super::*;

    /// `if` without `else` updating a `let mut` accumulator.
    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        let mut s = x * y;
        if x > 0.0 {
            s += x.exp();
        }
        if y < 0.0 {
            s *= y;
        }
        s
    }

    pub fn r(x: D, y: D) -> D {
        let mut s = x * y;
        if x.re > 0.0 {
            s += x.exp();
        }
        if y.re < 0.0 {
            s *= y;
        }
        s
    }
}

#[test]
fn if_without_else() {
    check!(if_no_else: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [&[0.5, 2.0], &[-0.5, 2.0], &[0.5, -2.0], &[-0.5, -2.0]]);
}

mod shadowing {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        let x = x * 2.0;
        let x = x.sin() + y;
        let y = x * y;
        let x: f64 = x + y.cos();
        x * y
    }

    pub fn r(x: D, y: D) -> D {
        let x = x * 2.0;
        let x = x.sin() + y;
        let y = x * y;
        let x = x + y.cos();
        x * y
    }
}

#[test]
fn shadowed_bindings() {
    check!(shadowing: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [&[0.5, 2.0], &[-1.5, 0.3], &[1e-3, -4.0]]);
}

mod compound {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        let mut s = x;
        s += y * y;
        s -= x * 0.5;
        s *= y.sin() + 2.0;
        s /= x * x + 1.0;
        s += 1.0;
        s *= s;
        s /= 2.0;
        s -= y;
        s
    }

    pub fn r(x: D, y: D) -> D {
        let mut s = x;
        s += y * y;
        s -= x * 0.5;
        s *= y.sin() + 2.0;
        s /= x * x + 1.0;
        s += 1.0;
        s *= s;
        s /= 2.0;
        s -= y;
        s
    }
}

#[test]
fn compound_assignment() {
    check!(compound: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [&[0.5, 2.0], &[-1.5, 0.3], &[1e-3, -4.0], &[100.0, 7.0]]);
}

mod blocks {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        let a = {
            let t = x * y;
            t.sin() + t
        };
        let b = {
            let u = { a * 2.0 };
            u + x.exp()
        };
        {
            let z = a * b;
            z + y
        }
    }

    pub fn r(x: D, y: D) -> D {
        let t = x * y;
        let a = t.sin() + t;
        let b = a * 2.0 + x.exp();
        a * b + y
    }
}

#[test]
fn block_expressions() {
    check!(blocks: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [&[0.5, 2.0], &[-1.5, 0.3], &[1e-3, -4.0]]);
}

mod early_return {
    use super::*;

    #[autodiff::differentiate]
    #[allow(clippy::needless_return)]
    pub fn f(x: f64, y: f64) -> f64 {
        let a = x * y;
        return a + x.exp();
    }

    pub fn r(x: D, y: D) -> D {
        x * y + x.exp()
    }
}

#[test]
fn return_as_last_statement() {
    check!(early_return: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [&[0.5, 2.0], &[-1.5, 0.3]]);
}

mod tuple_let {
    use super::*;

    /// Tuple values and `let (a, b) = ...` destructuring.
    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        let (a, b) = (x * y, x - y);
        let p = (a.sin(), b.cos());
        let (s, t) = p;
        s * t + a
    }

    pub fn r(x: D, y: D) -> D {
        let (a, b) = (x * y, x - y);
        a.sin() * b.cos() + a
    }
}

#[test]
fn tuple_bindings() {
    check!(tuple_let: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [&[0.5, 2.0], &[-1.5, 0.3]]);
}

// ---------------------------------------------------------------------------
// Non-float parameters and wrt subsets
// ---------------------------------------------------------------------------

mod with_n {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, n: usize) -> f64 {
        x.powi(n as i32) * (n as f64)
            + x.sin() * n as f64
            + (x * n as f64).cos()
            + x.abs().powf(n as f64 * 0.5)
    }

    pub fn r(x: D, n: usize) -> D {
        let nf = n as f64;
        let ax = common::dabs(x);
        // |x|^(n/2) with a constant exponent (n = 0: the constant 1).
        let p = if n == 0 {
            c(1.0)
        } else {
            common::dpowf(ax, c(nf * 0.5))
        };
        x.powi(n as i32) * nf + x.sin() * nf + (x * nf).cos() + p
    }
}

#[test]
fn usize_param_passed_through() {
    for n in [0usize, 1, 2, 5] {
        check!(with_n: f64, call(x, n), floats(x), wrt(x), scalar, points [&[0.5], &[-1.5], &[1e-3], &[3.0]]);
    }
}

mod mixed_params {
    use super::*;

    /// Non-float parameters between float ones, one of them a `bool`
    /// deciding a branch.
    #[autodiff::differentiate]
    pub fn f(x: f64, n: usize, y: f64, flag: bool) -> f64 {
        if flag {
            x * y + n as f64
        } else {
            x.powi(n as i32 + 1) + y.sin() * (n as f64)
        }
    }

    pub fn r(x: D, n: usize, y: D, flag: bool) -> D {
        if flag {
            x * y + n as f64
        } else {
            x.powi(n as i32 + 1) + y.sin() * (n as f64)
        }
    }
}

#[test]
fn interleaved_non_float_params() {
    for n in [0usize, 3] {
        for flag in [true, false] {
            check!(mixed_params: f64, call(x, n, y, flag), floats(x, y), wrt(x, y), scalar, points [&[0.5, 2.0], &[-1.5, 0.3]]);
        }
    }
}

mod wrt_y {
    use super::*;

    #[autodiff::differentiate(wrt(y))]
    pub fn f(x: f64, y: f64, z: f64) -> f64 {
        x.sin() * y.powi(2) + z * y.exp() + x * z
    }

    pub fn r(x: D, y: D, z: D) -> D {
        x.sin() * y * y + z * y.exp() + x * z
    }
}

mod wrt_xz {
    #[autodiff::differentiate(wrt(x, z))]
    pub fn f(x: f64, y: f64, z: f64) -> f64 {
        x.sin() * y.powi(2) + z * y.exp() + x * z
    }

    pub use super::wrt_y::r;
}

mod wrt_zx {
    /// `wrt` listed out of parameter order: the gradient is still in
    /// parameter order (spec §3).
    #[autodiff::differentiate(wrt(z, x))]
    pub fn f(x: f64, y: f64, z: f64) -> f64 {
        x.sin() * y.powi(2) + z * y.exp() + x * z
    }

    pub use super::wrt_y::r;
}

#[test]
fn wrt_subsets() {
    let pts: [&[f64]; 3] = [&[0.5, 2.0, -1.0], &[-1.5, 0.3, 2.0], &[1e-3, -4.0, 1e3]];
    check!(wrt_y: f64, call(x, y, z), floats(x, y, z), wrt(y), scalar, points [pts[0], pts[1], pts[2]]);
    check!(wrt_xz: f64, call(x, y, z), floats(x, y, z), wrt(x, z), scalar, points [pts[0], pts[1], pts[2]]);
    check!(wrt_zx: f64, call(x, y, z), floats(x, y, z), wrt(x, z), scalar, points [pts[0], pts[1], pts[2]]);
    // Types: one wrt param -> plain f64; two -> a tuple.
    let g: f64 = wrt_y::f_grad(0.5, 2.0, -1.0);
    let (gx, gz): (f64, f64) = wrt_xz::f_grad(0.5, 2.0, -1.0);
    assert!(g.is_finite() && gx.is_finite() && gz.is_finite());
}

mod cond_logic {
    use super::*;

    /// Conditions combining comparisons of active values, `&&`, `||`, `!`
    /// and integer arithmetic on a non-float parameter.
    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64, n: usize, flag: bool) -> f64 {
        let s = x * y;
        if (s > 0.5 && y < 2.0) || !flag {
            s.exp() + x
        } else if n % 2 == 0 {
            s.sin() * y
        } else {
            s - y.cos()
        }
    }

    pub fn r(x: D, y: D, n: usize, flag: bool) -> D {
        let s = x * y;
        if (s.re > 0.5 && y.re < 2.0) || !flag {
            s.exp() + x
        } else if n % 2 == 0 {
            s.sin() * y
        } else {
            s - y.cos()
        }
    }
}

#[test]
fn boolean_conditions() {
    for n in [2usize, 3] {
        for flag in [true, false] {
            check!(cond_logic: f64, call(x, y, n, flag), floats(x, y), wrt(x, y), scalar, points [
                &[1.0, 1.0], &[0.2, 1.0], &[1.0, 3.0], &[-1.0, -1.5],
            ]);
        }
    }
}

mod tuple_consts {
    use super::*;

    /// Outputs that do not depend on the `wrt` parameter, or are a
    /// parameter itself.
    #[autodiff::differentiate(wrt(x))]
    pub fn f(x: f64, y: f64) -> (f64, f64, f64) {
        (3.0, y * 2.0, x)
    }

    pub fn r(x: D, y: D) -> (D, D, D) {
        (c(3.0), y * 2.0, x)
    }
}

mod identity {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> (f64, f64, f64) {
        (x, y, x)
    }

    pub fn r(x: D, y: D) -> (D, D, D) {
        (x, y, x)
    }
}

#[test]
fn constant_and_identity_outputs() {
    check!(tuple_consts: f64, call(x, y), floats(x, y), wrt(x), tuple, points [&[0.5, 2.0], &[-1.5, 0.3]]);
    check!(identity: f64, call(x, y), floats(x, y), wrt(x, y), tuple, points [&[0.5, 2.0], &[-1.5, 0.3]]);
    assert_eq!(tuple_consts::f_jacobian(0.5, 2.0), [0.0, 0.0, 1.0]);
    assert_eq!(
        identity::f_jacobian(0.5, 2.0),
        ([1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    );
}

mod consts32 {
    use super::*;

    /// f32 constants and the rules whose derivatives carry constants
    /// (ln 2, ln 10).
    #[autodiff::differentiate]
    pub fn f(x: f32) -> f32 {
        std::f32::consts::PI * x.exp2() + x.log10() * core::f32::consts::E + x.log2()
            - f32::EPSILON * x.ln_1p()
    }

    pub fn r(x: D) -> D {
        x.exp2() * (std::f32::consts::PI as f64)
            + x.log10() * (std::f32::consts::E as f64)
            + x.log2()
            - x.ln_1p() * (f32::EPSILON as f64)
    }
}

#[test]
fn constants_f32() {
    check!(consts32: f32, call(x), floats(x), wrt(x), scalar, points [&[0.5], &[2.0], &[7.5]]);
}

// ---------------------------------------------------------------------------
// Constants of every kind, literal forms, precedence, odd-but-valid params
// ---------------------------------------------------------------------------

mod literals {
    use super::*;

    #[autodiff::differentiate]
    pub fn f(x: f64) -> f64 {
        x.powi(2_i32) + x * 1_000.0 + 2f64 * x + 1e3 + x * 2.5e-1_f64
    }

    pub fn r(x: D) -> D {
        x * x + x * 1000.0 + x * 2.0 + 1e3 + x * 0.25
    }
}

const K: f64 = 2.5;
static S: f64 = 0.5;

fn weight(k: usize) -> f64 {
    1.0 / (k as f64 + 1.0)
}

mod const_exprs {
    use super::*;

    /// Subexpressions that do not depend on `x` are constants whatever they
    /// are: consts, statics, calls, closures, macros, blocks, `match`.
    #[autodiff::differentiate]
    #[allow(clippy::redundant_closure_call)]
    pub fn f(x: f64, k: u32) -> f64 {
        x * f64::from(k)
            + x * weight(k as usize)
            + x * K
            + x * S
            + x * (|| 2.0)()
            + x * {
                let v = vec![1.0, 2.0];
                v.len() as f64
            }
            + x * match k {
                0 => 1.0,
                _ => 2.0,
            }
            + (x * super::K).sin()
    }

    pub fn r(x: D, k: u32) -> D {
        let kf = k as f64;
        let m = if k == 0 { 1.0 } else { 2.0 };
        x * kf + x * weight(k as usize) + x * K + x * S + x * 2.0 + x * 2.0 + x * m + (x * K).sin()
    }
}

mod precedence {
    use super::*;

    /// Unary minus binds looser than a method call: `-x.powi(2)` is
    /// `-(x²)`.
    #[autodiff::differentiate]
    #[allow(clippy::unnecessary_cast)]
    pub fn f(x: f64, y: f64) -> f64 {
        -x.powi(2) + -y.exp() * 2.0 - (-x).sin() - x / y / 2.0 - (x - y - 1.0) + x as f64 * 2.0
    }

    pub fn r(x: D, y: D) -> D {
        -(x * x) + -(y.exp()) * 2.0 - (-x).sin() - x / y / 2.0 - (x - y - 1.0) + x * 2.0
    }
}

mod mut_param {
    use super::*;

    /// `mut` parameters and a `&str` pass-through parameter.
    #[autodiff::differentiate]
    pub fn f(mut x: f64, s: &str) -> f64 {
        x *= 2.0;
        x = x.sin() + s.len() as f64;
        x * x
    }

    pub fn r(x: D, s: &str) -> D {
        let x = (x * 2.0).sin() + s.len() as f64;
        x * x
    }
}

/// Holds an annotated associated function.
pub struct Holder;

impl Holder {
    /// An associated function in an `impl` block.
    #[autodiff::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        (x * y).atan() + y
    }
}

mod assoc {
    use super::*;

    pub use super::Holder as H;

    pub fn f(x: f64, y: f64) -> f64 {
        H::f(x, y)
    }
    pub fn f_grad(x: f64, y: f64) -> (f64, f64) {
        H::f_grad(x, y)
    }
    pub fn f_value_and_grad(x: f64, y: f64) -> (f64, (f64, f64)) {
        H::f_value_and_grad(x, y)
    }
    pub fn f_jvp(x: f64, y: f64, xd: f64, yd: f64) -> (f64, f64) {
        H::f_jvp(x, y, xd, yd)
    }
    pub fn f_vjp(x: f64, y: f64, ob: f64) -> (f64, (f64, f64)) {
        H::f_vjp(x, y, ob)
    }
    pub fn f_jacobian(x: f64, y: f64) -> (f64, f64) {
        H::f_jacobian(x, y)
    }
    pub fn f_pp() -> autodiff::Pretty {
        H::f_pp()
    }

    pub fn r(x: D, y: D) -> D {
        (x * y).atan() + y
    }
}

#[test]
fn constants_literals_precedence_params() {
    check!(literals: f64, call(x), floats(x), wrt(x), scalar, points [&[2.0], &[-0.5], &[1e-3]]);
    for k in [0u32, 3] {
        check!(const_exprs: f64, call(x, k), floats(x), wrt(x), scalar, points [&[2.0], &[-0.5], &[1e-3]]);
    }
    check!(precedence: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [&[2.0, 1.0], &[-0.5, -3.0]]);
    let s = "abc";
    check!(mut_param: f64, call(x, s), floats(x), wrt(x), scalar, points [&[2.0], &[-0.5], &[1e-3]]);
    check!(assoc: f64, call(x, y), floats(x, y), wrt(x, y), scalar, points [&[2.0, 1.0], &[-0.5, -3.0]]);
}

/// Indexing a constant (a local `Vec` that does not depend on `x`) is a
/// constant kept as written (SPEC §5).
mod const_index {
    #[autodiff::differentiate]
    pub fn f(x: f64) -> f64 {
        let v = vec![1.0, 2.0];
        x * v[1]
    }
}

#[test]
fn indexing_a_constant() {
    assert_eq!(const_index::f_grad(1.0), 2.0);
    assert_eq!(const_index::f(3.0), 6.0);
}
