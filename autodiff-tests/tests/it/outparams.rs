//! `&mut` parameters (SPEC §4): out-parameters as outputs, and parameters
//! read and written with Enzyme's `Duplicated` convention, in every
//! companion, against num-dual (each function written again over dual
//! numbers) and central differences of the original function.
#![deny(warnings)]
#![allow(clippy::needless_range_loop, clippy::ptr_arg)]

use crate::common;

use autodiff::differentiate;
use common::{close, Dual64, DualNum};

/// A slice out-parameter, written element by element (C's convention).
#[differentiate]
fn scale(x: &[f64], a: f64, out: &mut [f64]) {
    for i in 0..x.len() {
        out[i] = a * x[i] * x[i].sin();
    }
}

fn scale_dual(x: &[Dual64], a: Dual64) -> Vec<Dual64> {
    x.iter().map(|&v| a * v * v.sin()).collect()
}

/// A scalar out-parameter: `f_grad(x, out)` writes the value.
#[differentiate]
fn energy(x: [f64; 2], e: &mut f64) {
    *e = x[0] * x[0] * x[1] + (3.0 * x[1]).exp();
}

/// A fixed array read and written, and a value returned.
#[differentiate]
fn step(h: f64, y: &mut [f64; 2]) -> f64 {
    let y0 = y[0];
    y[0] += h * y[1];
    y[1] -= h * y0.sin();
    y[0] * y[1]
}

fn step_dual(h: Dual64, y: [Dual64; 2]) -> (Dual64, [Dual64; 2]) {
    let y0 = y[0] + h * y[1];
    let y1 = y[1] - h * y[0].sin();
    (y0 * y1, [y0, y1])
}

/// A `Vec` accumulated into, not differentiated (`wrt(x)`): elements the
/// body does not write keep the caller's values.
#[differentiate(wrt(x))]
fn accumulate(x: &[f64], buf: &mut Vec<f64>, k: usize) {
    for i in 0..k {
        buf[i] += x[i].sin() * x[i];
    }
}

fn fd(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], v: &[f64]) -> Vec<f64> {
    let h = 1e-6;
    let plus: Vec<f64> = x.iter().zip(v).map(|(a, b)| a + h * b).collect();
    let minus: Vec<f64> = x.iter().zip(v).map(|(a, b)| a - h * b).collect();
    f(&plus)
        .iter()
        .zip(f(&minus))
        .map(|(p, m)| (p - m) / (2.0 * h))
        .collect()
}

#[test]
fn a_slice_out_parameter_gets_its_value_tangent_and_cotangent() {
    let x = [0.3, -1.2, 2.5];
    let a = 1.7;
    let (x_dot, a_dot) = ([0.5, 1.0, -2.0], 0.25);
    let mut out = [0.0; 3];
    let mut out_dot = [9.0; 3];
    scale_jvp(&x, a, &mut out, &x_dot, a_dot, &mut out_dot);
    let xs: Vec<Dual64> = x
        .iter()
        .zip(&x_dot)
        .map(|(&v, &d)| Dual64::new(v, d))
        .collect();
    let want = scale_dual(&xs, Dual64::new(a, a_dot));
    for i in 0..3 {
        assert!(close(out[i], want[i].re, 1e-14), "value {i}");
        assert!(close(out_dot[i], want[i].eps, 1e-13), "tangent {i}");
    }
    // vᵀJ against the transpose of J·e_j from num-dual.
    let out_bar = [1.0, -0.5, 2.0];
    let mut out2 = [0.0; 3];
    let (x_bar, a_bar) = scale_vjp(&x, a, &mut out2, &out_bar);
    assert_eq!(out2, out);
    for j in 0..3 {
        let xs: Vec<Dual64> = (0..3)
            .map(|i| Dual64::new(x[i], if i == j { 1.0 } else { 0.0 }))
            .collect();
        let col = scale_dual(&xs, Dual64::from(a));
        let want: f64 = (0..3).map(|i| out_bar[i] * col[i].eps).sum();
        assert!(close(x_bar[j], want, 1e-13), "x_bar {j}");
    }
    let col = scale_dual(&x.map(Dual64::from), Dual64::new(a, 1.0));
    let want: f64 = (0..3).map(|i| out_bar[i] * col[i].eps).sum();
    assert!(close(a_bar, want, 1e-13));
    // The Jacobian, against central differences of the function itself.
    let mut out3 = [0.0; 3];
    let (jx, ja) = scale_jacobian(&x, a, &mut out3);
    assert_eq!(out3, out);
    let f = |z: &[f64]| {
        let mut o = vec![0.0; 3];
        scale(&z[..3], z[3], &mut o);
        o
    };
    let z = [x[0], x[1], x[2], a];
    for j in 0..4 {
        let mut e = [0.0; 4];
        e[j] = 1.0;
        let col = fd(f, &z, &e);
        for i in 0..3 {
            let got = if j < 3 { jx[(i, j)] } else { ja[i] };
            assert!((got - col[i]).abs() < 1e-7, "J[{i}][{j}]");
        }
    }
}

#[test]
fn a_scalar_out_parameter_has_a_gradient() {
    let x = [0.7, -0.4];
    let mut e = 0.0;
    let g = energy_grad(x, &mut e);
    let mut want_e = 0.0;
    energy(x, &mut want_e);
    assert_eq!(e, want_e);
    for j in 0..2 {
        let d = |i: usize| Dual64::new(x[i], if i == j { 1.0 } else { 0.0 });
        let want = d(0) * d(0) * d(1) + (d(1) * 3.0).exp();
        assert!(close(g[j], want.eps, 1e-14), "grad {j}");
    }
    let mut e2 = 0.0;
    let bar = energy_vjp(x, &mut e2, 2.0);
    assert_eq!(e2, want_e);
    assert!(close(bar[0], 2.0 * g[0], 1e-15) && close(bar[1], 2.0 * g[1], 1e-15));
    let (mut e3, mut e3_dot) = (0.0, 0.0);
    energy_jvp(x, &mut e3, [1.0, -1.0], &mut e3_dot);
    assert_eq!(e3, want_e);
    assert!(close(e3_dot, g[0] - g[1], 1e-14));
}

#[test]
fn a_parameter_read_and_written_is_duplicated() {
    let (h, y) = (0.1, [0.8, -0.3]);
    // jvp: y_dot holds the input tangent on entry, the output's on return.
    let (h_dot, y_dot_in) = (0.5, [1.0, 2.0]);
    let mut yy = y;
    let mut y_dot = y_dot_in;
    let (r, r_dot) = step_jvp(h, &mut yy, h_dot, &mut y_dot);
    let (wr, wy) = step_dual(
        Dual64::new(h, h_dot),
        [
            Dual64::new(y[0], y_dot_in[0]),
            Dual64::new(y[1], y_dot_in[1]),
        ],
    );
    assert!(close(r, wr.re, 1e-15) && close(r_dot, wr.eps, 1e-14));
    for i in 0..2 {
        assert!(close(yy[i], wy[i].re, 1e-15), "value {i}");
        assert!(close(y_dot[i], wy[i].eps, 1e-14), "tangent {i}");
    }
    // vjp: y_bar holds the output cotangent on entry, the input's on return.
    let (r_bar, y_bar_out) = (1.5, [-1.0, 0.5]);
    let mut yy = y;
    let mut y_bar = y_bar_out;
    let (r2, h_bar) = step_vjp(h, &mut yy, r_bar, &mut y_bar);
    assert_eq!(r2, r);
    // Each input's cotangent: r_bar dr/dz + y_bar_out · dy/dz, by num-dual.
    let along = |dh: f64, dy: [f64; 2]| {
        let (r, y) = step_dual(
            Dual64::new(h, dh),
            [Dual64::new(y[0], dy[0]), Dual64::new(y[1], dy[1])],
        );
        r_bar * r.eps + y_bar_out[0] * y[0].eps + y_bar_out[1] * y[1].eps
    };
    assert!(close(h_bar, along(1.0, [0.0, 0.0]), 1e-14));
    assert!(close(y_bar[0], along(0.0, [1.0, 0.0]), 1e-14));
    assert!(close(y_bar[1], along(0.0, [0.0, 1.0]), 1e-14));
}

#[test]
fn an_accumulator_keeps_what_the_body_does_not_write() {
    let x = [0.4, 1.1, -0.6];
    let mut buf = vec![10.0, 20.0, 30.0, 40.0];
    let mut buf_dot = vec![0.0; 4];
    accumulate_jvp(&x, &mut buf, 2, &[1.0, 1.0, 1.0], &mut buf_dot);
    let g = |v: f64| Dual64::new(v, 1.0).sin() * Dual64::new(v, 1.0);
    assert!(close(buf[0], 10.0 + g(0.4).re, 1e-15));
    assert!(close(buf[1], 20.0 + g(1.1).re, 1e-15));
    assert_eq!(&buf[2..], &[30.0, 40.0]);
    assert!(close(buf_dot[0], g(0.4).eps, 1e-15) && close(buf_dot[1], g(1.1).eps, 1e-15));
    assert_eq!(&buf_dot[2..], &[0.0, 0.0]);
    let mut buf2 = vec![10.0, 20.0, 30.0, 40.0];
    let x_bar = accumulate_vjp(&x, &mut buf2, 2, &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(buf2, buf);
    assert!(close(x_bar[0], g(0.4).eps, 1e-15) && close(x_bar[1], 2.0 * g(1.1).eps, 1e-15));
    assert_eq!(x_bar[2], 0.0);
}

#[test]
#[should_panic(expected = "accumulate_jvp: `buf_dot` has length 3 but must have length 4")]
fn a_tangent_of_the_wrong_length_names_the_companion_and_the_argument() {
    let mut buf = vec![0.0; 4];
    accumulate_jvp(&[1.0, 2.0], &mut buf, 1, &[1.0, 1.0], &mut vec![0.0; 3]);
}

/// Reset, then accumulate: the out-parameter's value on entry is
/// overwritten before anything reads it, so it is an output only (with a
/// gradient), not read and written.
#[differentiate]
fn reset_then_accumulate(x: &[f64], e: &mut f64) {
    *e = 0.0;
    for i in 0..x.len() {
        *e += x[i] * x[i];
    }
}

/// The same with a slice filled first.
#[differentiate]
fn filled_then_added(x: &[f64], out: &mut [f64]) {
    out.fill(1.0);
    for i in 0..x.len() {
        out[i] += x[i] * x[i];
    }
}

#[test]
fn an_out_parameter_overwritten_first_is_not_read() {
    let mut e = 7.0;
    let g: Vec<f64> = reset_then_accumulate_grad(&[1.0, 2.0], &mut e);
    assert_eq!((g, e), (vec![2.0, 4.0], 5.0));
    let mut out = [9.0, 9.0];
    let g: Vec<f64> = filled_then_added_vjp(&[1.0, 2.0], &mut out, &[1.0, 0.5]);
    assert_eq!((g, out), (vec![2.0, 2.0], [2.0, 5.0]));
}
