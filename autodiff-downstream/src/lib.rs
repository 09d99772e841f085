//! A downstream crate as a user writes one: the facade renamed `ad`, the
//! attribute by its path, a struct deriving `ad::Tangent`, a generic
//! function, a closure-captured data set, and `ad::check_grad`.

use ad::{differentiate, Float, Tangent};

/// A model of a line.
#[derive(Clone, Debug, PartialEq, Tangent)]
pub struct Line {
    /// Slope.
    pub slope: f64,
    /// Intercept.
    pub intercept: f64,
    /// Rows of a weight matrix.
    pub w: [[f64; 2]; 2],
}

/// The squared error of `line` on the points `(xs[i], ys[i])`, with a
/// small penalty on the weights.
#[differentiate(wrt(line))]
pub fn loss(line: &Line, xs: &[f64], ys: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..xs.len() {
        let r = line.slope * xs[i] + line.intercept - ys[i];
        s += r * r;
    }
    for i in 0..2 {
        for j in 0..2 {
            s += 0.01 * line.w[i][j] * line.w[i][j];
        }
    }
    s / xs.len() as f64
}

/// Rosenbrock's function, generic over the float type.
#[ad::differentiate(hessian)]
pub fn rosenbrock<T: Float>(x: &[T]) -> T {
    let mut s = T::zero();
    for i in 0..x.len() - 1 {
        let a = 1.0 - x[i];
        let b = x[i + 1] - x[i] * x[i];
        s = s + a * a + 100.0 * b * b;
    }
    s
}

/// A function with an out-parameter.
#[differentiate]
pub fn polar(r: f64, theta: f64, out: &mut [f64; 2]) {
    out[0] = r * theta.cos();
    out[1] = r * theta.sin();
}
