//! Calls to other differentiable functions: the chain rule goes through
//! their `_jvp` and `_vjp` companions (SPEC §5), which is also how a
//! hand-written derivative is given to an opaque function.

// Index loops are the form #[differentiate] reads.
#![allow(clippy::needless_range_loop)]

use autodiff::differentiate;
use common::seeded;
use num_dual::{Dual64, DualNum, HyperDual64};

use crate::common;

const TOL: f64 = 1e-12;

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= TOL * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

// ---- a three-level chain ----

#[differentiate]
fn inner(x: f64, y: f64) -> f64 {
    (x * y).sin() + y.exp()
}

#[differentiate]
fn middle(x: f64, k: f64) -> f64 {
    inner(x, k * x) * x.cos()
}

#[differentiate]
fn outer(a: f64, b: f64) -> f64 {
    let m = middle(a + b, 0.5);
    m * m + middle(b, a)
}

fn inner_ref<D: DualNum<f64> + Copy>(x: D, y: D) -> D {
    (x * y).sin() + y.exp()
}
fn middle_ref<D: DualNum<f64> + Copy>(x: D, k: D) -> D {
    inner_ref(x, k * x) * x.cos()
}
fn outer_ref<D: DualNum<f64> + Copy>(a: D, b: D) -> D {
    let m = middle_ref(a + b, D::from(0.5));
    m * m + middle_ref(b, a)
}

#[test]
fn three_level_chain() {
    for &(a, b) in &[(0.3, -0.4), (1.1, 0.2), (-0.8, 0.9)] {
        let (ga, gb) = outer_grad(a, b);
        close(
            ga,
            outer_ref(Dual64::new(a, 1.0), Dual64::from(b)).eps,
            "d/da",
        );
        close(
            gb,
            outer_ref(Dual64::from(a), Dual64::new(b, 1.0)).eps,
            "d/db",
        );
        let (v, t) = outer_jvp(a, b, 0.5, -2.0);
        assert_eq!(v, outer(a, b));
        close(
            t,
            outer_ref(Dual64::new(a, 0.5), Dual64::new(b, -2.0)).eps,
            "jvp",
        );
    }
}

// ---- a custom derivative: an opaque function with hand-written jvp/vjp ----

/// ln(1 + e^x), computed stably; its derivative is the logistic function.
fn log1p_exp(x: f64) -> f64 {
    if x > 30.0 {
        x + (-x).exp()
    } else {
        x.exp().ln_1p()
    }
}

fn log1p_exp_jvp(x: f64, x_dot: f64) -> (f64, f64) {
    (log1p_exp(x), x_dot / (1.0 + (-x).exp()))
}

fn log1p_exp_vjp(x: f64, out_bar: f64) -> (f64, f64) {
    (log1p_exp(x), out_bar / (1.0 + (-x).exp()))
}

#[differentiate]
fn softplus_loss(w: f64, x: f64, y: f64) -> f64 {
    log1p_exp(-y * w * x)
}

#[test]
fn hand_written_derivatives_are_used() {
    for &(w, x, y) in &[(0.5, 2.0, 1.0), (-3.0, 40.0, -1.0), (100.0, 1.0, -1.0)] {
        let (gw, gx, gy) = softplus_loss_grad(w, x, y);
        let z = -y * w * x;
        let s = 1.0 / (1.0 + (-z).exp());
        close(gw, s * (-y * x), "d/dw");
        close(gx, s * (-y * w), "d/dx");
        close(gy, s * (-w * x), "d/dy");
        assert!(gw.is_finite() && softplus_loss(w, x, y).is_finite());
        let (v, t) = softplus_loss_jvp(w, x, y, 1.0, 0.0, 0.0);
        assert_eq!(v, softplus_loss(w, x, y));
        close(t, gw, "jvp along w");
    }
}

// ---- calls on arrays, through a module path, inside a loop ----

/// `&x` arguments are passed (and their tangents) by reference too.
#[differentiate]
fn by_reference(x: [f64; 2]) -> f64 {
    norms::norm2(&x) * x[0]
}

#[test]
fn reference_arguments() {
    let g = by_reference_grad([3.0, 4.0]);
    // f = |x| x0: df/dx0 = x0^2/|x| + |x|, df/dx1 = x0 x1 / |x|
    close(g[0], 9.0 / 5.0 + 5.0, "d/dx0");
    close(g[1], 12.0 / 5.0, "d/dx1");
    let (v, t) = by_reference_jvp([3.0, 4.0], [0.0, 1.0]);
    assert_eq!(v, by_reference([3.0, 4.0]));
    close(t, 12.0 / 5.0, "jvp");
}

mod norms {
    use autodiff::differentiate;

    #[differentiate]
    #[allow(clippy::needless_range_loop)]
    pub fn norm2(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..x.len() {
            s += x[i] * x[i];
        }
        s.sqrt()
    }
}

#[differentiate]
fn scaled_norm(x: &[f64], k: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += inner(x[i], k);
    }
    s * norms::norm2(x)
}

fn scaled_norm_ref<D: DualNum<f64> + Copy>(x: &[D], k: D) -> D {
    let mut s = D::from(0.0);
    let mut n = D::from(0.0);
    for &v in x {
        s += inner_ref(v, k);
        n += v * v;
    }
    s * n.sqrt()
}

#[test]
fn calls_with_arrays_in_modules_and_loops() {
    let x = [0.5, -1.25, 2.0];
    let k = 0.7;
    let (gx, gk) = scaled_norm_grad(&x, k);
    for j in 0..3 {
        close(
            gx[j],
            scaled_norm_ref(&seeded(&x, j), Dual64::from(k)).eps,
            &format!("d/dx{j}"),
        );
    }
    let xd: Vec<Dual64> = x.iter().map(|&v| Dual64::from(v)).collect();
    close(gk, scaled_norm_ref(&xd, Dual64::new(k, 1.0)).eps, "d/dk");
    let (v, t) = scaled_norm_jvp(&x, k, &[1.0, 0.0, -1.0], 0.5);
    assert_eq!(v, scaled_norm(&x, k));
    let xd: Vec<Dual64> = x
        .iter()
        .zip([1.0, 0.0, -1.0])
        .map(|(&v, e)| Dual64::new(v, e))
        .collect();
    close(t, scaled_norm_ref(&xd, Dual64::new(k, 0.5)).eps, "jvp");
}

// ---- methods with a constant `self` ----

struct Model {
    scale: f64,
    offset: f64,
}

impl Model {
    #[differentiate]
    fn response(&self, x: f64) -> f64 {
        (self.scale * x).tanh() + self.offset
    }

    #[differentiate]
    fn loss(&self, x: f64, y: f64) -> f64 {
        let r = self.response(x) - y;
        r * r
    }
}

#[test]
fn methods_on_a_struct_holding_constants() {
    let m = Model {
        scale: 1.5,
        offset: 0.25,
    };
    for &(x, y) in &[(0.3, 0.1), (-1.0, 0.5)] {
        let (gx, gy) = m.loss_grad(x, y);
        let t = (m.scale * x).tanh();
        let r = t + m.offset - y;
        close(gx, 2.0 * r * m.scale * (1.0 - t * t), "d/dx");
        close(gy, -2.0 * r, "d/dy");
        assert_eq!(m.loss_value_and_grad(x, y).0, m.loss(x, y));
        let (_, tx) = Model::loss_jvp(&m, x, y, 1.0, 0.0);
        close(tx, gx, "jvp");
    }
}

// ---- an array passed to a call, then updated in place ----

#[differentiate]
fn pair_energy(v: &[f64]) -> f64 {
    v[0] * v[1] + v[1].sin()
}

/// `v` is passed to `pair_energy`, then written: the reverse sweep must
/// hand `pair_energy_vjp` the values the call saw, not the later ones.
#[differentiate]
fn rewritten_argument(x: &[f64]) -> f64 {
    let mut v = vec![0.0; 2];
    v[0] = x[0];
    v[1] = x[1] * x[0];
    let a = pair_energy(&v);
    v[1] = 3.0 * v[0] + x[1];
    a * pair_energy(&v)
}

fn pair_energy_ref<D: DualNum<f64> + Copy>(v: &[D]) -> D {
    v[0] * v[1] + v[1].sin()
}

fn rewritten_argument_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let first = pair_energy_ref(&[x[0], x[1] * x[0]]);
    first * pair_energy_ref(&[x[0], x[0] * 3.0 + x[1]])
}

#[test]
fn an_argument_updated_after_the_call() {
    for x in [[0.3, -0.4], [1.1, 0.7], [-0.8, 2.0]] {
        let g = rewritten_argument_grad(&x);
        let (value, _) = rewritten_argument_value_and_grad(&x);
        assert_eq!(value, rewritten_argument(&x));
        close(
            value,
            rewritten_argument_ref(&x.map(Dual64::from)).re,
            "value",
        );
        for j in 0..2 {
            let want = rewritten_argument_ref(&seeded(&x, j)).eps;
            close(g[j], want, &format!("d/dx{j}"));
        }
    }
}

/// Constants of a type the attribute cannot see, passed to a
/// differentiated function (the fuzzer's seed 12 cases 141 and 257): a
/// float constant and a constant call are floats with tangent 0.
mod opaque_args {
    use autodiff::differentiate;

    pub const SCALE: f64 = 0.75;

    #[differentiate]
    pub fn helper(a: f64, b: f64) -> f64 {
        a * b.sin()
    }

    #[differentiate]
    pub fn caller(x: f64, c: [f64; 2]) -> f64 {
        let _ = c;
        helper(x, helper(SCALE, 2.0)) + helper(SCALE, x)
    }
}

#[test]
fn constant_arguments_of_unseen_type_are_floats() {
    let x = 0.3;
    let (gx, gc) = opaque_args::caller_grad(x, [1.0, 2.0]);
    let k = 0.75 * 2.0_f64.sin();
    assert!((gx - (k.sin() + 0.75 * x.cos())).abs() < 1e-15);
    assert_eq!(gc, [0.0, 0.0]);
}

/// `let (a, b) = g(x, y);` of a differentiated function returning a tuple
/// of floats, in every mode and under `hessian` (GradBench's gap list).
mod tuple_results {
    use autodiff::differentiate;

    #[differentiate(hessian)]
    pub fn pair(x: f64, y: f64) -> (f64, f64) {
        (x * y, x + y.sin())
    }

    #[differentiate(hessian)]
    pub fn user(x: f64, y: f64) -> f64 {
        let (a, b) = pair(x, y);
        let (c, _) = pair(b, x);
        a * b + c
    }
}

fn tuple_user_dual<D: DualNum<f64> + Copy>(x: D, y: D) -> D {
    let (a, b) = (x * y, x + y.sin());
    let c = b * x;
    a * b + c
}

#[test]
fn tuple_results_of_calls_are_destructured() {
    let (x, y) = (0.7, -1.3);
    let g = tuple_results::user_grad(x, y);
    let gx = tuple_user_dual(Dual64::new(x, 1.0), Dual64::from(y)).eps;
    let gy = tuple_user_dual(Dual64::from(x), Dual64::new(y, 1.0)).eps;
    assert!((g.0 - gx).abs() < 1e-14 && (g.1 - gy).abs() < 1e-14);
    let (v, t) = tuple_results::user_jvp(x, y, 0.5, 2.0);
    let want = tuple_user_dual(Dual64::new(x, 0.5), Dual64::new(y, 2.0));
    assert!((v - want.re).abs() < 1e-15 && (t - want.eps).abs() < 1e-14);
    let (_, (bx, by)) = tuple_results::user_vjp(x, y, 3.0);
    assert!((bx - 3.0 * gx).abs() < 1e-13 && (by - 3.0 * gy).abs() < 1e-13);
    let h = tuple_results::user_hessian(x, y);
    let hyper = |u: [f64; 2], w: [f64; 2]| {
        tuple_user_dual(
            HyperDual64::new(x, u[0], w[0], 0.0),
            HyperDual64::new(y, u[1], w[1], 0.0),
        )
        .eps1eps2
    };
    let basis = [[1.0, 0.0], [0.0, 1.0]];
    for i in 0..2 {
        for j in 0..2 {
            let want = hyper(basis[i], basis[j]);
            assert!(
                (h[i][j] - want).abs() < 1e-13,
                "H[{i}][{j}] {} vs {want}",
                h[i][j]
            );
        }
    }
}

// ---------------------------------------------------------------------------
// A float method of a constant passed to a differentiated function (the
// fuzzer's seed 19 case 1874: `cost(cfg.k.atan(), x)` went to `cost_jvp`
// without the constant's zero tangent).
// ---------------------------------------------------------------------------

pub struct Weights {
    pub k: f64,
}

#[differentiate]
fn pair_cost(a: f64, b: f64) -> f64 {
    (a * b).sin() + (a - b) * (a - b)
}

#[differentiate(wrt(x))]
fn through_method(w: &Weights, x: f64) -> f64 {
    pair_cost(w.k.atan(), x) * x
}

#[test]
fn a_float_method_of_a_constant_as_an_argument() {
    let (w, x) = (Weights { k: 0.7 }, 1.3);
    let a = w.k.atan();
    let want = ((a * x).cos() * a - 2.0 * (a - x)) * x + pair_cost(a, x);
    let (value, tangent) = through_method_jvp(&w, x, 1.0);
    assert_eq!(value, through_method(&w, x));
    assert!((tangent - want).abs() < 1e-12, "{tangent} vs {want}");
    assert!((through_method_grad(&w, x) - want).abs() < 1e-12);
}

// The negation of a constant passed to a differentiated function (the
// fuzzer's seed 38 case 474: `layer(-theta.k, x)`, `theta` a struct made in
// the body, went to `layer_jvp` without the constant's zero tangent).
#[differentiate(wrt(x))]
fn through_negation(x: f64) -> f64 {
    let theta = Weights { k: 0.75 };
    pair_cost(-theta.k, x) * x
}

#[test]
fn a_negated_constant_as_an_argument() {
    let (a, x) = (-0.75, 1.3);
    let want = ((a * x).cos() * a - 2.0 * (a - x)) * x + pair_cost(a, x);
    let (value, tangent) = through_negation_jvp(x, 1.0);
    assert_eq!(value, through_negation(x));
    assert!((tangent - want).abs() < 1e-12, "{tangent} vs {want}");
    assert!((through_negation_grad(x) - want).abs() < 1e-12);
}

// ---------------------------------------------------------------------------
// A call bound to a name that an earlier loop used for an array (the
// fuzzer's seed 20 case 472: `let beta = g(bias);` was typed as an array
// because another `beta` was indexed, and `_vjp` lost the call's term).
// ---------------------------------------------------------------------------

#[differentiate]
fn square(a: f64) -> f64 {
    a * a
}

#[differentiate]
fn reused_name(x: &[f64]) -> f64 {
    let mut bias = 0.5;
    for j in 0..x.len() {
        let beta = [x[j], 2.0 * x[j]];
        bias += beta[1] * bias * 0.25 + beta[0];
    }
    for _ in 0..2 {
        let beta = square(bias);
        bias *= 1.0 + beta * 0.1;
    }
    bias
}

fn reused_name_dual(x: &[Dual64]) -> Dual64 {
    let mut bias = Dual64::from(0.5);
    for &xj in x {
        bias += xj * 2.0 * bias * 0.25 + xj;
    }
    for _ in 0..2 {
        bias *= (bias * bias) * 0.1 + 1.0;
    }
    bias
}

#[test]
fn a_name_reused_for_a_call_after_an_array() {
    let x = [0.3, -0.2, 0.4];
    let grad = reused_name_grad(&x);
    for k in 0..x.len() {
        let seeded: Vec<Dual64> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| Dual64::new(v, if i == k { 1.0 } else { 0.0 }))
            .collect();
        close(grad[k], reused_name_dual(&seeded).eps, "gradient");
    }
}

// ---- constants of unseen types as arguments ----

const W2: [f64; 2] = [1.0, 2.0];
const SCALE3: f64 = 3.0;

#[differentiate(hessian)]
fn dot_sq(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[0] + a[1] * b[1] * b[1]
}

/// A `const` array and a `const` float passed to a differentiated
/// function: the tangent of each is a zero of its own type (an array's
/// was a float zero, an expansion that did not compile).
#[differentiate(hessian)]
fn scored(x: [f64; 2]) -> f64 {
    dot_sq(W2, x) * SCALE3
}

struct Weighted {
    w: [f64; 2],
}

impl Weighted {
    /// A field of a constant `self` passed by value.
    #[differentiate]
    fn eval(&self, x: [f64; 2]) -> f64 {
        dot_sq(self.w, x)
    }
}

#[test]
fn constant_arrays_as_arguments() {
    let x = [3.0, 4.0];
    // 3 (x0 + 2 x1²): gradient 3 [1, 4 x1], Hessian [[0, 0], [0, 12]].
    assert_eq!(scored_grad(x), [3.0, 48.0]);
    assert_eq!(scored_jvp(x, [1.0, 0.5]).1, 3.0 + 24.0);
    assert_eq!(scored_hessian(x), [[0.0, 0.0], [0.0, 12.0]]);
    assert_eq!(Weighted { w: [1.0, 2.0] }.eval_grad(x), [1.0, 16.0]);
}
