//! Array and loop gradient benchmarks: the `f_grad` emitted by
//! `#[differentiate]` against a hand-written gradient and against
//! forward-mode vector duals (`num-dual`), plus `f_value_and_grad` against
//! the objective alone, for two loop functions over slices:
//!
//! - `rosenbrock`: the extended Rosenbrock function at n = 100 and
//!   n = 10 000 (the loop form of `tests/it/arrays.rs`); two hand-written
//!   gradients: `hand` (each entry written once, the `g[i + 1]` part carried
//!   in a register) and `hand-textbook` (two `+=` per term into a zeroed
//!   vector, as in `tests/it/arrays.rs`),
//! - `logreg`: the logistic-regression loss of 500 rows by 100 features,
//!   differentiated in the weights `w` only, with the data `x` (row-major
//!   500 × 100) and labels `y` passed as constant parameters, written as
//!   nested index loops.
//!
//! num-dual's vector dual of dynamic size (`DualDVec64`, one forward pass
//! whose derivative part is a heap vector of n entries) is the dynamic-size
//! baseline. Its cost grows as n² with an allocation per operation, so it is
//! timed at n = 100 only (`rosenbrock/100` and `logreg`, whose `w` has 100
//! entries): at n = 10 000 one call takes about a second. The static vector dual `DualSVec64<100>` (no allocation) is
//! timed beside it as the strongest num-dual baseline at that size.
//!
//! Each function's variants live in one criterion group so their ratios come
//! from the same run. Before anything is timed, `main` checks that all
//! variants agree (1e-10 relative) at several points, so a wrong gradient
//! cannot be benchmarked silently.
//!
//! Run: `cargo bench -p autodiff-tests --features bench --bench arrays -- --warm-up-time 1 --measurement-time 3`.

#![allow(missing_docs)]
// Index loops are the form #[differentiate] reads (iterators come later);
// the hand-written and num-dual variants use the same form to compare like
// with like.
#![allow(clippy::needless_range_loop)]

use std::hint::black_box;

use hand::{close, logreg_data, point, rosenbrock_grad_hand};

mod hand;

use autodiff::differentiate;
use criterion::Criterion;
use num_dual::{gradient, DualDVec64, DualNum, DualSVec64};

/// Features of the logistic regression (the length of `w`).
const FEATURES: usize = hand::LOGREG_FEATURES;

// ---------------------------------------------------------------------------
// The functions, differentiated by the attribute.
// ---------------------------------------------------------------------------

#[differentiate]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

#[differentiate(wrt(w))]
fn logreg(w: &[f64], x: &[f64], y: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..y.len() {
        let mut z = 0.0;
        for j in 0..FEATURES {
            z += w[j] * x[i * FEATURES + j];
        }
        s += (1.0 + (-y[i] * z).exp()).ln();
    }
    s
}

// ---------------------------------------------------------------------------
// Hand-written gradients: what a careful human writes (one pass, shared
// subexpressions computed once, rows sliced so the inner loops carry no
// bounds checks).
// ---------------------------------------------------------------------------

/// The textbook form (as in `tests/it/arrays.rs`): each term adds into
/// `g[i]` and `g[i + 1]` of a zeroed vector. Timed too, as the gradient most
/// people write first.
#[inline(never)]
fn rosenbrock_grad_textbook(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut g = vec![0.0; n];
    for i in 0..n - 1 {
        let a = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * a * x[i] - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * a;
    }
    g
}

#[inline(never)]
fn logreg_grad_hand(w: &[f64], x: &[f64], y: &[f64]) -> Vec<f64> {
    let w = &w[..FEATURES];
    let mut g = vec![0.0; FEATURES];
    for (row, &yi) in x.chunks_exact(FEATURES).zip(y) {
        let mut z = 0.0;
        for j in 0..FEATURES {
            z += w[j] * row[j];
        }
        // d/dz ln(1 + exp(-y z)) = -y exp(-y z) / (1 + exp(-y z))
        let e = (-yi * z).exp();
        let s = -yi * e / (1.0 + e);
        for j in 0..FEATURES {
            g[j] += s * row[j];
        }
    }
    g
}

// ---------------------------------------------------------------------------
// num-dual: one forward pass with a vector dual of n entries.
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

fn logreg_dual<D: DualNum<f64>>(w: &[D], x: &[f64], y: &[f64]) -> D {
    let mut s = D::from(0.0);
    for i in 0..y.len() {
        let mut z = D::from(0.0);
        for j in 0..FEATURES {
            z += w[j].clone() * x[i * FEATURES + j];
        }
        s += ((z * -y[i]).exp() + 1.0).ln();
    }
    s
}

/// Dynamic-size vector dual (`DualDVec64`): any n.
#[inline(never)]
fn rosenbrock_grad_dual(x: &[f64]) -> Vec<f64> {
    let (_, g) = gradient(
        |v| -> DualDVec64 { rosenbrock_dual(v.as_slice()) },
        x.to_vec().into(),
    );
    g.as_slice().to_vec()
}

/// Static-size vector dual (`DualSVec64<100>`): n = 100 only.
#[inline(never)]
fn rosenbrock_grad_dual_static(x: &[f64]) -> Vec<f64> {
    let x: [f64; 100] = x.try_into().expect("n = 100");
    let (_, g) = gradient(
        |v| -> DualSVec64<100> { rosenbrock_dual(v.as_slice()) },
        x.into(),
    );
    g.as_slice().to_vec()
}

#[inline(never)]
fn logreg_grad_dual(w: &[f64], x: &[f64], y: &[f64]) -> Vec<f64> {
    let (_, g) = gradient(
        |v| -> DualDVec64 { logreg_dual(v.as_slice(), x, y) },
        w.to_vec().into(),
    );
    g.as_slice().to_vec()
}

#[inline(never)]
fn logreg_grad_dual_static(w: &[f64], x: &[f64], y: &[f64]) -> Vec<f64> {
    let w: [f64; FEATURES] = w.try_into().expect("100 features");
    let (_, g) = gradient(
        |v| -> DualSVec64<FEATURES> { logreg_dual(v.as_slice(), x, y) },
        w.into(),
    );
    g.as_slice().to_vec()
}

// The generated companions and the objective, behind the same
// `#[inline(never)]` wall as the other variants so all are timed as a call.

#[inline(never)]
fn rosenbrock_grad_gen(x: &[f64]) -> Vec<f64> {
    rosenbrock_grad(x)
}

#[inline(never)]
fn rosenbrock_value_and_grad_gen(x: &[f64]) -> (f64, Vec<f64>) {
    rosenbrock_value_and_grad(x)
}

#[inline(never)]
fn rosenbrock_objective(x: &[f64]) -> f64 {
    rosenbrock(x)
}

#[inline(never)]
fn logreg_grad_gen(w: &[f64], x: &[f64], y: &[f64]) -> Vec<f64> {
    logreg_grad(w, x, y)
}

#[inline(never)]
fn logreg_value_and_grad_gen(w: &[f64], x: &[f64], y: &[f64]) -> (f64, Vec<f64>) {
    logreg_value_and_grad(w, x, y)
}

#[inline(never)]
fn logreg_objective(w: &[f64], x: &[f64], y: &[f64]) -> f64 {
    logreg(w, x, y)
}

// ---------------------------------------------------------------------------
// Inputs.
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Agreement check, run once before any timing.
// ---------------------------------------------------------------------------

fn check_agreement() {
    for n in [2, 3, 100, 10_000] {
        for seed in 0..3 {
            let x = point(n, seed, 1.5);
            let what = format!("rosenbrock n={n} seed={seed}");
            let g = rosenbrock_grad_gen(&x);
            close(&what, &g, &rosenbrock_grad_hand(&x), "hand");
            close(&what, &g, &rosenbrock_grad_textbook(&x), "textbook");
            if n <= 100 {
                close(&what, &g, &rosenbrock_grad_dual(&x), "num-dual");
            }
            if n == 100 {
                close(
                    &what,
                    &g,
                    &rosenbrock_grad_dual_static(&x),
                    "num-dual static",
                );
            }
            let (v, g2) = rosenbrock_value_and_grad_gen(&x);
            close(&what, &[v], &[rosenbrock_objective(&x)], "objective");
            close(&what, &g2, &g, "grad");
        }
    }
    for seed in 0..3 {
        let (w, x, y) = logreg_data(10 * seed);
        let what = format!("logreg seed={seed}");
        let g = logreg_grad_gen(&w, &x, &y);
        close(&what, &g, &logreg_grad_hand(&w, &x, &y), "hand");
        close(&what, &g, &logreg_grad_dual(&w, &x, &y), "num-dual");
        close(
            &what,
            &g,
            &logreg_grad_dual_static(&w, &x, &y),
            "num-dual static",
        );
        let (v, g2) = logreg_value_and_grad_gen(&w, &x, &y);
        close(&what, &[v], &[logreg_objective(&w, &x, &y)], "objective");
        close(&what, &g2, &g, "grad");
    }
}

// ---------------------------------------------------------------------------
// Benchmarks.
// ---------------------------------------------------------------------------

fn bench_rosenbrock(c: &mut Criterion, n: usize) {
    let mut g = c.benchmark_group(format!("rosenbrock/{n}"));
    let x = point(n, 1, 1.5);
    let x = x.as_slice();
    g.bench_function("generated", |b| {
        b.iter(|| rosenbrock_grad_gen(black_box(x)))
    });
    g.bench_function("hand", |b| b.iter(|| rosenbrock_grad_hand(black_box(x))));
    g.bench_function("hand-textbook", |b| {
        b.iter(|| rosenbrock_grad_textbook(black_box(x)))
    });
    if n == 100 {
        g.bench_function("num-dual", |b| {
            b.iter(|| rosenbrock_grad_dual(black_box(x)))
        });
        g.bench_function("num-dual-static", |b| {
            b.iter(|| rosenbrock_grad_dual_static(black_box(x)))
        });
    }
    g.bench_function("value_and_grad", |b| {
        b.iter(|| rosenbrock_value_and_grad_gen(black_box(x)))
    });
    g.bench_function("objective", |b| {
        b.iter(|| rosenbrock_objective(black_box(x)))
    });
    g.finish();
}

fn bench_logreg(c: &mut Criterion) {
    let mut g = c.benchmark_group("logreg");
    let (w, x, y) = logreg_data(0);
    let (w, x, y) = (w.as_slice(), x.as_slice(), y.as_slice());
    let bb = black_box;
    g.bench_function("generated", |b| {
        b.iter(|| logreg_grad_gen(bb(w), bb(x), bb(y)))
    });
    g.bench_function("hand", |b| b.iter(|| logreg_grad_hand(bb(w), bb(x), bb(y))));
    g.bench_function("num-dual", |b| {
        b.iter(|| logreg_grad_dual(bb(w), bb(x), bb(y)))
    });
    g.bench_function("num-dual-static", |b| {
        b.iter(|| logreg_grad_dual_static(bb(w), bb(x), bb(y)))
    });
    g.bench_function("value_and_grad", |b| {
        b.iter(|| logreg_value_and_grad_gen(bb(w), bb(x), bb(y)))
    });
    g.bench_function("objective", |b| {
        b.iter(|| logreg_objective(bb(w), bb(x), bb(y)))
    });
    g.finish();
}

fn main() {
    check_agreement();
    let mut c = Criterion::default().configure_from_args();
    bench_rosenbrock(&mut c, 100);
    bench_rosenbrock(&mut c, 10_000);
    bench_logreg(&mut c);
    c.final_summary();
}
