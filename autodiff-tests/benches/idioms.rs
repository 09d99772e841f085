//! Idiom benchmarks: the companions `#[differentiate]` emits for two common
//! machine-learning shapes written with the runtime's idioms (`scan`, and
//! the array helpers `matvec` and `sigmoid`), against hand-written
//! gradients, forward-mode duals (`num-dual`) where that is sensible, and
//! the objective alone:
//!
//! - `scan_rnn/1000`: a scalar tanh RNN, `h_t = tanh(w h_{t-1} + u x_t + b)`,
//!   unrolled by `scan` over 1 000 inputs, loss the sum of the hidden
//!   states, differentiated in its 3 weights:
//!   - `generated`: `rnn_grad`,
//!   - `hand`: a hand-written reverse-mode gradient (a forward loop storing
//!     the hidden states in one `Vec` allocated once, then a backward loop
//!     carrying the adjoint of `h` in a register),
//!   - `num-dual`: one forward pass with the static vector dual
//!     `DualSVec64<3>` (three derivative directions at once, no
//!     allocation); three `Dual64` passes took about 4.5 times as long
//!     when this file was written,
//!   - `objective`: `rnn` alone, and `value_and_grad`:
//!     `rnn_value_and_grad`, for the cost of the gradient relative to the
//!     value.
//! - `dense_layer/256`: `0.5 |sigmoid(A x) - y|²` with a 256 × 256 weight
//!   matrix `A` (a heap `Vec<[f64; 256]>` passed as a slice of rows),
//!   differentiated in `A` only: `generated` (`layer_grad`, a
//!   `Vec<[f64; 256]>`), `hand` (z = A x, s = sigmoid(z),
//!   dz_i = (s_i - y_i) s_i (1 - s_i), dA_ij = dz_i x_j, the output
//!   allocated once), `objective` and `value_and_grad`. Every variant
//!   computes A x with each row's sum left to right, as `matvec` does: one
//!   chain of 256 dependent additions per row, which bounds the objective
//!   by the latency of an addition, and is most of every variant's time.
//!
//!   num-dual is not timed for the dense layer: forward mode carries one
//!   derivative direction per weight, and `A` has 65 536 of them. That is
//!   either 65 536 forward passes with `Dual64` (each the cost of the
//!   objective, so about 65 536 × `objective`), or one pass with a
//!   65 536-wide vector dual (every one of the ~65 000 multiply-adds of
//!   `A x` then updates a 65 536-entry derivative vector: ~4 · 10⁹
//!   operations, and `DualSVec64<65536>` values of 512 KiB each). Either
//!   way it is several orders of magnitude off reverse mode, which costs a
//!   small multiple of one evaluation.
//!
//! Each group's variants are timed in the same run, so their ratios are
//! comparable. Before anything is timed, `main` checks that all variants
//! agree (1e-10 relative) at several points, so a wrong gradient cannot be
//! benchmarked silently.
//!
//! Run: `cargo bench -p autodiff-tests --features bench --bench idioms -- --warm-up-time 1 --measurement-time 3`.

#![allow(missing_docs)]
// Index loops are the form #[differentiate] reads.
#![allow(clippy::needless_range_loop)]

use std::hint::black_box;

use hand::{close, point};

mod hand;

use autodiff::{differentiate, matvec, scan, sigmoid};
use criterion::Criterion;
use num_dual::{gradient, DualNum, DualSVec64};

/// The length of the RNN's input sequence.
const STEPS: usize = 1000;
/// The dense layer's width (rows and columns of `A`).
const WIDTH: usize = 256;

// ---------------------------------------------------------------------------
// The functions, differentiated by the attribute.
// ---------------------------------------------------------------------------

#[differentiate(wrt(w, u, b))]
fn rnn(w: f64, u: f64, b: f64, xs: &[f64]) -> f64 {
    let (_, hs) = scan(0.0, xs, |h, x| {
        let next = (w * h + u * x + b).tanh();
        (next, next)
    });
    let mut loss = 0.0;
    for t in 0..hs.len() {
        loss += hs[t];
    }
    loss
}

#[differentiate(wrt(a))]
fn layer(a: &[[f64; 256]], x: &[f64], y: &[f64]) -> f64 {
    let z = matvec(a, x);
    let s = sigmoid(&z);
    let mut loss = 0.0;
    for i in 0..s.len() {
        loss += (s[i] - y[i]) * (s[i] - y[i]);
    }
    0.5 * loss
}

// ---------------------------------------------------------------------------
// The generated companions and the objectives, behind the same
// `#[inline(never)]` wall as the other variants so all are timed as a call.
// ---------------------------------------------------------------------------

#[inline(never)]
fn rnn_grad_gen(w: f64, u: f64, b: f64, xs: &[f64]) -> (f64, f64, f64) {
    rnn_grad(w, u, b, xs)
}

#[inline(never)]
fn rnn_value_and_grad_gen(w: f64, u: f64, b: f64, xs: &[f64]) -> (f64, (f64, f64, f64)) {
    rnn_value_and_grad(w, u, b, xs)
}

#[inline(never)]
fn rnn_objective(w: f64, u: f64, b: f64, xs: &[f64]) -> f64 {
    rnn(w, u, b, xs)
}

#[inline(never)]
fn layer_grad_gen(a: &[[f64; WIDTH]], x: &[f64], y: &[f64]) -> Vec<[f64; WIDTH]> {
    layer_grad(a, x, y)
}

#[inline(never)]
fn layer_value_and_grad_gen(a: &[[f64; WIDTH]], x: &[f64], y: &[f64]) -> (f64, Vec<[f64; WIDTH]>) {
    layer_value_and_grad(a, x, y)
}

#[inline(never)]
fn layer_objective(a: &[[f64; WIDTH]], x: &[f64], y: &[f64]) -> f64 {
    layer(a, x, y)
}

// ---------------------------------------------------------------------------
// Hand-written gradients: what a careful human writes.
// ---------------------------------------------------------------------------

/// Reverse mode by hand. Forward: `h_t = tanh(p_t)` with
/// `p_t = w h_{t-1} + u x_t + b` and `h_{-1} = 0`, the states stored once
/// in `hs`. Backward, with `h̄` the adjoint of `h_t` (1 from the loss plus
/// what step t + 1 sends back): `p̄_t = h̄ (1 - h_t²)`, then
/// `w̄ += p̄_t h_{t-1}`, `ū += p̄_t x_t`, `b̄ += p̄_t`, and `h̄ = 1 + p̄_t w`
/// for step t - 1. The adjoint `h̄` lives in a register.
#[inline(never)]
fn rnn_grad_hand(w: f64, u: f64, b: f64, xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len();
    let mut hs = Vec::with_capacity(n);
    let mut h = 0.0;
    for &x in xs {
        h = (w * h + u * x + b).tanh();
        hs.push(h);
    }
    let (mut gw, mut gu, mut gb) = (0.0, 0.0, 0.0);
    let mut h_bar = 1.0;
    for t in (1..n).rev() {
        let (ht, prev) = (hs[t], hs[t - 1]);
        let p_bar = h_bar * (1.0 - ht * ht);
        gw += p_bar * prev;
        gu += p_bar * xs[t];
        gb += p_bar;
        h_bar = 1.0 + p_bar * w;
    }
    if n > 0 {
        // Step 0: h_{-1} = 0 contributes nothing to w̄.
        let p_bar = h_bar * (1.0 - hs[0] * hs[0]);
        gu += p_bar * xs[0];
        gb += p_bar;
    }
    (gw, gu, gb)
}

/// The dense-layer gradient in `A` by hand, in two passes:
/// dz_i = (s_i - y_i) s_i (1 - s_i) with z = A x and s = sigmoid(z) for
/// every row, then row i of the gradient is dz_i x. Each row's sum is taken
/// left to right, in the order of the runtime's `matvec`, so the
/// comparison measures the derivative's overhead, not a reassociated
/// product. (Computing dz inside the row loop, fused with the row's write,
/// was slower: the sigmoid's latency then sits between two rows' sums.)
/// The output is allocated once (zeroed) and each row written once.
#[inline(never)]
fn layer_grad_hand(a: &[[f64; WIDTH]], x: &[f64], y: &[f64]) -> Vec<[f64; WIDTH]> {
    let x: &[f64; WIDTH] = x.try_into().expect("x has WIDTH entries");
    let mut dz = Vec::with_capacity(a.len());
    dz.extend(a.iter().zip(y).map(|(row, &yi)| {
        let mut z = 0.0;
        for j in 0..WIDTH {
            z += row[j] * x[j];
        }
        let s = sigmoid(z);
        (s - yi) * s * (1.0 - s)
    }));
    let mut g = vec![[0.0; WIDTH]; a.len()];
    for (g_row, &d) in g.iter_mut().zip(&dz) {
        for j in 0..WIDTH {
            g_row[j] = d * x[j];
        }
    }
    g
}

// ---------------------------------------------------------------------------
// num-dual: forward mode, generic over the dual type.
// ---------------------------------------------------------------------------

fn rnn_dual<D: DualNum<f64>>(w: D, u: D, b: D, xs: &[f64]) -> D {
    let mut h = D::from(0.0);
    let mut loss = D::from(0.0);
    for &x in xs {
        h = (w.clone() * h + u.clone() * x + b.clone()).tanh();
        loss += h.clone();
    }
    loss
}

/// One forward pass carrying the three derivative directions at once.
#[inline(never)]
fn rnn_grad_dual(w: f64, u: f64, b: f64, xs: &[f64]) -> (f64, f64, f64) {
    let (_, g) = gradient(
        |v| -> DualSVec64<3> { rnn_dual(v[0], v[1], v[2], xs) },
        [w, u, b].into(),
    );
    (g[0], g[1], g[2])
}

// ---------------------------------------------------------------------------
// Inputs.
// ---------------------------------------------------------------------------

/// RNN weights and inputs: |w| < 1 keeps the recurrence contracting, so
/// the gradient is well conditioned over 1 000 steps.
fn rnn_data(seed: u64) -> ((f64, f64, f64), Vec<f64>) {
    let p = point(3, seed, 0.9);
    ((p[0], p[1], p[2]), point(STEPS, seed + 1, 1.0))
}

/// Dense-layer data: `A` with entries in ±1/16 (so z = A x is of order 1
/// and the sigmoid is not saturated), `x` in ±1, targets `y` in [0, 1].
fn layer_data(seed: u64) -> (Vec<[f64; WIDTH]>, Vec<f64>, Vec<f64>) {
    let flat = point(WIDTH * WIDTH, seed, 1.0 / 16.0);
    let a = flat
        .chunks_exact(WIDTH)
        .map(|r| r.try_into().expect("row of WIDTH"))
        .collect();
    let x = point(WIDTH, seed + 1, 1.0);
    let y = point(WIDTH, seed + 2, 0.5)
        .iter()
        .map(|v| v + 0.5)
        .collect();
    (a, x, y)
}

// ---------------------------------------------------------------------------
// Agreement check, run once before any timing.
// ---------------------------------------------------------------------------

fn check_agreement() {
    for seed in 0..4 {
        let ((w, u, b), xs) = rnn_data(10 * seed);
        let what = format!("rnn seed={seed}");
        let g = rnn_grad_gen(w, u, b, &xs);
        let g = [g.0, g.1, g.2];
        let h = rnn_grad_hand(w, u, b, &xs);
        close(&what, &g, &[h.0, h.1, h.2], "hand");
        let d = rnn_grad_dual(w, u, b, &xs);
        close(&what, &g, &[d.0, d.1, d.2], "num-dual");
        let (v, g2) = rnn_value_and_grad_gen(w, u, b, &xs);
        close(&what, &[v], &[rnn_objective(w, u, b, &xs)], "objective");
        close(
            &what,
            &[v],
            &[rnn_dual(w, u, b, &xs)],
            "plain-loop objective",
        );
        close(&what, &[g2.0, g2.1, g2.2], &g, "value_and_grad");
    }
    for seed in 0..3 {
        let (a, x, y) = layer_data(10 * seed);
        let what = format!("layer seed={seed}");
        let g = layer_grad_gen(&a, &x, &y);
        assert_eq!(g.len(), WIDTH, "{what}: gradient rows");
        let flat: Vec<f64> = g.iter().flatten().copied().collect();
        let hand: Vec<f64> = layer_grad_hand(&a, &x, &y)
            .iter()
            .flatten()
            .copied()
            .collect();
        close(&what, &flat, &hand, "hand");
        let (v, g2) = layer_value_and_grad_gen(&a, &x, &y);
        close(&what, &[v], &[layer_objective(&a, &x, &y)], "objective");
        let flat2: Vec<f64> = g2.iter().flatten().copied().collect();
        close(&what, &flat2, &flat, "value_and_grad");
    }
}

// ---------------------------------------------------------------------------
// Benchmarks.
// ---------------------------------------------------------------------------

fn bench_rnn(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("scan_rnn/{STEPS}"));
    let ((w, u, b), xs) = rnn_data(0);
    let xs = xs.as_slice();
    // The weights and the sequence through one black box, as a tuple.
    let args = || black_box((w, u, b, xs));
    g.bench_function("generated", |bn| {
        bn.iter(|| {
            let (w, u, b, xs) = args();
            rnn_grad_gen(w, u, b, xs)
        })
    });
    g.bench_function("hand", |bn| {
        bn.iter(|| {
            let (w, u, b, xs) = args();
            rnn_grad_hand(w, u, b, xs)
        })
    });
    g.bench_function("num-dual", |bn| {
        bn.iter(|| {
            let (w, u, b, xs) = args();
            rnn_grad_dual(w, u, b, xs)
        })
    });
    g.bench_function("objective", |bn| {
        bn.iter(|| {
            let (w, u, b, xs) = args();
            rnn_objective(w, u, b, xs)
        })
    });
    g.bench_function("value_and_grad", |bn| {
        bn.iter(|| {
            let (w, u, b, xs) = args();
            rnn_value_and_grad_gen(w, u, b, xs)
        })
    });
    g.finish();
}

fn bench_layer(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("dense_layer/{WIDTH}"));
    let (a, x, y) = layer_data(0);
    let (a, x, y) = (a.as_slice(), x.as_slice(), y.as_slice());
    let bb = black_box;
    let ba = black_box::<&[[f64; WIDTH]]>;
    g.bench_function("generated", |b| {
        b.iter(|| layer_grad_gen(ba(a), bb(x), bb(y)))
    });
    g.bench_function("hand", |b| b.iter(|| layer_grad_hand(ba(a), bb(x), bb(y))));
    g.bench_function("objective", |b| {
        b.iter(|| layer_objective(ba(a), bb(x), bb(y)))
    });
    g.bench_function("value_and_grad", |b| {
        b.iter(|| layer_value_and_grad_gen(ba(a), bb(x), bb(y)))
    });
    g.finish();
}

fn main() {
    check_agreement();
    let mut c = Criterion::default().configure_from_args();
    bench_rnn(&mut c);
    bench_layer(&mut c);
    c.final_summary();
}
