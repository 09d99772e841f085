//! Hessians and Hessian-vector products (`#[differentiate(hessian)]`)
//! against num-dual's hyper-dual numbers (exact second derivatives:
//! f(x + ε₁u + ε₂v) has ε₁ε₂ part uᵀHv) and against finite differences of
//! the gradient.

// Index loops are the form #[differentiate] reads.
#![allow(clippy::needless_range_loop)]

use autodiff::differentiate;
use common::{rosenbrock_ref, smoothness_ref};

use crate::common;
use common::{basis, hyper, hyper_hessian};
use num_dual::{DualNum, HyperDual64};

/// Relative tolerance against num-dual.
const TOL: f64 = 1e-10;

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= TOL * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

// ---- scalars ----

#[differentiate(hessian)]
fn mixed(x: f64, y: f64) -> f64 {
    let a = x * y;
    a.sin() + x.powi(3) * y.exp() - (x / (1.0 + y * y)).atan()
}

fn mixed_ref<D: DualNum<f64> + Copy>(v: &[D]) -> D {
    let (x, y) = (v[0], v[1]);
    (x * y).sin() + x.powi(3) * y.exp() - (x / (y * y + 1.0)).atan()
}

#[test]
fn scalar_hessian_and_hvp() {
    for &(x, y) in &[(0.3, -0.7), (1.2, 0.4), (-2.0, 1.5)] {
        let h = mixed_hessian(x, y);
        let want = hyper_hessian(mixed_ref, &[x, y]);
        for i in 0..2 {
            for j in 0..2 {
                close(h[i][j], want[i][j], &format!("H[{i}][{j}]"));
            }
        }
        assert_eq!(h[0][1], h[1][0], "exactly symmetric");
        let v = [0.5, -1.25];
        let (hx, hy) = mixed_hvp(x, y, v[0], v[1]);
        close(hx, hyper(mixed_ref, &[x, y], &basis(2, 0), &v), "Hv x");
        close(hy, hyper(mixed_ref, &[x, y], &basis(2, 1), &v), "Hv y");
        assert_eq!(mixed(x, y), mixed_value_and_grad(x, y).0);
    }
}

// ---- an array: Rosenbrock, and the tutorial's sum of squares ----

#[differentiate(hessian)]
fn rosenbrock4(x: [f64; 4]) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

#[differentiate(hessian)]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

#[test]
fn array_hessian_is_symmetric_and_matches_hyper_duals() {
    let x = [1.2, -0.5, 0.3, 2.0];
    let h = rosenbrock4_hessian(x);
    let want = hyper_hessian(rosenbrock_ref, &x);
    for i in 0..4 {
        for j in 0..4 {
            close(h[i][j], want[i][j], &format!("H[{i}][{j}]"));
            assert_eq!(h[i][j], h[j][i]);
        }
    }
    assert_eq!(rosenbrock4(x), rosenbrock(&x));
    let hs = rosenbrock_hessian(&x);
    assert_eq!((hs.nrows(), hs.ncols()), (4, 4));
    for i in 0..4 {
        for j in 0..4 {
            assert_eq!(hs[(i, j)], h[i][j]);
        }
    }
}

#[test]
fn hvp_at_n_100_against_hyper_duals_and_gradient_differences() {
    let n = 100;
    let x: Vec<f64> = (0..n)
        .map(|i| ((i * 37 % 19) as f64) / 10.0 - 0.9)
        .collect();
    let v: Vec<f64> = (0..n).map(|i| ((i * 11 % 7) as f64) / 3.0 - 1.0).collect();
    let hv = rosenbrock_hvp(&x, &v);
    for i in [0, 1, 50, 98, 99] {
        close(
            hv[i],
            hyper(rosenbrock_ref, &x, &basis(n, i), &v),
            &format!("Hv[{i}]"),
        );
    }
    // Central differences of the gradient along v.
    let h = 1e-6;
    let up: Vec<f64> = x.iter().zip(&v).map(|(a, b)| a + h * b).collect();
    let down: Vec<f64> = x.iter().zip(&v).map(|(a, b)| a - h * b).collect();
    let (gu, gd) = (rosenbrock_grad(&up), rosenbrock_grad(&down));
    for i in 0..n {
        let fd = (gu[i] - gd[i]) / (2.0 * h);
        assert!(
            (hv[i] - fd).abs() <= 1e-4 * fd.abs().max(1.0),
            "Hv[{i}] {} vs {fd}",
            hv[i]
        );
    }
}

/// A smoothness penalty (squared second differences): its gradient
/// program's adjoint loop is gathered, and so is the one of `_hvp`.
#[differentiate(hessian)]
fn smoothness(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 1..x.len() - 1 {
        s += (x[i + 1] - 2.0 * x[i] + x[i - 1]).powi(2);
    }
    s
}

#[test]
fn stencil_hvp_against_hyper_duals() {
    for n in [2, 3, 4, 5, 30] {
        let x: Vec<f64> = (0..n).map(|i| (0.7 * i as f64).sin()).collect();
        let v: Vec<f64> = (0..n).map(|i| 0.5 - 0.1 * i as f64).collect();
        close(smoothness(&x), smoothness_ref(&x), "value");
        let hv = smoothness_hvp(&x, &v);
        assert_eq!(hv.len(), n);
        for i in 0..n {
            close(
                hv[i],
                hyper(smoothness_ref, &x, &basis(n, i), &v),
                &format!("n={n} Hv[{i}]"),
            );
        }
    }
}

#[differentiate(hessian)]
fn sum_of_squares(x: [f64; 2]) -> f64 {
    let mut s = 0.0;
    for i in 0..2 {
        s += x[i] * x[i];
    }
    s
}

#[test]
fn tutorial_rows_5_8_9() {
    // Row 5: the Hessian of sum(x ** 2) at [4, 4] is [[2, 0], [0, 2]].
    assert_eq!(sum_of_squares_hessian([4.0, 4.0]), [[2.0, 0.0], [0.0, 2.0]]);
    // Rows 8 and 9: H·v at x = [4, 4], v = [2, 2] is [4, 4].
    assert_eq!(sum_of_squares_hvp([4.0, 4.0], [2.0, 2.0]), [4.0, 4.0]);
    assert_eq!(sum_of_squares([4.0, 4.0]), 32.0);
}

// ---- branches in loops ----

#[differentiate(hessian)]
fn gated(x: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        if x[i] > 0.0 {
            s += x[i].ln() * s.exp();
        } else {
            s = s * x[i] + x[i].powi(3);
        }
    }
    s * s
}

fn gated_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut s = D::from(0.0);
    for i in 0..3 {
        if x[i].re() > 0.0 {
            s += x[i].ln() * s.exp();
        } else {
            s = s * x[i] + x[i].powi(3);
        }
    }
    s * s
}

#[test]
fn second_order_through_branches_and_loops() {
    for x in [[0.5, -1.0, 2.0], [-0.3, -0.2, 0.7], [1.5, 2.5, 0.1]] {
        let h = gated_hessian(x);
        assert_eq!(gated(x), gated_ref(&x.map(num_dual::HyperDual64::from)).re);
        let want = hyper_hessian(gated_ref, &x);
        for i in 0..3 {
            for j in 0..3 {
                close(h[i][j], want[i][j], &format!("{x:?} H[{i}][{j}]"));
            }
        }
    }
}

// ---- through calls ----

#[differentiate(hessian)]
fn inner(x: f64, y: f64) -> f64 {
    (x * y).sin() + x.exp()
}

#[differentiate(hessian)]
fn outer(a: f64, b: f64) -> f64 {
    let u = inner(a * b, a + b);
    u * u + inner(a, 2.0 * b)
}

fn outer_ref<D: DualNum<f64> + Copy>(v: &[D]) -> D {
    let inner = |x: D, y: D| (x * y).sin() + x.exp();
    let (a, b) = (v[0], v[1]);
    let u = inner(a * b, a + b);
    u * u + inner(a, b * 2.0)
}

#[test]
fn hessian_through_calls() {
    for &(a, b) in &[(0.3, -0.7), (1.1, 0.4), (-0.6, 0.9)] {
        let h = outer_hessian(a, b);
        let want = hyper_hessian(outer_ref, &[a, b]);
        for i in 0..2 {
            for j in 0..2 {
                close(h[i][j], want[i][j], &format!("H[{i}][{j}]"));
            }
        }
        let v = [0.75, -0.5];
        let (ha, hb) = outer_hvp(a, b, v[0], v[1]);
        close(ha, hyper(outer_ref, &[a, b], &basis(2, 0), &v), "Hv a");
        close(hb, hyper(outer_ref, &[a, b], &basis(2, 1), &v), "Hv b");
        close(outer(a, b), outer_ref(&[a, b]), "value");
    }
}

#[differentiate(hessian)]
fn rosen_fixed(x: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for i in 0..2 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

/// v·∇f(x), through a call to the generated gradient: its gradient in `x`
/// is H·v (the L-operator route, TUTORIAL.md row 8).
#[differentiate(wrt(x))]
fn grad_along(x: [f64; 3], v: [f64; 3]) -> f64 {
    let g: [f64; 3] = rosen_fixed_grad(x);
    g[0] * v[0] + g[1] * v[1] + g[2] * v[2]
}

#[test]
fn gradient_of_a_gradient_call_is_hvp() {
    let x = [0.4, -1.2, 0.9];
    let v = [1.5, 0.25, -2.0];
    let hv = grad_along_grad(x, v);
    let want = rosen_fixed_hvp(x, v);
    for i in 0..3 {
        close(
            hv[i],
            hyper(rosenbrock_ref, &x, &basis(3, i), &v),
            "vjp of grad·v",
        );
        close(hv[i], want[i], "vs hvp");
    }
    // Forward mode through the call: the directional derivative of v·∇f.
    let u = [0.3, -0.1, 0.7];
    let (value, dir) = grad_along_jvp(x, v, u);
    close(value, grad_along(x, v), "jvp value");
    let uhv: f64 = (0..3).map(|i| u[i] * want[i]).sum();
    close(dir, uhv, "uᵀHv");
    // `_grad_jvp` and `_grad_vjp` directly, each against hyper-duals along
    // its own direction (wᵀH = H w: the Hessian is symmetric).
    let w = [-0.5, 2.0, 0.75];
    let (g1, hv1) = rosen_fixed_grad_jvp(x, v);
    let (g2, wh) = rosen_fixed_grad_vjp(x, w);
    for i in 0..3 {
        close(
            hv1[i],
            hyper(rosenbrock_ref, &x, &basis(3, i), &v),
            "grad_jvp",
        );
        close(
            wh[i],
            hyper(rosenbrock_ref, &x, &w, &basis(3, i)),
            "grad_vjp",
        );
        let g = rosenbrock_ref(&common::seeded(&x, i)).eps;
        close(g1[i], g, "gradient of grad_jvp");
        close(g2[i], g, "gradient of grad_vjp");
    }
    close(rosen_fixed(x), rosenbrock_ref(&x), "value");
}

#[differentiate(hessian)]
fn rosen_slice(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

#[differentiate(wrt(x))]
fn grad_along_slice(x: &[f64], v: &[f64]) -> f64 {
    let g: Vec<f64> = rosen_slice_grad(x);
    let mut s = 0.0;
    for i in 0..x.len() {
        s += g[i] * v[i];
    }
    s
}

#[test]
fn gradient_call_on_slices() {
    let x = [0.4, -1.2, 0.9, 0.1];
    let v = [1.5, 0.25, -2.0, 0.5];
    let hv = grad_along_slice_grad(&x, &v);
    for i in 0..4 {
        close(
            hv[i],
            hyper(rosenbrock_ref, &x, &basis(4, i), &v),
            "vjp of grad·v",
        );
    }
    let h = rosen_slice_hessian(&x);
    let u = [0.3, -0.1, 0.7, 0.2];
    let (_, dir) = grad_along_slice_jvp(&x, &v, &u);
    let mut uhv = 0.0;
    for i in 0..4 {
        for j in 0..4 {
            uhv += u[i] * h[(i, j)] * v[j];
        }
    }
    close(dir, uhv, "uᵀHv on slices");
    close(
        grad_along_slice(&x, &v),
        grad_along_slice_jvp(&x, &v, &u).0,
        "value",
    );
    close(rosen_slice(&x), rosenbrock_ref(&x), "value");
}

// ---- the integration functions of the arrays tests ----

/// The 2-3-1 tanh network of `tests/arrays.rs`, all its inputs and
/// weights in one array `p = [x (2), w (3 x 2), v (3)]`.
#[differentiate(hessian)]
fn tanh_net(p: [f64; 11]) -> f64 {
    let mut out = 0.0;
    for j in 0..3 {
        let mut a = 0.0;
        for k in 0..2 {
            a += p[2 + 2 * j + k] * p[k];
        }
        out += p[8 + j] * a.tanh();
    }
    out
}

fn tanh_net_ref<D: DualNum<f64> + Copy>(p: &[D]) -> D {
    let mut out = D::from(0.0);
    for j in 0..3 {
        let a = p[2 + 2 * j] * p[0] + p[2 + 2 * j + 1] * p[1];
        out += p[8 + j] * a.tanh();
    }
    out
}

#[differentiate(hessian)]
fn rosenbrock2(x: [f64; 2]) -> f64 {
    100.0 * (x[1] - x[0] * x[0]).powi(2) + (1.0 - x[0]).powi(2)
}

#[test]
fn hessians_of_the_tanh_network_and_rosenbrock_2() {
    let p = [0.3, -0.8, 0.5, 1.1, -0.7, 0.2, 0.9, -1.3, 0.6, -0.4, 1.7];
    let h = tanh_net_hessian(p);
    let want = hyper_hessian(tanh_net_ref, &p);
    for i in 0..11 {
        for j in 0..11 {
            close(h[i][j], want[i][j], &format!("tanh net H[{i}][{j}]"));
            assert_eq!(h[i][j], h[j][i]);
        }
    }
    // Finite differences of the gradient, column 3.
    let e = 1e-6;
    let (mut up, mut down) = (p, p);
    up[3] += e;
    down[3] -= e;
    let (gu, gd) = (tanh_net_grad(up), tanh_net_grad(down));
    for i in 0..11 {
        let fd = (gu[i] - gd[i]) / (2.0 * e);
        assert!(
            (h[i][3] - fd).abs() <= 1e-6 * fd.abs().max(1.0),
            "fd H[{i}][3]"
        );
    }
    close(tanh_net(p), tanh_net_ref(&p), "value");
    for x in [[1.0, 1.0], [-1.2, 1.0], [0.5, -0.3]] {
        let h = rosenbrock2_hessian(x);
        let want = hyper_hessian(rosenbrock_ref, &x);
        for i in 0..2 {
            for j in 0..2 {
                close(h[i][j], want[i][j], "Rosenbrock n = 2");
            }
        }
        close(rosenbrock2(x), rosenbrock_ref(&x), "value");
    }
}

// ---- Hessians through calls on arrays and slices ----

#[differentiate(hessian)]
fn inner_arr(x: [f64; 2]) -> f64 {
    x[0] * x[0] * x[1] + x[1].sin()
}

#[differentiate(hessian)]
fn outer_arr(x: [f64; 2]) -> f64 {
    let a = inner_arr(x);
    a * a
}

#[differentiate(hessian)]
fn inner_sl(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i].exp() * x[i];
    }
    s
}

#[differentiate(hessian)]
fn outer_sl(x: &[f64]) -> f64 {
    let a = inner_sl(x);
    a.sin()
}

#[test]
fn hessian_through_calls_on_arrays_and_slices() {
    let x = [0.5, 1.5];
    let h = outer_arr_hessian(x);
    let want = hyper_hessian(
        |v| {
            let a = v[0] * v[0] * v[1] + v[1].sin();
            a * a
        },
        &x,
    );
    let hs = outer_sl_hessian(&x);
    let want_s = hyper_hessian(
        |v| {
            v.iter()
                .fold(HyperDual64::from(0.0), |s, &b| s + b.exp() * b)
                .sin()
        },
        &x,
    );
    for i in 0..2 {
        for j in 0..2 {
            close(h[i][j], want[i][j], "array");
            close(hs[(i, j)], want_s[i][j], "slice");
        }
    }
    close(outer_arr(x), inner_arr(x).powi(2), "value");
    close(outer_sl(&x), inner_sl(&x).sin(), "value");
}
