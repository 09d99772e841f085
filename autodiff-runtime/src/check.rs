//! [`check_grad`]: a finite-difference check of a gradient, like Theano's
//! `verify_grad`.

/// The result of [`check_grad`]: the worst disagreement found.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheck {
    /// The largest `|analytic - numeric| / max(1, |numeric|)` over the
    /// components.
    pub max_error: f64,
    /// The component where it occurred.
    pub worst: usize,
    /// The analytic and numeric values there.
    pub analytic: f64,
    /// The central-difference estimate there.
    pub numeric: f64,
}

impl GradCheck {
    /// Did every component agree within `tol`?
    pub fn passed(&self, tol: f64) -> bool {
        self.max_error <= tol
    }
}

/// Compares `grad(x)` with central differences of `f` at `x`.
///
/// The step for component `i` is `1e-6 * max(1, |x_i|)`; the error of each
/// component is `|analytic - numeric| / max(1, |numeric|)`. For smooth
/// functions of moderate curvature a tolerance of `1e-6` is right; the
/// central-difference truncation error grows with the third derivative.
///
/// ```
/// let f = |x: &[f64]| x[0] * x[0] + 3.0 * x[1];
/// let g = |x: &[f64]| vec![2.0 * x[0], 3.0];
/// let r = autodiff_runtime::check_grad(f, g, &[1.5, -2.0]);
/// assert!(r.passed(1e-6), "{r:?}");
/// ```
pub fn check_grad<F, G>(f: F, grad: G, x: &[f64]) -> GradCheck
where
    F: Fn(&[f64]) -> f64,
    G: Fn(&[f64]) -> Vec<f64>,
{
    let analytic = grad(x);
    let mut worst = GradCheck {
        max_error: 0.0,
        worst: 0,
        analytic: analytic.first().copied().unwrap_or(0.0),
        numeric: 0.0,
    };
    let mut probe = x.to_vec();
    for i in 0..x.len() {
        let h = 1e-6 * x[i].abs().max(1.0);
        probe[i] = x[i] + h;
        let up = f(&probe);
        probe[i] = x[i] - h;
        let down = f(&probe);
        probe[i] = x[i];
        let numeric = (up - down) / (2.0 * h);
        let a = analytic.get(i).copied().unwrap_or(f64::NAN);
        let err = (a - numeric).abs() / numeric.abs().max(1.0);
        if err > worst.max_error || err.is_nan() {
            worst = GradCheck {
                max_error: if err.is_nan() { f64::INFINITY } else { err },
                worst: i,
                analytic: a,
                numeric,
            };
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_a_wrong_gradient() {
        let f = |x: &[f64]| x[0].sin() * x[1];
        let right = |x: &[f64]| vec![x[0].cos() * x[1], x[0].sin()];
        let wrong = |x: &[f64]| vec![x[0].cos(), x[0].sin()];
        assert!(check_grad(f, right, &[0.3, 2.0]).passed(1e-6));
        let r = check_grad(f, wrong, &[0.3, 2.0]);
        assert!(!r.passed(1e-3));
        assert_eq!(r.worst, 0);
    }
}
