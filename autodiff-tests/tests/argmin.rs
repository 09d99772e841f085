//! The argmin adapter (feature `argmin`, SPEC §8): `Problem` answers
//! argmin's `CostFunction`, `Gradient` and `Hessian` (dense, and as a
//! matrix-free operator) with the closures it was built from, checked
//! against hyper-dual numbers; argmin's solvers converge with it to minima
//! known in closed form, with closures that capture data.
//!
//! Run with `cargo test -p autodiff-tests --features argmin --test argmin`.
#![deny(warnings)]
#![allow(clippy::needless_range_loop, clippy::ptr_arg)]

#[macro_use]
mod common;

use autodiff::argmin::core::{CostFunction, Executor, Gradient, Hessian, State};
use autodiff::argmin::math::ArgminDot;
use autodiff::argmin::solver::linesearch::MoreThuenteLineSearch;
use autodiff::argmin::solver::newton::NewtonCG;
use autodiff::argmin::solver::quasinewton::LBFGS;
use autodiff::argmin::solver::trustregion::{Steihaug, TrustRegion};
use autodiff::argmin::Problem;
use autodiff::differentiate;
use common::{close, dual_grad, hyper, hyper_hessian, rosenbrock_ref, DualNum};

#[differentiate(hessian)]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

/// Half the squared residuals of y = a·exp(−b·t) + c; the data constant.
#[differentiate(wrt(p), hessian)]
fn fit(p: &[f64], t: &[f64], y: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..t.len() {
        let r = p[0] * (-p[1] * t[i]).exp() + p[2] - y[i];
        s += r * r;
    }
    0.5 * s
}

fn fit_ref<D: DualNum<f64> + Copy>(p: &[D], t: &[f64], y: &[f64]) -> D {
    let mut s = D::from(0.0);
    for i in 0..t.len() {
        let r = p[0] * (-p[1] * t[i]).exp() + p[2] - y[i];
        s += r * r;
    }
    s * 0.5
}

/// Samples of 2.5·exp(−1.3·t) + 0.5, without noise: the fit recovers the
/// parameters exactly.
fn data() -> (Vec<f64>, Vec<f64>) {
    let t: Vec<f64> = (0..30).map(|i| i as f64 * 0.1).collect();
    let y = t.iter().map(|&t| 2.5 * (-1.3 * t).exp() + 0.5).collect();
    (t, y)
}

fn all_close(got: &[f64], want: &[f64], tol: f64) -> bool {
    got.len() == want.len() && got.iter().zip(want).all(|(g, w)| close(*g, *w, tol))
}

#[test]
fn the_problem_answers_with_its_closures_and_its_operator_is_h_times_v() {
    let (t, y) = data();
    let problem = Problem::new(|p: &[f64]| fit(p, &t, &y), |p: &[f64]| fit_grad(p, &t, &y))
        .with_hvp(|p: &[f64], v: &[f64]| fit_hvp(p, &t, &y, v));
    let p = vec![1.0, 0.7, -0.2];
    let v = vec![0.3, -1.0, 2.0];
    let cost = problem.cost(&p).unwrap();
    assert!(close(cost, fit_ref(&p, &t, &y), 1e-13));
    let g = problem.gradient(&p).unwrap();
    let want = dual_grad(|q| fit_ref(q, &t, &y), &p);
    assert!(all_close(&g, &want, 1e-12));
    let h = problem.hessian(&p).unwrap();
    assert_eq!(h.at(), &p[..]);
    let hv: Vec<f64> = h.dot(&v);
    for i in 0..3 {
        let e = common::basis(3, i);
        let want = hyper(|q| fit_ref(q, &t, &y), &p, &e, &v);
        assert!(close(hv[i], want, 1e-11), "{i}: {} vs {want}", hv[i]);
    }
}

#[test]
fn the_dense_hessian_is_rows() {
    let problem = Problem::new(rosenbrock, rosenbrock_grad).with_hessian(rosenbrock_hessian);
    let x = vec![-1.2, 1.0, 0.7, 0.3];
    let h: Vec<Vec<f64>> = problem.hessian(&x).unwrap();
    let want = hyper_hessian(rosenbrock_ref, &x);
    for (row, want) in h.iter().zip(&want) {
        assert!(all_close(row, want, 1e-12));
    }
}

#[test]
fn lbfgs_fits_the_curve_with_captured_data() {
    let (t, y) = data();
    let problem = Problem::new(|p: &[f64]| fit(p, &t, &y), |p: &[f64]| fit_grad(p, &t, &y));
    let res = Executor::new(problem, LBFGS::new(MoreThuenteLineSearch::new(), 5))
        .configure(|s| s.param(vec![1.0, 1.0, 0.0]).max_iters(200))
        .run()
        .unwrap();
    let p = res.state().get_best_param().unwrap();
    assert!(all_close(p, &[2.5, 1.3, 0.5], 1e-5), "{p:?}");
}

#[test]
fn newton_cg_fits_the_curve_with_a_captured_hessian_vector_product() {
    let (t, y) = data();
    let problem = Problem::new(|p: &[f64]| fit(p, &t, &y), |p: &[f64]| fit_grad(p, &t, &y))
        .with_hvp(|p: &[f64], v: &[f64]| fit_hvp(p, &t, &y, v));
    let res = Executor::new(problem, NewtonCG::new(MoreThuenteLineSearch::new()))
        .configure(|s| s.param(vec![1.0, 1.0, 0.0]).max_iters(500))
        .run()
        .unwrap();
    let p = res.state().get_best_param().unwrap();
    assert!(all_close(p, &[2.5, 1.3, 0.5], 1e-5), "{p:?}");
}

#[test]
fn trust_region_newton_cg_minimizes_rosenbrock_matrix_free() {
    let problem = Problem::new(rosenbrock, rosenbrock_grad).with_hvp(rosenbrock_hvp);
    let res = Executor::new(
        problem,
        TrustRegion::new(Steihaug::new().with_max_iters(50)),
    )
    .configure(|s| s.param(vec![0.0; 10]).target_cost(1e-14).max_iters(500))
    .run()
    .unwrap();
    let x = res.state().get_best_param().unwrap();
    assert!(all_close(x, &[1.0; 10], 1e-6), "{x:?}");
}

#[test]
fn newton_cg_takes_a_dense_hessian_too() {
    let (t, y) = data();
    let problem = Problem::new(|p: &[f64]| fit(p, &t, &y), |p: &[f64]| fit_grad(p, &t, &y))
        .with_hessian(|p: &[f64]| fit_hessian(p, &t, &y));
    let res = Executor::new(problem, NewtonCG::new(MoreThuenteLineSearch::new()))
        .configure(|s| s.param(vec![1.0, 1.0, 0.0]).max_iters(500))
        .run()
        .unwrap();
    let p = res.state().get_best_param().unwrap();
    assert!(all_close(p, &[2.5, 1.3, 0.5], 1e-5), "{p:?}");
}
