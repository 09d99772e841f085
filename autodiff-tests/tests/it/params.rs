//! Parameters as Rust passes them (SPEC §4): `&T`, `&Vec<T>`, `Vec<T>` by
//! value, in every companion, against num-dual and hyper-dual numbers.
#![deny(warnings)]
#![allow(clippy::needless_range_loop, clippy::ptr_arg)]

use crate::common;

use autodiff::differentiate;
use common::{close, dual_grad, hyper_hessian, Dual64, DualNum, HyperDual64};

/// A float passed by reference, read as `u`, `*u` and `u.sin()`.
#[differentiate(hessian)]
fn by_ref(u: &f64, v: f64, c: &f64) -> f64 {
    u * v + u.sin() + *u * c
}

/// A `&f64` passed on to another differentiated function.
#[differentiate(hessian)]
fn passes_on(a: &f64, b: f64) -> f64 {
    let t = by_ref(a, b, a);
    t * *a
}

/// A constant `&f64` (not in `wrt`) read by code kept as written.
#[differentiate(wrt(x))]
fn scaled(x: f64, k: &f64) -> f64 {
    x * k + f64::max(*k, 0.5).ln()
}

#[differentiate(hessian)]
fn weighted(x: &Vec<f64>, y: Vec<f64>) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * y[i] * y[i];
    }
    s
}

#[test]
fn floats_by_reference() {
    let f = |p: &[HyperDual64]| p[0] * p[1] + p[0].sin() + p[0] * p[2];
    for p in [[1.0, 2.0, 3.0], [-0.5, 0.25, 4.0]] {
        let (gu, gv, gc) = by_ref_grad(&p[0], p[1], &p[2]);
        let d = |q: &[Dual64]| q[0] * q[1] + q[0].sin() + q[0] * q[2];
        let want = dual_grad(d, &p);
        assert!(
            close(gu, want[0], 1e-14) && close(gv, want[1], 1e-14) && close(gc, want[2], 1e-14)
        );
        let (value, tangent) = by_ref_jvp(&p[0], p[1], &p[2], &1.0, 0.5, &-1.0);
        assert_eq!(value, by_ref(&p[0], p[1], &p[2]));
        assert!(close(tangent, want[0] + 0.5 * want[1] - want[2], 1e-14));
        let h = by_ref_hessian(&p[0], p[1], &p[2]);
        let hw = hyper_hessian(f, &p);
        for i in 0..3 {
            for j in 0..3 {
                assert!(close(h[i][j], hw[i][j], 1e-12), "({i}, {j})");
            }
        }
    }
    let d = |q: &[Dual64]| {
        let a = q[0];
        (a * q[1] + a.sin() + a * a) * a
    };
    let (ga, gb) = passes_on_grad(&1.0, 2.0);
    let want = dual_grad(d, &[1.0, 2.0]);
    assert!(close(ga, want[0], 1e-14) && close(gb, want[1], 1e-14));
    assert_eq!(scaled_grad(2.0, &3.0), 3.0);
}

#[test]
fn vectors_by_reference_and_by_value() {
    let x = vec![1.0, 2.0, -0.5];
    let y = vec![3.0, 4.0, 0.25];
    let (gx, gy) = weighted_grad(&x, y.clone());
    let mut p = x.clone();
    p.extend(&y);
    let d = |q: &[Dual64]| (0..3).fold(Dual64::from(0.0), |s, i| s + q[i] * q[3 + i] * q[3 + i]);
    let want = dual_grad(d, &p);
    let got: Vec<f64> = gx.iter().chain(&gy).copied().collect();
    for (g, w) in got.iter().zip(&want) {
        assert!(close(*g, *w, 1e-14));
    }
    // The tangent of a `Vec` by value is a slice.
    let (_, t) = weighted_jvp(&x, y.clone(), &vec![1.0, 0.0, 0.0], &[0.0, 1.0, 0.0]);
    assert!(close(t, want[0] + want[4], 1e-14));
    let h = weighted_hessian(&x, y.clone());
    let hf = |q: &[HyperDual64]| {
        (0..3).fold(HyperDual64::from(0.0), |s, i| {
            s + q[i] * q[3 + i] * q[3 + i]
        })
    };
    let hw = hyper_hessian(hf, &p);
    for i in 0..6 {
        for j in 0..6 {
            assert!(close(h[(i, j)], hw[i][j], 1e-12), "({i}, {j})");
        }
    }
}

/// A tuple parameter (SPEC §4): its fields are differentiated, its tangent
/// and gradient are the tuple type.
#[differentiate(hessian)]
fn tupled(p: (f64, [f64; 2]), x: f64) -> f64 {
    let (a, w) = p;
    a * w[0] * x + p.1[1].sin() * x * x
}

fn tupled_dual<D: DualNum<f64> + Copy>(z: &[D]) -> D {
    z[0] * z[1] * z[3] + z[2].sin() * z[3] * z[3]
}

#[test]
fn tuple_parameters_have_tuple_gradients() {
    let (p, x) = ((0.7, [1.3, -0.4]), 2.1);
    let z = [p.0, p.1[0], p.1[1], x];
    let want = dual_grad(tupled_dual, &z);
    let ((ga, gw), gx) = tupled_grad(p, x);
    let got = [ga, gw[0], gw[1], gx];
    for k in 0..4 {
        assert!(
            close(got[k], want[k], 1e-13),
            "grad {k}: {} vs {}",
            got[k],
            want[k]
        );
    }
    let (v, (g2, gx2)) = tupled_value_and_grad(p, x);
    assert_eq!(v, tupled(p, x));
    assert_eq!((g2, gx2), ((ga, gw), gx));
    let (v3, t) = tupled_jvp(p, x, (1.0, [0.5, -2.0]), 0.25);
    assert_eq!(v3, v);
    let dir = [1.0, 0.5, -2.0, 0.25];
    let want_t: f64 = (0..4).map(|k| want[k] * dir[k]).sum();
    assert!(close(t, want_t, 1e-13));
    let (_, ((va, vw), vx)) = tupled_vjp(p, x, 3.0);
    assert!(
        close(va, 3.0 * ga, 1e-15)
            && close(vw[1], 3.0 * gw[1], 1e-15)
            && close(vx, 3.0 * gx, 1e-15)
    );
    // H·v regrouped, against hyper-dual numbers.
    let h = hyper_hessian(tupled_dual, &z);
    let ((ha, hw), hx) = tupled_hvp(p, x, (1.0, [0.5, -2.0]), 0.25);
    let got = [ha, hw[0], hw[1], hx];
    for i in 0..4 {
        let want: f64 = (0..4).map(|j| h[i][j] * dir[j]).sum();
        assert!(close(got[i], want, 1e-12), "hvp {i}");
    }
}
