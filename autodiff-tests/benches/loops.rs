//! Loops with a run-time trip count (issue 11): what reverse mode through a
//! `while` loop and an early-exit `for` loop costs, in time and in tape.
//!
//! - `newton_sqrt`: Newton's iteration for √a inside a function,
//!   `while (x * x - a).abs() > 1e-12 * a { x = 0.5 * (x + a / x); }`, then
//!   `x * b`, differentiated in `a` and `b`; the trip count depends on `a`.
//! - `first_above/1000`: `for i in 0..n { s += w[i] * x[i]; if s > cap {
//!   break; } }` over 1 000 weights, the loop leaving at a data-dependent
//!   index (about two thirds of the way), differentiated in `w`.
//!
//! Variants of each group, timed in the same run: `objective` (the
//! function), `generated` (`_grad`), `hand` (a hand-written gradient) and
//! `num-dual` (forward mode). Before timing, `main` checks the variants
//! agree (1e-10 relative), and prints the bytes each `_grad` call
//! allocates (its tape), counted by a wrapping global allocator.
//!
//! Run: `cargo bench -p autodiff-tests --features bench --bench loops -- --warm-up-time 1 --measurement-time 3`.

#![allow(missing_docs)]
#![allow(clippy::needless_range_loop)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use autodiff::differentiate;
use criterion::Criterion;
use num_dual::Dual64;

/// The system allocator, counting the bytes it hands out.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to `System` unchanged.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size.saturating_sub(layout.size()), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes allocated while running `f`.
fn bytes<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCATED.load(Ordering::Relaxed);
    let r = f();
    (ALLOCATED.load(Ordering::Relaxed) - before, r)
}

#[differentiate]
pub fn newton_sqrt(a: f64, b: f64) -> f64 {
    let mut x = a.max(1.0);
    while (x * x - a).abs() > 1e-12 * a {
        x = 0.5 * (x + a / x);
    }
    x * b
}

/// d/da and d/db by hand: at convergence x = √a, so d(x b)/da = b / (2√a)
/// (the implicit-function derivative, which the iteration's derivative
/// converges to) and d/db = x. The loop is run as the function runs it.
fn newton_sqrt_hand(a: f64, b: f64) -> (f64, f64) {
    let mut x = a.max(1.0);
    let mut dx = if a > 1.0 { 1.0 } else { 0.0 };
    while (x * x - a).abs() > 1e-12 * a {
        // x' = (x + a/x)/2: dx' = (dx + (1·x - a·dx)/x²)/2
        dx = 0.5 * (dx + (x - a * dx) / (x * x));
        x = 0.5 * (x + a / x);
    }
    (dx * b, x)
}

fn newton_sqrt_dual(a: Dual64, b: Dual64) -> Dual64 {
    let mut x = if a.re > 1.0 { a } else { Dual64::from(1.0) };
    while (x * x - a).re.abs() > 1e-12 * a.re {
        x = (x + a / x) * 0.5;
    }
    x * b
}

#[differentiate(wrt(w))]
pub fn first_above(w: &[f64], x: &[f64], cap: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..w.len() {
        s += w[i] * x[i];
        if s > cap {
            break;
        }
    }
    s
}

fn first_above_hand(w: &[f64], x: &[f64], cap: f64) -> Vec<f64> {
    let mut g = vec![0.0; w.len()];
    let mut s = 0.0;
    for i in 0..w.len() {
        s += w[i] * x[i];
        g[i] = x[i];
        if s > cap {
            break;
        }
    }
    g
}

fn first_above_dual(w: &[Dual64], x: &[f64], cap: f64) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for i in 0..w.len() {
        s += w[i] * x[i];
        if s.re > cap {
            break;
        }
    }
    s
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-10 * a.abs().max(b.abs()).max(1e-300)
}

fn main() {
    // Agreement and tape sizes first.
    for &(a, b) in &[(2.0, 3.0), (1e4, 0.5), (0.25, -2.0)] {
        let (bytes_grad, g) = bytes(|| newton_sqrt_grad(a, b));
        let h = newton_sqrt_hand(a, b);
        let da = newton_sqrt_dual(Dual64::new(a, 1.0), Dual64::from(b)).eps;
        let db = newton_sqrt_dual(Dual64::from(a), Dual64::new(b, 1.0)).eps;
        assert!(close(g.0, h.0) && close(g.1, h.1), "newton hand at {a}");
        assert!(close(g.0, da) && close(g.1, db), "newton dual at {a}");
        println!("newton_sqrt({a}, {b}): _grad allocates {bytes_grad} bytes");
    }
    let n = 1000;
    let w: Vec<f64> = (0..n)
        .map(|i| 0.5 + (i as f64 * 0.37).sin() * 0.25)
        .collect();
    let x: Vec<f64> = (0..n)
        .map(|i| 1.0 + (i as f64 * 0.11).cos() * 0.5)
        .collect();
    let cap = 2.0 / 3.0 * w.iter().zip(&x).map(|(a, b)| a * b).sum::<f64>();
    let (bytes_grad, g) = bytes(|| first_above_grad(&w, &x, cap));
    let (bytes_hand, h) = bytes(|| first_above_hand(&w, &x, cap));
    let trips = h.iter().filter(|v| **v != 0.0).count();
    assert!(
        g.iter().zip(&h).all(|(a, b)| close(*a, *b)),
        "first_above hand"
    );
    for j in [0, trips - 1, trips, n - 1] {
        let ws: Vec<Dual64> = (0..n)
            .map(|i| Dual64::new(w[i], if i == j { 1.0 } else { 0.0 }))
            .collect();
        assert!(
            close(g[j], first_above_dual(&ws, &x, cap).eps),
            "first_above dual {j}"
        );
    }
    println!(
        "first_above/1000 ({trips} trips): _grad allocates {bytes_grad} bytes, \
         of which the gradient itself {} (hand: {bytes_hand})",
        n * 8
    );

    let mut c = Criterion::default().configure_from_args();
    {
        let mut group = c.benchmark_group("newton_sqrt");
        let (a, b) = (1234.5, 0.75);
        group.bench_function("objective", |bch| {
            bch.iter(|| newton_sqrt(black_box(a), black_box(b)))
        });
        group.bench_function("generated", |bch| {
            bch.iter(|| newton_sqrt_grad(black_box(a), black_box(b)))
        });
        group.bench_function("hand", |bch| {
            bch.iter(|| newton_sqrt_hand(black_box(a), black_box(b)))
        });
        group.bench_function("num-dual", |bch| {
            bch.iter(|| {
                let da = newton_sqrt_dual(Dual64::new(black_box(a), 1.0), Dual64::from(b)).eps;
                let db = newton_sqrt_dual(Dual64::from(a), Dual64::new(black_box(b), 1.0)).eps;
                (da, db)
            })
        });
        group.finish();
    }
    {
        let mut group = c.benchmark_group("first_above/1000");
        group.bench_function("objective", |bch| {
            bch.iter(|| first_above(black_box(&w), black_box(&x), cap))
        });
        group.bench_function("generated", |bch| {
            bch.iter(|| first_above_grad(black_box(&w), black_box(&x), cap))
        });
        group.bench_function("hand", |bch| {
            bch.iter(|| first_above_hand(black_box(&w), black_box(&x), cap))
        });
        group.finish();
    }
    c.final_summary();
}
