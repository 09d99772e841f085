//! Scalar gradient benchmarks: the `f_grad` emitted by `#[differentiate]`
//! against a hand-written gradient and against forward-mode dual numbers
//! (`num-dual`, one vector-dual pass), for three small scalar functions:
//!
//! - `rosen`: Rosenbrock in 2-D; also `_value_and_grad` against the value
//!   and gradient written by hand (`hand-value-and-grad`),
//! - `trig`: a 10-op chain of sin/cos/tanh/exp/ln over 2 inputs,
//! - `logistic`: the logistic loss `ln(1 + exp(-y (w0 x0 + w1 x1 + b)))`
//!   differentiated in `(w0, w1, b)` with the data `(x0, x1, y)` passed as
//!   constant (non-`wrt`) parameters.
//!
//! The three variants of each function live in one criterion group so their
//! ratios come from the same run. Before anything is timed, `main` checks
//! that all variants agree (1e-12 relative) at several points, so a wrong
//! gradient cannot be benchmarked silently.
//!
//! Run: `cargo bench -p autodiff-tests --features bench --bench scalar -- --warm-up-time 1 --measurement-time 3`.

#![allow(missing_docs)]

use std::hint::black_box;

use autodiff::differentiate;
use criterion::Criterion;
use num_dual::{gradient, DualNum, DualSVec64};

// ---------------------------------------------------------------------------
// The functions, differentiated by the attribute.
// ---------------------------------------------------------------------------

#[differentiate]
fn rosen(x: f64, y: f64) -> f64 {
    let a = 1.0 - x;
    let b = y - x * x;
    a * a + 100.0 * b * b
}

#[differentiate]
fn trig(x: f64, y: f64) -> f64 {
    let a = x.sin(); // 1
    let b = y.cos(); // 2
    let c = a * b; // 3
    let d = (c + x).tanh(); // 4, 5
    let e = (d * y).exp(); // 6, 7
    let g = (e + 1.0).ln(); // 8, 9
    g * a // 10
}

#[differentiate(wrt(w0, w1, b))]
fn logistic(w0: f64, w1: f64, b: f64, x0: f64, x1: f64, y: f64) -> f64 {
    let z = w0 * x0 + w1 * x1 + b;
    (1.0 + (-y * z).exp()).ln()
}

// ---------------------------------------------------------------------------
// Hand-written gradients: what a careful human writes (shared
// subexpressions computed once, no value computed that is not needed).
// ---------------------------------------------------------------------------

#[inline(never)]
fn rosen_grad_hand(x: f64, y: f64) -> (f64, f64) {
    let a = 1.0 - x;
    let t = 200.0 * (y - x * x); // d/dy; d/dx of the second term is -2x * t
    (-2.0 * a - 2.0 * x * t, t)
}

#[inline(never)]
fn trig_grad_hand(x: f64, y: f64) -> (f64, f64) {
    // forward
    let (sx, cx) = x.sin_cos();
    let (sy, cy) = y.sin_cos();
    let a = sx;
    let b = cy;
    let c = a * b;
    let d = (c + x).tanh();
    let e = (d * y).exp();
    let w = e + 1.0;
    let g = w.ln();
    // reverse
    let v_bar = a * e / w; // out = g * a, g = ln(1 + e), e = exp(v)
    let u_bar = v_bar * y * (1.0 - d * d); // v = d * y, d = tanh(u)
    let a_bar = g + u_bar * b; // u = a * b + x
    let x_bar = u_bar + a_bar * cx;
    let y_bar = v_bar * d - u_bar * a * sy;
    (x_bar, y_bar)
}

#[inline(never)]
fn logistic_grad_hand(w0: f64, w1: f64, b: f64, x0: f64, x1: f64, y: f64) -> (f64, f64, f64) {
    let z = w0 * x0 + w1 * x1 + b;
    let e = (-y * z).exp();
    let s = -y * e / (1.0 + e); // dL/dz = -y * sigmoid(-y z)
    (s * x0, s * x1, s)
}

// ---------------------------------------------------------------------------
// num-dual: one forward pass with a 2- or 3-wide vector dual.
// ---------------------------------------------------------------------------

fn rosen_dual<D: DualNum<f64> + Copy>(x: D, y: D) -> D {
    let a = -x + 1.0;
    let b = y - x * x;
    a * a + b * b * 100.0
}

fn trig_dual<D: DualNum<f64> + Copy>(x: D, y: D) -> D {
    let a = x.sin();
    let b = y.cos();
    let c = a * b;
    let d = (c + x).tanh();
    let e = (d * y).exp();
    let g = (e + 1.0).ln();
    g * a
}

fn logistic_dual<D: DualNum<f64> + Copy>(w0: D, w1: D, b: D, x0: f64, x1: f64, y: f64) -> D {
    let z = w0 * x0 + w1 * x1 + b;
    ((z * -y).exp() + 1.0).ln()
}

#[inline(never)]
fn rosen_grad_dual(x: f64, y: f64) -> (f64, f64) {
    let (_, g) = gradient(
        |v| -> DualSVec64<2> { rosen_dual(v[0], v[1]) },
        [x, y].into(),
    );
    (g[0], g[1])
}

#[inline(never)]
fn trig_grad_dual(x: f64, y: f64) -> (f64, f64) {
    let (_, g) = gradient(
        |v| -> DualSVec64<2> { trig_dual(v[0], v[1]) },
        [x, y].into(),
    );
    (g[0], g[1])
}

#[inline(never)]
fn logistic_grad_dual(w0: f64, w1: f64, b: f64, x0: f64, x1: f64, y: f64) -> (f64, f64, f64) {
    let (_, g) = gradient(
        |v| -> DualSVec64<3> { logistic_dual(v[0], v[1], v[2], x0, x1, y) },
        [w0, w1, b].into(),
    );
    (g[0], g[1], g[2])
}

// The generated gradients, behind the same `#[inline(never)]` wall as the
// other two variants so all three are timed as a call.

#[inline(never)]
fn rosen_grad_gen(x: f64, y: f64) -> (f64, f64) {
    rosen_grad(x, y)
}

#[inline(never)]
fn rosen_value_and_grad_gen(x: f64, y: f64) -> (f64, (f64, f64)) {
    rosen_value_and_grad(x, y)
}

/// By hand, the value with the gradient: the shared terms once.
#[inline(never)]
fn rosen_value_and_grad_hand(x: f64, y: f64) -> (f64, (f64, f64)) {
    let a = 1.0 - x;
    let b = y - x * x;
    let t = 200.0 * b;
    (a * a + 100.0 * b * b, (-2.0 * a - 2.0 * x * t, t))
}

#[inline(never)]
fn trig_grad_gen(x: f64, y: f64) -> (f64, f64) {
    trig_grad(x, y)
}

#[inline(never)]
fn logistic_grad_gen(w0: f64, w1: f64, b: f64, x0: f64, x1: f64, y: f64) -> (f64, f64, f64) {
    logistic_grad(w0, w1, b, x0, x1, y)
}

// ---------------------------------------------------------------------------
// Agreement check, run once before any timing.
// ---------------------------------------------------------------------------

fn close(what: &str, at: &str, gen: &[f64], other: &[f64], other_name: &str) {
    assert_eq!(gen.len(), other.len());
    for (i, (&a, &b)) in gen.iter().zip(other).enumerate() {
        let scale = a.abs().max(b.abs()).max(f64::MIN_POSITIVE);
        let rel = (a - b).abs() / scale;
        assert!(
            rel <= 1e-12 || a == b,
            "{what} at {at}: component {i}: generated {a:e} vs {other_name} {b:e} (rel {rel:e})"
        );
    }
}

fn check_agreement() {
    let pts2 = [
        (0.3, 0.7),
        (-1.2, 1.0),
        (1.5, -0.4),
        (2.0, 3.0),
        (-0.8, -2.1),
    ];
    for &(x, y) in &pts2 {
        let at = format!("({x}, {y})");
        let (v, g) = rosen_value_and_grad_gen(x, y);
        let (hv, hg) = rosen_value_and_grad_hand(x, y);
        close(
            "rosen value_and_grad",
            &at,
            &[v, g.0, g.1],
            &[hv, hg.0, hg.1],
            "hand",
        );
        // value_and_grad's value is the primal kept as written.
        close(
            "rosen value",
            &at,
            &[rosen_value_and_grad(x, y).0],
            &[rosen(x, y)],
            "primal",
        );
        close(
            "trig value",
            &at,
            &[trig_value_and_grad(x, y).0],
            &[trig(x, y)],
            "primal",
        );
        let g = rosen_grad_gen(x, y);
        close(
            "rosen",
            &at,
            &[g.0, g.1],
            &<[f64; 2]>::from(rosen_grad_hand(x, y)),
            "hand",
        );
        close(
            "rosen",
            &at,
            &[g.0, g.1],
            &<[f64; 2]>::from(rosen_grad_dual(x, y)),
            "num-dual",
        );
        let g = trig_grad_gen(x, y);
        close(
            "trig",
            &at,
            &[g.0, g.1],
            &<[f64; 2]>::from(trig_grad_hand(x, y)),
            "hand",
        );
        close(
            "trig",
            &at,
            &[g.0, g.1],
            &<[f64; 2]>::from(trig_grad_dual(x, y)),
            "num-dual",
        );
    }
    let pts3 = [
        (0.5, -0.25, 0.1, 1.3, -0.7, 1.0),
        (0.5, -0.25, 0.1, 1.3, -0.7, -1.0),
        (-2.0, 1.5, -0.3, 0.2, 2.5, 1.0),
        (3.0, 2.0, 1.0, -1.0, -1.0, -1.0),
    ];
    for &(w0, w1, b, x0, x1, y) in &pts3 {
        let at = format!("({w0}, {w1}, {b}; {x0}, {x1}, {y})");
        let v = logistic_value_and_grad(w0, w1, b, x0, x1, y).0;
        close(
            "logistic value",
            &at,
            &[v],
            &[logistic(w0, w1, b, x0, x1, y)],
            "primal",
        );
        let g = logistic_grad_gen(w0, w1, b, x0, x1, y);
        let g = [g.0, g.1, g.2];
        close(
            "logistic",
            &at,
            &g,
            &<[f64; 3]>::from(logistic_grad_hand(w0, w1, b, x0, x1, y)),
            "hand",
        );
        close(
            "logistic",
            &at,
            &g,
            &<[f64; 3]>::from(logistic_grad_dual(w0, w1, b, x0, x1, y)),
            "num-dual",
        );
    }
}

// ---------------------------------------------------------------------------
// Benchmarks.
// ---------------------------------------------------------------------------

fn bench_rosen(c: &mut Criterion) {
    let mut g = c.benchmark_group("rosen");
    let (x, y) = (-1.2, 1.0);
    g.bench_function("generated", |b| {
        b.iter(|| rosen_grad_gen(black_box(x), black_box(y)))
    });
    g.bench_function("hand", |b| {
        b.iter(|| rosen_grad_hand(black_box(x), black_box(y)))
    });
    g.bench_function("num-dual", |b| {
        b.iter(|| rosen_grad_dual(black_box(x), black_box(y)))
    });
    g.bench_function("value_and_grad", |b| {
        b.iter(|| rosen_value_and_grad_gen(black_box(x), black_box(y)))
    });
    g.bench_function("hand-value-and-grad", |b| {
        b.iter(|| rosen_value_and_grad_hand(black_box(x), black_box(y)))
    });
    g.finish();
}

fn bench_trig(c: &mut Criterion) {
    let mut g = c.benchmark_group("trig");
    let (x, y) = (0.3, 0.7);
    g.bench_function("generated", |b| {
        b.iter(|| trig_grad_gen(black_box(x), black_box(y)))
    });
    g.bench_function("hand", |b| {
        b.iter(|| trig_grad_hand(black_box(x), black_box(y)))
    });
    g.bench_function("num-dual", |b| {
        b.iter(|| trig_grad_dual(black_box(x), black_box(y)))
    });
    g.finish();
}

fn bench_logistic(c: &mut Criterion) {
    let mut g = c.benchmark_group("logistic");
    let p = (0.5, -0.25, 0.1);
    let d = (1.3, -0.7, 1.0);
    let bb = black_box;
    g.bench_function("generated", |b| {
        b.iter(|| logistic_grad_gen(bb(p.0), bb(p.1), bb(p.2), bb(d.0), bb(d.1), bb(d.2)))
    });
    g.bench_function("hand", |b| {
        b.iter(|| logistic_grad_hand(bb(p.0), bb(p.1), bb(p.2), bb(d.0), bb(d.1), bb(d.2)))
    });
    g.bench_function("num-dual", |b| {
        b.iter(|| logistic_grad_dual(bb(p.0), bb(p.1), bb(p.2), bb(d.0), bb(d.1), bb(d.2)))
    });
    g.finish();
}

fn main() {
    check_agreement();
    let mut c = Criterion::default().configure_from_args();
    bench_rosen(&mut c);
    bench_trig(&mut c);
    bench_logistic(&mut c);
    c.final_summary();
}
