//! Rust as users write it (SPEC §5): every loop form, early exits,
//! closures, casts. Each function is checked in forward and reverse mode
//! against num-dual on a hand-written reference (the same algorithm on dual
//! numbers, its decisions taken on the real parts) and, where it has
//! `hessian`, against hyper-dual numbers.
#![deny(warnings)]
// The functions under test are written the way users write them (index
// loops, manual copies and swaps), which clippy would rewrite.
#![allow(
    clippy::needless_range_loop,
    clippy::manual_memcpy,
    clippy::manual_swap,
    clippy::useless_vec,
    clippy::assign_op_pattern
)]

use crate::common;

use autodiff::differentiate;
use common::{close, dual_grad, hyper_hessian, seeded, Dual64, DualNum, HyperDual64};

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(close(*g, *w, tol), "{what}: {got:?} vs {want:?}");
    }
}

// ---------------------------------------------------------------------------
// `while` with any condition.
// ---------------------------------------------------------------------------

/// Newton's square root, to a relative tolerance.
#[differentiate(hessian)]
fn newton_sqrt(a: f64) -> f64 {
    let mut x = a;
    let mut k = 0;
    while (x * x - a).abs() > 1e-14 * a && k < 60 {
        x = 0.5 * (x + a / x);
        k += 1;
    }
    x
}

fn newton_sqrt_ref<D: DualNum<f64> + Copy>(a: D) -> D {
    let mut x = a;
    let mut k = 0;
    while (x * x - a).re().abs() > 1e-14 * a.re() && k < 60 {
        x = (x + a / x) * 0.5;
        k += 1;
    }
    x
}

#[test]
fn newton_iteration_in_a_while_loop() {
    for a in [2.0, 0.25, 9.0, 1e4] {
        let want = newton_sqrt_ref(Dual64::new(a, 1.0)).eps;
        assert!(close(newton_sqrt_grad(a), want, 1e-12), "{a}");
        assert!(close(newton_sqrt_jvp(a, 1.0).1, want, 1e-12), "{a}");
        assert!(close(newton_sqrt_vjp(a, 2.0).1, 2.0 * want, 1e-12), "{a}");
        let h = hyper_hessian(|v: &[HyperDual64]| newton_sqrt_ref(v[0]), &[a]);
        assert!(close(newton_sqrt_hessian(a)[0][0], h[0][0], 1e-9), "{a}");
        // The derivative of sqrt, as a check of the reference.
        assert!(close(want, 0.5 / a.sqrt(), 1e-12));
    }
}

/// A fixed point of a contraction with `loop` and `break value`.
#[differentiate]
fn fixed_point(c: f64) -> f64 {
    let mut x = 0.0;
    loop {
        let next = (x * 0.5 + c).cos();
        if (next - x).abs() < 1e-14 {
            break next;
        }
        x = next;
    }
}

#[test]
fn loop_with_break_value() {
    for c in [0.3, -1.0, 2.0] {
        let mut x = Dual64::from(0.0);
        let cd = Dual64::new(c, 1.0);
        loop {
            let next = (x * 0.5 + cd).cos();
            if (next - x).re.abs() < 1e-14 {
                x = next;
                break;
            }
            x = next;
        }
        assert!(close(fixed_point_grad(c), x.eps, 1e-10), "{c}");
        assert!(close(fixed_point_jvp(c, 1.0).1, x.eps, 1e-10), "{c}");
    }
}

/// Insertion sort (`while j > 0 && a[j - 1] > a[j]`), then weights.
#[differentiate]
fn sorted_weighted(x: &[f64]) -> f64 {
    let n = x.len();
    let mut a = vec![0.0; n];
    for i in 0..n {
        a[i] = x[i];
    }
    for i in 1..n {
        let mut j = i;
        while j > 0 && a[j - 1] > a[j] {
            let t = a[j];
            a[j] = a[j - 1];
            a[j - 1] = t;
            j -= 1;
        }
    }
    let mut s = 0.0;
    for (i, v) in a.iter().enumerate() {
        s += (i as f64 + 1.0) * v * v;
    }
    s
}

fn sorted_weighted_ref(x: &[Dual64]) -> Dual64 {
    let mut a = x.to_vec();
    a.sort_by(|p, q| p.re.total_cmp(&q.re));
    a.iter()
        .enumerate()
        .map(|(i, v)| *v * *v * (i as f64 + 1.0))
        .fold(Dual64::from(0.0), |s, t| s + t)
}

#[test]
fn insertion_sort_with_a_short_circuit_condition() {
    for x in [
        vec![0.3, -1.2, 2.5, 0.1],
        vec![],
        vec![1.0],
        vec![5.0, 4.0, 3.0, 2.0, 1.0],
    ] {
        let want = dual_grad(sorted_weighted_ref, &x);
        assert_close(&sorted_weighted_grad(&x), &want, 1e-12, "grad");
        let v: Vec<f64> = (0..x.len()).map(|i| 0.5 - i as f64).collect();
        let jvp: f64 = want.iter().zip(&v).map(|(g, d)| g * d).sum();
        assert!(close(sorted_weighted_jvp(&x, &v).1, jvp, 1e-12));
    }
}

// ---------------------------------------------------------------------------
// `break`, `continue`, `return` anywhere.
// ---------------------------------------------------------------------------

/// A guard at the top.
#[differentiate(hessian)]
fn guarded(x: f64, y: f64) -> f64 {
    if x < 0.0 {
        return y * y * x;
    }
    x.sin() * y
}

#[test]
fn early_return_in_a_guard() {
    for (x, y) in [(-1.0, 3.0), (1.0, 3.0), (0.5, -2.0)] {
        let r = |v: &[Dual64]| {
            if v[0].re < 0.0 {
                v[1] * v[1] * v[0]
            } else {
                v[0].sin() * v[1]
            }
        };
        let (gx, gy) = guarded_grad(x, y);
        assert_close(&[gx, gy], &dual_grad(r, &[x, y]), 1e-12, "grad");
        let rh = |v: &[HyperDual64]| {
            if v[0].re < 0.0 {
                v[1] * v[1] * v[0]
            } else {
                v[0].sin() * v[1]
            }
        };
        let h = hyper_hessian(rh, &[x, y]);
        let got = guarded_hessian(x, y);
        for i in 0..2 {
            assert_close(&got[i], &h[i], 1e-12, "hessian");
        }
    }
}

/// `continue` and `break` in one loop.
#[differentiate]
fn partial_sum(x: &[f64], limit: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        if x[i] < 0.0 {
            continue;
        }
        s += x[i] * x[i] * limit.sqrt();
        if s > limit {
            break;
        }
    }
    s
}

#[test]
fn break_and_continue() {
    let x = [0.5, -1.0, 2.0, 0.3, 4.0];
    for limit in [0.1, 4.5, 100.0] {
        let r = |v: &[Dual64]| {
            let (x, limit) = (&v[..5], v[5]);
            let mut s = Dual64::from(0.0);
            for xi in x {
                if xi.re < 0.0 {
                    continue;
                }
                s += *xi * *xi * limit.sqrt();
                if s.re > limit.re {
                    break;
                }
            }
            s
        };
        let mut p = x.to_vec();
        p.push(limit);
        let want = dual_grad(r, &p);
        let (gx, gl) = partial_sum_grad(&x, limit);
        let mut got = gx;
        got.push(gl);
        assert_close(&got, &want, 1e-12, "grad");
    }
}

/// A `return` from inside a loop.
#[differentiate]
fn first_big(x: &[f64], t: f64) -> f64 {
    for i in 0..x.len() {
        if x[i] * t > 1.0 {
            return x[i] * t * t;
        }
    }
    t
}

#[test]
fn return_inside_a_loop() {
    let x = [0.5, -1.0, 2.0, 0.3, 4.0];
    for t in [0.9, 0.1, 3.0] {
        let (gx, gt) = first_big_grad(&x, t);
        let hit = x.iter().position(|v| v * t > 1.0);
        match hit {
            Some(i) => {
                let mut want = vec![0.0; 5];
                want[i] = t * t;
                assert_close(&gx, &want, 1e-15, "x");
                assert!(close(gt, 2.0 * x[i] * t, 1e-15));
            }
            None => assert_eq!((gx, gt), (vec![0.0; 5], 1.0)),
        }
    }
}

// ---------------------------------------------------------------------------
// Ranges: `a..=b`, `.rev()`, `.step_by(k)`.
// ---------------------------------------------------------------------------

#[differentiate]
fn ranges(x: &[f64], y: f64) -> f64 {
    let mut s = 0.0;
    for i in 1..=x.len() - 1 {
        s += x[i] * x[i - 1];
    }
    for i in (0..=2).rev() {
        s = s * 0.5 + y * x[i];
    }
    for i in (1..x.len()).step_by(2) {
        s += x[i].sin() * y;
    }
    s
}

fn ranges_ref(v: &[Dual64]) -> Dual64 {
    let (x, y) = (&v[..v.len() - 1], v[v.len() - 1]);
    let mut s = Dual64::from(0.0);
    for i in 1..x.len() {
        s += x[i] * x[i - 1];
    }
    for i in [2, 1, 0] {
        s = s * 0.5 + y * x[i];
    }
    for i in (1..x.len()).step_by(2) {
        s += x[i].sin() * y;
    }
    s
}

#[test]
fn inclusive_reversed_and_stepped_ranges() {
    let x = [0.3, -0.7, 1.1, 0.4, 2.0, -0.2];
    let mut p = x.to_vec();
    p.push(1.3);
    let want = dual_grad(ranges_ref, &p);
    let (gx, gy) = ranges_grad(&x, 1.3);
    let mut got = gx;
    got.push(gy);
    assert_close(&got, &want, 1e-12, "grad");
    let dir: Vec<f64> = (0..6).map(|i| 0.1 * i as f64 - 0.2).collect();
    let jvp: f64 = want
        .iter()
        .zip(dir.iter().chain([&0.5]))
        .map(|(g, d)| g * d)
        .sum();
    assert!(close(ranges_jvp(&x, 1.3, &dir, 0.5).1, jvp, 1e-12));
}

// ---------------------------------------------------------------------------
// Closures bound with `let` (an RK4 step).
// ---------------------------------------------------------------------------

#[differentiate]
fn rk4(y0: f64, k: f64, h: f64) -> f64 {
    let rhs = |t: f64, y: f64| -k * y + t.sin();
    let mut y = y0;
    let mut t = 0.0;
    for _ in 0..10 {
        let k1 = rhs(t, y);
        let k2 = rhs(t + h / 2.0, y + h * k1 / 2.0);
        let k3 = rhs(t + h / 2.0, y + h * k2 / 2.0);
        let k4 = rhs(t + h, y + h * k3);
        y += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
        t += h;
    }
    y
}

fn rk4_ref(v: &[Dual64]) -> Dual64 {
    let (y0, k, h) = (v[0], v[1], v[2]);
    let rhs = |t: Dual64, y: Dual64| -k * y + t.sin();
    let (mut y, mut t) = (y0, Dual64::from(0.0));
    for _ in 0..10 {
        let k1 = rhs(t, y);
        let k2 = rhs(t + h / 2.0, y + h * k1 / 2.0);
        let k3 = rhs(t + h / 2.0, y + h * k2 / 2.0);
        let k4 = rhs(t + h, y + h * k3);
        y += h / 6.0 * (k1 + k2 * 2.0 + k3 * 2.0 + k4);
        t += h;
    }
    y
}

#[test]
fn closures_called_in_the_body() {
    let p = [1.0, 0.5, 0.1];
    let want = dual_grad(rk4_ref, &p);
    let (a, b, c) = rk4_grad(p[0], p[1], p[2]);
    assert_close(&[a, b, c], &want, 1e-12, "grad");
    let t = rk4_jvp(p[0], p[1], p[2], 0.0, 1.0, 0.0).1;
    assert!(close(t, rk4_ref(&seeded(&p, 1)).eps, 1e-12));
}

// ---------------------------------------------------------------------------
// Casts and predicates.
// ---------------------------------------------------------------------------

/// `f32` inputs, accumulated in `f64`.
#[differentiate]
fn norm_in_f64(x: &[f32]) -> f32 {
    let mut s = 0.0_f64;
    for v in x.iter() {
        s += (*v as f64) * (*v as f64);
    }
    s.sqrt() as f32
}

/// A float cast to an integer is piecewise constant; predicates decide.
#[differentiate]
fn stepped(x: f64, y: f64) -> f64 {
    let n = (x * 3.0) as i64;
    let mut s = x * n as f64;
    if y.is_nan() || !y.is_finite() {
        return s;
    }
    if y.is_sign_negative() {
        s -= y;
    } else {
        s += y * y;
    }
    s
}

#[test]
fn casts_between_floats_and_to_integers() {
    let x = [3.0_f32, 4.0];
    let g = norm_in_f64_grad(&x);
    assert!(
        (g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6,
        "{g:?}"
    );
    let (v, t) = norm_in_f64_jvp(&x, &[1.0, 0.0]);
    assert_eq!(v, 5.0);
    assert!((t - 0.6).abs() < 1e-6);
    // x = 1.2: n = 3; d/dx = n, d/dy = 2y (y >= 0) or -1.
    assert_eq!(stepped_grad(1.2, 0.5), (3.0, 1.0));
    assert_eq!(stepped_grad(1.2, -0.5), (3.0, -1.0));
    assert_eq!(stepped_grad(1.2, f64::NAN).0, 3.0);
    assert_eq!(stepped_grad(1.2, f64::INFINITY), (3.0, 0.0));
}

// ---------------------------------------------------------------------------
// Iterating over constant data tables, enumerate in chains, a..=b chains.
// ---------------------------------------------------------------------------

/// A weighted least-squares fit over a table of pairs.
#[differentiate(wrt(a, b))]
fn fit(a: f64, b: f64, data: &[(f64, f64)]) -> f64 {
    let mut s = 0.0;
    for (i, &(x, y)) in data.iter().enumerate() {
        let r = a * x + b - y;
        s += r * r * (i as f64 + 1.0);
    }
    s
}

/// One hidden unit per row of a table of rows.
#[differentiate(wrt(w))]
fn rows_of_a_table(w: &[f64], xs: &[Vec<f64>]) -> f64 {
    let mut s = 0.0;
    for row in xs.iter() {
        let mut z = 0.0;
        for j in 0..w.len() {
            z += w[j] * row[j];
        }
        s += z.tanh();
    }
    s
}

#[differentiate]
fn chains(y: &[f64], t: f64) -> f64 {
    let a = y
        .iter()
        .enumerate()
        .map(|(i, v)| v * v * i as f64)
        .sum::<f64>();
    let b = (1..=4).map(|k| (k as f64 * t).sin()).sum::<f64>();
    a + b
}

#[test]
fn loops_and_chains_over_data() {
    let data = [(1.0, 2.0), (2.0, 3.5), (3.0, 6.0)];
    let r = |v: &[Dual64]| {
        let mut s = Dual64::from(0.0);
        for (i, &(x, y)) in data.iter().enumerate() {
            let r = v[0] * x + v[1] - y;
            s += r * r * (i as f64 + 1.0);
        }
        s
    };
    let (ga, gb) = fit_grad(1.5, 0.2, &data);
    assert_close(&[ga, gb], &dual_grad(r, &[1.5, 0.2]), 1e-12, "fit");

    let xs = vec![vec![1.0, 2.0], vec![-1.0, 0.5], vec![0.25, -3.0]];
    let r = |w: &[Dual64]| {
        xs.iter()
            .map(|row| (w[0] * row[0] + w[1] * row[1]).tanh())
            .fold(Dual64::from(0.0), |s, t| s + t)
    };
    let w = [0.3, 0.1];
    assert_close(
        &rows_of_a_table_grad(&w, &xs),
        &dual_grad(r, &w),
        1e-12,
        "rows",
    );

    let y = [1.0, 2.0, 3.0];
    let (gy, gt) = chains_grad(&y, 0.5);
    assert_close(&gy, &[0.0, 4.0, 12.0], 1e-15, "enumerate");
    let want: f64 = (1..=4).map(|k| k as f64 * (k as f64 * 0.5).cos()).sum();
    assert!(close(gt, want, 1e-14));
}

// ---------------------------------------------------------------------------
// Sub-slices: `windows`, `chunks`, `&x[a..b]` passed on, `x[a..].iter()`.
// ---------------------------------------------------------------------------

/// A roughness penalty: squared first differences.
#[differentiate(hessian)]
fn roughness(x: &[f64]) -> f64 {
    x.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum()
}

/// Products of consecutive pairs; a short last chunk counts alone.
#[differentiate]
fn pair_products(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for c in x.chunks(2) {
        if c.len() == 2 {
            s += c[0] * c[1];
        } else {
            s += c[0];
        }
    }
    s
}

#[differentiate]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += a[i] * b[i];
    }
    s
}

#[differentiate]
fn head_and_tail(x: &[f64], y: &[f64], k: usize) -> f64 {
    // `self::`: a bare `dot` is autodiff's helper.
    self::dot(&x[..k], &y[..k]) + x[k..].iter().map(|v| v.sin()).sum::<f64>()
}

#[test]
fn windows_chunks_and_sub_slices() {
    let x = [0.3, -0.7, 1.1, 0.4, 2.0];
    let r = |v: &[Dual64]| {
        let mut s = Dual64::from(0.0);
        for i in 1..v.len() {
            s += (v[i] - v[i - 1]).powi(2);
        }
        s
    };
    assert_close(&roughness_grad(&x), &dual_grad(r, &x), 1e-12, "windows");
    let h = hyper_hessian(
        |v: &[HyperDual64]| {
            let mut s = HyperDual64::from(0.0);
            for i in 1..v.len() {
                s += (v[i] - v[i - 1]).powi(2);
            }
            s
        },
        &x,
    );
    let got = roughness_hessian(&x);
    for i in 0..x.len() {
        assert_close(got.row(i), &h[i], 1e-12, "windows hessian");
    }
    // One element: no windows, a zero gradient.
    assert_eq!(roughness_grad(&[1.0]), vec![0.0]);

    let r = |v: &[Dual64]| {
        let mut s = Dual64::from(0.0);
        for c in v.chunks(2) {
            s += if c.len() == 2 { c[0] * c[1] } else { c[0] };
        }
        s
    };
    assert_close(&pair_products_grad(&x), &dual_grad(r, &x), 1e-12, "chunks");
    assert_close(
        &pair_products_grad(&x[..4]),
        &dual_grad(r, &x[..4]),
        1e-12,
        "chunks",
    );

    let y = [1.5, -0.5, 2.0, 0.25, 1.0];
    for k in [0, 2, 5] {
        let rx = |v: &[Dual64]| {
            let d = (0..k).fold(Dual64::from(0.0), |s, i| s + v[i] * y[i]);
            v[k..].iter().fold(d, |s, t| s + t.sin())
        };
        let (gx, gy) = head_and_tail_grad(&x, &y, k);
        assert_close(&gx, &dual_grad(rx, &x), 1e-12, "head x");
        let want: Vec<f64> = (0..5).map(|i| if i < k { x[i] } else { 0.0 }).collect();
        assert_close(&gy, &want, 0.0, "head y");
    }
}

// ---------------------------------------------------------------------------
// `match` and `if let`; `core::array::from_fn`.
// ---------------------------------------------------------------------------

/// How a term is weighted: data, not differentiated.
#[derive(Clone, Copy)]
enum Weight {
    One,
    Scaled(f64),
    Squared,
}

#[differentiate]
fn weighted(x: f64, w: Weight, mode: u8, shift: Option<f64>) -> f64 {
    let base = match w {
        Weight::One => x,
        Weight::Scaled(s) => s * x,
        Weight::Squared => x * x,
    };
    let k = match mode {
        0 => base.sin(),
        1 | 2 => base.cos(),
        n if n > 5 => base * n as f64,
        _ => base,
    };
    if let Some(s) = shift {
        k + s * x
    } else {
        k
    }
}

fn weighted_ref(x: Dual64, w: Weight, mode: u8, shift: Option<f64>) -> Dual64 {
    let base = match w {
        Weight::One => x,
        Weight::Scaled(s) => x * s,
        Weight::Squared => x * x,
    };
    let k = match mode {
        0 => base.sin(),
        1 | 2 => base.cos(),
        n if n > 5 => base * n as f64,
        _ => base,
    };
    match shift {
        Some(s) => k + x * s,
        None => k,
    }
}

/// A match on a differentiated value: `name if guard` arms.
#[differentiate(hessian)]
fn huber(r: f64, delta: f64) -> f64 {
    match r.abs() {
        a if a <= delta => 0.5 * r * r,
        a => delta * (a - 0.5 * delta),
    }
}

#[differentiate]
fn squares(x: &[f64; 3]) -> f64 {
    let y: [f64; 3] = core::array::from_fn(|i| x[i] * x[i]);
    let z = core::array::from_fn::<f64, 2, _>(|k| y[k] * y[k + 1]);
    y[0] + z[0] + z[1]
}

#[test]
fn match_if_let_and_from_fn() {
    for w in [Weight::One, Weight::Scaled(-1.5), Weight::Squared] {
        for mode in [0, 1, 2, 7, 4] {
            for shift in [None, Some(0.25)] {
                let x = 0.7;
                let want = weighted_ref(Dual64::new(x, 1.0), w, mode, shift).eps;
                assert!(
                    close(weighted_grad(x, w, mode, shift), want, 1e-14),
                    "{mode}"
                );
                assert!(close(weighted_jvp(x, w, mode, shift, 1.0).1, want, 1e-14));
            }
        }
    }
    for (r, delta) in [(0.3, 1.0), (-0.3, 1.0), (2.0, 1.0), (-2.5, 0.5)] {
        let f = |v: &[HyperDual64]| {
            if v[0].re.abs() <= v[1].re {
                v[0] * v[0] * 0.5
            } else {
                let a = if v[0].re < 0.0 { -v[0] } else { v[0] };
                v[1] * (a - v[1] * 0.5)
            }
        };
        let h = hyper_hessian(f, &[r, delta]);
        let got = huber_hessian(r, delta);
        for i in 0..2 {
            assert_close(&got[i], &h[i], 1e-12, "huber hessian");
        }
        let g = huber_grad(r, delta);
        let want = if r.abs() <= delta {
            (r, 0.0)
        } else {
            (delta * r.signum(), r.abs() - delta)
        };
        assert_close(&[g.0, g.1], &[want.0, want.1], 1e-14, "huber");
    }
    let x = [1.0, -2.0, 0.5];
    let r = |v: &[Dual64]| {
        let y: Vec<Dual64> = v.iter().map(|a| *a * *a).collect();
        y[0] + y[0] * y[1] + y[1] * y[2]
    };
    assert_close(&squares_grad(&x), &dual_grad(r, &x), 1e-14, "from_fn");
}

// ---------------------------------------------------------------------------
// Calls of any shape: results without a type, literal locals and rows of
// data passed on.
// ---------------------------------------------------------------------------

#[differentiate]
fn rotate(a: f64, p: [f64; 2]) -> [f64; 2] {
    [
        a.cos() * p[0] - a.sin() * p[1],
        a.sin() * p[0] + a.cos() * p[1],
    ]
}

#[differentiate]
fn scaled(v: &[f64], s: f64) -> Vec<f64> {
    v.iter().map(|x| x * s).collect()
}

#[differentiate]
fn rotated_distance(a: f64, x: &[f64; 2], c: &[f64; 2]) -> f64 {
    let rp = rotate(a, [x[0] - c[0], x[1] - c[1]]);
    let q = scaled(&rp, a);
    rp[0] * rp[0] + rp[1] + q[1] * q[0]
}

#[differentiate(wrt(w))]
fn table_dots(w: &[f64], xs: &[Vec<f64>], a: f64) -> f64 {
    let mut s = 0.0;
    for k in 0..xs.len() {
        s += self::dot(w, &xs[k]) + autodiff::dot(w, &xs[k]);
    }
    let lit = [a, 2.0 * a];
    s + autodiff::dot(w, &lit) * self::dot(&lit, w)
}

#[test]
fn calls_without_types_and_data_rows() {
    let r = |v: &[Dual64]| {
        let (a, x, c) = (v[0], [v[1], v[2]], [v[3], v[4]]);
        let p = [x[0] - c[0], x[1] - c[1]];
        let rp = [
            a.cos() * p[0] - a.sin() * p[1],
            a.sin() * p[0] + a.cos() * p[1],
        ];
        let q = [rp[0] * a, rp[1] * a];
        rp[0] * rp[0] + rp[1] + q[1] * q[0]
    };
    let p = [0.3, 1.0, 2.0, 0.5, -0.5];
    let (ga, gx, gc) = rotated_distance_grad(p[0], &[p[1], p[2]], &[p[3], p[4]]);
    let got = [ga, gx[0], gx[1], gc[0], gc[1]];
    assert_close(&got, &dual_grad(r, &p), 1e-12, "rotate");

    let xs = vec![vec![1.0, 2.0], vec![-1.0, 0.5]];
    let w = [0.3, -0.7];
    let a = 1.5;
    let r = |w: &[Dual64]| {
        let mut s = Dual64::from(0.0);
        for x in &xs {
            s += (w[0] * x[0] + w[1] * x[1]) * 2.0;
        }
        let d = w[0] * a + w[1] * 2.0 * a;
        s + d * d
    };
    assert_close(
        &table_dots_grad(&w, &xs, a),
        &dual_grad(r, &w),
        1e-12,
        "rows",
    );
}

#[differentiate]
fn angles(x: f64, y: f32) -> f64 {
    x.to_degrees().sin() + y.to_radians() as f64
}

#[test]
fn degrees_and_radians_are_the_standard_library_products() {
    for (x, y) in [(0.1, 2.0f32), (-123.456, 1e-3), (1e5, -7.25)] {
        assert_eq!(angles(x, y), x.to_degrees().sin() + y.to_radians() as f64);
        let (gx, gy) = angles_grad(x, y);
        let k = 180.0 / std::f64::consts::PI;
        assert!(close(gx, k * x.to_degrees().cos(), 1e-12));
        assert!(close(gy as f64, 1.0 / k, 1e-6));
    }
}

/// A destructuring assignment carried by a loop (a three-term
/// recurrence), one that skips a part (`_`), and one in parentheses.
#[allow(unused_parens)]
#[differentiate]
fn recurrence(x: f64, n: usize) -> f64 {
    let (mut a, mut b) = (1.0, x);
    for _ in 0..n {
        (a, b) = (b, a + 0.5 * b * x);
    }
    let (mut p, mut q) = (x, 2.0 * x);
    if x > 0.0 {
        (p, _) = (q * q, p);
    }
    (q) = p + q;
    a + b + p + q
}

#[test]
fn tuples_assigned_whole() {
    let reference = |v: &[Dual64]| {
        let x = v[0];
        let (mut a, mut b) = (Dual64::from(1.0), x);
        for _ in 0..4 {
            let next = a + b * x * 0.5;
            a = b;
            b = next;
        }
        let q = x * 2.0;
        let p = if x.re > 0.0 { q * q } else { x };
        a + b + p + (p + q)
    };
    for x in [0.7, -0.4] {
        let (value, g) = recurrence_value_and_grad(x, 4);
        assert_eq!(value, recurrence(x, 4));
        assert!(close(g, dual_grad(reference, &[x])[0], 1e-14), "{x}");
    }
}

/// Branches that panic give no value (`unreachable!()` in a `match`,
/// `panic!` in an `else`, `todo!();` ending a block of an array's branch).
#[differentiate]
fn diverging_arms(x: [f64; 2], mode: u8) -> [f64; 2] {
    let y = match mode {
        0 => [x[0], x[1] * 2.0],
        1 => [x[1], x[0]],
        _ => unreachable!("bad mode"),
    };
    let z = if y[0] > 0.0 {
        y[0].ln()
    } else {
        panic!("y[0] must be positive")
    };
    let w = if mode < 5 {
        y[1] * z
    } else {
        todo!();
    };
    [z, w]
}

#[test]
fn panicking_branches_give_no_value() {
    let x = [2.0, 3.0];
    // mode 0: z = ln x0, w = 2 x1 ln x0; mode 1: z = ln x1, w = x0 ln x1.
    let wants = [
        [[0.5, 0.0], [3.0, 2.0 * 2.0f64.ln()]],
        [[0.0, 1.0 / 3.0], [3.0f64.ln(), 2.0 / 3.0]],
    ];
    for (mode, want) in wants.iter().enumerate() {
        let j = diverging_arms_jacobian(x, mode as u8);
        for (row, want_row) in j.iter().zip(want) {
            for (got, want) in row.iter().zip(want_row) {
                assert!(close(*got, *want, 1e-15), "mode {mode}: {got} vs {want}");
            }
        }
    }
}

/// `f64::from`, the lossless widening clippy's `cast_lossless` asks for,
/// of an `f32`, of an `f64` and of an integer: casts.
#[allow(clippy::useless_conversion)]
#[differentiate]
fn widened(x: f32, y: f64, n: u32) -> f64 {
    f64::from(x) * y + f64::from(n) * f64::from(y).sin()
}

#[test]
fn f64_from_is_a_cast() {
    let (x, y, n) = (1.5f32, 0.7, 3);
    assert_eq!(widened(x, y, n), 1.5 * y + 3.0 * y.sin());
    let (gx, gy) = widened_grad(x, y, n);
    assert_eq!(gx, 0.7f64 as f32);
    assert!(close(gy, 1.5 + 3.0 * y.cos(), 1e-15));
    let (_, t) = widened_jvp(x, y, n, 2.0, 0.0);
    assert_eq!(t, 2.0 * y);
}

// ---------------------------------------------------------------------------
// `stop_gradient`, copies, `sin_cos`.
// ---------------------------------------------------------------------------

#[differentiate(hessian)]
fn stopped(x: f64, y: f64) -> f64 {
    let c = autodiff::stop_gradient(x * y);
    c * x + autodiff::stop_gradient(y.sin()) * y
}

/// The variance about a mean that is held fixed.
#[differentiate]
fn spread(x: &[f64]) -> f64 {
    let m = autodiff::mean(&autodiff::stop_gradient(x.to_vec()));
    let mut y = x.to_vec();
    y[0] = y[0] * 2.0;
    let z = y.clone();
    let (s, c) = z[1].sin_cos();
    let mut acc = s * c;
    for v in y.iter() {
        acc += (v - m).powi(2);
    }
    acc
}

#[test]
fn stop_gradient_copies_and_sin_cos() {
    let (x, y) = (2.0, 3.0);
    assert_eq!(stopped_grad(x, y), (x * y, y.sin()));
    assert_eq!(stopped_hessian(x, y), [[0.0; 2]; 2]);
    let x = [1.0, -2.0, 4.0];
    let m = (1.0 - 2.0 + 4.0) / 3.0;
    let r = |v: &[Dual64]| {
        let mut y = v.to_vec();
        y[0] = y[0] * 2.0;
        let mut acc = y[1].sin() * y[1].cos();
        for t in &y {
            acc += (*t - m).powi(2);
        }
        acc
    };
    assert_close(&spread_grad(&x), &dual_grad(r, &x), 1e-12, "spread");
}

// ---------------------------------------------------------------------------
// Composition and shapes: a Hessian through a vector-output call, a
// Hessian over parameters of several shapes, matrix outputs.
// ---------------------------------------------------------------------------

#[differentiate(hessian)]
fn residual(x: &[f64; 2]) -> [f64; 2] {
    [10.0 * (x[1] - x[0] * x[0]), 1.0 - x[0]]
}

#[differentiate(hessian)]
fn rosenbrock_of_residual(x: &[f64; 2]) -> f64 {
    let r = residual(x);
    r.iter().map(|v| v * v).sum()
}

#[differentiate(hessian)]
fn mixed_shapes(a: f64, v: &[f64; 2], w: &[f64]) -> f64 {
    a * v[0] * w[0] + v[1].sin() * w[1] * w[1] + a * a * w[2]
}

#[differentiate]
fn rotation(t: f64, s: &[f64; 2]) -> [[f64; 2]; 2] {
    [
        [s[0] * t.cos(), -s[1] * t.sin()],
        [s[0] * t.sin(), s[1] * t.cos()],
    ]
}

#[test]
fn hessians_through_calls_and_of_mixed_shapes() {
    let rosen = |v: &[HyperDual64]| {
        let a = (v[1] - v[0] * v[0]) * 10.0;
        let b = -v[0] + 1.0;
        a * a + b * b
    };
    for x in [[1.0, 2.0], [-1.2, 1.0], [0.3, -0.4]] {
        let h = rosenbrock_of_residual_hessian(&x);
        let want = hyper_hessian(rosen, &x);
        for i in 0..2 {
            assert_close(&h[i], &want[i], 1e-10, "rosenbrock");
        }
    }
    // `residual_vjp_jvp` itself, against hyper-dual numbers: the tangent
    // of wᵀJ along u is wᵀ(∂J·u) + w_dotᵀJ.
    let (x, w, u, w_dot) = ([0.5, -0.3], [1.5, -2.0], [0.2, 0.7], [0.1, 0.4]);
    let ((value, adj), (value_dot, adj_dot)) = residual_vjp_jvp(&x, w, &u, w_dot);
    assert_eq!(value, residual(&x));
    assert_close(&value_dot, &residual_jvp(&x, &u).1, 1e-12, "value tangent");
    assert_close(&adj, &residual_vjp(&x, w).1, 1e-12, "adjoint");
    let wr = |w: [f64; 2]| {
        move |v: &[HyperDual64]| (v[1] - v[0] * v[0]) * 10.0 * w[0] + (-v[0] + 1.0) * w[1]
    };
    let jt = |w: [f64; 2]| residual_vjp(&x, w).1;
    for k in 0..2 {
        let e = common::basis(2, k);
        let second = common::hyper(wr(w), &x, &u, &e);
        let want = second + jt(w_dot)[k];
        assert!(
            close(adj_dot[k], want, 1e-12),
            "{k}: {} vs {want}",
            adj_dot[k]
        );
    }

    // a, v[0], v[1], w[0], w[1], w[2], flattened in that order.
    let (a, v, w) = (0.7, [1.0, 2.0], [3.0, 4.0, -1.0]);
    let h = mixed_shapes_hessian(a, &v, &w);
    let f = |p: &[HyperDual64]| p[0] * p[1] * p[3] + p[2].sin() * p[4] * p[4] + p[0] * p[0] * p[5];
    let want = hyper_hessian(f, &[a, v[0], v[1], w[0], w[1], w[2]]);
    assert_eq!((h.nrows(), h.ncols()), (6, 6));
    for i in 0..6 {
        for j in 0..6 {
            assert!(close(h[(i, j)], want[i][j], 1e-12), "({i}, {j})");
        }
    }
}

#[differentiate]
fn bilinear(c: &[[f64; 2]], m: &[[f64; 2]; 2], t: f64) -> [[f64; 2]; 2] {
    [
        [c[0][0] * m[1][0] * t, c[1][1]],
        [m[0][1] * t, c[0][1] * c[1][0]],
    ]
}

#[test]
fn jacobian_of_a_matrix_output_with_respect_to_matrices() {
    let (c, m, t) = ([[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]], 0.5);
    let (jc, jm, jt) = bilinear_jacobian(&c, &m, t);
    let eps = 1e-6;
    for r in 0..2 {
        for k in 0..2 {
            let fd_t =
                (bilinear(&c, &m, t + eps)[r][k] - bilinear(&c, &m, t - eps)[r][k]) / (2.0 * eps);
            assert!(close(jt[r][k], fd_t, 1e-8));
            for a in 0..2 {
                for b in 0..2 {
                    let (mut cp, mut cm) = (c, c);
                    cp[a][b] += eps;
                    cm[a][b] -= eps;
                    let fd =
                        (bilinear(&cp, &m, t)[r][k] - bilinear(&cm, &m, t)[r][k]) / (2.0 * eps);
                    assert!(close(jc[r][k][a][b], fd, 1e-8), "c [{r}][{k}] [{a}][{b}]");
                    let (mut mp, mut mm) = (m, m);
                    mp[a][b] += eps;
                    mm[a][b] -= eps;
                    let fd =
                        (bilinear(&c, &mp, t)[r][k] - bilinear(&c, &mm, t)[r][k]) / (2.0 * eps);
                    assert!(close(jm[r][k][a][b], fd, 1e-8), "m [{r}][{k}] [{a}][{b}]");
                }
            }
        }
    }
}

#[test]
fn jacobian_of_a_matrix_output() {
    let (t, s) = (0.4, [2.0, -0.5]);
    let (dt, ds) = rotation_jacobian(t, &s);
    let eps = 1e-6;
    let m = |t: f64, s: [f64; 2]| rotation(t, &s);
    for r in 0..2 {
        for c in 0..2 {
            let fd = (m(t + eps, s)[r][c] - m(t - eps, s)[r][c]) / (2.0 * eps);
            assert!(close(dt[r][c], fd, 1e-8), "d/dt [{r}][{c}]");
            for j in 0..2 {
                let (mut sp, mut sm) = (s, s);
                sp[j] += eps;
                sm[j] -= eps;
                let fd = (m(t, sp)[r][c] - m(t, sm)[r][c]) / (2.0 * eps);
                assert!(close(ds[r][c][j], fd, 1e-8), "d/ds{j} [{r}][{c}]");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Changes in place: copy_from_slice, swap, fill; a working copy of data.
// ---------------------------------------------------------------------------

#[differentiate(wrt(w))]
fn in_place(w: &[f64], state: &[f64]) -> f64 {
    let mut st = vec![0.0; state.len()];
    st.copy_from_slice(state);
    let mut scratch = state.to_vec();
    for _ in 0..2 {
        for i in 0..st.len() {
            st[i] = st[i] * w[i];
            scratch[i] = (scratch[i] * w[i]).tanh();
        }
    }
    st.swap(0, 1);
    let mut ones = vec![0.0; 2];
    ones.fill(w[0]);
    st[0] + 2.0 * st[1] + scratch.iter().sum::<f64>() + ones[1]
}

#[test]
fn copies_swaps_and_fills_in_place() {
    let (w, s) = ([1.5, 0.5], [2.0, 3.0]);
    let r = |v: &[Dual64]| {
        let mut st = [Dual64::from(s[0]), Dual64::from(s[1])];
        let mut scratch = st;
        for _ in 0..2 {
            for i in 0..2 {
                st[i] = st[i] * v[i];
                scratch[i] = (scratch[i] * v[i]).tanh();
            }
        }
        st.swap(0, 1);
        st[0] + st[1] * 2.0 + scratch[0] + scratch[1] + v[0]
    };
    assert_close(&in_place_grad(&w, &s), &dual_grad(r, &w), 1e-12, "in place");
    assert!(close(
        in_place(&w, &s),
        r(&[Dual64::from(w[0]), Dual64::from(w[1])]).re,
        1e-14
    ));
}

/// Functions by their path in `fold` and `map` (GradBench's lse as a user
/// writes it).
#[differentiate]
fn logsumexp_by_paths(x: &[f64]) -> f64 {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = x.iter().cloned().map(f64::exp).sum();
    m + (s * (-m).exp()).ln()
}

#[test]
fn fold_and_map_take_functions_by_path() {
    let x = [0.5, -1.0, 2.0];
    let g = logsumexp_by_paths_grad(&x);
    let z: f64 = x.iter().map(|v| v.exp()).sum();
    for i in 0..3 {
        assert!((g[i] - x[i].exp() / z).abs() < 1e-15, "{i}");
    }
}

// ---------------------------------------------------------------------------
// Tapes written by position (one slot per iteration): an integer and a
// boolean carried through a bounded loop that the reversal reads back, a
// `for` loop that breaks early (fewer slots written than the range holds),
// a reversed range, a range that does not start at 0, and an inner loop
// whose trip count changes with the outer index (its reused buffer is
// refilled); and a generic function's tape in `f32` and `f64`.
// ---------------------------------------------------------------------------

#[differentiate]
fn slot_tapes(x: &[f64], y: f64) -> f64 {
    let mut s = y;
    let mut m: usize = 1;
    let mut up = true;
    for i in 2..x.len() {
        let w = if up { x[i] } else { -x[i] };
        s = s * 0.5 + w * (m as f64) * s.sin();
        m = (m * 3) % 7;
        up = s > 0.0;
        if s > 50.0 {
            break;
        }
    }
    for i in (0..x.len()).rev() {
        s += (x[i] - s * 0.01).tanh();
    }
    for i in 0..x.len() {
        let mut t = x[i];
        for _ in 0..i {
            t = (t * 0.3).sin() + t * s.tanh() * 0.5;
        }
        s += t * 0.1;
    }
    s
}

fn slot_tapes_ref<D: DualNum<f64> + Copy>(x: &[D], y: D) -> D {
    let mut s = y;
    let mut m: usize = 1;
    let mut up = true;
    for i in 2..x.len() {
        let w = if up { x[i] } else { -x[i] };
        s = s * 0.5 + w * (m as f64) * s.sin();
        m = (m * 3) % 7;
        up = s.re() > 0.0;
        if s.re() > 50.0 {
            break;
        }
    }
    for i in (0..x.len()).rev() {
        s += (x[i] - s * 0.01).tanh();
    }
    for i in 0..x.len() {
        let mut t = x[i];
        for _ in 0..i {
            t = (t * 0.3).sin() + t * s.tanh() * 0.5;
        }
        s += t * 0.1;
    }
    s
}

#[differentiate]
fn slot_tape_generic<T: autodiff::Float>(x: &[T], y: T) -> T {
    let mut s = y;
    for i in 1..x.len() {
        s = (s * x[i]).sin() + s * T::from(0.5).unwrap();
    }
    s
}

#[test]
fn slot_tapes_of_every_element_type_and_loop_shape() {
    // The first point runs the first loop to its end; at the second, `s`
    // reaches 124 and the loop breaks after 4 of its 5 iterations.
    for (x, y) in [
        (vec![0.3, -0.7, 1.1, 0.4, -0.2, 0.9], 0.6),
        (vec![0.5, 0.2, 20.0, 20.0, 20.0, 20.0, 20.0], 1.0),
    ] {
        let mut all = x.clone();
        all.push(y);
        let n = x.len();
        let want = dual_grad(|v: &[Dual64]| slot_tapes_ref(&v[..n], v[n]), &all);
        let (gx, gy) = slot_tapes_grad(&x, y);
        for (k, (g, w)) in gx.iter().chain([&gy]).zip(&want).enumerate() {
            assert!(close(*g, *w, 1e-12), "∂{k}: {g} vs {w}");
        }
    }
    let (x, y) = ([0.4_f64, -0.3, 0.8, 1.2], 0.7_f64);
    let (gx, gy) = slot_tape_generic_grad(&x, y);
    let mut all = x.to_vec();
    all.push(y);
    let want = dual_grad(
        |v: &[Dual64]| {
            let mut s = v[4];
            for i in 1..4 {
                s = (s * v[i]).sin() + s * 0.5;
            }
            s
        },
        &all,
    );
    for (g, w) in gx.iter().chain([&gy]).zip(&want) {
        assert!(close(*g, *w, 1e-12), "{g} vs {w}");
    }
    let x32 = x.map(|v| v as f32);
    let (gx32, gy32) = slot_tape_generic_grad(&x32, y as f32);
    for (g, w) in gx32.iter().chain([&gy32]).zip(&want) {
        assert!(close(f64::from(*g), *w, 1e-5), "{g} vs {w}");
    }
}

// ---------------------------------------------------------------------------
// Tapes stacked by row: a loop nested two deep in a reversed loop is
// reversed from rows taped by the middle loop's forward copy. Rows of one
// length (a grid) under a reversed middle loop; rows whose length changes
// with the middle index, of an inner loop that breaks, or that starts at
// `j + 1` (its slots written at `i - (j + 1)`); an unbounded inner loop;
// an inner loop in a branch of the middle loop (read from its own copy);
// and a generic function in `f32` and `f64` whose scratch vector is read
// back from its last contents. (GMM's shape, with an untyped counter
// pushed by row, is `arrays::scratch_rows`.)
// ---------------------------------------------------------------------------

#[differentiate]
fn stacked_tapes(w: &[f64], x: &[f64]) -> f64 {
    let b = w.len();
    let mut h = vec![0.1; b];
    let mut total = 0.0;
    for t in 0..x.len() {
        for layer in (0..2).rev() {
            for i in 0..b {
                let gate = 1.0 / (1.0 + (-(h[i] * w[i] + x[t])).exp());
                h[i] = gate * (h[i] + layer as f64 * 0.1).tanh();
            }
        }
        for j in 0..b {
            let mut acc = 0.0;
            for i in (0..j + 1).rev() {
                acc += (h[i] * w[j] + x[t]).sin();
                if acc > 1.5 {
                    break;
                }
            }
            total += acc * x[t];
        }
        for j in 0..b {
            for i in (j + 1)..b {
                total += (h[i] * w[j]).sin() * 0.1;
            }
        }
        for j in 0..2 {
            let mut v = h[j];
            let mut k = 0;
            while k < j + 2 {
                v = (v * w[j]).sin() + v;
                k += 1;
            }
            total += v;
        }
        for j in 0..b {
            if h[j] > 0.2 {
                for i in 0..b {
                    h[i] += 0.01 * (w[j] * h[i]).cos();
                }
            }
        }
        total += h[0] * h[b - 1];
    }
    total
}

fn stacked_tapes_ref<D: DualNum<f64> + Copy>(w: &[D], x: &[D]) -> D {
    let b = w.len();
    let mut h = vec![D::from(0.1); b];
    let mut total = D::from(0.0);
    for t in 0..x.len() {
        for layer in (0..2).rev() {
            for i in 0..b {
                let gate = ((-(h[i] * w[i] + x[t])).exp() + 1.0).recip();
                h[i] = gate * (h[i] + layer as f64 * 0.1).tanh();
            }
        }
        for j in 0..b {
            let mut acc = D::from(0.0);
            for i in (0..j + 1).rev() {
                acc += (h[i] * w[j] + x[t]).sin();
                if acc.re() > 1.5 {
                    break;
                }
            }
            total += acc * x[t];
        }
        for j in 0..b {
            for i in (j + 1)..b {
                total += (h[i] * w[j]).sin() * 0.1;
            }
        }
        for j in 0..2 {
            let mut v = h[j];
            for _ in 0..j + 2 {
                v = (v * w[j]).sin() + v;
            }
            total += v;
        }
        for j in 0..b {
            if h[j].re() > 0.2 {
                for i in 0..b {
                    let step = (w[j] * h[i]).cos() * 0.01;
                    h[i] += step;
                }
            }
        }
        total += h[0] * h[b - 1];
    }
    total
}

#[differentiate]
fn stacked_generic<T: autodiff::Float>(w: &[T], x: &[T]) -> T {
    let mut h = vec![T::zero(); w.len()];
    let mut tmp = vec![T::zero(); w.len()];
    let mut total = T::zero();
    for t in 0..x.len() {
        for _ in 0..2 {
            for i in 0..w.len() {
                h[i] = (h[i] * w[i] + x[t]).tanh();
            }
        }
        for i in 0..w.len() {
            tmp[i] = h[i] * h[i];
        }
        for i in 0..w.len() {
            total = total + tmp[i] * x[t];
        }
        total = total + h[0];
    }
    total
}

#[test]
fn tapes_stacked_by_row_in_every_loop_shape() {
    // At the second point the inner sums pass 1.5 and break early.
    for (w, x) in [
        (vec![0.3, -0.7, 1.1, 0.4], vec![0.2, -0.5, 0.8]),
        (vec![2.0, 1.8, 2.2, 1.9], vec![1.2, 1.4]),
    ] {
        let mut all = w.clone();
        all.extend(&x);
        let n = w.len();
        let want = dual_grad(|v: &[Dual64]| stacked_tapes_ref(&v[..n], &v[n..]), &all);
        let (gw, gx) = stacked_tapes_grad(&w, &x);
        let got: Vec<f64> = gw.iter().chain(&gx).copied().collect();
        assert_close(&got, &want, 1e-12, "stacked_tapes");
    }
    let (w, x) = ([0.4_f64, -0.3, 0.8], [0.5_f64, -0.2]);
    let mut all = w.to_vec();
    all.extend(x);
    let want = dual_grad(
        |v: &[Dual64]| {
            let mut h = vec![Dual64::from(0.0); 3];
            let mut total = Dual64::from(0.0);
            for t in 3..5 {
                for _ in 0..2 {
                    for i in 0..3 {
                        h[i] = (h[i] * v[i] + v[t]).tanh();
                    }
                }
                for i in 0..3 {
                    total += h[i] * h[i] * v[t];
                }
                total += h[0];
            }
            total
        },
        &all,
    );
    let (gw, gx) = stacked_generic_grad(&w, &x);
    let got: Vec<f64> = gw.iter().chain(&gx).copied().collect();
    assert_close(&got, &want, 1e-12, "stacked_generic f64");
    let (gw, gx) = stacked_generic_grad(&w.map(|v| v as f32), &x.map(|v| v as f32));
    let got: Vec<f64> = gw.iter().chain(&gx).map(|&g| f64::from(g)).collect();
    assert_close(&got, &want, 1e-5, "stacked_generic f32");
}

// ---------------------------------------------------------------------------
// Array patterns in `let`.

/// `let [a, b, c] = *p;`, `let &[..] = q;` and `[first, .., last]`: each
/// name is its element.
#[differentiate]
fn array_patterns(p: &[f64; 3], q: &[f64; 2], r: [f64; 4]) -> f64 {
    let [a, b, c] = *p;
    let &[u, _] = q;
    let [first, .., second_last, last] = r;
    let (k, [s, t]) = (2.0, *q);
    (a * b).sin() + c * u + first.exp() * last + second_last * k + s / (1.0 + t * t)
}

#[test]
fn array_patterns_bind_elements() {
    let (p, q, r) = ([0.4, -0.7, 1.1], [0.3, -0.5], [0.2, 0.9, -0.4, 0.6]);
    let all: Vec<f64> = p.iter().chain(&q).chain(&r).copied().collect();
    let want = dual_grad(
        |v: &[Dual64]| {
            let (a, b, c, u, t) = (v[0], v[1], v[2], v[3], v[4]);
            let (first, second_last, last) = (v[5], v[7], v[8]);
            (a * b).sin() + c * u + first.exp() * last + second_last * 2.0 + u / (t * t + 1.0)
        },
        &all,
    );
    let (gp, gq, gr) = array_patterns_grad(&p, &q, r);
    let got: Vec<f64> = gp.iter().chain(&gq).chain(&gr).copied().collect();
    assert_close(&got, &want, 1e-12, "array_patterns");
    let v = array_patterns(&p, &q, r);
    let (v2, _) = array_patterns_value_and_grad(&p, &q, r);
    assert_eq!(v.to_bits(), v2.to_bits());
}

// ---- `while` and `loop` nested in each other, with arrays replaced ----

/// A `Vec` replaced whole in each iteration of a `while` (a Jacobi-style
/// sweep), in a `while` nested in a `while`, and updated in place in a
/// `loop` nested in a `loop`. Their reverse sweeps did not compile (a
/// branch moved the array before its tape copy; an inner unbounded loop's
/// tape had an integer for a filler).
#[differentiate]
fn replaced_in_while(b: &[f64]) -> f64 {
    let mut x = b.to_vec();
    let mut i = 0;
    while i < 3 {
        let mut y = vec![0.0; x.len()];
        for k in 0..x.len() {
            y[k] = (x[k] * b[k]).sin();
        }
        x = y;
        i += 1;
    }
    x[0]
}

#[differentiate]
fn replaced_in_nested_whiles(b: &[f64]) -> f64 {
    let mut x = b.to_vec();
    let mut i = 0;
    while i < 3 {
        let mut j = 0;
        while j < 2 {
            let mut y = vec![0.0; x.len()];
            for k in 0..x.len() {
                y[k] = (x[k] * b[k]).sin();
            }
            x = y;
            j += 1;
        }
        i += 1;
    }
    x[0]
}

#[differentiate]
fn updated_in_nested_loops(b: &[f64]) -> f64 {
    let mut x = b.to_vec();
    let mut i = 0;
    loop {
        if i >= 3 {
            break;
        }
        let mut j = 0;
        loop {
            if j >= 2 {
                break;
            }
            for k in 1..x.len() {
                x[k] = x[k - 1] * x[k] + b[k];
            }
            j += 1;
        }
        i += 1;
    }
    x[x.len() - 1]
}

#[test]
fn whiles_and_loops_nested_with_arrays() {
    let b = [0.3, -0.4, 0.6];
    let sweep = |x: &mut Vec<Dual64>, b: &[Dual64]| {
        *x = x.iter().zip(b).map(|(x, b)| (*x * *b).sin()).collect();
    };
    // `sweeps` sweeps of `x`, from `b`: the reference of the first two.
    let swept = |sweeps: usize| {
        move |b: &[Dual64]| {
            let mut x = b.to_vec();
            for _ in 0..sweeps {
                sweep(&mut x, b);
            }
            x[0]
        }
    };
    let (value, g) = replaced_in_while_value_and_grad(&b);
    assert_eq!(value, replaced_in_while(&b));
    for (got, want) in g.iter().zip(dual_grad(swept(3), &b)) {
        assert!(close(*got, want, 1e-14), "replaced_in_while");
    }
    let (value, g) = replaced_in_nested_whiles_value_and_grad(&b);
    assert_eq!(value, replaced_in_nested_whiles(&b));
    for (got, want) in g.iter().zip(dual_grad(swept(6), &b)) {
        assert!(close(*got, want, 1e-14), "replaced_in_nested_whiles");
    }
    let reference = |b: &[Dual64]| {
        let mut x = b.to_vec();
        for _ in 0..6 {
            for k in 1..3 {
                x[k] = x[k - 1] * x[k] + b[k];
            }
        }
        x[2]
    };
    let (value, g) = updated_in_nested_loops_value_and_grad(&b);
    assert_eq!(value, updated_in_nested_loops(&b));
    for (got, want) in g.iter().zip(dual_grad(reference, &b)) {
        assert!(close(*got, want, 1e-13), "updated_in_nested_loops");
    }
}

/// A `let` closure that captures a differentiated value, called inside a
/// chain over constant data (the trapezoidal rule over sample times).
#[differentiate(wrt(k))]
fn trapezoid(k: f64, t: &[f64]) -> f64 {
    let g = |s: f64| (-k * s * s).exp();
    t.windows(2)
        .map(|w| 0.5 * (w[1] - w[0]) * (g(w[0]) + g(w[1])))
        .sum::<f64>()
}

#[test]
fn a_capturing_closure_in_a_chain_over_data() {
    let t = [0.0, 0.3, 0.7, 1.2];
    let reference = |p: &[Dual64]| {
        let g = |s: f64| (-p[0] * s * s).exp();
        t.windows(2)
            .map(|w| (g(w[0]) + g(w[1])) * (0.5 * (w[1] - w[0])))
            .fold(Dual64::from(0.0), |a, b| a + b)
    };
    let (value, g) = trapezoid_value_and_grad(0.8, &t);
    assert_eq!(value, trapezoid(0.8, &t));
    assert!(close(g, dual_grad(reference, &[0.8])[0], 1e-14));
}

// ---------------------------------------------------------------------------
// Loops counting in any integer type: their tapes are written and read at
// `usize` positions (`0..n` with `n: u32` did not compile in reverse mode).
// ---------------------------------------------------------------------------

/// Slots over `u32`, a reversed inclusive `i32` range, rows of an inner
/// `u32` loop in a `u64` loop, a negative `i32` range, a suffixed literal,
/// and `step_by` over `u16`.
#[differentiate(hessian, linearize)]
fn counters(x: &[f64], n: u32, m: i32, k: u64, p: u16) -> f64 {
    let mut s = 1.0;
    for i in 0..n {
        s *= (x[i as usize] + 0.5).sin();
    }
    for i in (1..=m).rev() {
        s = (s * x[(i - 1) as usize]).sin() + 0.5;
    }
    for i in 0..k {
        let mut t = 1.0;
        for j in 0..n {
            t = (t * x[(i as usize + j as usize) % x.len()]).cos();
        }
        s = s * t + (s * x[i as usize]).sin();
    }
    for d in -2_i32..=2 {
        s = (s * 0.5 + d as f64 * x[0]).tanh();
    }
    for j in 0..3u8 {
        s = (s + x[j as usize]).cos();
    }
    for j in (0..p).step_by(2) {
        s = s * x[j as usize] + s.sin();
    }
    s
}

fn counters_ref<D: DualNum<f64> + Copy>(x: &[D], n: u32, m: i32, k: u64, p: u16) -> D {
    let mut s = D::one();
    for i in 0..n {
        s *= (x[i as usize] + 0.5).sin();
    }
    for i in (1..=m).rev() {
        s = (s * x[(i - 1) as usize]).sin() + 0.5;
    }
    for i in 0..k {
        let mut t = D::one();
        for j in 0..n {
            t = (t * x[(i as usize + j as usize) % x.len()]).cos();
        }
        s = s * t + (s * x[i as usize]).sin();
    }
    for d in -2_i32..=2 {
        s = (s * 0.5 + x[0] * d as f64).tanh();
    }
    for j in 0..3u8 {
        s = (s + x[j as usize]).cos();
    }
    for j in (0..p).step_by(2) {
        s = s * x[j as usize] + s.sin();
    }
    s
}

#[test]
fn loops_counting_in_any_integer_type() {
    let x = [0.4, -0.7, 1.1, 0.3];
    for (n, m, k, p) in [(3, 4, 2, 4), (0, 0, 0, 0), (4, 1, 3, 3)] {
        let want = dual_grad(|x| counters_ref(x, n, m, k, p), &x);
        assert_close(&counters_grad(&x, n, m, k, p), &want, 1e-12, "grad");
        let v = [0.5, -1.0, 0.25, 2.0];
        let jvp: f64 = want.iter().zip(&v).map(|(g, d)| g * d).sum();
        assert!(close(counters_jvp(&x, n, m, k, p, &v).1, jvp, 1e-12));
        // The pullback reads the tapes it captured at the same positions.
        let (value, pull) = counters_pullback(&x, n, m, k, p);
        assert_eq!(value, counters(&x, n, m, k, p));
        assert_close(&pull(1.0), &want, 1e-12, "pullback");
        let (_, push) = counters_linearize(&x, n, m, k, p);
        assert!(close(push(&v), jvp, 1e-12));
        let h = hyper_hessian(|x| counters_ref(x, n, m, k, p), &x);
        let got = counters_hessian(&x, n, m, k, p);
        for (row, want) in got.rows().zip(&h) {
            assert_close(row, want, 1e-10, "hessian");
        }
    }
}

// ---------------------------------------------------------------------------
// Compound assignments of integers and constants: `%=`, `<<=`, `>>=`, `&=`,
// `|=`, `^=` (they were dropped: wrong values, and a `while` that never
// ended).
// ---------------------------------------------------------------------------

/// Exponentiation by squaring (`n >>= 1` ends the loop), the other
/// operators on a counter, and `%=` of a constant float.
#[differentiate(wrt(b0))]
fn bit_ops(b0: f64, e: u32, p0: f64) -> f64 {
    let (mut r, mut b, mut n) = (1.0, b0, e);
    while n > 0 {
        if n & 1 == 1 {
            r *= b;
        }
        b *= b;
        n >>= 1;
    }
    let mut m = e;
    m %= 5;
    m <<= 2;
    m &= 13;
    m |= 16;
    m ^= 1;
    let mut p = p0;
    p %= 1.0;
    r + b0 * (m as f64 + p)
}

#[test]
fn compound_assignments_of_integers_and_constants() {
    for (b0, e, p0) in [(1.5, 5, 2.25), (0.7, 12, -3.5), (2.0, 0, 0.0)] {
        let m = ((((e % 5) << 2) & 13) | 16) ^ 1;
        let p: f64 = p0 % 1.0;
        let value = b0.powi(e as i32) + b0 * (m as f64 + p);
        let slope = e as f64 * b0.powi(e as i32 - 1) + m as f64 + p;
        assert!(close(bit_ops(b0, e, p0), value, 1e-12));
        let (v, g) = bit_ops_value_and_grad(b0, e, p0);
        assert_eq!(v, bit_ops(b0, e, p0));
        assert!(close(g, slope, 1e-12), "{g} vs {slope}");
        assert!(close(bit_ops_jvp(b0, e, p0, 1.0).1, slope, 1e-12));
    }
}

// ---------------------------------------------------------------------------
// Shorthand field patterns (`Quantile { tau }`) in `match` and `if let`:
// the expansion renamed the binding and lost the field's name.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Loss {
    Quantile { tau: f64 },
    Huber { delta: f64 },
    Square,
}

#[derive(Clone, Copy)]
struct Scale {
    a: f64,
    #[allow(dead_code)]
    b: f64,
}

#[differentiate(wrt(r))]
fn pinball(r: f64, kind: Loss, s: Option<Scale>) -> f64 {
    let loss = match kind {
        Loss::Quantile { tau } => {
            if r > 0.0 {
                tau * r
            } else {
                (tau - 1.0) * r
            }
        }
        Loss::Huber { delta: d } => {
            if r.abs() < d {
                0.5 * r * r
            } else {
                d * (r.abs() - 0.5 * d)
            }
        }
        Loss::Square => r * r,
    };
    if let Some(Scale { a, .. }) = s {
        a * loss
    } else {
        loss
    }
}

#[test]
fn shorthand_field_patterns() {
    let q = Loss::Quantile { tau: 0.3 };
    assert_eq!(pinball_grad(1.5, q, None), 0.3);
    assert!(close(pinball_grad(-1.5, q, None), -0.7, 1e-15));
    assert_eq!(pinball_grad(0.5, Loss::Huber { delta: 1.0 }, None), 0.5);
    assert_eq!(pinball_grad(-2.0, Loss::Huber { delta: 1.0 }, None), -1.0);
    let s = Some(Scale { a: 3.0, b: 1.0 });
    assert_eq!(pinball_value_and_grad(1.5, Loss::Square, s), (6.75, 9.0));
}
