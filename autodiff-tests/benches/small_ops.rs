//! Small scalar functions, one float method each: the companions
//! `#[differentiate]` emits against num-dual (the peer a user would pick
//! instead) and against what a careful human writes by hand.
//!
//! Two groups per op, each with the variants `generated`, `hand` and
//! `num-dual`:
//!
//! - `<op>/grad`: `_grad` (the derivative alone); num-dual's answer is a
//!   forward pass with `Dual64` (one parameter) or `DualSVec64<2>` (two),
//!   which computes the value too, as a num-dual user pays for it,
//! - `<op>/jvp`: `_jvp` (the value and J·v) against one `Dual64` pass
//!   seeded with the same tangent: like for like.
//!
//! The ops: `hypot`, `atan2`, `powf` (both operands differentiated;
//! num-dual's `powd` for a dual exponent), `powf_const` (`x.powf(y)` in
//! `x` only, `y` a constant parameter: num-dual's `powf`), `ln_1p`, `sqrt`,
//! `cbrt`. num-dual's `DualNum` has no `hypot` (its `ComplexField::hypot`
//! computes `sqrt(x² + y²)`), so its variant is written that way: cheaper
//! than `f64::hypot`, which avoids overflow and underflow, and which the
//! generated and hand-written variants call because the user wrote it.
//!
//! A single call costs a few nanoseconds, about what criterion's loop
//! costs, so each variant evaluates at [`POINTS`] points per iteration
//! (the companion inlined into the loop, as in a user's loop) and sums its
//! results: the ratios are of throughput. Each group's variants are timed
//! in the same run. Before anything is timed, `main` checks that every
//! variant agrees with the generated code (1e-10 relative) at every point.
//!
//! Run: `cargo bench -p autodiff-tests --features bench --bench small_ops -- --warm-up-time 1 --measurement-time 3`.

#![allow(missing_docs)]

use std::hint::black_box;

use hand::{close, point};

mod hand;

use autodiff::differentiate;
use criterion::Criterion;
/// Points per timed iteration.
const POINTS: usize = 256;

/// The tangent of the two-parameter `jvp`s (the one-parameter ones take
/// theirs from the second input).
const DIR: (f64, f64) = (0.75, -1.25);

// ---------------------------------------------------------------------------
// The functions, differentiated by the attribute.
// ---------------------------------------------------------------------------

#[differentiate]
fn hypot(x: f64, y: f64) -> f64 {
    x.hypot(y)
}

#[differentiate]
fn atan2(x: f64, y: f64) -> f64 {
    x.atan2(y)
}

#[differentiate]
fn powf(x: f64, y: f64) -> f64 {
    x.powf(y)
}

#[differentiate(wrt(x))]
fn powf_const(x: f64, y: f64) -> f64 {
    x.powf(y)
}

#[differentiate]
fn ln_1p(x: f64) -> f64 {
    x.ln_1p()
}

#[differentiate]
fn sqrt(x: f64) -> f64 {
    x.sqrt()
}

#[differentiate]
fn cbrt(x: f64) -> f64 {
    x.cbrt()
}

// ---------------------------------------------------------------------------
// Every variant as a function of a point `(x, y)` returning two numbers
// (the second 0 where there is one): `grad` gives the derivative(s),
// `jvp` the value and the tangent.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Input {
    /// Any sign.
    Any,
    /// Positive (the domain of `ln`, `sqrt`).
    Pos,
    /// An exponent.
    Exp,
}

/// Hand-written: the primal once, the derivative from it. One module per
/// op, each with `grad` and `jvp`.
mod by_hand {
    pub mod hypot {
        pub fn grad(x: f64, y: f64) -> [f64; 2] {
            let h = x.hypot(y);
            [x / h, y / h]
        }
        pub fn jvp(x: f64, y: f64) -> [f64; 2] {
            let (xd, yd) = crate::DIR;
            let h = x.hypot(y);
            [h, (x * xd + y * yd) / h]
        }
    }
    pub mod atan2 {
        pub fn grad(x: f64, y: f64) -> [f64; 2] {
            let q = 1.0 / (x * x + y * y);
            [y * q, -x * q]
        }
        pub fn jvp(x: f64, y: f64) -> [f64; 2] {
            let (xd, yd) = crate::DIR;
            [x.atan2(y), (y * xd - x * yd) / (x * x + y * y)]
        }
    }
    pub mod powf {
        pub fn grad(x: f64, y: f64) -> [f64; 2] {
            let p = x.powf(y);
            [y * p / x, p * x.ln()]
        }
        pub fn jvp(x: f64, y: f64) -> [f64; 2] {
            let (xd, yd) = crate::DIR;
            let p = x.powf(y);
            [p, p * (y * xd / x + yd * x.ln())]
        }
    }
    pub mod powf_const {
        pub fn grad(x: f64, y: f64) -> [f64; 2] {
            [y * x.powf(y - 1.0), 0.0]
        }
        pub fn jvp(x: f64, y: f64) -> [f64; 2] {
            let p = x.powf(y);
            [p, crate::DIR.0 * y * p / x]
        }
    }
    pub mod ln_1p {
        pub fn grad(x: f64, _: f64) -> [f64; 2] {
            [1.0 / (1.0 + x), 0.0]
        }
        pub fn jvp(x: f64, xd: f64) -> [f64; 2] {
            [x.ln_1p(), xd / (1.0 + x)]
        }
    }
    pub mod sqrt {
        pub fn grad(x: f64, _: f64) -> [f64; 2] {
            [0.5 / x.sqrt(), 0.0]
        }
        pub fn jvp(x: f64, xd: f64) -> [f64; 2] {
            let s = x.sqrt();
            [s, 0.5 * xd / s]
        }
    }
    pub mod cbrt {
        pub fn grad(x: f64, _: f64) -> [f64; 2] {
            let c = x.cbrt();
            [1.0 / (3.0 * c * c), 0.0]
        }
        pub fn jvp(x: f64, xd: f64) -> [f64; 2] {
            let c = x.cbrt();
            [c, xd / (3.0 * c * c)]
        }
    }
}

/// num-dual: `DualSVec64<2>` for a gradient in two parameters, `Dual64`
/// otherwise.
mod dual {
    use num_dual::{gradient, Dual64, DualNum, DualSVec64};

    fn grad2(
        f: impl Fn(DualSVec64<2>, DualSVec64<2>) -> DualSVec64<2>,
        x: f64,
        y: f64,
    ) -> [f64; 2] {
        let (_, g) = gradient(|v| f(v[0], v[1]), [x, y].into());
        [g[0], g[1]]
    }
    fn jvp2(f: impl Fn(Dual64, Dual64) -> Dual64, x: f64, y: f64) -> [f64; 2] {
        let d = f(Dual64::new(x, crate::DIR.0), Dual64::new(y, crate::DIR.1));
        [d.re, d.eps]
    }
    fn grad1(f: impl Fn(Dual64) -> Dual64, x: f64) -> [f64; 2] {
        [f(Dual64::new(x, 1.0)).eps, 0.0]
    }
    fn jvp1(f: impl Fn(Dual64) -> Dual64, x: f64, xd: f64) -> [f64; 2] {
        let d = f(Dual64::new(x, xd));
        [d.re, d.eps]
    }

    /// Two-parameter ops: the same dual function for both groups.
    macro_rules! two {
        ($name:ident, |$a:ident, $b:ident| $e:expr) => {
            pub mod $name {
                use super::*;
                pub fn grad(x: f64, y: f64) -> [f64; 2] {
                    grad2(|$a, $b| $e, x, y)
                }
                pub fn jvp(x: f64, y: f64) -> [f64; 2] {
                    jvp2(|$a, $b| $e, x, y)
                }
            }
        };
    }

    /// One-parameter ops: `Dual64` for both; `jvp`'s tangent is `y`.
    macro_rules! one {
        ($name:ident, |$a:ident| $e:expr) => {
            pub mod $name {
                use super::*;
                pub fn grad(x: f64, _: f64) -> [f64; 2] {
                    grad1(|$a| $e, x)
                }
                pub fn jvp(x: f64, xd: f64) -> [f64; 2] {
                    jvp1(|$a| $e, x, xd)
                }
            }
        };
    }

    two!(hypot, |a, b| (a * a + b * b).sqrt());
    two!(atan2, |a, b| a.atan2(b));
    two!(powf, |a, b| a.powd(b));
    one!(ln_1p, |a| a.ln_1p());
    one!(sqrt, |a| a.sqrt());
    one!(cbrt, |a| a.cbrt());

    /// `x.powf(y)` in `x`: the exponent is a plain `f64`.
    pub mod powf_const {
        use super::*;
        pub fn grad(x: f64, y: f64) -> [f64; 2] {
            grad1(|a| a.powf(y), x)
        }
        pub fn jvp(x: f64, y: f64) -> [f64; 2] {
            jvp1(|a| a.powf(y), x, crate::DIR.0)
        }
    }
}

/// The generated companions, in the same shape.
mod generated {
    use crate::DIR;

    /// Two-parameter ops: `_grad` and `_jvp` along [`DIR`].
    macro_rules! two {
        ($name:ident, $grad:ident, $jvp:ident) => {
            pub mod $name {
                use super::*;
                pub fn grad(x: f64, y: f64) -> [f64; 2] {
                    crate::$grad(x, y).into()
                }
                pub fn jvp(x: f64, y: f64) -> [f64; 2] {
                    crate::$jvp(x, y, DIR.0, DIR.1).into()
                }
            }
        };
    }

    /// One-parameter ops (and `powf_const`, whose `y` is data): `_jvp`'s
    /// tangent is `y`, or `DIR.0` for `powf_const`.
    macro_rules! one {
        ($name:ident, $grad:ident, $jvp:ident) => {
            pub mod $name {
                pub fn grad(x: f64, _: f64) -> [f64; 2] {
                    [crate::$grad(x), 0.0]
                }
                pub fn jvp(x: f64, xd: f64) -> [f64; 2] {
                    crate::$jvp(x, xd).into()
                }
            }
        };
    }

    two!(hypot, hypot_grad, hypot_jvp);
    two!(atan2, atan2_grad, atan2_jvp);
    two!(powf, powf_grad, powf_jvp);
    one!(ln_1p, ln_1p_grad, ln_1p_jvp);
    one!(sqrt, sqrt_grad, sqrt_jvp);
    one!(cbrt, cbrt_grad, cbrt_jvp);

    pub mod powf_const {
        pub fn grad(x: f64, y: f64) -> [f64; 2] {
            [crate::powf_const_grad(x, y), 0.0]
        }
        pub fn jvp(x: f64, y: f64) -> [f64; 2] {
            crate::powf_const_jvp(x, y, crate::DIR.0).into()
        }
    }
}

// ---------------------------------------------------------------------------
// Inputs, the agreement check and the timed loop.
// ---------------------------------------------------------------------------

/// `POINTS` points in `[lo, hi]`.
fn points(seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    point(POINTS, seed, 0.5)
        .iter()
        .map(|u| lo + (u + 0.5) * (hi - lo))
        .collect()
}

fn input(which: Input, seed: u64) -> Vec<f64> {
    match which {
        Input::Any => points(seed, -3.0, 3.0),
        Input::Pos => points(seed, 0.1, 4.0),
        Input::Exp => points(seed, -2.5, 2.5),
    }
}

/// The variant at every point, flattened.
fn eval(f: fn(f64, f64) -> [f64; 2], xs: &[f64], ys: &[f64]) -> Vec<f64> {
    xs.iter().zip(ys).flat_map(|(&x, &y)| f(x, y)).collect()
}

/// The timed loop: the sum of every result over the points. Generic over
/// the variant (a function item), so each variant is its own loop with the
/// variant inlined.
#[inline(never)]
fn run<F: Fn(f64, f64) -> [f64; 2]>(f: F, xs: &[f64], ys: &[f64]) -> f64 {
    xs.iter()
        .zip(ys)
        .map(|(&x, &y)| {
            let [a, b] = f(x, y);
            a + b
        })
        .sum()
}

/// Checks, then times, the three variants of op `$op`'s `grad` and `jvp`
/// at its inputs. A macro, so that `run` gets each variant as a function
/// item, not a pointer.
macro_rules! bench_op {
    ($c:expr, $op:ident, $x:ident, $y:ident) => {{
        let (xs, ys) = (input(Input::$x, 1), input(Input::$y, 2));
        bench_op!(@kind $c, $op, grad, xs, ys);
        bench_op!(@kind $c, $op, jvp, xs, ys);
    }};
    (@kind $c:expr, $op:ident, $kind:ident, $xs:expr, $ys:expr) => {{
        let what = concat!(stringify!($op), "/", stringify!($kind));
        let gen = eval(generated::$op::$kind, &$xs, &$ys);
        close(what, &gen, &eval(by_hand::$op::$kind, &$xs, &$ys), "hand");
        close(what, &gen, &eval(dual::$op::$kind, &$xs, &$ys), "num-dual");
        let mut g = $c.benchmark_group(what);
        let (xs, ys) = (&$xs, &$ys);
        g.bench_function("generated", |b| {
            b.iter(|| run(generated::$op::$kind, black_box(xs), black_box(ys)))
        });
        g.bench_function("hand", |b| {
            b.iter(|| run(by_hand::$op::$kind, black_box(xs), black_box(ys)))
        });
        g.bench_function("num-dual", |b| {
            b.iter(|| run(dual::$op::$kind, black_box(xs), black_box(ys)))
        });
        g.finish();
    }};
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_op!(c, hypot, Any, Any);
    bench_op!(c, atan2, Any, Any);
    bench_op!(c, powf, Pos, Exp);
    bench_op!(c, powf_const, Pos, Exp);
    bench_op!(c, ln_1p, Pos, Any);
    bench_op!(c, sqrt, Pos, Any);
    bench_op!(c, cbrt, Any, Any);
    c.final_summary();
}
