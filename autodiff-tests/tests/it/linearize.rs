//! `f_linearize` and `f_pullback`: the value once, then closures giving
//! J·v and vᵀ·J for many vectors. Each closure's result is checked
//! against num-dual (J·v) and against J·v through the identity
//! `u·(J v) = (Jᵀ u)·v` (vᵀ·J), at several vectors, for straight-line
//! code, loops with tapes, a loop that stops early, branches, array and
//! `Vec` outputs.

#![allow(clippy::needless_range_loop)]

use autodiff::differentiate;
use num_dual::{Dual64, DualNum};

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-12 * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

/// A deterministic vector in [-1, 1]^n.
fn vector(n: usize, seed: u64) -> Vec<f64> {
    (0..n)
        .map(|i| ((seed * 11 + i as u64 * 5) % 13) as f64 / 6.5 - 0.95)
        .collect()
}

// ---- a loop over a slice, a scalar output ----

#[differentiate(linearize)]
fn energy(x: &[f64], w: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let t = (x[i] * w).sin();
        s += if t > 0.0 { t * t } else { t.exp() };
    }
    s * w.exp()
}

fn energy_ref<D: DualNum<f64> + Copy>(x: &[D], w: D) -> D {
    let mut s = D::from(0.0);
    for xi in x {
        let t = (*xi * w).sin();
        s += if t.re() > 0.0 { t * t } else { t.exp() };
    }
    s * w.exp()
}

#[test]
fn energy_closures_give_jvps_and_vjps() {
    let x = vector(6, 1);
    let w = 0.8;
    let (value, jv) = energy_linearize(&x, w);
    let (value2, vj) = energy_pullback(&x, w);
    assert_eq!(value, energy(&x, w));
    assert_eq!(value2, value);
    for seed in 0..4 {
        let (xd, wd) = (vector(6, seed + 10), 0.3 - seed as f64 * 0.2);
        let duals: Vec<Dual64> = x
            .iter()
            .zip(&xd)
            .map(|(&a, &b)| Dual64::new(a, b))
            .collect();
        let want = energy_ref(&duals, Dual64::new(w, wd)).eps;
        close(jv(&xd, wd), want, "J·v");
        close(jv(&xd, wd), energy_jvp(&x, w, &xd, wd).1, "J·v = jvp");
        let u = 1.5 - seed as f64;
        let (gx, gw) = vj(u);
        let (_, (vx, vw)) = energy_vjp(&x, w, u);
        assert_eq!((&gx, gw), (&vx, vw), "the pullback is the vjp");
        let dot: f64 = gx.iter().zip(&xd).map(|(a, b)| a * b).sum::<f64>() + gw * wd;
        close(dot, u * want, "u·(J v) = (Jᵀ u)·v");
    }
}

// ---- straight-line code with an array output ----

#[differentiate(linearize)]
fn polar(p: [f64; 2], s: f64) -> [f64; 3] {
    let r = p[0].hypot(p[1]);
    let a = p[1].atan2(p[0]);
    [r * s, a.sin() * r, (a * s).cos()]
}

fn polar_ref(v: &[Dual64]) -> Vec<Dual64> {
    let r = (v[0] * v[0] + v[1] * v[1]).sqrt();
    let a = v[1].atan2(v[0]);
    vec![r * v[2], a.sin() * r, (a * v[2]).cos()]
}

#[test]
fn polar_closures_agree_with_num_dual() {
    let (p, s) = ([0.6, -0.9], 1.3);
    let (value, jv) = polar_linearize(p, s);
    let (_, vj) = polar_pullback(p, s);
    assert_eq!(value, polar(p, s));
    for seed in 0..4 {
        let d = vector(3, seed);
        let duals: Vec<Dual64> = [p[0], p[1], s]
            .iter()
            .zip(&d)
            .map(|(&a, &b)| Dual64::new(a, b))
            .collect();
        let want: Vec<f64> = polar_ref(&duals).iter().map(|x| x.eps).collect();
        let got = jv([d[0], d[1]], d[2]);
        for i in 0..3 {
            close(got[i], want[i], "J·v");
        }
        let u = vector(3, seed + 7);
        let (gp, gs) = vj([u[0], u[1], u[2]]);
        let lhs: f64 = (0..3).map(|i| u[i] * want[i]).sum();
        close(
            gp[0] * d[0] + gp[1] * d[1] + gs * d[2],
            lhs,
            "u·(J v) = (Jᵀ u)·v",
        );
    }
}

// ---- a loop that stops early, a `Vec` output ----

#[differentiate(linearize)]
fn until(x: &[f64], cap: f64) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    let mut acc = 0.0;
    for i in 0..x.len() {
        acc += x[i] * x[i];
        if acc > cap {
            break;
        }
        out[i] = acc.sqrt() * cap;
    }
    out
}

#[test]
fn until_pullback_is_the_vjp_for_every_cotangent() {
    let x = vector(5, 3);
    let cap = 1.2;
    let (value, vj) = until_pullback(&x, cap);
    assert_eq!(value, until(&x, cap));
    let (_, jv) = until_linearize(&x, cap);
    for seed in 0..3 {
        let u = vector(5, seed + 20);
        let (gx, gc) = vj(&u);
        let (_, (wx, wc)) = until_vjp(&x, cap, &u);
        assert_eq!((&gx, gc), (&wx, wc));
        let v = vector(5, seed + 30);
        let t = jv(&v, 0.5);
        assert_eq!(t, until_jvp(&x, cap, &v, 0.5).1);
        let lhs: f64 = u.iter().zip(&t).map(|(a, b)| a * b).sum();
        let rhs: f64 = gx.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>() + gc * 0.5;
        close(lhs, rhs, "u·(J v) = (Jᵀ u)·v");
    }
}

#[test]
#[should_panic(expected = "until_pullback")]
fn a_cotangent_of_the_wrong_length_names_the_companion() {
    let x = vector(5, 3);
    let (_, vj) = until_pullback(&x, 1.0);
    let _ = vj(&[1.0, 2.0]);
}

// ---- a local vector the closure reads, and its length ----

#[differentiate(linearize)]
fn ramp(loss: f64, pos: &[f64]) -> f64 {
    let mut r = vec![0.0; pos.len()];
    for i in 0..pos.len() {
        r[i] = loss + i as f64;
    }
    let s = r[1] * pos[0];
    s * s + autodiff::mean(&r)
}

#[test]
fn a_captured_vector_and_its_length() {
    // The first part returns the vector and the length it was read for
    // (the fuzzer's seed 19 case 246 moved the vector before the length
    // was read).
    let pos = [0.5, -1.0, 2.0];
    let (value, pull) = ramp_pullback(0.3, &pos);
    assert_eq!(value, ramp(0.3, &pos));
    for u in [1.0, -2.0] {
        assert_eq!(pull(u), ramp_vjp(0.3, &pos, u).1);
    }
}

// ---- the forms a user writes: generic floats, `&T`, const generics ----

#[differentiate(linearize)]
fn scaled_norm<T: autodiff::Float, const N: usize>(x: &[T; N], s: &T) -> T {
    let mut acc = T::zero();
    for i in 0..N {
        acc = acc + x[i] * x[i] * *s;
    }
    acc.sqrt()
}

#[test]
fn closures_of_a_generic_function_over_references() {
    let (x, s) = ([0.5f32, -1.5, 2.0], 0.8f32);
    let (value, jv) = scaled_norm_linearize(&x, &s);
    let (value2, vj) = scaled_norm_pullback(&x, &s);
    assert_eq!((value, value2), (scaled_norm(&x, &s), value));
    let (xd, sd) = ([1.0f32, 0.0, -1.0], 0.5f32);
    assert_eq!(jv(&xd, &sd), scaled_norm_jvp(&x, &s, &xd, &sd).1);
    assert_eq!(vj(2.0), scaled_norm_vjp(&x, &s, 2.0).1);
    // d/dx_i = x_i s / n: independent of the code under test.
    let n = (x.iter().map(|v| v * v).sum::<f32>() * s).sqrt();
    let (gx, _) = vj(1.0);
    for i in 0..3 {
        assert!((gx[i] - x[i] * s / n).abs() < 1e-6, "{gx:?}");
    }
}
