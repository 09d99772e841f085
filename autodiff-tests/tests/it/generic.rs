//! Functions generic over `T: Float`, instantiated at `f64` (checked
//! against num-dual to 1e-12) and at `f32` (checked against the `f64`
//! numbers to f32 precision, and against finite differences).

// Index loops are the form #[differentiate] reads.
#![allow(clippy::needless_range_loop)]

use autodiff::{differentiate, Float};
use common::dual_grad;
use num_dual::{first_derivative, Dual64, DualNum};

use crate::common;

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol * want.abs().max(1.0),
        "{what}: {got} vs {want}"
    );
}

#[differentiate(hessian)]
fn poly<T: Float>(x: T, y: T) -> T {
    let a = x * y + 2.0;
    a.sin() * x.powi(3) - (y / 3.0).exp() + 0.5 * x.sqrt() + x.max(y).abs()
}

fn poly_ref<D: DualNum<f64> + Copy>(x: D, y: D) -> D {
    let a = x * y + 2.0;
    let m = if x.re() >= y.re() { x } else { y };
    let m = if m.re() < 0.0 { -m } else { m };
    a.sin() * x.powi(3) - (y / 3.0).exp() + x.sqrt() * 0.5 + m
}

#[test]
fn scalar_function_at_f64_and_f32() {
    for &(x, y) in &[(1.5, -0.5), (0.3, 0.9), (2.0, 1.0)] {
        let (gx, gy) = poly_grad(x, y);
        let (_, wx) = first_derivative(|d: Dual64| poly_ref(d, Dual64::from(y)), x);
        let (_, wy) = first_derivative(|d: Dual64| poly_ref(Dual64::from(x), d), y);
        close(gx, wx, 1e-12, "d/dx");
        close(gy, wy, 1e-12, "d/dy");
        close(poly(x, y), poly_ref(x, y), 1e-14, "value");
        // The f32 instantiation, to f32 precision.
        let (fx, fy) = poly_grad(x as f32, y as f32);
        close(fx as f64, gx, 1e-4, "f32 d/dx");
        close(fy as f64, gy, 1e-4, "f32 d/dy");
        // Finite differences of the f32 function itself.
        let h = 1e-2_f32;
        let fd = (poly(x as f32 + h, y as f32) - poly(x as f32 - h, y as f32)) / (2.0 * h);
        close(fd as f64, gx, 2e-3, "f32 fd");
        // Every companion is generic.
        let (v, t) = poly_jvp(x as f32, y as f32, 1.0, 0.0);
        assert_eq!((v, t), (poly(x as f32, y as f32), fx));
        let (_, (bx, by)) = poly_vjp(x, y, 2.0);
        assert_eq!((bx, by), (2.0 * gx, 2.0 * gy));
        let h = poly_hessian(x, y);
        assert_eq!(h[0][1], h[1][0]);
        let (hx, _) = poly_hvp(x, y, 1.0, 0.0);
        assert_eq!(hx, h[0][0]);
    }
}

/// Rosenbrock over `[T; N]`: a const generic length, a loop and literals.
#[differentiate]
fn rosen<T, const N: usize>(x: [T; N]) -> T
where
    T: Float + core::ops::AddAssign,
{
    let mut s = T::zero();
    for i in 0..N - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

/// Elementwise scaling of a slice into a `Vec`, with a constant from an
/// integer parameter.
#[differentiate(wrt(x))]
fn scaled<T: Float>(x: &[T], k: usize) -> Vec<T> {
    let c = T::from(k).unwrap();
    let mut y = vec![0.0; x.len()];
    for i in 0..x.len() {
        y[i] = c * x[i] * x[i] + 1.5;
    }
    y
}

#[test]
fn arrays_and_slices_at_f64_and_f32() {
    let x = [0.5, -1.25, 2.0, 0.75];
    let g = rosen_grad(x);
    let want = dual_grad(rosen_ref, &x);
    for i in 0..4 {
        close(g[i], want[i], 1e-12, "rosen grad");
    }
    close(rosen(x), rosen_ref(&x.map(Dual64::from)).re, 1e-14, "value");
    let g32 = rosen_grad(x.map(|v| v as f32));
    for i in 0..4 {
        close(g32[i] as f64, g[i], 1e-4, "rosen grad f32");
    }
    let j = scaled_jacobian(&x, 3);
    for i in 0..4 {
        for k in 0..4 {
            let want = if i == k { 6.0 * x[i] } else { 0.0 };
            assert_eq!(j[(i, k)], want);
        }
    }
    let (y, t) = scaled_jvp(&[1.0_f32, 2.0], 2, &[1.0, 1.0]);
    assert_eq!(y, vec![3.5, 9.5]);
    assert_eq!(t, vec![4.0, 8.0]);
}

fn rosen_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut s = D::from(0.0);
    for i in 0..x.len() - 1 {
        let a = x[i + 1] - x[i] * x[i];
        let b = -x[i] + 1.0;
        s += a * a * 100.0 + b * b;
    }
    s
}

/// A generic function calling another: the chain rule through `poly`'s
/// generic companions, and another type parameter passed through.
#[differentiate(wrt(x))]
fn caller<T: Float, L: AsRef<str>>(x: T, label: L) -> T {
    let n = label.as_ref().len();
    poly(x, x * 0.5) * T::from(n).unwrap()
}

#[test]
fn generic_calls_and_other_type_parameters() {
    let x = 0.8;
    let g = caller_grad(x, "ab");
    let (_, want) = first_derivative(|d: Dual64| poly_ref(d, d * 0.5) * 2.0, x);
    close(g, want, 1e-12, "through the call");
    close(caller(x, "ab"), poly(x, x * 0.5) * 2.0, 1e-15, "value");
    close(
        caller_grad(x as f32, "ab") as f64,
        want,
        1e-4,
        "f32 through the call",
    );
}

/// A running product: reverse mode tapes the carried product (a fixed
/// tape, filled with `T` zeros).
#[differentiate(hessian)]
fn running_product<T: Float>(x: [T; 4]) -> T {
    let mut p = T::one();
    for i in 0..4 {
        p = p * x[i] + 0.25;
    }
    p
}

#[test]
fn taped_loops_and_hessians_of_arrays() {
    let x = [0.9, -1.1, 1.7, 0.4];
    let f = |v: &[Dual64]| {
        let mut p = Dual64::from(1.0);
        for i in 0..4 {
            p = p * v[i] + 0.25;
        }
        p
    };
    let g = running_product_grad(x);
    let g32 = running_product_grad(x.map(|v| v as f32));
    let want = dual_grad(f, &x);
    for i in 0..4 {
        close(g[i], want[i], 1e-12, "running product grad");
        close(g32[i] as f64, g[i], 1e-5, "f32");
    }
    close(
        running_product(x),
        f(&x.map(Dual64::from)).re,
        1e-14,
        "value",
    );
    let h = running_product_hessian(x);
    let h32 = running_product_hessian(x.map(|v| v as f32));
    for i in 0..4 {
        assert_eq!(h[i][i], 0.0, "linear in each x[i]");
        for j in 0..4 {
            assert_eq!(h[i][j], h[j][i]);
            close(h32[i][j] as f64, h[i][j], 1e-5, "f32 Hessian");
        }
    }
    // A mixed entry against central differences of the gradient.
    let e = 1e-6;
    let mut xp = x;
    xp[1] += e;
    let mut xm = x;
    xm[1] -= e;
    let fd = (running_product_grad(xp)[0] - running_product_grad(xm)[0]) / (2.0 * e);
    close(h[0][1], fd, 1e-7, "H[0][1] by differences");
}

/// The idioms in a generic function: a fold, helpers and `scan`.
#[differentiate]
fn idioms_generic<T: Float>(x: &[T], t: T) -> T {
    let sq = x.iter().fold(T::zero(), |acc, &v| acc + v * v);
    let (h, _) = autodiff::scan(t, x, |h, v| {
        let n = (h * 0.5 + v).tanh();
        (n, n)
    });
    sq + autodiff::logsumexp(x) * t + h
}

#[test]
fn idioms_at_f64_and_f32() {
    let x = [0.3, -0.8, 1.2];
    let t = 0.6;
    let f = |v: &[Dual64]| {
        let (xs, t) = (&v[..3], v[3]);
        let sq = xs.iter().fold(Dual64::from(0.0), |a, &b| a + b * b);
        let m = xs.iter().fold(f64::NEG_INFINITY, |m, b| m.max(b.re));
        let lse = xs
            .iter()
            .fold(Dual64::from(0.0), |a, &b| a + (b - m).exp())
            .ln()
            + m;
        let mut h = t;
        for &b in xs {
            h = (h * 0.5 + b).tanh();
        }
        sq + lse * t + h
    };
    let mut p = x.to_vec();
    p.push(t);
    let (gx, gt) = idioms_generic_grad(&x, t);
    let want = dual_grad(f, &p);
    for i in 0..4 {
        let got = if i < 3 { gx[i] } else { gt };
        close(got, want[i], 1e-12, "generic idioms");
    }
    let x32 = x.map(|v| v as f32);
    let (gx32, gt32) = idioms_generic_grad(&x32, t as f32);
    close(gt32 as f64, gt, 1e-5, "f32");
    close(gx32[0] as f64, gx[0], 1e-5, "f32");
    close(
        idioms_generic(&x, t),
        idioms_generic_value_and_grad(&x, t).0,
        1e-15,
        "value",
    );
}

/// A branch yielding a value the macro cannot type (`norm` of a local
/// array, through its path) where the other yields a float: its tangent
/// is a float zero, not `Default::default()` (which `T: Float` lacks; the
/// fuzzer's seed 14 case 673).
#[differentiate(wrt(x))]
fn branch_of_unseen_type<T: Float>(x: T, c: &[T; 2]) -> T {
    let d = autodiff::softmax(c);
    let q = if c[1] > x {
        autodiff::norm(&d).sin()
    } else {
        x * x
    };
    q * x
}

#[test]
fn a_branch_of_unseen_type_beside_a_float() {
    let c = [0.5, 1.0];
    for x in [0.25_f64, 2.0] {
        let want = first_derivative(
            |x: Dual64| {
                let e = [c[0].exp(), c[1].exp()];
                let n = (e[0] * e[0] + e[1] * e[1]).sqrt() / (e[0] + e[1]);
                let q = if c[1] > x.re {
                    Dual64::from(n.sin())
                } else {
                    x * x
                };
                q * x
            },
            x,
        )
        .1;
        close(branch_of_unseen_type_jvp(x, &c, 1.0).1, want, 1e-14, "jvp");
        close(branch_of_unseen_type_grad(x, &c), want, 1e-14, "grad");
        let c32 = [0.5_f32, 1.0];
        let g32 = branch_of_unseen_type_grad(x as f32, &c32) as f64;
        close(g32, want, 1e-5, "grad f32");
    }
}

/// `powf` of a base the macro cannot type (a call on a loop index) in a
/// generic function: the test `base != 0` of its exponent's partial
/// compares with a `T` zero, not `Default::default()` (the fuzzer's seed
/// 15 case 2472).
#[differentiate]
fn powf_of_unseen_base<T: Float>(x: T) -> T {
    let mut s = T::zero();
    for j in 0..3 {
        s = s + autodiff::softplus(T::from(j).unwrap()).exp().powf(x.sin());
    }
    s
}

#[test]
fn powf_of_a_base_of_unseen_type() {
    for x in [0.3_f64, -1.1] {
        let want = first_derivative(
            |x: Dual64| {
                let softplus = |v: f64| v.exp().ln_1p();
                (0..3).fold(Dual64::from(0.0), |s, k| {
                    s + Dual64::from(softplus(k as f64).exp()).powd(x.sin())
                })
            },
            x,
        )
        .1;
        close(powf_of_unseen_base_grad(x), want, 1e-13, "grad");
    }
}

/// A constant kept as written (`alpha.tanh().exp()`, `alpha` inactive)
/// as the base of `powf` in one branch of a generic function: the other
/// branch yields a `T` zero for it, not `Default::default()` (the
/// fuzzer's seed 16 case 1342).
#[differentiate(wrt(y))]
fn branch_saves_a_constant<T: Float>(y: T, adj: &[T; 2], row0: bool) -> T {
    let alpha = autodiff::softplus(adj[0]);
    if row0 {
        alpha.tanh().exp().powf(y.tanh())
    } else {
        y * alpha
    }
}

#[test]
fn a_saved_constant_in_a_generic_branch() {
    let adj = [0.4, -0.2];
    let alpha = (1.0 + 0.4_f64.exp()).ln();
    for (y, row0) in [(0.3_f64, true), (0.3, false)] {
        let want = first_derivative(
            |y: Dual64| {
                if row0 {
                    Dual64::from(alpha.tanh().exp()).powd(y.tanh())
                } else {
                    y * alpha
                }
            },
            y,
        )
        .1;
        close(
            branch_saves_a_constant_grad(y, &adj, row0),
            want,
            1e-14,
            "grad",
        );
    }
}

/// A tuple output whose element is a constant kept as written (a call on
/// an integer): its tangent is a `T` zero, not `Default::default()` (the
/// fuzzer's seed 16 case 2543).
#[differentiate]
fn constant_output<T: Float>(x: T, r: usize) -> (T, T) {
    (
        x * x,
        autodiff::softplus(T::from(r).unwrap().powi(r as i32)),
    )
}

#[test]
fn a_constant_output_of_a_generic_function() {
    let (v, t) = constant_output_jvp(1.5_f64, 2, 1.0);
    assert_eq!(t, (3.0, 0.0));
    assert!((v.1 - (1.0 + 4.0_f64.exp()).ln()).abs() < 1e-14);
    let (_, t32) = constant_output_jvp(1.5_f32, 2, 1.0);
    assert_eq!(t32, (3.0, 0.0));
}

/// This session's forms in a generic function: a matrix's rows taken
/// apart and read as slices, `.rev()` of elements, an array pattern, and
/// an array iterated by value while the body writes it.
#[differentiate]
fn forms<T: Float, const N: usize>(pts: &[[T; 2]], c: &[T; N], t: T) -> T {
    let mut e = T::zero();
    for &[x, y] in pts {
        e = e + x * (y * t).sin();
    }
    for (i, p) in pts.iter().enumerate() {
        let (q, n) = (&pts[i], p.len());
        e = e + p[0] * q[1] * T::from(n).unwrap_or(T::one());
    }
    let [a, b] = pts[0];
    let mut v = *c;
    for w in v {
        v[0] = v[0] + w * a;
    }
    e + c.iter().rev().fold(T::zero(), |s, &ci| s * t + ci) * b + v[0]
}

fn forms_ref<D: DualNum<f64> + Copy>(z: &[D]) -> D {
    // [p00, p01, p10, p11, c0, c1, c2, t]
    let (pts, c, t) = (&z[..4], &z[4..7], z[7]);
    let mut e = D::zero();
    for r in 0..2 {
        e += pts[2 * r] * (pts[2 * r + 1] * t).sin();
        e += pts[2 * r] * pts[2 * r + 1] * 2.0;
    }
    let (a, b) = (pts[0], pts[1]);
    let v0 = c[0] + (c[0] + c[1] + c[2]) * a;
    e + (c[0] + t * (c[1] + t * c[2])) * b + v0
}

#[test]
fn this_sessions_forms_at_f64_and_f32() {
    let (pts, c, t) = ([[0.3, -0.7], [1.1, 0.4]], [0.5, -1.2, 0.8], 0.9);
    let z: Vec<f64> = pts
        .iter()
        .flatten()
        .chain(&c)
        .chain([&t])
        .copied()
        .collect();
    let want = dual_grad(forms_ref, &z);
    let (gp, gc, gt) = forms_grad(&pts, &c, t);
    let got: Vec<f64> = gp
        .iter()
        .flatten()
        .chain(&gc)
        .chain([&gt])
        .copied()
        .collect();
    for (g, w) in got.iter().zip(&want) {
        close(*g, *w, 1e-12, "forms f64");
    }
    let pts32 = pts.map(|r| r.map(|v| v as f32));
    let (gp, gc, gt) = forms_grad(&pts32, &c.map(|v| v as f32), t as f32);
    let got: Vec<f64> = gp
        .iter()
        .flatten()
        .chain(&gc)
        .chain([&gt])
        .map(|&g| f64::from(g))
        .collect();
    for (g, w) in got.iter().zip(&want) {
        close(*g, *w, 1e-4, "forms f32");
    }
}

/// A branch that does not compute an array the other branch yields (a
/// copy the reverse sweep reads, of `a` written later; an array from a
/// branch that panics) gives a filler: for `[T; N]` not `Default`, which
/// `T: Float` lacks (fuzzer seed 58 case 279: the expansion did not
/// compile).
#[differentiate]
fn branch_fillers<T: Float>(x: [T; 2], c: T) -> T {
    let mut a = [x[0] * c, x[1]];
    let v = if c > T::zero() {
        a[0]
    } else {
        autodiff::norm(&a)
    };
    a[0] = x[1];
    let y = if c < T::from(10.0).unwrap() {
        [x[0], v]
    } else {
        unreachable!()
    };
    v * a[0] + y[0] * y[1]
}

#[test]
fn branch_fillers_of_generic_arrays() {
    for c in [0.5, -0.5] {
        let reference = |p: &[Dual64]| {
            let a0 = p[0] * p[2];
            let v = if c > 0.0 {
                a0
            } else {
                (a0 * a0 + p[1] * p[1]).sqrt()
            };
            v * p[1] + p[0] * v
        };
        let x = [0.8, -1.3];
        let (gx, gc) = branch_fillers_grad(x, c);
        let want = dual_grad(reference, &[x[0], x[1], c]);
        close(gx[0], want[0], 1e-14, "x0");
        close(gx[1], want[1], 1e-14, "x1");
        close(gc, want[2], 1e-14, "c");
        let (gx, _) = branch_fillers_grad([0.8f32, -1.3], c as f32);
        close(gx[0] as f64, want[0], 1e-5, "x0 f32");
    }
}

/// [`branch_fillers`] over a const-generic length: `[f64; N]` has no
/// `Default` either (the standard library's stops at 32; fuzzer seed 60
/// case 142).
#[differentiate(wrt(x))]
fn branch_fillers_n<const N: usize>(x: [f64; N], c: f64) -> f64 {
    let mut a = x;
    let v = if c > 0.0 { a[0] } else { autodiff::norm(&a) };
    a[0] = c;
    v * a[0]
}

#[test]
fn branch_fillers_of_const_generic_arrays() {
    let x = [0.6, -0.8, 0.0];
    // c < 0: v = |x| = 1, d(v c)/dx = c x / |x|.
    let g = branch_fillers_n_grad(x, -2.0);
    for k in 0..3 {
        close(g[k], -2.0 * x[k], 1e-15, "x");
    }
    assert_eq!(branch_fillers_n_grad(x, 3.0), [3.0, 0.0, 0.0]);
    // Past the standard library's `Default` for arrays (32).
    let mut y = [0.0; 40];
    y[0] = 1.0;
    assert_eq!(branch_fillers_n_grad(y, -2.0)[0], -2.0);
}

/// Session 10's forms in one generic function (a generic float, a
/// const-generic length, a matrix parameter held by value): a `Vec` filled
/// by `push`, a zip of three of unequal lengths, a tuple assignment,
/// `to_vec` of a fixed array, `std::mem::swap`, a branch that panics, a
/// row of the matrix written whole, a named sub-slice iterated, and an
/// element of a computed array.
#[differentiate]
fn session_ten_forms<T: Float, const N: usize>(x: [T; N], w: &[T], mut m: [[T; 2]; 2]) -> T {
    let mut h = Vec::new();
    for i in 0..N {
        h.push(x[i] * w[i]);
    }
    let mut s = T::zero();
    for ((a, b), c) in x.iter().zip(w).zip(h.iter()) {
        s = s + *a * *b + *c;
    }
    let (mut p, mut q) = (x[0], T::one());
    for _ in 0..3 {
        (p, q) = (q, p + q * 0.5);
    }
    let mut u = x.to_vec();
    let mut v = vec![0.0; N];
    v[0] = x[1];
    std::mem::swap(&mut u, &mut v);
    let y = if s > -1e9 { s } else { panic!("out of range") };
    m[1] = [p, q];
    let tail = &w[1..];
    for t in tail.iter() {
        s = s + *t * p;
    }
    s + autodiff::softmax(&x)[0] + m[1][0] * m[0][1] + v[N - 1] + u[0] + y
}

fn session_ten_ref<D: DualNum<f64> + Copy>(p: &[D]) -> D {
    let (x, w, m01) = (&p[..3], &p[3..7], p[8]);
    let s0 = (0..3).fold(D::from(0.0), |s, i| s + x[i] * w[i] * 2.0);
    let (mut a, mut b) = (x[0], D::from(1.0));
    for _ in 0..3 {
        (a, b) = (b, a + b * 0.5);
    }
    let tail = (1..4).fold(D::from(0.0), |s, j| s + w[j] * a);
    let total = (0..3).fold(D::from(0.0), |s, i| s + x[i].exp());
    s0 + tail + x[0].exp() / total + a * m01 + x[2] + x[1] + s0
}

#[test]
fn session_ten_forms_at_f64_and_f32() {
    let (x, w, m) = (
        [0.4, -0.7, 1.1],
        [0.3, 0.9, -0.5, 0.2],
        [[1.5, -0.6], [0.8, 2.0]],
    );
    let p: Vec<f64> = x
        .iter()
        .chain(&w)
        .chain(m.iter().flatten())
        .copied()
        .collect();
    let want = dual_grad(session_ten_ref, &p);
    let (value, (gx, gw, gm)) = session_ten_forms_value_and_grad(x, &w, m);
    assert_eq!(value, session_ten_forms(x, &w, m));
    close(
        value,
        session_ten_ref(&p.iter().map(|&v| Dual64::from(v)).collect::<Vec<_>>()).re,
        1e-14,
        "value",
    );
    let got: Vec<f64> = gx
        .iter()
        .chain(&gw)
        .chain(gm.iter().flatten())
        .copied()
        .collect();
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        close(*g, *w, 1e-13, &format!("f64 [{k}]"));
    }
    let xf = x.map(|v| v as f32);
    let wf: Vec<f32> = w.iter().map(|&v| v as f32).collect();
    let mf = m.map(|r| r.map(|v| v as f32));
    let (gx, gw, _) = session_ten_forms_grad(xf, &wf, mf);
    for (k, g) in gx.iter().chain(&gw).enumerate() {
        close(*g as f64, want[k], 1e-5, &format!("f32 [{k}]"));
    }
}
