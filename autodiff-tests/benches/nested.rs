//! Three loop shapes of issue 13, each `_grad` against a hand-written
//! gradient, num-dual and the objective, timed in one criterion group:
//!
//! - `chebyquad/8`: the Chebyquad function of Moré, Garbow and Hillstrom
//!   (MINPACK's form): nested loops that run the Chebyshev recurrence per
//!   coordinate and add into a local vector, then a sum of squares. The
//!   target is `_grad` / objective ≤ 4.
//! - `logreg_softplus`: the logistic-regression loss of `arrays.rs` (500
//!   rows by 100 features, in `w`) with its softplus written in plain Rust
//!   the numerically stable way, `m.max(0.0) + (-m.abs()).exp().ln_1p()`,
//!   and beside it (`generated-helper`) the same loss through
//!   `autodiff::softplus`. The target is `_grad` / hand ≤ 1.2.
//! - `pairwise/200`: a pair potential over 200 points, `Σ_{i<j} ln(1 +
//!   (x_i - x_j)²)`: the reversal of the inner loop adds into `x_bar[i]` at
//!   every `j` (summed in a float by the sums pass, as by hand). num-dual
//!   needs a pass per coordinate here (200 objectives): it is checked, not
//!   timed.
//!
//! Before timing, `main` checks every variant against the generated
//! gradient (1e-10 relative).
//!
//! Run: `cargo bench -p autodiff-tests --features bench --bench nested -- --warm-up-time 1 --measurement-time 3`.

#![allow(missing_docs)]
#![allow(clippy::needless_range_loop)]

use std::hint::black_box;

use hand::{close, logreg_data, point};

mod hand;

use autodiff::differentiate;
use criterion::Criterion;
use num_dual::{gradient, Dual64, DualNum, DualSVec64};

/// Coordinates of Chebyquad.
const CHEBY_N: usize = 8;
/// Features of the logistic regression (the length of `w`).
const FEATURES: usize = hand::LOGREG_FEATURES;

// ---------------------------------------------------------------------------
// Chebyquad.
// ---------------------------------------------------------------------------

/// Σᵢ fᵢ², fᵢ the mean over coordinates of the i-th shifted Chebyshev
/// polynomial minus its integral over [0, 1].
#[differentiate]
fn chebyquad(x: &[f64]) -> f64 {
    let n = x.len();
    let mut fvec = vec![0.0; n];
    for j in 0..n {
        let mut t1 = 1.0;
        let mut t2 = 2.0 * x[j] - 1.0;
        let t = 2.0 * t2;
        for i in 0..n {
            fvec[i] += t2;
            let th = t * t2 - t1;
            t1 = t2;
            t2 = th;
        }
    }
    let mut s = 0.0;
    for i in 0..n {
        let mut fi = fvec[i] / n as f64;
        if (i + 1) % 2 == 0 {
            fi += 1.0 / (((i + 1) * (i + 1)) as f64 - 1.0);
        }
        s += fi * fi;
    }
    s
}

/// By hand: the residuals, then each coordinate's recurrence again with its
/// derivative carried beside it.
#[inline(never)]
fn chebyquad_grad_hand(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let nf = n as f64;
    let mut fvec = vec![0.0; n];
    for &xj in x {
        let (mut t1, mut t2) = (1.0, 2.0 * xj - 1.0);
        let t = 2.0 * t2;
        for f in fvec.iter_mut() {
            *f += t2;
            let th = t * t2 - t1;
            t1 = t2;
            t2 = th;
        }
    }
    for (i, f) in fvec.iter_mut().enumerate() {
        *f /= nf;
        if (i + 1) % 2 == 0 {
            *f += 1.0 / (((i + 1) * (i + 1)) as f64 - 1.0);
        }
    }
    x.iter()
        .map(|&xj| {
            let (mut t1, mut t2) = (1.0, 2.0 * xj - 1.0);
            let (mut d1, mut d2) = (0.0, 2.0);
            let t = 2.0 * t2;
            let mut g = 0.0;
            for &f in &fvec {
                g += f * d2;
                let th = t * t2 - t1;
                let dh = 4.0 * t2 + t * d2 - d1;
                (t1, t2, d1, d2) = (t2, th, d2, dh);
            }
            2.0 * g / nf
        })
        .collect()
}

fn chebyquad_dual<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let n = x.len();
    let mut fvec = vec![D::zero(); n];
    for &xj in x {
        let mut t1 = D::one();
        let mut t2 = xj * 2.0 - 1.0;
        let t = t2 * 2.0;
        for f in fvec.iter_mut() {
            *f += t2;
            let th = t * t2 - t1;
            t1 = t2;
            t2 = th;
        }
    }
    let mut s = D::zero();
    for (i, &f) in fvec.iter().enumerate() {
        let mut fi = f / n as f64;
        if (i + 1) % 2 == 0 {
            fi += 1.0 / (((i + 1) * (i + 1)) as f64 - 1.0);
        }
        s += fi * fi;
    }
    s
}

#[inline(never)]
fn chebyquad_grad_dual(x: &[f64]) -> Vec<f64> {
    let x: [f64; CHEBY_N] = x.try_into().expect("n = 8");
    let (_, g) = gradient(
        |v| -> DualSVec64<CHEBY_N> { chebyquad_dual(v.as_slice()) },
        x.into(),
    );
    g.as_slice().to_vec()
}

// ---------------------------------------------------------------------------
// A pair potential.
// ---------------------------------------------------------------------------

/// Points of the pair potential.
const PAIRS_N: usize = 200;

#[differentiate]
fn pairwise(x: &[f64]) -> f64 {
    let n = x.len();
    let mut e = 0.0;
    for i in 0..n {
        for j in (i + 1)..n {
            let d = x[i] - x[j];
            e += (d * d + 1.0).ln();
        }
    }
    e
}

/// By hand: each pair's slope added to both points, the first's summed
/// in a register.
#[inline(never)]
fn pairwise_grad_hand(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut g = vec![0.0; n];
    for i in 0..n {
        let mut gi = 0.0;
        for j in (i + 1)..n {
            let d = x[i] - x[j];
            let s = 2.0 * d / (d * d + 1.0);
            gi += s;
            g[j] -= s;
        }
        g[i] += gi;
    }
    g
}

/// num-dual, one coordinate per pass.
fn pairwise_grad_dual(x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|k| {
            let v: Vec<Dual64> = x
                .iter()
                .enumerate()
                .map(|(i, &xi)| {
                    if i == k {
                        Dual64::from(xi).derivative()
                    } else {
                        Dual64::from(xi)
                    }
                })
                .collect();
            let mut e = Dual64::from(0.0);
            for i in 0..v.len() {
                for j in (i + 1)..v.len() {
                    let d = v[i] - v[j];
                    e += (d * d + 1.0).ln();
                }
            }
            e.eps
        })
        .collect()
}

#[inline(never)]
fn pairwise_grad_gen(x: &[f64]) -> Vec<f64> {
    pairwise_grad(x)
}

#[inline(never)]
fn pairwise_objective(x: &[f64]) -> f64 {
    pairwise(x)
}

#[inline(never)]
fn chebyquad_grad_gen(x: &[f64]) -> Vec<f64> {
    chebyquad_grad(x)
}

#[inline(never)]
fn chebyquad_objective(x: &[f64]) -> f64 {
    chebyquad(x)
}

// ---------------------------------------------------------------------------
// Logistic regression with a softplus written out.
// ---------------------------------------------------------------------------

#[differentiate(wrt(w))]
fn logreg_softplus(w: &[f64], x: &[f64], y: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..y.len() {
        let mut z = 0.0;
        for j in 0..FEATURES {
            z += w[j] * x[i * FEATURES + j];
        }
        let m = -y[i] * z;
        s += m.max(0.0) + (-m.abs()).exp().ln_1p();
    }
    s
}

#[differentiate(wrt(w))]
fn logreg_helper(w: &[f64], x: &[f64], y: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..y.len() {
        let mut z = 0.0;
        for j in 0..FEATURES {
            z += w[j] * x[i * FEATURES + j];
        }
        s += autodiff::softplus(-y[i] * z);
    }
    s
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
        // softplus'(m) = sigmoid(m), m = -y z, computed without overflow.
        let m = -yi * z;
        let e = (-m.abs()).exp();
        let sig = if m >= 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        let s = -yi * sig;
        for j in 0..FEATURES {
            g[j] += s * row[j];
        }
    }
    g
}

fn logreg_dual<D: DualNum<f64> + Copy>(w: &[D], x: &[f64], y: &[f64]) -> D {
    let mut s = D::zero();
    for i in 0..y.len() {
        let mut z = D::zero();
        for j in 0..FEATURES {
            z += w[j] * x[i * FEATURES + j];
        }
        let m = z * -y[i];
        let relu = if m.re() > 0.0 { m } else { D::zero() };
        let abs = if m.re() >= 0.0 { m } else { -m };
        s += relu + (-abs).exp().ln_1p();
    }
    s
}

#[inline(never)]
fn logreg_grad_dual(w: &[f64], x: &[f64], y: &[f64]) -> Vec<f64> {
    let w: [f64; FEATURES] = w.try_into().expect("100 features");
    let (_, g) = gradient(
        |v| -> DualSVec64<FEATURES> { logreg_dual(v.as_slice(), x, y) },
        w.into(),
    );
    g.as_slice().to_vec()
}

#[inline(never)]
fn logreg_grad_gen(w: &[f64], x: &[f64], y: &[f64]) -> Vec<f64> {
    logreg_softplus_grad(w, x, y)
}

#[inline(never)]
fn logreg_helper_grad_gen(w: &[f64], x: &[f64], y: &[f64]) -> Vec<f64> {
    logreg_helper_grad(w, x, y)
}

#[inline(never)]
fn logreg_objective(w: &[f64], x: &[f64], y: &[f64]) -> f64 {
    logreg_softplus(w, x, y)
}

fn check_agreement() {
    for seed in 0..3 {
        let x: Vec<f64> = point(CHEBY_N, seed, 0.5).iter().map(|v| v + 0.5).collect();
        let what = format!("chebyquad seed={seed}");
        let g = chebyquad_grad_gen(&x);
        close(&what, &g, &chebyquad_grad_hand(&x), "hand");
        close(&what, &g, &chebyquad_grad_dual(&x), "num-dual");
        let (w, x, y) = logreg_data(10 * seed);
        let what = format!("logreg_softplus seed={seed}");
        let g = logreg_grad_gen(&w, &x, &y);
        close(&what, &g, &logreg_grad_hand(&w, &x, &y), "hand");
        close(&what, &g, &logreg_grad_dual(&w, &x, &y), "num-dual");
        close(&what, &g, &logreg_helper_grad_gen(&w, &x, &y), "helper");
        let x = point(PAIRS_N, seed, 2.0);
        let what = format!("pairwise seed={seed}");
        let g = pairwise_grad_gen(&x);
        close(&what, &g, &pairwise_grad_hand(&x), "hand");
        close(&what, &g, &pairwise_grad_dual(&x), "num-dual");
    }
}

fn main() {
    check_agreement();
    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group(format!("chebyquad/{CHEBY_N}"));
        let x: Vec<f64> = point(CHEBY_N, 7, 0.5).iter().map(|v| v + 0.5).collect();
        let x = x.as_slice();
        g.bench_function("generated", |b| b.iter(|| chebyquad_grad_gen(black_box(x))));
        g.bench_function("hand", |b| b.iter(|| chebyquad_grad_hand(black_box(x))));
        g.bench_function("num-dual", |b| b.iter(|| chebyquad_grad_dual(black_box(x))));
        g.bench_function("objective", |b| {
            b.iter(|| chebyquad_objective(black_box(x)))
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("logreg_softplus");
        let (w, x, y) = logreg_data(0);
        let (w, x, y) = (w.as_slice(), x.as_slice(), y.as_slice());
        let bb = black_box;
        g.bench_function("generated", |b| {
            b.iter(|| logreg_grad_gen(bb(w), bb(x), bb(y)))
        });
        g.bench_function("generated-helper", |b| {
            b.iter(|| logreg_helper_grad_gen(bb(w), bb(x), bb(y)))
        });
        g.bench_function("hand", |b| b.iter(|| logreg_grad_hand(bb(w), bb(x), bb(y))));
        g.bench_function("num-dual", |b| {
            b.iter(|| logreg_grad_dual(bb(w), bb(x), bb(y)))
        });
        g.bench_function("objective", |b| {
            b.iter(|| logreg_objective(bb(w), bb(x), bb(y)))
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group(format!("pairwise/{PAIRS_N}"));
        let x = point(PAIRS_N, 7, 2.0);
        let x = x.as_slice();
        g.bench_function("generated", |b| b.iter(|| pairwise_grad_gen(black_box(x))));
        g.bench_function("hand", |b| b.iter(|| pairwise_grad_hand(black_box(x))));
        g.bench_function("objective", |b| b.iter(|| pairwise_objective(black_box(x))));
        g.finish();
    }
    c.final_summary();
}
