//! The array helpers (`sum`, `dot`, `softmax`, `matvec`, ...) inside
//! `#[differentiate]`: every companion against num-dual on random inputs
//! of several sizes, edge values (±700, -inf) included, and against the
//! runtime functions' own values.

#![allow(clippy::needless_range_loop)]

use autodiff::{
    differentiate, dot, log_softmax, logsumexp, matmul, matvec, mean, norm, outer, sigmoid,
    softmax, softplus, sum, transpose, vecmat,
};
use common::dual_grad;
use num_dual::{Dual64, DualNum};

use crate::common;

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

/// A small deterministic generator (no dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
    }
    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
}

// ---- num-dual references, written out by hand ----

fn r_max<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    x.iter().copied().fold(D::from(f64::NEG_INFINITY), |m, v| {
        if v.re() > m.re() {
            v
        } else {
            m
        }
    })
}

fn r_lse<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let m = r_max(x);
    let s = x.iter().fold(D::from(0.0), |s, &v| s + (v - m).exp());
    m + s.ln()
}

fn r_softmax<D: DualNum<f64> + Copy>(x: &[D]) -> Vec<D> {
    let m = r_max(x);
    let s = x.iter().fold(D::from(0.0), |s, &v| s + (v - m).exp());
    x.iter().map(|&v| (v - m).exp() / s).collect()
}

fn r_sigmoid<D: DualNum<f64> + Copy>(v: D) -> D {
    (D::from(1.0) + (-v).exp()).recip()
}

fn r_softplus<D: DualNum<f64> + Copy>(v: D) -> D {
    if v.re() > 0.0 {
        v + (-v).exp().ln_1p()
    } else {
        v.exp().ln_1p()
    }
}

// ---- reductions ----

#[differentiate]
fn reductions(x: &[f64], y: &[f64]) -> f64 {
    sum(x) + 0.5 * mean(x) + dot(x, y) * norm(y) + logsumexp(x)
}

fn reductions_ref(v: &[Dual64], n: usize) -> Dual64 {
    let (x, y) = (&v[..n], &v[n..]);
    let s = x.iter().fold(Dual64::from(0.0), |a, &b| a + b);
    let d = x
        .iter()
        .zip(y)
        .fold(Dual64::from(0.0), |a, (&p, &q)| a + p * q);
    let nrm = y.iter().fold(Dual64::from(0.0), |a, &b| a + b * b).sqrt();
    s + s / n as f64 * 0.5 + d * nrm + r_lse(x)
}

#[test]
fn reductions_against_num_dual() {
    let mut rng = Rng(7);
    for n in [1, 3, 6] {
        for _ in 0..3 {
            let (x, y) = (rng.vec(n), rng.vec(n));
            let (gx, gy) = reductions_grad(&x, &y);
            let mut p = x.clone();
            p.extend(&y);
            let want = dual_grad(|v| reductions_ref(v, n), &p);
            for i in 0..n {
                close(gx[i], want[i], 1e-12, "d/dx");
                close(gy[i], want[n + i], 1e-12, "d/dy");
            }
            let v = reductions(&x, &y);
            close(
                v,
                reductions_ref(&p.iter().map(|&a| Dual64::from(a)).collect::<Vec<_>>(), n).re,
                1e-13,
                "value",
            );
            assert_eq!(v, reductions_value_and_grad(&x, &y).0);
        }
    }
}

#[differentiate]
fn lse(x: &[f64]) -> f64 {
    logsumexp(x)
}

#[test]
fn logsumexp_is_stable_and_its_gradient_is_softmax() {
    for x in [
        vec![700.0, 700.0],
        vec![-800.0, 0.0, 3.0],
        vec![800.0, -800.0],
    ] {
        let g = lse_grad(&x);
        let s = softmax(&x[..]);
        for i in 0..x.len() {
            close(g[i], s[i], 1e-15, "softmax");
        }
        assert!(lse(&x).is_finite());
    }
    close(
        lse(&[700.0, 700.0]),
        700.0 + 2f64.ln(),
        1e-15,
        "value at 700",
    );
    // No finite element: -inf, and no NaN in the gradient's sum.
    assert_eq!(lse(&[]), f64::NEG_INFINITY);
    assert_eq!(lse(&[f64::NEG_INFINITY; 2]), f64::NEG_INFINITY);
}

// ---- same-shape vector functions ----

#[differentiate]
fn weighted_softmax(x: &[f64], w: &[f64]) -> f64 {
    let s = softmax(x);
    let l = log_softmax(x);
    let g = sigmoid(x);
    let p = softplus(x);
    let mut acc = 0.0;
    for i in 0..x.len() {
        acc += w[i] * (s[i] + 0.25 * l[i] - g[i] * p[i]);
    }
    acc
}

fn weighted_softmax_ref(v: &[Dual64], n: usize) -> Dual64 {
    let (x, w) = (&v[..n], &v[n..]);
    let s = r_softmax(x);
    let lse = r_lse(x);
    let mut acc = Dual64::from(0.0);
    for i in 0..n {
        let l = x[i] - lse;
        acc += w[i] * (s[i] + l * 0.25 - r_sigmoid(x[i]) * r_softplus(x[i]));
    }
    acc
}

#[test]
fn vector_functions_against_num_dual() {
    let mut rng = Rng(11);
    for n in [1, 2, 5] {
        for scale in [1.0, 300.0] {
            let x: Vec<f64> = rng.vec(n).iter().map(|v| v * scale).collect();
            let w = rng.vec(n);
            let (gx, gw) = weighted_softmax_grad(&x, &w);
            let mut p = x.clone();
            p.extend(&w);
            let want = dual_grad(|v| weighted_softmax_ref(v, n), &p);
            for i in 0..n {
                close(gx[i], want[i], 1e-11, "d/dx");
                close(gw[i], want[n + i], 1e-11, "d/dw");
            }
            // Forward mode along a random direction.
            let (dx, dw) = (rng.vec(n), rng.vec(n));
            let (_, t) = weighted_softmax_jvp(&x, &w, &dx, &dw);
            let dir: f64 = (0..n).map(|i| want[i] * dx[i] + want[n + i] * dw[i]).sum();
            close(t, dir, 1e-11, "jvp");
            assert_eq!(
                weighted_softmax(&x, &w),
                weighted_softmax_value_and_grad(&x, &w).0
            );
        }
    }
}

#[differentiate]
fn softmax_vec(x: &[f64]) -> Vec<f64> {
    softmax(x)
}

#[test]
fn softmax_jacobian_and_extremes() {
    let x = [0.5, -1.0, 2.0];
    let j = softmax_vec_jacobian(&x);
    let s = softmax(&x[..]);
    for i in 0..3 {
        for k in 0..3 {
            let want = s[i] * (if i == k { 1.0 } else { 0.0 } - s[k]);
            close(j[(i, k)], want, 1e-15, "J");
        }
    }
    // Far apart inputs: no overflow, and a zero Jacobian.
    let (y, t) = softmax_vec_jvp(&[800.0, 0.0], &[1.0, 1.0]);
    assert_eq!(y, vec![1.0, 0.0]);
    assert!(t.iter().all(|v| v.abs() < 1e-300));
    assert_eq!(softmax_vec(&x), softmax(&x[..]));
}

// ---- matrix products ----

#[differentiate]
fn products(a: [[f64; 3]; 2], b: [[f64; 2]; 3], x: [f64; 3], y: [f64; 2], w: [[f64; 2]; 2]) -> f64 {
    let c = matmul(&a, &b);
    let t = transpose(&a);
    let v = matvec(&a, &x);
    let u = vecmat(&y, &a);
    let o = outer(&y, &x);
    let mut s = 0.0;
    for i in 0..2 {
        for j in 0..2 {
            s += w[i][j] * c[i][j];
        }
        s += v[i] * y[i];
    }
    for k in 0..3 {
        s += u[k] * x[k] * t[k][0] + o[1][k] * o[0][k];
    }
    s
}

fn products_ref(p: &[Dual64]) -> Dual64 {
    let a = |i: usize, k: usize| p[3 * i + k];
    let b = |k: usize, j: usize| p[6 + 2 * k + j];
    let x = |k: usize| p[12 + k];
    let y = |i: usize| p[15 + i];
    let w = |i: usize, j: usize| p[17 + 2 * i + j];
    let mut s = Dual64::from(0.0);
    for i in 0..2 {
        for j in 0..2 {
            let mut c = Dual64::from(0.0);
            for k in 0..3 {
                c += a(i, k) * b(k, j);
            }
            s += w(i, j) * c;
        }
        let mut v = Dual64::from(0.0);
        for k in 0..3 {
            v += a(i, k) * x(k);
        }
        s += v * y(i);
    }
    for k in 0..3 {
        let u = y(0) * a(0, k) + y(1) * a(1, k);
        s += u * x(k) * a(0, k) + (y(1) * x(k)) * (y(0) * x(k));
    }
    s
}

#[test]
fn matrix_products_against_num_dual() {
    let mut rng = Rng(3);
    for _ in 0..4 {
        let p = rng.vec(21);
        let a = [[p[0], p[1], p[2]], [p[3], p[4], p[5]]];
        let b = [[p[6], p[7]], [p[8], p[9]], [p[10], p[11]]];
        let x = [p[12], p[13], p[14]];
        let y = [p[15], p[16]];
        let w = [[p[17], p[18]], [p[19], p[20]]];
        let (ga, gb, gx, gy, gw) = products_grad(a, b, x, y, w);
        let flat: Vec<f64> = ga
            .iter()
            .flatten()
            .chain(gb.iter().flatten())
            .chain(&gx)
            .chain(&gy)
            .chain(gw.iter().flatten())
            .copied()
            .collect();
        let want = dual_grad(products_ref, &p);
        for i in 0..21 {
            close(flat[i], want[i], 1e-12, &format!("d/dp[{i}]"));
        }
        // The runtime functions compute what the companions compute.
        assert_eq!(
            products(a, b, x, y, w),
            products_value_and_grad(a, b, x, y, w).0
        );
        assert_eq!(
            matvec(&a, &x)[1],
            a[1][0] * x[0] + a[1][1] * x[1] + a[1][2] * x[2]
        );
        assert_eq!(transpose(&a)[2], [a[0][2], a[1][2]]);
        assert_eq!(outer(&y, &x)[1][2], y[1] * x[2]);
        assert_eq!(vecmat(&y, &a)[0], y[0] * a[0][0] + y[1] * a[1][0]);
    }
}

/// Slices of rows: the dynamic forms.
#[differentiate(wrt(a, x))]
fn layer(a: &[[f64; 3]], x: &[f64], y: &[f64]) -> f64 {
    let v = matvec(a, x);
    let s = sigmoid(&v);
    dot(&s, y)
}

#[test]
fn dense_layer_on_slices() {
    let a = [
        [0.2, -0.4, 1.1],
        [0.7, 0.3, -0.9],
        [-1.2, 0.5, 0.05],
        [0.4, 0.4, 0.4],
    ];
    let x = [0.9, -0.6, 0.3];
    let y = [1.0, -2.0, 0.5, 0.25];
    let (ga, gx) = layer_grad(&a, &x, &y);
    let mut p: Vec<f64> = a.iter().flatten().copied().collect();
    p.extend(&x);
    let f = |v: &[Dual64]| {
        let mut out = Dual64::from(0.0);
        for i in 0..4 {
            let mut z = Dual64::from(0.0);
            for k in 0..3 {
                z += v[3 * i + k] * v[12 + k];
            }
            out += r_sigmoid(z) * y[i];
        }
        out
    };
    let want = dual_grad(f, &p);
    for i in 0..4 {
        for k in 0..3 {
            close(ga[i][k], want[3 * i + k], 1e-12, "d/da");
        }
    }
    for k in 0..3 {
        close(gx[k], want[12 + k], 1e-12, "d/dx");
    }
    assert_eq!(layer(&a, &x, &y), layer_value_and_grad(&a, &x, &y).0);
    let _ = mean(&x[..]) + norm(&x[..]) + log_softmax(&x[..])[0] + softplus(1.0);
}

/// `sum` and `sigmoid`/`softplus` of a matrix.
#[differentiate]
fn matrix_elementwise(m: [[f64; 3]; 2]) -> f64 {
    sum(&sigmoid(m)) + 0.5 * sum(&softplus(m)) + sum(&m)
}

#[test]
fn matrix_sum_and_elementwise() {
    let m = [[0.3, -700.0, 2.0], [701.0, -0.4, 0.0]];
    let g = matrix_elementwise_grad(m);
    for i in 0..2 {
        for j in 0..3 {
            let s = r_sigmoid(Dual64::new(m[i][j], 1.0));
            let p = r_softplus(Dual64::new(m[i][j], 1.0));
            close(g[i][j], s.eps + 0.5 * p.eps + 1.0, 1e-15, "d/dm");
        }
    }
    let v = matrix_elementwise(m);
    assert!(v.is_finite());
    assert_eq!(v, matrix_elementwise_value_and_grad(m).0);
}

/// Logistic regression written three ways: the gradients agree.
const N: usize = 6;
const D: usize = 3;

#[differentiate(wrt(w))]
fn logreg_loops(w: [f64; D], x: [[f64; D]; N], y: [f64; N]) -> f64 {
    let mut loss = 0.0;
    for i in 0..N {
        let mut z = 0.0;
        for j in 0..D {
            z += x[i][j] * w[j];
        }
        let p = 1.0 / (1.0 + (-z).exp());
        loss -= y[i] * p.ln() + (1.0 - y[i]) * (1.0 - p).ln();
    }
    loss
}

#[differentiate(wrt(w))]
fn logreg_iterators(w: [f64; D], x: [[f64; D]; N], y: [f64; N]) -> f64 {
    let mut loss = 0.0;
    for i in 0..N {
        let z = x[i].iter().zip(w.iter()).map(|(a, b)| a * b).sum::<f64>();
        let p = 1.0 / (1.0 + (-z).exp());
        loss -= y[i] * p.ln() + (1.0 - y[i]) * (1.0 - p).ln();
    }
    loss
}

#[differentiate(wrt(w))]
fn logreg_helpers(w: [f64; D], x: [[f64; D]; N], y: [f64; N]) -> f64 {
    let p = sigmoid(matvec(&x, &w));
    let mut loss = 0.0;
    for i in 0..N {
        loss -= y[i] * p[i].ln() + (1.0 - y[i]) * (1.0 - p[i]).ln();
    }
    loss
}

#[test]
fn logistic_regression_three_ways() {
    let mut rng = Rng(5);
    let w = [0.3, -0.8, 0.5];
    let mut x = [[0.0; D]; N];
    for row in x.iter_mut() {
        for v in row.iter_mut() {
            *v = rng.next();
        }
    }
    let y = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
    let a = logreg_loops_grad(w, x, y);
    let b = logreg_iterators_grad(w, x, y);
    let c = logreg_helpers_grad(w, x, y);
    // The hand-derived gradient: Σ (p_i - y_i) x_i.
    for j in 0..D {
        let want: f64 = (0..N)
            .map(|i| {
                let z: f64 = (0..D).map(|k| x[i][k] * w[k]).sum();
                (1.0 / (1.0 + (-z).exp()) - y[i]) * x[i][j]
            })
            .sum();
        close(a[j], want, 1e-12, "loops");
        close(b[j], want, 1e-12, "iterators");
        close(c[j], want, 1e-12, "helpers");
    }
    close(
        logreg_loops(w, x, y),
        logreg_helpers(w, x, y),
        1e-14,
        "same loss",
    );
    close(
        logreg_iterators(w, x, y),
        logreg_loops(w, x, y),
        1e-14,
        "same loss",
    );
}

/// Finite differences of the original (plain Rust, runtime helpers)
/// function against the generated gradient, for each helper family.
#[test]
fn helpers_against_finite_differences() {
    let mut rng = Rng(19);
    for n in [2, 4] {
        let (x, y) = (rng.vec(n), rng.vec(n));
        let (gx, _) = weighted_softmax_grad(&x, &y);
        let (rx, ry) = reductions_grad(&x, &y);
        for i in 0..n {
            let h = 1e-6;
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (weighted_softmax(&up, &y) - weighted_softmax(&down, &y)) / (2.0 * h);
            close(gx[i], fd, 1e-7, "softmax family vs fd");
            let fd = (reductions(&up, &y) - reductions(&down, &y)) / (2.0 * h);
            close(rx[i], fd, 1e-7, "reductions vs fd");
            let _ = ry;
        }
    }
}

/// Second order through the helpers (they are loops of the pipeline):
/// the Hessian of logsumexp is diag(s) - s sᵀ, with s the softmax.
#[differentiate(hessian)]
fn lse3(x: [f64; 3]) -> f64 {
    logsumexp(&x) + 0.5 * dot(&x, &x)
}

#[test]
fn hessian_through_helpers() {
    let x = [0.4, -1.1, 2.3];
    let h = lse3_hessian(x);
    let s = softmax(&x);
    for i in 0..3 {
        for j in 0..3 {
            let want = if i == j { s[i] + 1.0 } else { 0.0 } - s[i] * s[j];
            close(h[i][j], want, 1e-14, "H");
        }
    }
    let (v, g) = lse3_value_and_grad(x);
    close(g[0], s[0] + x[0], 1e-15, "gradient");
    assert_eq!(v, lse3(x));
}

/// Every helper rule's second-order form, through `hessian`: a function
/// of `x` built from all the helpers (with a constant matrix `a`).
#[differentiate(wrt(x), hessian)]
fn every_helper(x: [f64; 4], a: [[f64; 4]; 3]) -> f64 {
    let z = matvec(&a, &x);
    let s = softmax(&z);
    let q = softplus(&z);
    let o = outer(&z, &x);
    let m = matmul(&transpose(&a), &o);
    logsumexp(&x)
        + dot(&s, &q)
        + dot(&log_softmax(&x), &sigmoid(&x))
        + 0.1 * sum(&m)
        + norm(&vecmat(&z, &a))
        + mean(&z)
        + 0.3 * sum(&sigmoid(&o))
        + 0.2 * sum(&softplus(&o))
}

/// `every_helper` on dual numbers (hyper-duals for the Hessian).
fn every_helper_ref<D: DualNum<f64> + Copy>(x: &[D], a: &[[f64; 4]; 3]) -> D {
    let c = |v: f64| D::from(v);
    let z: Vec<D> = a
        .iter()
        .map(|row| (0..4).fold(c(0.0), |s, j| s + x[j] * row[j]))
        .collect();
    let s = r_softmax(&z);
    let lse_x = r_lse(x);
    let mut v = lse_x;
    for i in 0..3 {
        v += s[i] * r_softplus(z[i]);
    }
    for j in 0..4 {
        v += (x[j] - lse_x) * r_sigmoid(x[j]);
    }
    // o[i][j] = z[i] x[j]; m = aᵀ o: m[k][j] = Σ_i a[i][k] o[i][j].
    for k in 0..4 {
        for j in 0..4 {
            let mk = (0..3).fold(c(0.0), |t, i| t + z[i] * x[j] * a[i][k]);
            v += mk * 0.1;
        }
    }
    let zt: Vec<D> = (0..4)
        .map(|j| (0..3).fold(c(0.0), |t, i| t + z[i] * a[i][j]))
        .collect();
    v += zt.iter().fold(c(0.0), |t, &e| t + e * e).sqrt();
    v += (z[0] + z[1] + z[2]) / 3.0;
    for i in 0..3 {
        for j in 0..4 {
            let oij = z[i] * x[j];
            v += r_sigmoid(oij) * 0.3 + r_softplus(oij) * 0.2;
        }
    }
    v
}

#[test]
fn every_helper_rule_has_a_right_second_order_form() {
    let mut rng = Rng(31);
    for _ in 0..5 {
        let xv = rng.vec(4);
        let x = [xv[0], xv[1], xv[2], xv[3]];
        let mut a = [[0.0; 4]; 3];
        for row in &mut a {
            for e in row.iter_mut() {
                *e = 0.5 * rng.next();
            }
        }
        let want = common::hyper_hessian(|p| every_helper_ref(p, &a), &x);
        let h = every_helper_hessian(x, a);
        for i in 0..4 {
            for j in 0..4 {
                close(h[i][j], want[i][j], 1e-10, &format!("H[{i}][{j}]"));
            }
        }
        // The gradient and one Hessian-vector product on their own.
        let g = every_helper_grad(x, a);
        let gd = dual_grad(|p| every_helper_ref(p, &a), &x);
        let v = [0.3, -0.7, 1.1, 0.2];
        let hv = every_helper_hvp(x, a, v);
        for i in 0..4 {
            close(g[i], gd[i], 1e-12, "gradient");
            let want_hv: f64 = (0..4).map(|j| want[i][j] * v[j]).sum();
            close(hv[i], want_hv, 1e-10, "H v");
        }
        assert_eq!(every_helper(x, a), every_helper_value_and_grad(x, a).0);
    }
}

#[differentiate]
fn empty_helpers(x: &[f64]) -> f64 {
    let s = softmax(x);
    let l = log_softmax(x);
    sum(x) + dot(&s, &l) + norm(x)
}

/// Helpers on empty slices: sums are 0, `softmax` is empty.
#[test]
fn helpers_on_empty_slices() {
    let e: [f64; 0] = [];
    assert_eq!(empty_helpers(&e), 0.0);
    assert_eq!(empty_helpers_value_and_grad(&e), (0.0, vec![]));
    assert!(softmax(&e[..]).is_empty());
}

/// The helpers on `f32` arrays: literals in the rewritten loops take `f32`.
#[differentiate]
fn helpers_f32(x: [f32; 3], w: &[f32]) -> f32 {
    logsumexp(&x) + sum(&sigmoid(x)) + dot(w, &softmax(&x)) + w.iter().map(|v| v * v).sum::<f32>()
}

#[test]
fn helpers_at_f32() {
    let x = [0.5_f32, -1.0, 2.0];
    let w = [1.0_f32, 2.0, 3.0];
    let (gx, gw) = helpers_f32_grad(x, &w);
    // Against finite differences of the f32 function itself.
    let h = 1e-2_f32;
    for i in 0..3 {
        let (mut up, mut down) = (x, x);
        up[i] += h;
        down[i] -= h;
        let fd = (helpers_f32(up, &w) - helpers_f32(down, &w)) / (2.0 * h);
        assert!((gx[i] - fd).abs() < 2e-3, "d/dx[{i}]: {} vs {fd}", gx[i]);
    }
    let s = softmax(&x);
    for i in 0..3 {
        assert!((gw[i] - (s[i] + 2.0 * w[i])).abs() < 1e-5);
    }
}

/// An element of a computed array: the cross-entropy idiom
/// `-log_softmax(&z)[k]`, and `to_vec()` or `map` results indexed.
#[differentiate]
fn indexed_results(z: &[f64], x: [f64; 3], k: usize) -> f64 {
    let b = [x[0]; 3];
    -autodiff::log_softmax(z)[k]
        + autodiff::softmax(z)[0] * 0.1
        + b.to_vec()[2] * x[1]
        + (x.map(|v| v * v))[2]
}

#[test]
fn elements_of_computed_arrays() {
    let (z, x) = ([0.3, -1.2, 2.0], [1.0, 2.0, 3.0]);
    let reference = |p: &[Dual64]| {
        let (z, x) = (&p[..3], &p[3..]);
        let m = z[2];
        let lse = (z.iter().fold(Dual64::from(0.0), |s, v| s + (*v - m).exp())).ln() + m;
        -(z[2] - lse) + (z[0] - lse).exp() * 0.1 + x[0] * x[1] + x[2] * x[2]
    };
    let (value, (gz, gx)) = indexed_results_value_and_grad(&z, x, 2);
    assert_eq!(value, indexed_results(&z, x, 2));
    let p: Vec<f64> = z.iter().chain(&x).copied().collect();
    let got: Vec<f64> = gz.iter().chain(&gx).copied().collect();
    for (g, w) in got.iter().zip(dual_grad(reference, &p)) {
        assert!((g - w).abs() < 1e-13 * (1.0 + w.abs()), "{g} vs {w}");
    }
}
