//! The finite-difference checks against derivatives written out in closed
//! form: every check passes on right derivatives, in `f32` and `f64`, at
//! the default tolerance, and fails on a derivative with one deliberate
//! error (a wrong sign, a wrong length, a NaN, a wrong mixed term).

use autodiff_runtime::{check_grad, check_hessian, check_jvp, check_vjp, GradCheck};
use num_traits::Float;

// ---------------------------------------------------------------------
// Functions and their derivatives, by hand
// ---------------------------------------------------------------------

fn c<T: Float>(v: f64) -> T {
    T::from(v).unwrap()
}

/// `Σ 100 (x[i+1] - x[i]²)² + (1 - x[i])²`.
fn rosenbrock<T: Float>(x: &[T]) -> T {
    let mut s = T::zero();
    for i in 0..x.len() - 1 {
        s = s + c::<T>(100.0) * (x[i + 1] - x[i] * x[i]).powi(2) + (T::one() - x[i]).powi(2);
    }
    s
}

fn rosenbrock_grad<T: Float>(x: &[T]) -> Vec<T> {
    let mut g = vec![T::zero(); x.len()];
    for i in 0..x.len() - 1 {
        let d = x[i + 1] - x[i] * x[i];
        g[i] = g[i] - c::<T>(400.0) * x[i] * d - c::<T>(2.0) * (T::one() - x[i]);
        g[i + 1] = g[i + 1] + c::<T>(200.0) * d;
    }
    g
}

/// The Hessian of `rosenbrock` times `v`: the Hessian is tridiagonal,
/// `H[i][i] = 1200 x[i]² - 400 x[i+1] + 2 (+ 200 if i > 0)`,
/// `H[i][i+1] = H[i+1][i] = -400 x[i]`.
fn rosenbrock_hvp<T: Float>(x: &[T], v: &[T]) -> Vec<T> {
    let n = x.len();
    let mut hv = vec![T::zero(); n];
    for i in 0..n - 1 {
        let diag = c::<T>(1200.0) * x[i] * x[i] - c::<T>(400.0) * x[i + 1] + c::<T>(2.0);
        let off = c::<T>(-400.0) * x[i];
        hv[i] = hv[i] + diag * v[i] + off * v[i + 1];
        hv[i + 1] = hv[i + 1] + off * v[i] + c::<T>(200.0) * v[i + 1];
    }
    hv
}

/// `exp(x0) sin(x1) + x0 ln(1 + x2²)`.
fn mixed<T: Float>(x: &[T]) -> T {
    x[0].exp() * x[1].sin() + x[0] * (T::one() + x[2] * x[2]).ln()
}

fn mixed_grad<T: Float>(x: &[T]) -> Vec<T> {
    let q = T::one() + x[2] * x[2];
    vec![
        x[0].exp() * x[1].sin() + q.ln(),
        x[0].exp() * x[1].cos(),
        c::<T>(2.0) * x[0] * x[2] / q,
    ]
}

fn mixed_hessian<T: Float>(x: &[T]) -> [[T; 3]; 3] {
    let q = T::one() + x[2] * x[2];
    let (es, ec) = (x[0].exp() * x[1].sin(), x[0].exp() * x[1].cos());
    let h02 = c::<T>(2.0) * x[2] / q;
    let h22 = c::<T>(2.0) * x[0] * (T::one() - x[2] * x[2]) / (q * q);
    [[es, ec, h02], [ec, -es, T::zero()], [h02, T::zero(), h22]]
}

fn mixed_hvp<T: Float>(x: &[T], v: &[T]) -> Vec<T> {
    mixed_hessian(x)
        .iter()
        .map(|row| row[0] * v[0] + row[1] * v[1] + row[2] * v[2])
        .collect()
}

/// `R³ -> R³`: `[x0 x1, sin(x0) + x2², exp(x1) x2]`.
fn field<T: Float>(x: &[T]) -> Vec<T> {
    vec![x[0] * x[1], x[0].sin() + x[2] * x[2], x[1].exp() * x[2]]
}

fn field_jacobian<T: Float>(x: &[T]) -> [[T; 3]; 3] {
    let z = T::zero();
    [
        [x[1], x[0], z],
        [x[0].cos(), z, c::<T>(2.0) * x[2]],
        [z, x[1].exp() * x[2], x[1].exp()],
    ]
}

/// `R² -> R³`, more outputs than inputs: `[x0², x0 x1, x1³]`.
fn tall<T: Float>(x: &[T]) -> Vec<T> {
    vec![x[0] * x[0], x[0] * x[1], x[1].powi(3)]
}

fn tall_jacobian<T: Float>(x: &[T]) -> Vec<[T; 2]> {
    vec![
        [c::<T>(2.0) * x[0], T::zero()],
        [x[1], x[0]],
        [T::zero(), c::<T>(3.0) * x[1] * x[1]],
    ]
}

/// `J v` for a Jacobian given by rows.
fn times<T: Float, R: AsRef<[T]>>(rows: &[R], v: &[T]) -> Vec<T> {
    rows.iter()
        .map(|r| {
            r.as_ref()
                .iter()
                .zip(v)
                .fold(T::zero(), |s, (&a, &b)| s + a * b)
        })
        .collect()
}

/// `wᵀ J` for a Jacobian given by rows.
fn times_t<T: Float, R: AsRef<[T]>>(rows: &[R], w: &[T]) -> Vec<T> {
    let n = rows.first().map_or(0, |r| r.as_ref().len());
    (0..n)
        .map(|i| {
            rows.iter()
                .zip(w)
                .fold(T::zero(), |s, (r, &wj)| s + wj * r.as_ref()[i])
        })
        .collect()
}

/// Points with entries in `[-scale, scale]`, from a fixed LCG.
fn points<T: Float>(n: usize, count: usize, scale: f64, seed: u64) -> Vec<Vec<T>> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..count)
        .map(|_| {
            (0..n)
                .map(|_| {
                    s = s
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let unit = (s >> 11) as f64 / (1_u64 << 53) as f64;
                    c::<T>(scale * (2.0 * unit - 1.0))
                })
                .collect()
        })
        .collect()
}

fn assert_passes(r: &GradCheck) {
    assert!(r.passed_default(), "{r}");
}

fn assert_fails(r: &GradCheck) {
    assert!(!r.passed_default(), "{r}");
    assert!(!r.passed(0.1), "{r}");
}

// ---------------------------------------------------------------------
// Right derivatives pass, f32 and f64
// ---------------------------------------------------------------------

fn right_derivatives_pass<T: Float>() {
    for x in points::<T>(5, 40, 2.0, 1) {
        assert_passes(&check_grad(rosenbrock, rosenbrock_grad, &x));
        assert_passes(&check_hessian(rosenbrock_grad, rosenbrock_hvp, &x));
        let x3 = &x[..3];
        assert_passes(&check_grad(mixed, mixed_grad, x3));
        assert_passes(&check_hessian(mixed_grad, mixed_hvp, x3));
        let jvp = |x: &[T], v: &[T]| times(&field_jacobian(x), v);
        let vjp = |x: &[T], w: &[T]| times_t(&field_jacobian(x), w);
        assert_passes(&check_jvp(field, jvp, x3));
        assert_passes(&check_vjp(field, vjp, x3));
        let x2 = &x[3..];
        let jvp = |x: &[T], v: &[T]| times(&tall_jacobian(x), v);
        let vjp = |x: &[T], w: &[T]| times_t(&tall_jacobian(x), w);
        assert_passes(&check_jvp(tall, jvp, x2));
        assert_passes(&check_vjp(tall, vjp, x2));
    }
}

#[test]
fn right_derivatives_pass_in_f64() {
    right_derivatives_pass::<f64>();
}

#[test]
fn right_derivatives_pass_in_f32() {
    right_derivatives_pass::<f32>();
}

#[test]
fn rosenbrock_passes_at_the_classic_start_and_far_out() {
    // The point Theano's and SciPy's examples start from, and points where
    // |f| is in the millions, so that f32 differences are coarse.
    assert_passes(&check_grad(rosenbrock, rosenbrock_grad, &[-1.2_f32, 1.0]));
    assert_passes(&check_grad(rosenbrock, rosenbrock_grad, &[-1.2_f64, 1.0]));
    for x in points::<f32>(4, 20, 30.0, 2) {
        assert_passes(&check_grad(rosenbrock, rosenbrock_grad, &x));
        assert_passes(&check_hessian(rosenbrock_grad, rosenbrock_hvp, &x));
    }
    for x in points::<f64>(4, 20, 30.0, 3) {
        assert_passes(&check_grad(rosenbrock, rosenbrock_grad, &x));
        assert_passes(&check_hessian(rosenbrock_grad, rosenbrock_hvp, &x));
    }
}

#[test]
fn default_tolerances_follow_the_type() {
    let r32 = check_grad(|x: &[f32]| x[0], |_| vec![1.0], &[0.5]);
    let r64 = check_grad(|x: &[f64]| x[0], |_| vec![1.0], &[0.5]);
    assert!((r32.default_tolerance() - 4.92e-3).abs() < 1e-5);
    assert!((r64.default_tolerance() - 6.06e-6).abs() < 1e-8);
}

#[test]
fn an_empty_input_passes_with_nothing_to_compare() {
    let r = check_grad(|_: &[f64]| 1.0, |_| vec![], &[]);
    assert!(r.passed(0.0));
    assert_eq!(r.max_error(), 0.0);
    assert_eq!(r.to_string(), "check_grad: nothing to compare");
}

// ---------------------------------------------------------------------
// Wrong derivatives fail
// ---------------------------------------------------------------------

fn with_entry<T: Float>(mut v: Vec<T>, i: usize, f: impl Fn(T) -> T) -> Vec<T> {
    v[i] = f(v[i]);
    v
}

fn wrong_gradients_fail<T: Float>() {
    let x: Vec<T> = [-1.2, 1.0, 0.5, 0.3].map(c::<T>).to_vec();
    let x = &x[..];

    let r = check_grad(rosenbrock, |x| with_entry(rosenbrock_grad(x), 2, |g| -g), x);
    assert_fails(&r);
    assert!(
        r.to_string().starts_with("check_grad: worst entry 2:"),
        "{r}"
    );

    let r = check_grad(
        rosenbrock,
        |x| with_entry(rosenbrock_grad(x), 1, |_| T::nan()),
        x,
    );
    assert_fails(&r);
    assert_eq!(r.max_error(), f64::INFINITY);
    assert!(r.to_string().contains("analytic NaN"), "{r}");

    // 1% off in one entry: above the default tolerance of f32 and f64.
    let r = check_grad(
        rosenbrock,
        |x| with_entry(rosenbrock_grad(x), 0, |g| g * c(1.01)),
        x,
    );
    assert!(!r.passed_default(), "{r}");

    let r = check_grad(rosenbrock, |x| rosenbrock_grad(x)[..3].to_vec(), x);
    assert!(!r.passed(f64::MAX));
    assert_eq!(r.max_error(), f64::INFINITY);
    assert_eq!(
        r.to_string(),
        "check_grad: `grad` returned 3 entries, but `x` has 4"
    );

    let r = check_grad(
        rosenbrock,
        |x| {
            let mut g = rosenbrock_grad(x);
            g.push(T::zero());
            g
        },
        x,
    );
    assert!(!r.passed(f64::MAX));
    assert_eq!(
        r.to_string(),
        "check_grad: `grad` returned 5 entries, but `x` has 4"
    );

    // The function itself NaN: nothing can be vouched for.
    let r = check_grad(|x: &[T]| x[0].ln(), |x| vec![x[0].recip()], &[c(-1.0)]);
    assert_fails(&r);
}

#[test]
fn wrong_gradients_fail_in_f64() {
    wrong_gradients_fail::<f64>();
}

#[test]
fn wrong_gradients_fail_in_f32() {
    wrong_gradients_fail::<f32>();
}

fn wrong_jvps_and_vjps_fail<T: Float>() {
    let x: Vec<T> = [0.7, -0.4, 1.3].map(c::<T>).to_vec();
    let x = &x[..];
    let jac = field_jacobian::<T>;

    // A wrong sign in one Jacobian entry, J[1][2].
    let bad = |x: &[T]| {
        let mut j = jac(x);
        j[1][2] = -j[1][2];
        j
    };
    let r = check_jvp(field, |x, v| times(&bad(x), v), x);
    assert_fails(&r);
    assert!(
        r.to_string()
            .starts_with("check_jvp: worst entry 1 along direction e2:"),
        "{r}"
    );
    let r = check_vjp(field, |x, w| times_t(&bad(x), w), x);
    assert_fails(&r);
    assert!(
        r.to_string()
            .starts_with("check_vjp: worst entry 2 for cotangent e1:"),
        "{r}"
    );

    // Right on basis vectors, wrong elsewhere: only the mixed directions
    // (entries of both signs) catch it.
    let abs = |v: &[T]| v.iter().map(|a| a.abs()).collect::<Vec<_>>();
    let r = check_jvp(field, |x, v| times(&jac(x), &abs(v)), x);
    assert_fails(&r);
    assert!(r.to_string().contains("along direction v"), "{r}");
    let r = check_vjp(field, |x, w| times_t(&jac(x), &abs(w)), x);
    assert_fails(&r);
    assert!(r.to_string().contains("for cotangent v"), "{r}");

    // Wrong lengths.
    let r = check_jvp(field, |x, v| times(&jac(x)[..2], v), x);
    assert!(!r.passed(f64::MAX));
    assert_eq!(
        r.to_string(),
        "check_jvp: `jvp` returned 2 entries along direction e0, but `f(x)` has 3"
    );
    let r = check_vjp(
        tall,
        |x, w| times_t(&tall_jacobian(x), w)[..1].to_vec(),
        &x[..2],
    );
    assert!(!r.passed(f64::MAX));
    assert_eq!(
        r.to_string(),
        "check_vjp: `vjp` returned 1 entry for cotangent e0, but `x` has 2"
    );

    // A NaN in one entry.
    let r = check_jvp(
        field,
        |x, v| with_entry(times(&jac(x), v), 0, |_| T::nan()),
        x,
    );
    assert_fails(&r);
    let r = check_vjp(
        field,
        |x, w| with_entry(times_t(&jac(x), w), 2, |_| T::nan()),
        x,
    );
    assert_fails(&r);

    // An `f` whose length changes near `x` is a mismatch too.
    let jumpy = |x: &[T]| {
        if x[0] > c(0.7) {
            vec![x[0]]
        } else {
            vec![x[0], x[0]]
        }
    };
    let r = check_jvp(jumpy, |_, v| vec![v[0], v[0]], &[c(0.7)]);
    assert!(!r.passed(f64::MAX));
    assert_eq!(
        r.to_string(),
        "check_jvp: `f` returned 1 entry at `x ± h e0`, but `f(x)` has 2"
    );
}

#[test]
fn wrong_jvps_and_vjps_fail_in_f64() {
    wrong_jvps_and_vjps_fail::<f64>();
}

#[test]
fn wrong_jvps_and_vjps_fail_in_f32() {
    wrong_jvps_and_vjps_fail::<f32>();
}

fn wrong_hvps_fail<T: Float>() {
    let x: Vec<T> = [0.4, 1.1, -0.8].map(c::<T>).to_vec();
    let x = &x[..];
    let hess = mixed_hessian::<T>;

    // A wrong sign in one off-diagonal entry, H[2][0] only: no longer
    // symmetric.
    let bad = |x: &[T]| {
        let mut h = hess(x);
        h[2][0] = -h[2][0];
        h
    };
    let r = check_hessian(mixed_grad, |x, v| times(&bad(x), v), x);
    assert_fails(&r);
    assert!(
        r.to_string()
            .starts_with("check_hessian: worst entry 2 along direction e0:"),
        "{r}"
    );

    // The transpose of a non-symmetric error is caught in the other place.
    let r = check_hessian(mixed_grad, |x, v| times_t(&bad(x), v), x);
    assert_fails(&r);
    assert!(
        r.to_string()
            .starts_with("check_hessian: worst entry 0 along direction e2:"),
        "{r}"
    );

    let r = check_hessian(
        mixed_grad,
        |x, v| with_entry(mixed_hvp(x, v), 1, |_| T::nan()),
        x,
    );
    assert_fails(&r);

    let r = check_hessian(mixed_grad, |x, v| mixed_hvp(x, v)[1..].to_vec(), x);
    assert!(!r.passed(f64::MAX));
    assert_eq!(
        r.to_string(),
        "check_hessian: `hvp` returned 2 entries along direction e0, but `x` has 3"
    );
    let r = check_hessian(|x| mixed_grad(x)[1..].to_vec(), mixed_hvp, x);
    assert!(!r.passed(f64::MAX));
    assert_eq!(
        r.to_string(),
        "check_hessian: `grad` returned 2 entries, but `x` has 3"
    );
}

#[test]
fn wrong_hvps_fail_in_f64() {
    wrong_hvps_fail::<f64>();
}

#[test]
fn wrong_hvps_fail_in_f32() {
    wrong_hvps_fail::<f32>();
}

#[test]
fn display_reports_the_worst_entry_against_the_default_tolerance() {
    let f = |x: &[f64]| 3.0 * x[0] - x[1];
    let good = check_grad(f, |_| vec![3.0, -1.0], &[0.5, 2.0]);
    let text = good.to_string();
    assert!(text.starts_with("check_grad: worst entry "), "{text}");
    assert!(
        text.ends_with("within the default tolerance 6.06e-6"),
        "{text}"
    );
    let bad = check_grad(f, |_| vec![3.0, 1.0], &[0.5, 2.0]);
    let text = bad.to_string();
    assert!(
        text.starts_with("check_grad: worst entry 1: analytic 1, numeric -"),
        "{text}"
    );
    assert!(
        text.ends_with("above the default tolerance 6.06e-6"),
        "{text}"
    );
    let debug = format!("{bad:?}");
    assert!(
        debug.contains("index: 1") && debug.contains("analytic: 1.0"),
        "{debug}"
    );

    // f32 values print in f32 digits.
    let bad = check_grad(|x: &[f32]| 3.0 * x[0], |_| vec![0.1], &[0.5]);
    let text = bad.to_string();
    assert!(
        text.starts_with("check_grad: worst entry 0: analytic 0.1, numeric 3"),
        "{text}"
    );
    assert!(
        text.ends_with("above the default tolerance 4.92e-3"),
        "{text}"
    );
}
