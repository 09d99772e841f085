//! The Rosenbrock function in 100 dimensions, minimized by argmin's L-BFGS
//! with the gradient `#[differentiate]` generates (feature `argmin`).
//!
//! Run with `cargo run --release --example rosenbrock_lbfgs --features argmin`.

use autodiff::argmin::core::{Executor, State};
use autodiff::argmin::solver::{linesearch::MoreThuenteLineSearch, quasinewton::LBFGS};
use autodiff::argmin::Problem;
use autodiff::differentiate;

/// Σ 100 (x[i+1] − x[i]²)² + (1 − x[i])², minimum 0 at (1, …, 1).
#[differentiate]
pub fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

fn main() {
    // From 0 (f = 99), as the Newton-CG example; stop at f ≤ 1e-14 or on
    // L-BFGS's own tests (gradient and cost changes).
    let x0 = vec![0.0; 100];

    // The user code: the problem, the solver, the run.
    let problem = Problem::new(rosenbrock, rosenbrock_grad);
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7);
    let res = Executor::new(problem, solver)
        .configure(|state| state.param(x0).target_cost(1e-14).max_iters(1000))
        .run()
        .expect("L-BFGS runs");

    let state = res.state();
    let x = state.get_best_param().expect("a best point");
    let worst = x.iter().map(|v| (v - 1.0).abs()).fold(0.0, f64::max);
    println!(
        "L-BFGS on Rosenbrock, n = 100: {} iterations, f = {:.3e}, max |x_i - 1| = {:.1e} ({:?})",
        state.get_iter(),
        state.get_best_cost(),
        worst,
        state.get_termination_reason(),
    );
    assert!(worst < 1e-5, "L-BFGS did not converge");
}
