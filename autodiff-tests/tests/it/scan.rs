//! `autodiff::scan` and `scan_n` inside `#[differentiate]` (Theano's
//! `scan`), in both modes, against num-dual: a polynomial from its
//! coefficients, elementwise powers `A**k`, a tanh RNN over 1 000 steps
//! and an LSTM-style recurrence.

#![allow(clippy::needless_range_loop)]

use autodiff::{differentiate, scan, scan_n, sigmoid};
use common::dual_grad;
use num_dual::{Dual64, DualNum};

use crate::common;

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

/// Theano's polynomial: the components c_i x^i as the per-step outputs,
/// the value as the final carry (with the running power).
#[differentiate]
fn polynomial(coeffs: &[f64], x: f64) -> f64 {
    let ((value, _), components) = scan((0.0, 1.0), coeffs, |(acc, power), c| {
        ((acc + c * power, power * x), c * power)
    });
    let mut check = 0.0;
    for i in 0..components.len() {
        check += components[i];
    }
    value + 0.0 * check
}

#[test]
fn polynomial_both_ways() {
    let c = [1.5, -2.0, 0.5, 3.0];
    let x = 0.7;
    let value: f64 = (0..4).map(|i| c[i] * x.powi(i as i32)).sum();
    close(polynomial(&c, x), value, 1e-15, "value");
    let (gc, gx) = polynomial_grad(&c, x);
    for i in 0..4 {
        close(gc[i], x.powi(i as i32), 1e-15, "d/dc");
    }
    let want: f64 = (1..4).map(|i| i as f64 * c[i] * x.powi(i as i32 - 1)).sum();
    close(gx, want, 1e-14, "d/dx");
    let (_, t) = polynomial_jvp(&c, x, &[0.0; 4], 1.0);
    close(t, want, 1e-14, "forward");
}

/// `A**k` elementwise by repeated multiplication, as Theano's scan
/// tutorial does, with `scan_n`.
#[differentiate(wrt(a))]
fn power(a: [f64; 3], k: usize) -> [f64; 3] {
    let (result, _) = scan_n([1.0; 3], k, |mut prior, _| {
        for j in 0..3 {
            prior[j] *= a[j];
        }
        (prior, 0.0)
    });
    result
}

#[test]
fn elementwise_power() {
    let a = [0.5, -1.5, 2.0];
    assert_eq!(power(a, 3), [0.125, -3.375, 8.0]);
    let j = power_jacobian(a, 3);
    for i in 0..3 {
        for m in 0..3 {
            let want = if i == m { 3.0 * a[i] * a[i] } else { 0.0 };
            close(j[i][m], want, 1e-15, "J");
        }
    }
    let (y, t) = power_jvp(a, 4, [1.0, 0.0, 0.0]);
    assert_eq!(y, power(a, 4));
    close(t[0], 4.0 * a[0].powi(3), 1e-15, "jvp");
}

/// A tanh RNN cell unrolled over the input sequence; the loss is the sum
/// of the hidden states.
#[differentiate(wrt(w, u, b))]
fn rnn(w: f64, u: f64, b: f64, xs: &[f64]) -> f64 {
    let (_, hs) = scan(0.0, xs, |h, x| {
        let next = (w * h + u * x + b).tanh();
        (next, next)
    });
    let mut loss = 0.0;
    for t in 0..hs.len() {
        loss += hs[t];
    }
    loss
}

fn rnn_ref(p: &[Dual64], xs: &[f64]) -> Dual64 {
    let (w, u, b) = (p[0], p[1], p[2]);
    let mut h = Dual64::from(0.0);
    let mut loss = Dual64::from(0.0);
    for &x in xs {
        h = (w * h + u * x + b).tanh();
        loss += h;
    }
    loss
}

#[test]
fn rnn_over_a_thousand_steps() {
    let xs: Vec<f64> = (0..1000).map(|t| (t as f64 * 0.37).sin()).collect();
    let p = [0.8, 0.5, -0.1];
    let (gw, gu, gb) = rnn_grad(p[0], p[1], p[2], &xs);
    let want = dual_grad(|v| rnn_ref(v, &xs), &p);
    close(gw, want[0], 1e-11, "d/dw");
    close(gu, want[1], 1e-11, "d/du");
    close(gb, want[2], 1e-11, "d/db");
    close(
        rnn(p[0], p[1], p[2], &xs),
        rnn_ref(&p.map(Dual64::from), &xs).re,
        1e-13,
        "value",
    );
    let (_, t) = rnn_jvp(p[0], p[1], p[2], &xs, 1.0, 0.0, 0.0);
    close(t, want[0], 1e-11, "forward");
}

/// An LSTM-style cell: gates from `sigmoid`, the cell state and the
/// hidden state carried as a pair.
#[differentiate(wrt(wf, wi, wo, wg))]
fn lstm(wf: f64, wi: f64, wo: f64, wg: f64, xs: &[f64]) -> f64 {
    let ((h, _), _) = scan((0.0, 0.0), xs, |(h, c), x| {
        let f = sigmoid(wf * x + 0.5 * h);
        let i = sigmoid(wi * x - 0.25 * h);
        let o = sigmoid(wo * x + h);
        let g = (wg * x + h).tanh();
        let c2 = f * c + i * g;
        let h2 = o * c2.tanh();
        ((h2, c2), h2)
    });
    h
}

fn lstm_ref(p: &[Dual64], xs: &[f64]) -> Dual64 {
    let s = |v: Dual64| (Dual64::from(1.0) + (-v).exp()).recip();
    let (mut h, mut c) = (Dual64::from(0.0), Dual64::from(0.0));
    for &x in xs {
        let f = s(p[0] * x + h * 0.5);
        let i = s(p[1] * x - h * 0.25);
        let o = s(p[2] * x + h);
        let g = (p[3] * x + h).tanh();
        c = f * c + i * g;
        h = o * c.tanh();
    }
    h
}

#[test]
fn lstm_recurrence() {
    let xs: Vec<f64> = (0..50).map(|t| (t as f64 * 0.61).cos()).collect();
    let p = [0.3, -0.7, 1.1, 0.9];
    let g = lstm_grad(p[0], p[1], p[2], p[3], &xs);
    let want = dual_grad(|v| lstm_ref(v, &xs), &p);
    for (k, got) in [g.0, g.1, g.2, g.3].into_iter().enumerate() {
        close(got, want[k], 1e-11, "lstm");
    }
    close(
        lstm(p[0], p[1], p[2], p[3], &xs),
        lstm_ref(&p.map(Dual64::from), &xs).re,
        1e-13,
        "value",
    );
}

/// A scan over no elements returns its initial carry; its gradient is
/// that of the initial value.
#[test]
fn scan_over_nothing() {
    assert_eq!(polynomial(&[], 3.0), 0.0);
    assert_eq!(polynomial_grad(&[], 3.0), (vec![], 0.0));
    assert_eq!(power([2.0, 3.0, 4.0], 0), [1.0; 3]);
    assert_eq!(power_jacobian([2.0, 3.0, 4.0], 0), [[0.0; 3]; 3]);
    let (gw, gu, gb) = rnn_grad(0.5, 0.5, 0.5, &[]);
    assert_eq!((gw, gu, gb), (0.0, 0.0, 0.0));
}
