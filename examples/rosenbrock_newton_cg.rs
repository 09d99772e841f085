//! The Rosenbrock function in 100 dimensions, minimized with the
//! Hessian-vector product `#[differentiate(hessian)]` generates: the
//! conjugate-gradient steps apply the Hessian through `rosenbrock_hvp`,
//! never forming it (feature `argmin`). Two matrix-free Newton-CG methods
//! of argmin take the same problem: the trust-region one (Steihaug's CG,
//! scipy's `trust-ncg`) and the line-search one (`NewtonCG`).
//!
//! Run with `cargo run --release --example rosenbrock_newton_cg --features argmin`.

use autodiff::argmin::core::{Executor, State};
use autodiff::argmin::solver::linesearch::MoreThuenteLineSearch;
use autodiff::argmin::solver::newton::NewtonCG;
use autodiff::argmin::solver::trustregion::{Steihaug, TrustRegion};
use autodiff::argmin::Problem;
use autodiff::differentiate;

/// Σ 100 (x[i+1] − x[i]²)² + (1 − x[i])², minimum 0 at (1, …, 1).
#[differentiate(hessian)]
pub fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

fn main() {
    // From 0 (f = 99); stop at f ≤ 1e-14. (From the classic start
    // (−1.2, 1, −1.2, 1, …) Newton's methods go to the local minimum near
    // (−1, 1, …, 1), f ≈ 3.99, which Rosenbrock's function has for n ≥ 4.)
    let x0 = vec![0.0; 100];

    // The user code: the problem (with its Hessian-vector product), the
    // solver, the run.
    let problem = Problem::new(rosenbrock, rosenbrock_grad).with_hvp(rosenbrock_hvp);
    let solver = TrustRegion::new(Steihaug::new().with_max_iters(100));
    let res = Executor::new(problem, solver)
        .configure(|state| state.param(x0.clone()).target_cost(1e-14).max_iters(1000))
        .run()
        .expect("trust-region Newton-CG runs");
    let worst = report("trust-region Newton-CG (Steihaug)", res.state());
    assert!(worst < 1e-5, "trust-region Newton-CG did not converge");

    // argmin 0.11's line-search Newton-CG ends its inner CG early (it
    // compares the squared residual with the forcing term), so that its
    // steps are short of Newton's: it needs many more iterations.
    let problem = Problem::new(rosenbrock, rosenbrock_grad).with_hvp(rosenbrock_hvp);
    let solver = NewtonCG::new(MoreThuenteLineSearch::new());
    let res = Executor::new(problem, solver)
        .configure(|state| state.param(x0).target_cost(1e-14).max_iters(100_000))
        .run()
        .expect("Newton-CG runs");
    report("line-search NewtonCG", res.state());
}

/// Prints what `state` reached; returns the largest |x_i − 1|.
fn report<S: State<Param = Vec<f64>, Float = f64>>(name: &str, state: &S) -> f64 {
    let x = state.get_best_param().expect("a best point");
    let worst = x.iter().map(|v| (v - 1.0).abs()).fold(0.0, f64::max);
    println!(
        "{name} on Rosenbrock, n = 100, with H·v: {} iterations, f = {:.3e}, max |x_i - 1| = {:.1e} ({:?})",
        state.get_iter(),
        state.get_best_cost(),
        worst,
        state.get_termination_reason(),
    );
    worst
}
