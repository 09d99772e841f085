//! Second-order benchmarks: the `f_hvp` and `f_hessian` emitted by
//! `#[differentiate(hessian)]` against hand-written code and `num-dual`.
//!
//! - `rosenbrock_hvp/100`: the Hessian-vector product of the extended
//!   Rosenbrock function (the loop form over `&[f64]` of
//!   `tests/it/second_order.rs`) at n = 100:
//!   - `generated`: `rosenbrock_hvp` (forward over reverse),
//!   - `hand`: a careful hand-written Hv (one pass over `x` and `v`, the
//!     tangent of the hand-written gradient, the `Hv[i + 1]` part carried in
//!     a register so each entry is written once),
//!   - `num-dual-fwd-fwd`: the directional derivative of num-dual's forward
//!     gradient: `gradient` with the static vector dual
//!     `DualSVec<Dual64, f64, 100>` (the inputs are `Dual64(x_i, v_i)`, so
//!     the ε part of the gradient is Hv). One pass, but every operation
//!     carries 100 `Dual64` (O(n²) in all, no allocation),
//!   - `num-dual-hyperdual`: n passes with `HyperDual64`
//!     (`x_j + ε₁δ_ij + ε₂v_j`; the ε₁ε₂ part is (Hv)_i), also O(n²), four
//!     floats per number,
//!   - `grad`: `rosenbrock_grad`, for the ratio hvp / grad, and `grad-hand`
//!     for the same ratio by hand.
//!
//!   num-dual has no reverse mode, so no num-dual Hv is O(n); both
//!   forward-only methods are timed and the faster is the fair baseline.
//!   (Dual2Vec carries an n × n Hessian per number: O(n³), not timed here.)
//! - `rosenbrock_hessian/2` and `rosenbrock_hessian/10`: the dense Hessian of
//!   Rosenbrock on `[f64; 2]` and `[f64; 10]`: `generated` (`f_hessian`,
//!   `[[f64; N]; N]`) against num-dual's `hessian` with the static
//!   second-order vector dual `Dual2SVec64<N>` (value, gradient and Hessian
//!   in one forward pass, no allocation), and a hand-written Hessian.
//!
//! Each group's variants are timed in the same run, so their ratios are
//! comparable. Before anything is timed, `main` checks that all variants
//! agree (1e-10 relative) at several points.
//!
//! Run: `cargo bench -p autodiff-tests --features bench --bench second_order -- --warm-up-time 1 --measurement-time 3`.

#![allow(missing_docs)]
// Index loops are the form #[differentiate] reads; the num-dual variants use
// the same form to compare like with like.
#![allow(clippy::needless_range_loop)]

use std::hint::black_box;

use hand::{close, point, rosenbrock_grad_hand};

mod hand;

use autodiff::differentiate;
use criterion::Criterion;
use num_dual::{gradient, hessian, Dual2SVec64, Dual64, DualNum, DualSVec, HyperDual64};

/// The size of the Hessian-vector product benchmark.
const N_HVP: usize = 100;

// ---------------------------------------------------------------------------
// The functions, differentiated by the attribute.
// ---------------------------------------------------------------------------

#[differentiate(hessian)]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

#[differentiate(hessian)]
fn rosenbrock2(x: [f64; 2]) -> f64 {
    let mut s = 0.0;
    for i in 0..1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

#[differentiate(hessian)]
fn rosenbrock10(x: [f64; 10]) -> f64 {
    let mut s = 0.0;
    for i in 0..9 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

// ---------------------------------------------------------------------------
// The generated companions, behind the same `#[inline(never)]` wall as the
// other variants so all are timed as a call.
// ---------------------------------------------------------------------------

#[inline(never)]
fn rosenbrock_hvp_gen(x: &[f64], v: &[f64]) -> Vec<f64> {
    rosenbrock_hvp(x, v)
}

#[inline(never)]
fn rosenbrock_grad_gen(x: &[f64]) -> Vec<f64> {
    rosenbrock_grad(x)
}

#[inline(never)]
fn rosenbrock2_hessian_gen(x: [f64; 2]) -> [[f64; 2]; 2] {
    rosenbrock2_hessian(x)
}

#[inline(never)]
fn rosenbrock10_hessian_gen(x: [f64; 10]) -> [[f64; 10]; 10] {
    rosenbrock10_hessian(x)
}

// ---------------------------------------------------------------------------
// Hand-written: what a careful human writes.
// ---------------------------------------------------------------------------

/// Hv as the tangent of the hand-written gradient along `v`: with
/// a = x[i+1] - x[i]², ȧ = v[i+1] - 2 x[i] v[i],
/// (Hv)[i] = -400 (ȧ x[i] + a v[i]) + 2 v[i] + 200 ȧ[i-1].
/// The `200 ȧ` part of entry i + 1 is carried in a register, so each entry
/// is written once, with no zero-fill and no read-modify-write.
#[inline(never)]
fn rosenbrock_hvp_hand(x: &[f64], v: &[f64]) -> Vec<f64> {
    let n = x.len();
    let v = &v[..n];
    let mut hv = Vec::with_capacity(n);
    let mut carry = 0.0;
    hv.extend(x.windows(2).zip(v.windows(2)).map(|(p, q)| {
        let (xi, xn) = (p[0], p[1]);
        let (vi, vn) = (q[0], q[1]);
        let a = xn - xi * xi;
        let a_dot = vn - 2.0 * xi * vi;
        let hi = carry - 400.0 * (a_dot * xi + a * vi) + 2.0 * vi;
        carry = 200.0 * a_dot;
        hi
    }));
    hv.push(carry);
    hv
}

/// The dense Hessian by hand (tridiagonal): term i adds
/// [[1200 x[i]² - 400 x[i+1] + 2, -400 x[i]], [-400 x[i], 200]] at (i, i+1).
#[inline(never)]
fn rosenbrock_hessian_hand<const N: usize>(x: [f64; N]) -> [[f64; N]; N] {
    let mut h = [[0.0; N]; N];
    for i in 0..N - 1 {
        let (xi, xn) = (x[i], x[i + 1]);
        h[i][i] += 1200.0 * xi * xi - 400.0 * xn + 2.0;
        h[i][i + 1] = -400.0 * xi;
        h[i + 1][i] = -400.0 * xi;
        h[i + 1][i + 1] = 200.0;
    }
    h
}

// ---------------------------------------------------------------------------
// num-dual.
// ---------------------------------------------------------------------------

fn rosenbrock_dual<D: DualNum<f64>>(x: &[D]) -> D {
    let mut s = D::from(0.0);
    for i in 0..x.len() - 1 {
        let a = x[i + 1].clone() - x[i].clone() * &x[i];
        let b = -x[i].clone() + 1.0;
        s += a.powi(2) * 100.0 + b.powi(2);
    }
    s
}

/// Forward over forward: num-dual's gradient (static vector dual of 100
/// entries) of f evaluated at `Dual64(x_i, v_i)`; the ε part of each entry
/// of the gradient is (Hv)_i. One pass, O(n²) work.
#[inline(never)]
fn rosenbrock_hvp_fwd_fwd(x: &[f64], v: &[f64]) -> Vec<f64> {
    let xv: [Dual64; N_HVP] = std::array::from_fn(|i| Dual64::new(x[i], v[i]));
    let (_, g) = gradient(
        |y| -> DualSVec<Dual64, f64, N_HVP> { rosenbrock_dual(y.as_slice()) },
        xv.into(),
    );
    g.iter().map(|gi| gi.eps).collect()
}

/// Hyper-dual numbers: pass i evaluates f at x + ε₁eᵢ + ε₂v, whose ε₁ε₂
/// part is (Hv)_i; n passes of O(n). One buffer reused across the passes.
#[inline(never)]
fn rosenbrock_hvp_hyperdual(x: &[f64], v: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut y: Vec<HyperDual64> = x
        .iter()
        .zip(v)
        .map(|(&xj, &vj)| HyperDual64::new(xj, 0.0, vj, 0.0))
        .collect();
    (0..n)
        .map(|i| {
            y[i].eps1 = 1.0;
            let r = rosenbrock_dual(&y).eps1eps2;
            y[i].eps1 = 0.0;
            r
        })
        .collect()
}

/// num-dual's `hessian` with the static second-order vector dual.
#[inline(never)]
fn rosenbrock2_hessian_dual(x: [f64; 2]) -> [[f64; 2]; 2] {
    let (_, _, h) = hessian(
        |y| -> Dual2SVec64<2> { rosenbrock_dual(y.as_slice()) },
        x.into(),
    );
    std::array::from_fn(|i| std::array::from_fn(|j| h[(i, j)]))
}

#[inline(never)]
fn rosenbrock10_hessian_dual(x: [f64; 10]) -> [[f64; 10]; 10] {
    let (_, _, h) = hessian(
        |y| -> Dual2SVec64<10> { rosenbrock_dual(y.as_slice()) },
        x.into(),
    );
    std::array::from_fn(|i| std::array::from_fn(|j| h[(i, j)]))
}

// ---------------------------------------------------------------------------
// Inputs.
// ---------------------------------------------------------------------------

fn array<const N: usize>(seed: u64) -> [f64; N] {
    point(N, seed, 1.5).try_into().expect("length N")
}

// ---------------------------------------------------------------------------
// Agreement check, run once before any timing.
// ---------------------------------------------------------------------------

fn close_matrix<const N: usize>(
    what: &str,
    gen: &[[f64; N]; N],
    other: &[[f64; N]; N],
    name: &str,
) {
    for i in 0..N {
        close(&format!("{what} row {i}"), &gen[i], &other[i], name);
        for j in 0..N {
            assert_eq!(gen[i][j], gen[j][i], "{what}: generated H not symmetric");
        }
    }
}

fn check_agreement() {
    for seed in 0..3 {
        let x = point(N_HVP, seed, 1.5);
        let v = point(N_HVP, seed + 100, 1.0);
        let what = format!("rosenbrock_hvp n={N_HVP} seed={seed}");
        let hv = rosenbrock_hvp_gen(&x, &v);
        close(&what, &hv, &rosenbrock_hvp_hand(&x, &v), "hand");
        close(
            &what,
            &hv,
            &rosenbrock_hvp_fwd_fwd(&x, &v),
            "num-dual fwd-fwd",
        );
        close(
            &what,
            &hv,
            &rosenbrock_hvp_hyperdual(&x, &v),
            "num-dual hyperdual",
        );
        let g = rosenbrock_grad_gen(&x);
        close(&what, &g, &rosenbrock_grad_hand(&x), "hand grad");
        // The dense slice Hessian times v is Hv too.
        let h = rosenbrock_hessian(&x);
        let hv_dense: Vec<f64> = (0..N_HVP)
            .map(|i| (0..N_HVP).map(|j| h[(i, j)] * v[j]).sum())
            .collect();
        close(&what, &hv, &hv_dense, "dense H v");
        close(
            &what,
            &[rosenbrock(&x)],
            &[rosenbrock_dual(&x)],
            "objective",
        );

        let x2 = array::<2>(seed);
        let what = format!("rosenbrock2_hessian seed={seed}");
        let h2 = rosenbrock2_hessian_gen(x2);
        close(
            &what,
            &[rosenbrock2(x2)],
            &[rosenbrock(&x2)],
            "slice objective",
        );
        close_matrix(&what, &h2, &rosenbrock2_hessian_dual(x2), "num-dual");
        close_matrix(&what, &h2, &rosenbrock_hessian_hand(x2), "hand");

        let x10 = array::<10>(seed);
        let what = format!("rosenbrock10_hessian seed={seed}");
        let h10 = rosenbrock10_hessian_gen(x10);
        close(
            &what,
            &[rosenbrock10(x10)],
            &[rosenbrock(&x10)],
            "slice objective",
        );
        close_matrix(&what, &h10, &rosenbrock10_hessian_dual(x10), "num-dual");
        close_matrix(&what, &h10, &rosenbrock_hessian_hand(x10), "hand");
    }
}

// ---------------------------------------------------------------------------
// Benchmarks.
// ---------------------------------------------------------------------------

fn bench_hvp(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("rosenbrock_hvp/{N_HVP}"));
    let x = point(N_HVP, 1, 1.5);
    let v = point(N_HVP, 101, 1.0);
    let (x, v) = (x.as_slice(), v.as_slice());
    let bb = black_box;
    g.bench_function("generated", |b| b.iter(|| rosenbrock_hvp_gen(bb(x), bb(v))));
    g.bench_function("hand", |b| b.iter(|| rosenbrock_hvp_hand(bb(x), bb(v))));
    g.bench_function("num-dual-fwd-fwd", |b| {
        b.iter(|| rosenbrock_hvp_fwd_fwd(bb(x), bb(v)))
    });
    g.bench_function("num-dual-hyperdual", |b| {
        b.iter(|| rosenbrock_hvp_hyperdual(bb(x), bb(v)))
    });
    g.bench_function("grad", |b| b.iter(|| rosenbrock_grad_gen(bb(x))));
    g.bench_function("grad-hand", |b| b.iter(|| rosenbrock_grad_hand(bb(x))));
    g.finish();
}

fn bench_hessian(c: &mut Criterion) {
    let mut g = c.benchmark_group("rosenbrock_hessian/2");
    let x2 = array::<2>(1);
    g.bench_function("generated", |b| {
        b.iter(|| rosenbrock2_hessian_gen(black_box(x2)))
    });
    g.bench_function("num-dual", |b| {
        b.iter(|| rosenbrock2_hessian_dual(black_box(x2)))
    });
    g.bench_function("hand", |b| {
        b.iter(|| rosenbrock_hessian_hand(black_box(x2)))
    });
    g.finish();

    let mut g = c.benchmark_group("rosenbrock_hessian/10");
    let x10 = array::<10>(1);
    g.bench_function("generated", |b| {
        b.iter(|| rosenbrock10_hessian_gen(black_box(x10)))
    });
    g.bench_function("num-dual", |b| {
        b.iter(|| rosenbrock10_hessian_dual(black_box(x10)))
    });
    g.bench_function("hand", |b| {
        b.iter(|| rosenbrock_hessian_hand(black_box(x10)))
    });
    g.finish();
}

fn main() {
    check_agreement();
    let mut c = Criterion::default().configure_from_args();
    bench_hvp(&mut c);
    bench_hessian(&mut c);
    c.final_summary();
}
