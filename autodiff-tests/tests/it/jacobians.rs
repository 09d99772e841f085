//! Jacobians and Hessians computed in one program (SPEC §3 shapes): the
//! rows of a short output, the columns of a short vector parameter, the
//! columns of a small Hessian, each against num-dual (one dual pass per
//! input) at several points, and the zeros a basis direction leaves
//! structural.

#![allow(clippy::needless_range_loop)]

use autodiff::differentiate;
use num_dual::{Dual64, DualNum, HyperDual64};

use crate::common::{dual_jacobian, hyper_hessian};

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-11 * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

/// A deterministic point in [-1, 1]^n.
fn point(n: usize, seed: u64) -> Vec<f64> {
    (0..n)
        .map(|i| ((seed * 7 + i as u64 * 13) % 17) as f64 / 8.5 - 0.95)
        .collect()
}

// ---- rows: a reprojection with a small-angle branch (ADBench's BA) ----

#[differentiate]
fn project(cam: &[f64; 6], x: &[f64; 3], w: f64) -> [f64; 2] {
    let t = cam[0] * cam[0] + cam[1] * cam[1] + cam[2] * cam[2];
    let mut p = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    if t > 1e-8 {
        let th = t.sqrt();
        let (c, s) = (th.cos(), th.sin());
        let k = [cam[0] / th, cam[1] / th, cam[2] / th];
        let d = k[0] * p[0] + k[1] * p[1] + k[2] * p[2];
        let q = [
            p[0] * c + (k[1] * p[2] - k[2] * p[1]) * s + k[0] * d * (1.0 - c),
            p[1] * c + (k[2] * p[0] - k[0] * p[2]) * s + k[1] * d * (1.0 - c),
            p[2] * c + (k[0] * p[1] - k[1] * p[0]) * s + k[2] * d * (1.0 - c),
        ];
        p = q;
    } else {
        p[0] += cam[1] * p[2] - cam[2] * p[1];
        p[1] += cam[2] * p[0] - cam[0] * p[2];
    }
    let z = p[2] + 3.0;
    [w * p[0] / z, w * p[1] / z]
}

fn project_ref<D: DualNum<f64> + Copy>(v: &[D]) -> Vec<D> {
    let (cam, x, w) = (&v[0..6], &v[6..9], v[9]);
    let t = cam[0] * cam[0] + cam[1] * cam[1] + cam[2] * cam[2];
    let mut p = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    if t.re() > 1e-8 {
        let th = t.sqrt();
        let (c, s) = (th.cos(), th.sin());
        let k = [cam[0] / th, cam[1] / th, cam[2] / th];
        let d = k[0] * p[0] + k[1] * p[1] + k[2] * p[2];
        let one = D::from(1.0);
        p = [
            p[0] * c + (k[1] * p[2] - k[2] * p[1]) * s + k[0] * d * (one - c),
            p[1] * c + (k[2] * p[0] - k[0] * p[2]) * s + k[1] * d * (one - c),
            p[2] * c + (k[0] * p[1] - k[1] * p[0]) * s + k[2] * d * (one - c),
        ];
    } else {
        p[0] += cam[1] * p[2] - cam[2] * p[1];
        p[1] += cam[2] * p[0] - cam[0] * p[2];
    }
    let z = p[2] + 3.0;
    vec![w * p[0] / z, w * p[1] / z]
}

#[test]
fn reprojection_rows_in_one_program() {
    for seed in 0..6 {
        let mut v = point(10, seed);
        if seed == 5 {
            // The small-angle branch.
            v[..3].copy_from_slice(&[1e-5, -2e-5, 0.0]);
        }
        let cam: [f64; 6] = v[..6].try_into().unwrap();
        let x: [f64; 3] = v[6..9].try_into().unwrap();
        let (jc, jx, jw) = project_jacobian(&cam, &x, v[9]);
        let want = dual_jacobian(project_ref, &v);
        for i in 0..2 {
            for k in 0..6 {
                close(jc[i][k], want[i][k], "d/dcam");
            }
            for k in 0..3 {
                close(jx[i][k], want[i][6 + k], "d/dx");
            }
            close(jw[i], want[i][9], "d/dw");
        }
    }
}

// ---- rows: an output written at computed indices, and accumulated ----

#[differentiate]
fn spread(x: [f64; 3], s: &[f64]) -> [f64; 3] {
    let mut out = [0.0; 3];
    for i in 0..3 {
        out[i] = x[i] * s[i];
        for j in 0..s.len() {
            if (i + j) % 2 == 0 {
                out[(i + j) % 3] += (x[i] * s[j]).sin();
            }
        }
    }
    out
}

fn spread_ref<D: DualNum<f64> + Copy>(v: &[D]) -> Vec<D> {
    let (x, s) = (&v[..3], &v[3..]);
    let mut out = vec![D::from(0.0); 3];
    for i in 0..3 {
        out[i] = x[i] * s[i];
        for j in 0..s.len() {
            if (i + j) % 2 == 0 {
                out[(i + j) % 3] += (x[i] * s[j]).sin();
            }
        }
    }
    out
}

#[test]
fn rows_of_an_output_written_in_loops() {
    for seed in 0..4 {
        let v = point(7, seed);
        let x: [f64; 3] = v[..3].try_into().unwrap();
        let (jx, js) = spread_jacobian(x, &v[3..]);
        let want = dual_jacobian(spread_ref, &v);
        for i in 0..3 {
            for k in 0..3 {
                close(jx[i][k], want[i][k], "d/dx");
            }
            assert_eq!(js[i].len(), 4);
            for k in 0..4 {
                close(js[i][k], want[i][3 + k], "d/ds");
            }
        }
    }
}

// ---- rows: a tuple of floats over a slice ----

#[differentiate]
fn moments(x: &[f64]) -> (f64, f64, f64) {
    let n = x.len() as f64;
    let mut m = 0.0;
    for i in 0..x.len() {
        m += x[i];
    }
    m /= n;
    let mut v = 0.0;
    for i in 0..x.len() {
        v += (x[i] - m) * (x[i] - m);
    }
    (m, v / n, x[0].exp() * m)
}

#[test]
fn rows_of_a_tuple_output() {
    let x = point(5, 3);
    let (rows,) = (moments_jacobian(&x),);
    let want = dual_jacobian(
        |v| {
            let n = v.len() as f64;
            let m = v.iter().fold(Dual64::from(0.0), |a, &b| a + b) / n;
            let var = v
                .iter()
                .fold(Dual64::from(0.0), |a, &b| a + (b - m) * (b - m))
                / n;
            vec![m, var, v[0].exp() * m]
        },
        &x,
    );
    for i in 0..3 {
        for k in 0..5 {
            close(rows[i][k], want[i][k], "moments J");
        }
    }
}

// ---- columns: a short vector parameter, a longer output ----

#[differentiate]
fn lift(x: [f64; 2]) -> [f64; 5] {
    let r = x[0].hypot(x[1]);
    [r, x[0] / r, x[1] / r, x[0] * x[1], (x[0] - x[1]).tanh()]
}

#[test]
fn columns_of_a_short_parameter() {
    for seed in 0..4 {
        let v = point(2, seed);
        let j = lift_jacobian([v[0], v[1]]);
        let want = dual_jacobian(
            |x| {
                let r = (x[0] * x[0] + x[1] * x[1]).sqrt();
                vec![r, x[0] / r, x[1] / r, x[0] * x[1], (x[0] - x[1]).tanh()]
            },
            &v,
        );
        for i in 0..5 {
            for k in 0..2 {
                close(j[i][k], want[i][k], "lift J");
            }
        }
    }
}

// ---- structural zeros: one output's NaN never reaches another's row ----

#[differentiate]
fn split(x: [f64; 2]) -> [f64; 2] {
    [x[0].sqrt(), x[1] * 2.0]
}

#[test]
fn a_nan_row_stays_in_its_row() {
    let j = split_jacobian([-1.0, 3.0]);
    assert!(j[0][0].is_nan());
    assert_eq!(j[0][1], 0.0);
    assert_eq!(j[1], [0.0, 2.0]);
}

// ---- a small Hessian: its columns in one program ----

#[differentiate(hessian)]
fn chain(x: [f64; 5]) -> f64 {
    let mut s = 0.0;
    for i in 0..4 {
        let d = x[i + 1] - x[i] * x[i];
        s += 100.0 * d * d + (1.0 - x[i]).powi(2) + (x[i] * x[i + 1]).sin();
    }
    s * x[4].exp()
}

fn chain_ref(x: &[HyperDual64]) -> HyperDual64 {
    let mut s = HyperDual64::from(0.0);
    for i in 0..4 {
        let d = x[i + 1] - x[i] * x[i];
        s += d * d * 100.0 + (-x[i] + 1.0).powi(2) + (x[i] * x[i + 1]).sin();
    }
    s * x[4].exp()
}

#[test]
fn a_small_hessian_in_one_program() {
    for seed in 0..4 {
        let v = point(5, seed);
        let x: [f64; 5] = v.clone().try_into().unwrap();
        let h = chain_hessian(x);
        let want = hyper_hessian(chain_ref, &v);
        for i in 0..5 {
            for k in 0..5 {
                assert!(
                    (h[i][k] - want[i][k]).abs() <= 1e-10 * want[i][k].abs().max(1.0),
                    "H[{i}][{k}]: {} vs {}",
                    h[i][k],
                    want[i][k]
                );
                assert_eq!(h[i][k], h[k][i], "exactly symmetric");
            }
        }
    }
}

// ---- a function that calls another: rows one vjp each ----

#[differentiate]
fn scale2(u: [f64; 2], s: f64) -> [f64; 2] {
    [u[0] * s, u[1] * s.sin()]
}

#[differentiate]
fn twice(x: [f64; 2], s: f64) -> [f64; 2] {
    let y = scale2(x, s);
    [y[0] * y[1], y[1] + s]
}

#[test]
fn rows_through_a_first_order_callee() {
    // `scale2` has no second-order companions: the rows cannot be one
    // program (the forward mode of the vjp), so each is a vjp.
    let (x, s) = ([0.3, -1.2], 0.7);
    let (jx, js) = twice_jacobian(x, s);
    let want = dual_jacobian(
        |v| {
            let y = [v[0] * v[2], v[1] * v[2].sin()];
            vec![y[0] * y[1], y[1] + v[2]]
        },
        &[x[0], x[1], s],
    );
    for i in 0..2 {
        close(jx[i][0], want[i][0], "d/dx0");
        close(jx[i][1], want[i][1], "d/dx1");
        close(js[i], want[i][2], "d/ds");
    }
}
