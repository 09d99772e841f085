//! Arrays and loops: every companion of functions over `[T; N]`,
//! `[[T; C]; R]` and `&[T]` with `for` loops, compared with num-dual
//! (directional derivatives, one dual pass per direction) and finite
//! differences.

// Index loops are the form #[differentiate] reads (iterators come later).
#![allow(clippy::needless_range_loop)]

use autodiff::differentiate;
use num_dual::{Dual64, DualNum};

/// Relative tolerance against num-dual (same formulas, different order).
const TOL: f64 = 1e-11;

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= TOL * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

/// The gradient of `f` at `x` by num-dual, one direction at a time.
fn dual_grad(f: impl Fn(&[Dual64]) -> Dual64, x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|j| {
            let xd: Vec<Dual64> = x
                .iter()
                .enumerate()
                .map(|(i, &v)| Dual64::new(v, if i == j { 1.0 } else { 0.0 }))
                .collect();
            f(&xd).eps
        })
        .collect()
}

/// The directional derivative of `f` at `x` along `v`, by num-dual.
fn dual_dir(f: impl Fn(&[Dual64]) -> Dual64, x: &[f64], v: &[f64]) -> f64 {
    let xd: Vec<Dual64> = x.iter().zip(v).map(|(&a, &b)| Dual64::new(a, b)).collect();
    f(&xd).eps
}

/// A deterministic point in [-1.5, 1.5]^n.
fn point(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 3.0 - 1.5
        })
        .collect()
}

// ---- extended Rosenbrock on a slice ----

#[differentiate]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

fn rosenbrock_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut s = D::from(0.0);
    for i in 0..x.len() - 1 {
        let a = x[i + 1] - x[i] * x[i];
        let b = D::from(1.0) - x[i];
        s += a * a * 100.0 + b * b;
    }
    s
}

/// The textbook gradient of the extended Rosenbrock function.
fn rosenbrock_hand(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut g = vec![0.0; n];
    for i in 0..n - 1 {
        let a = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * a * x[i] - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * a;
    }
    g
}

#[test]
fn rosenbrock_small_sizes_against_num_dual() {
    for n in [2, 3, 100] {
        for seed in 0..3 {
            let x = point(n, seed);
            let g = rosenbrock_grad(&x);
            let want = dual_grad(rosenbrock_ref, &x);
            assert_eq!(g.len(), n);
            for j in 0..n {
                close(g[j], want[j], &format!("n={n} d/dx{j}"));
            }
            let (v, g2) = rosenbrock_value_and_grad(&x);
            assert_eq!(v, rosenbrock(&x));
            assert_eq!(g2, g);
            let dir = point(n, seed + 10);
            let (v3, t) = rosenbrock_jvp(&x, &dir);
            assert_eq!(v3, v);
            close(t, dual_dir(rosenbrock_ref, &x, &dir), "jvp");
            let (_, gb) = rosenbrock_vjp(&x, 0.5);
            for j in 0..n {
                close(gb[j], 0.5 * want[j], "vjp");
            }
            assert_eq!(rosenbrock_jacobian(&x), g);
        }
    }
}

#[test]
fn rosenbrock_ten_thousand() {
    let x = point(10_000, 7);
    let g = rosenbrock_grad(&x);
    let want = rosenbrock_hand(&x);
    for j in 0..x.len() {
        close(g[j], want[j], "n=10000");
    }
    // One dual pass checks a random direction of the forward mode.
    let dir = point(10_000, 8);
    let (_, t) = rosenbrock_jvp(&x, &dir);
    close(t, dual_dir(rosenbrock_ref, &x, &dir), "jvp n=10000");
}

#[test]
fn loops_with_zero_iterations_give_zero_gradients() {
    assert_eq!(rosenbrock_grad(&[0.7]), vec![0.0]);
    assert_eq!(rosenbrock_value_and_grad(&[0.7]).0, 0.0);
}

// ---- fixed arrays, a branch inside a reversed loop, a scalar parameter ----

#[differentiate]
fn gated_dot(a: [f64; 3], b: [f64; 3], k: f64) -> f64 {
    let mut s = 0.0;
    for i in (0..3).rev() {
        if a[i] > 0.0 {
            s += k * a[i] * b[i];
        } else {
            s = s * 0.5 + a[i].sin();
        }
    }
    s * s
}

fn gated_dot_ref<D: DualNum<f64> + Copy>(v: &[D]) -> D {
    let (a, b, k) = (&v[0..3], &v[3..6], v[6]);
    let mut s = D::from(0.0);
    for i in (0..3).rev() {
        if a[i].re() > 0.0 {
            s += k * a[i] * b[i];
        } else {
            s = s * 0.5 + a[i].sin();
        }
    }
    s * s
}

#[test]
fn branches_inside_loops_in_both_modes() {
    for seed in 0..6 {
        let p = point(7, seed);
        let (a, b, k) = ([p[0], p[1], p[2]], [p[3], p[4], p[5]], p[6]);
        let want = dual_grad(gated_dot_ref, &p);
        let (ga, gb, gk) = gated_dot_grad(a, b, k);
        let got: Vec<f64> = ga.iter().chain(&gb).copied().chain([gk]).collect();
        for j in 0..7 {
            close(got[j], want[j], &format!("seed {seed} d/dp{j}"));
        }
        let dir = point(7, seed + 100);
        let (v, t) = gated_dot_jvp(
            a,
            b,
            k,
            [dir[0], dir[1], dir[2]],
            [dir[3], dir[4], dir[5]],
            dir[6],
        );
        assert_eq!(v, gated_dot(a, b, k));
        close(t, dual_dir(gated_dot_ref, &p, &dir), "jvp");
    }
}

// ---- a matrix and nested loops: TUTORIAL.md row 2 ----

#[differentiate]
fn logistic_sum(x: [[f64; 2]; 2]) -> f64 {
    let mut s = 0.0;
    for i in 0..2 {
        for j in 0..2 {
            s += 1.0 / (1.0 + (-x[i][j]).exp());
        }
    }
    s
}

#[test]
fn tutorial_row2_logistic_gradient_on_a_matrix() {
    let x = [[0.0, 1.0], [-1.0, -2.0]];
    let (value, g) = logistic_sum_value_and_grad(x);
    assert_eq!(value, logistic_sum(x));
    // s(x) (1 - s(x)) elementwise: TUTORIAL.md gives these to 8 digits.
    let want = [[0.25, 0.19661193], [0.19661193, 0.10499359]];
    for i in 0..2 {
        for j in 0..2 {
            assert!((g[i][j] - want[i][j]).abs() < 1e-8, "{g:?}");
            let s = 1.0 / (1.0 + (-[[0.0, 1.0], [-1.0, -2.0_f64]][i][j]).exp());
            close(g[i][j], s * (1.0 - s), "s(1-s)");
        }
    }
}

// ---- taped carried values: Horner's rule and a running product ----

#[differentiate]
fn horner(c: &[f64], x: f64) -> f64 {
    let mut acc = 0.0;
    for i in (0..c.len()).rev() {
        acc = acc * x + c[i];
    }
    acc
}

fn horner_ref<D: DualNum<f64> + Copy>(v: &[D]) -> D {
    let (c, x) = (&v[..v.len() - 1], v[v.len() - 1]);
    let mut acc = D::from(0.0);
    for i in (0..c.len()).rev() {
        acc = acc * x + c[i];
    }
    acc
}

#[differentiate]
fn running_product(x: &[f64]) -> f64 {
    let mut p = 1.0;
    for i in 0..x.len() {
        p *= x[i].tanh() + 1.5;
    }
    p
}

fn running_product_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut p = D::from(1.0);
    for xi in x {
        p *= xi.tanh() + 1.5;
    }
    p
}

#[test]
fn carried_values_the_adjoint_needs_are_taped() {
    for seed in 0..4 {
        let p = point(6, seed);
        let (v, (gc, gx)) = horner_value_and_grad(&p[..5], p[5]);
        assert_eq!(v, horner(&p[..5], p[5]));
        let want = dual_grad(horner_ref, &p);
        for j in 0..5 {
            close(gc[j], want[j], "d/dc");
        }
        close(gx, want[5], "d/dx");
        let g = running_product_grad(&p);
        let want = dual_grad(running_product_ref, &p);
        for j in 0..6 {
            close(g[j], want[j], "running product");
        }
    }
}

#[test]
fn gradients_agree_with_finite_differences() {
    let x = point(5, 3);
    let r = autodiff::check_grad(rosenbrock, rosenbrock_grad, &x);
    assert!(r.passed(1e-6), "{r:?}");
    let r = autodiff::check_grad(running_product, running_product_grad, &x);
    assert!(r.passed(1e-6), "{r:?}");
}
