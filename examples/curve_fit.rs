//! Fitting y = a·exp(−b·t) + c to data by least squares with argmin: the
//! data are constant parameters of the differentiated loss, and the
//! closures given to argmin capture them (feature `argmin`). L-BFGS uses
//! the gradient; Newton-CG also the Hessian-vector product.
//!
//! Run with `cargo run --example curve_fit --features argmin`.

use autodiff::argmin::core::{Executor, State};
use autodiff::argmin::solver::linesearch::MoreThuenteLineSearch;
use autodiff::argmin::solver::{newton::NewtonCG, quasinewton::LBFGS};
use autodiff::argmin::Problem;
use autodiff::differentiate;

/// Half the sum of squared residuals of the model with parameters
/// `p = (a, b, c)` on the points `(t[i], y[i])`.
#[differentiate(wrt(p), hessian)]
pub fn loss(p: &[f64], t: &[f64], y: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..t.len() {
        let r = p[0] * (-p[1] * t[i]).exp() + p[2] - y[i];
        s += r * r;
    }
    0.5 * s
}

/// Noisy samples of 2.5·exp(−1.3·t) + 0.5 on [0, 4] (a fixed
/// pseudo-random noise of amplitude 0.01, so that runs are reproducible).
fn data() -> (Vec<f64>, Vec<f64>) {
    let t: Vec<f64> = (0..40).map(|i| i as f64 * 0.1).collect();
    let y = t
        .iter()
        .enumerate()
        .map(|(i, &t)| 2.5 * (-1.3 * t).exp() + 0.5 + 0.01 * ((i * 7919 % 101) as f64 / 50.0 - 1.0))
        .collect();
    (t, y)
}

fn main() {
    let (t, y) = data();
    let start = vec![1.0, 1.0, 0.0];

    // L-BFGS: the closures capture the data.
    let problem = Problem::new(
        |p: &[f64]| loss(p, &t, &y),
        |p: &[f64]| loss_grad(p, &t, &y),
    );
    let res = Executor::new(problem, LBFGS::new(MoreThuenteLineSearch::new(), 5))
        .configure(|s| s.param(start.clone()).max_iters(200))
        .run()
        .expect("L-BFGS runs");
    let lbfgs = res.state();
    let p = lbfgs.get_best_param().expect("a best point");
    println!(
        "L-BFGS:    a = {:.4}, b = {:.4}, c = {:.4} in {} iterations (loss {:.3e})",
        p[0],
        p[1],
        p[2],
        lbfgs.get_iter(),
        lbfgs.get_best_cost()
    );
    assert!((p[0] - 2.5).abs() < 0.05 && (p[1] - 1.3).abs() < 0.05 && (p[2] - 0.5).abs() < 0.05);

    // Newton-CG: the Hessian-vector product captures the data too.
    let problem = Problem::new(
        |p: &[f64]| loss(p, &t, &y),
        |p: &[f64]| loss_grad(p, &t, &y),
    )
    .with_hvp(|p: &[f64], v: &[f64]| loss_hvp(p, &t, &y, v));
    let res = Executor::new(problem, NewtonCG::new(MoreThuenteLineSearch::new()))
        .configure(|s| s.param(start).max_iters(100))
        .run()
        .expect("Newton-CG runs");
    let newton = res.state();
    let q = newton.get_best_param().expect("a best point");
    println!(
        "Newton-CG: a = {:.4}, b = {:.4}, c = {:.4} in {} iterations (loss {:.3e})",
        q[0],
        q[1],
        q[2],
        newton.get_iter(),
        newton.get_best_cost()
    );
    assert!(
        p.iter().zip(q).all(|(a, b)| (a - b).abs() < 1e-4),
        "the two fits differ"
    );
}
