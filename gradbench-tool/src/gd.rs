//! The gradient-descent solver of the nested-AD evals (`particle`,
//! `saddle`), as GradBench's tools run it: steps of size η along −∇f,
//! η halved on a step that does not decrease f and doubled after ten
//! steps that do, stopping when ‖∇f‖ or the step falls to 1e-5.
//!
//! This is the outer solver, in plain Rust over closures. The inner
//! solvers that are themselves differentiated are written out inside the
//! `#[differentiate]` functions of the evals, since the attribute
//! differentiates the loops it reads and not a call that takes closures.

/// The tolerance on the gradient's norm and on the step's length.
pub const TOLERANCE: f64 = 1e-5;

/// The first step size.
pub const ETA0: f64 = 1e-5;

/// argminₓ f(x) from `x0`, with `grad` the gradient of `f`.
pub fn argmin<const N: usize>(
    f: impl Fn([f64; N]) -> f64,
    grad: impl Fn([f64; N]) -> [f64; N],
    x0: [f64; N],
) -> [f64; N] {
    let mut x = x0;
    let mut fx = f(x);
    let mut gx = grad(x);
    let mut eta = ETA0;
    let mut i = 0;
    loop {
        if norm(gx) <= TOLERANCE {
            return x;
        }
        if i == 10 {
            eta *= 2.0;
            i = 0;
            continue;
        }
        let next: [f64; N] = std::array::from_fn(|j| x[j] - eta * gx[j]);
        if distance(x, next) <= TOLERANCE {
            return x;
        }
        let f_next = f(next);
        if f_next < fx {
            x = next;
            fx = f_next;
            gx = grad(next);
            i += 1;
        } else {
            eta /= 2.0;
            i = 0;
        }
    }
}

/// argmaxₓ f(x) from `x0`: [`argmin`] of −f.
pub fn argmax<const N: usize>(
    f: impl Fn([f64; N]) -> f64,
    grad: impl Fn([f64; N]) -> [f64; N],
    x0: [f64; N],
) -> [f64; N] {
    argmin(|x| -f(x), |x| grad(x).map(|g| -g), x0)
}

fn norm<const N: usize>(v: [f64; N]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

fn distance<const N: usize>(u: [f64; N], v: [f64; N]) -> f64 {
    norm(std::array::from_fn::<f64, N, _>(|j| u[j] - v[j]))
}
