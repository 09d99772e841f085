//! The edge semantics of SPEC §6, one named test per rule, each checked in
//! every mode: `_grad`, `_value_and_grad`, `_jvp` (unit tangents), `_vjp`
//! (unit cotangent) and `_jacobian`. Expected values are written from the
//! calculus / the formulas the spec names, never computed with the code
//! under test.

use autodiff::differentiate;

/// NaN matches NaN; otherwise `==` (so `-0.0 == 0.0`, infinities by sign).
fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

const MODES: [&str; 5] = ["grad", "value_and_grad", "jvp", "vjp", "jacobian"];

/// Derivative of a one-parameter function in all five modes.
macro_rules! d1 {
    ($m:ident, $x:expr) => {{
        let x = $x;
        let v = $m::f(x);
        let (v1, g1) = $m::f_value_and_grad(x);
        let (v2, t) = $m::f_jvp(x, 1.0);
        let (v3, b) = $m::f_vjp(x, 1.0);
        for (mode, vv) in [("value_and_grad", v1), ("jvp", v2), ("vjp", v3)] {
            assert!(
                same(vv.into(), v.into()),
                "{}: {mode} value {vv:e} != f {v:e}",
                stringify!($m)
            );
        }
        [$m::f_grad(x), g1, t, b, $m::f_jacobian(x)]
    }};
}

/// Gradient of a two-parameter function in all five modes (the JVP with the
/// two unit tangents).
macro_rules! d2 {
    ($m:ident, $x:expr, $y:expr) => {{
        let (x, y) = ($x, $y);
        let v = $m::f(x, y);
        let (v1, g1) = $m::f_value_and_grad(x, y);
        let (v2, _) = $m::f_jvp(x, y, 1.0, 0.0);
        let (v3, _) = $m::f_vjp(x, y, 1.0);
        for (mode, vv) in [("value_and_grad", v1), ("jvp", v2), ("vjp", v3)] {
            assert!(
                same(vv, v),
                "{}: {mode} value {vv:e} != f {v:e}",
                stringify!($m)
            );
        }
        [
            $m::f_grad(x, y),
            g1,
            ($m::f_jvp(x, y, 1.0, 0.0).1, $m::f_jvp(x, y, 0.0, 1.0).1),
            $m::f_vjp(x, y, 1.0).1,
            $m::f_jacobian(x, y),
        ]
    }};
}

/// The reverse-mode gradients of a two-parameter function.
macro_rules! rev2 {
    ($m:ident, $x:expr, $y:expr) => {{
        let (x, y) = ($x, $y);
        let v = $m::f(x, y);
        let (v1, g1) = $m::f_value_and_grad(x, y);
        let (v3, b) = $m::f_vjp(x, y, 1.0);
        assert!(
            same(v1, v) && same(v3, v),
            "{}: values {v1:e}, {v3:e} != f {v:e}",
            stringify!($m)
        );
        [$m::f_grad(x, y), g1, b, $m::f_jacobian(x, y)]
    }};
}

#[track_caller]
fn expect_rev2(what: &str, got: [(f64, f64); 4], want: (f64, f64)) {
    for (mode, g) in ["grad", "value_and_grad", "vjp", "jacobian"]
        .iter()
        .zip(got)
    {
        assert!(
            same(g.0, want.0) && same(g.1, want.1),
            "{what}: {mode} gave ({:e}, {:e}), expected ({:e}, {:e})",
            g.0,
            g.1,
            want.0,
            want.1
        );
    }
}

#[track_caller]
fn expect1<T: Into<f64> + Copy>(what: &str, got: [T; 5], want: f64) {
    for (mode, g) in MODES.iter().zip(got) {
        let g: f64 = g.into();
        assert!(
            same(g, want),
            "{what}: {mode} gave {g:e}, expected {want:e}"
        );
    }
}

#[track_caller]
fn expect2(what: &str, got: [(f64, f64); 5], want: (f64, f64)) {
    for (mode, g) in MODES.iter().zip(got) {
        assert!(
            same(g.0, want.0) && same(g.1, want.1),
            "{what}: {mode} gave ({:e}, {:e}), expected ({:e}, {:e})",
            g.0,
            g.1,
            want.0,
            want.1
        );
    }
}

// ---------------------------------------------------------------------------
// abs, signum
// ---------------------------------------------------------------------------

mod abs1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.abs()
    }
}

mod abs32 {
    #[super::differentiate]
    pub fn f(x: f32) -> f32 {
        x.abs()
    }
}

mod abs_prod {
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        (x * y).abs() + (x - 1.0).abs()
    }
}

#[test]
fn abs_derivative_is_zero_at_zero() {
    expect1("abs'(0)", d1!(abs1, 0.0), 0.0);
    expect1("abs'(-0)", d1!(abs1, -0.0), 0.0);
    expect1("abs'(0) f32", d1!(abs32, 0.0f32), 0.0);
    expect1("abs'(-0) f32", d1!(abs32, -0.0f32), 0.0);
    // Away from 0 it is the sign.
    expect1("abs'(2)", d1!(abs1, 2.0), 1.0);
    expect1("abs'(-2)", d1!(abs1, -2.0), -1.0);
    expect1("abs'(-1e-300)", d1!(abs1, -1e-300), -1.0);
    // Inside a chain: |x y| at x = 0 contributes 0 to both partials;
    // |x - 1| at x = 1 contributes 0.
    expect2(
        "|xy| + |x-1| at (0, 3)",
        d2!(abs_prod, 0.0, 3.0),
        (-1.0, 0.0),
    );
    expect2(
        "|xy| + |x-1| at (1, 0)",
        d2!(abs_prod, 1.0, 0.0),
        (0.0, 0.0),
    );
}

mod signum1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.signum() * 2.0 + x
    }
}

mod signum32 {
    #[super::differentiate]
    pub fn f(x: f32) -> f32 {
        x.signum()
    }
}

#[test]
fn signum_derivative_is_zero_everywhere_including_zero() {
    for x in [0.0, -0.0, 3.0, -3.0, 1e-300] {
        expect1(&format!("(2 signum(x) + x)' at {x}"), d1!(signum1, x), 1.0);
    }
    for x in [0.0f32, -0.0, 3.0, -3.0] {
        expect1(&format!("signum'({x}) f32"), d1!(signum32, x), 0.0);
    }
}

// ---------------------------------------------------------------------------
// max / min ties
// ---------------------------------------------------------------------------

mod max2 {
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.max(y)
    }
}

mod max2_rev {
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        y.max(x)
    }
}

mod min2 {
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.min(y)
    }
}

mod min2_rev {
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        f64::min(y, x)
    }
}

mod max_const {
    /// Ties against constants: `x.max(1)` takes `x`, `1.max(x)` takes the
    /// constant (derivative 0).
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.max(1.0) + 3.0 * 1.0_f64.min(x)
    }
}

#[test]
fn max_min_tie_takes_first_argument() {
    expect2("max(x, y) at tie", d2!(max2, 1.0, 1.0), (1.0, 0.0));
    expect2("max(y, x) at tie", d2!(max2_rev, 1.0, 1.0), (0.0, 1.0));
    expect2("min(x, y) at tie", d2!(min2, 1.0, 1.0), (1.0, 0.0));
    expect2("min(y, x) at tie", d2!(min2_rev, 1.0, 1.0), (0.0, 1.0));
    expect2("max(x, y) at tie 0 / -0", d2!(max2, 0.0, -0.0), (1.0, 0.0));
    expect2("min(x, y) at tie -0 / 0", d2!(min2, -0.0, 0.0), (1.0, 0.0));
    // tie at x = 1: x.max(1) -> x (1), 1.min(x) -> the constant (0).
    expect1("x.max(1) + 3 * 1.min(x) at 1", d1!(max_const, 1.0), 1.0);
    // Not a tie: the larger / smaller argument.
    expect2("max(x, y) at (2, 1)", d2!(max2, 2.0, 1.0), (1.0, 0.0));
    expect2("max(x, y) at (1, 2)", d2!(max2, 1.0, 2.0), (0.0, 1.0));
    expect2("min(x, y) at (2, 1)", d2!(min2, 2.0, 1.0), (0.0, 1.0));
    expect2("min(x, y) at (1, 2)", d2!(min2, 1.0, 2.0), (1.0, 0.0));
    expect1("x.max(1) + 3 * 1.min(x) at 2", d1!(max_const, 2.0), 1.0);
    expect1("x.max(1) + 3 * 1.min(x) at 0", d1!(max_const, 0.0), 3.0);
}

#[test]
fn max_min_with_nan_operand_follow_the_value() {
    // f64::max/min ignore a NaN operand; the derivative follows the operand
    // whose value is returned.
    assert_eq!(max2::f(1.0, f64::NAN), 1.0);
    expect2("max(1, NaN)", d2!(max2, 1.0, f64::NAN), (1.0, 0.0));
    expect2("max(NaN, 1)", d2!(max2, f64::NAN, 1.0), (0.0, 1.0));
    expect2("min(1, NaN)", d2!(min2, 1.0, f64::NAN), (1.0, 0.0));
    expect2("min(NaN, 1)", d2!(min2, f64::NAN, 1.0), (0.0, 1.0));
}

mod clamp1 {
    #[super::differentiate]
    pub fn f(x: f64, hi: f64) -> f64 {
        x.clamp(0.0, hi)
    }
}

#[test]
fn clamp_on_a_bound_takes_x() {
    // `clamp` returns `x` unless strictly outside: on a bound the derivative
    // is x's (like the max/min tie rule).
    expect2("clamp(0, 0, 1)", d2!(clamp1, 0.0, 1.0), (1.0, 0.0));
    expect2("clamp(1, 0, 1)", d2!(clamp1, 1.0, 1.0), (1.0, 0.0));
    expect2("clamp(2, 0, 1)", d2!(clamp1, 2.0, 1.0), (0.0, 1.0));
    expect2("clamp(-2, 0, 1)", d2!(clamp1, -2.0, 1.0), (0.0, 0.0));
    expect2("clamp(0.5, 0, 1)", d2!(clamp1, 0.5, 1.0), (1.0, 0.0));
}

// ---------------------------------------------------------------------------
// sqrt at 0
// ---------------------------------------------------------------------------

mod sqrt1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.sqrt()
    }
}

mod sqrt32 {
    #[super::differentiate]
    pub fn f(x: f32) -> f32 {
        x.sqrt()
    }
}

#[test]
fn sqrt_at_zero_is_positive_infinity() {
    expect1("sqrt'(0)", d1!(sqrt1, 0.0), f64::INFINITY);
    expect1("sqrt'(0) f32", d1!(sqrt32, 0.0f32), f64::INFINITY);
    expect1("sqrt'(4)", d1!(sqrt1, 4.0), 0.25);
    // Below 0 the value is NaN and so is 0.5 / sqrt(x).
    expect1("sqrt'(-1)", d1!(sqrt1, -1.0), f64::NAN);
}

#[test]
fn sqrt_at_negative_zero_is_positive_infinity() {
    expect1("sqrt'(-0)", d1!(sqrt1, -0.0), f64::INFINITY);
    expect1("sqrt'(-0) f32", d1!(sqrt32, -0.0f32), f64::INFINITY);
}

mod cbrt1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.cbrt()
    }
}

#[test]
fn cbrt_at_zero_is_positive_infinity() {
    // 1 / (3 x^(2/3)) -> +inf from both sides.
    expect1("cbrt'(0)", d1!(cbrt1, 0.0), f64::INFINITY);
    expect1("cbrt'(-0)", d1!(cbrt1, -0.0), f64::INFINITY);
    expect1("cbrt'(-8)", d1!(cbrt1, -8.0), 1.0 / 12.0);
}

// ---------------------------------------------------------------------------
// floor ceil round trunc (and fract)
// ---------------------------------------------------------------------------

mod floor1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.floor()
    }
}
mod ceil1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.ceil()
    }
}
mod round1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.round()
    }
}
mod trunc1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        f64::trunc(x)
    }
}
mod fract1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.fract()
    }
}
mod floor_chain {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.floor() * x + (x * 3.0).round().sin()
    }
}
mod floor32 {
    #[super::differentiate]
    pub fn f(x: f32) -> f32 {
        x.floor() + x.ceil() + x.round() + x.trunc()
    }
}

#[test]
fn floor_ceil_round_trunc_have_zero_derivative() {
    // At integers, half-integers, generic points, zero and negatives.
    for x in [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, 2.3, -7.8, 1e17] {
        expect1(&format!("floor'({x})"), d1!(floor1, x), 0.0);
        expect1(&format!("ceil'({x})"), d1!(ceil1, x), 0.0);
        expect1(&format!("round'({x})"), d1!(round1, x), 0.0);
        expect1(&format!("trunc'({x})"), d1!(trunc1, x), 0.0);
        expect1(
            &format!("(floor(x) x + sin(round(3x)))'({x})"),
            d1!(floor_chain, x),
            x.floor(),
        );
    }
    for x in [0.0f32, 1.0, 2.5, -7.8] {
        expect1(
            &format!("f32 floor+ceil+round+trunc'({x})"),
            d1!(floor32, x),
            0.0,
        );
    }
}

#[test]
fn fract_has_unit_derivative() {
    // fract(x) = x - trunc(x).
    for x in [0.0, 0.5, 2.3, -7.8, 3.0] {
        expect1(&format!("fract'({x})"), d1!(fract1, x), 1.0);
    }
}

// ---------------------------------------------------------------------------
// powf with x <= 0
// ---------------------------------------------------------------------------

mod powf2 {
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.powf(y)
    }
}

mod powf_x {
    /// Constant exponent: only the `x` part exists.
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.powf(2.0) + x.powf(3.0)
    }
}

mod powf_wrt_x {
    #[super::differentiate(wrt(x))]
    pub fn f(x: f64, y: f64) -> f64 {
        x.powf(y)
    }
}

/// `(∂/∂x, ∂/∂y)` of `powf` from the reverse-mode companions only (grad,
/// value_and_grad, vjp, jacobian): a JVP mixes the two parts.
fn powf_reverse(x: f64, y: f64) -> [(f64, f64); 4] {
    [
        powf2::f_grad(x, y),
        powf2::f_value_and_grad(x, y).1,
        powf2::f_vjp(x, y, 1.0).1,
        powf2::f_jacobian(x, y),
    ]
}

#[track_caller]
fn expect_powf(x: f64, y: f64, want: (f64, f64)) {
    for (mode, g) in ["grad", "value_and_grad", "vjp", "jacobian"]
        .iter()
        .zip(powf_reverse(x, y))
    {
        assert!(
            same(g.0, want.0) && same(g.1, want.1),
            "powf at ({x}, {y}): {mode} gave ({:e}, {:e}), expected ({:e}, {:e})",
            g.0,
            g.1,
            want.0,
            want.1
        );
    }
    // One active side at a time in forward mode: x part with x_dot = 1.
    let (v, dx) = powf_wrt_x::f_jvp(x, y, 1.0);
    assert!(same(v, powf_wrt_x::f(x, y)) && same(powf2::f_value_and_grad(x, y).0, powf2::f(x, y)));
    assert!(
        same(dx, want.0),
        "powf_wrt_x jvp at ({x}, {y}): {dx:e}, expected {:e}",
        want.0
    );
}

#[test]
fn powf_with_nonpositive_base() {
    // ∂x = y x^(y-1), ∂y = x^y ln x.
    // x = 0 (SPEC §6, JAX's convention): the y part is 0 for every y, never
    // 0 * ln 0 = NaN.
    expect_powf(0.0, 2.0, (0.0, 0.0));
    expect_powf(0.0, 1.0, (1.0, 0.0));
    expect_powf(0.0, 0.5, (f64::INFINITY, 0.0));
    expect_powf(0.0, 3.0, (0.0, 0.0));
    expect_powf(0.0, -1.0, (f64::NEG_INFINITY, 0.0));
    // y = 0: x^0 is 1 for every x, so the x part is 0 (not 0 * 0^-1).
    expect_powf(0.0, 0.0, (0.0, 0.0));
    expect_powf(3.0, 0.0, (0.0, 3.0_f64.ln()));
    // x < 0, integral y: the x part is finite, the y part NaN (ln of a negative).
    expect_powf(-2.0, 3.0, (12.0, f64::NAN));
    expect_powf(-2.0, 2.0, (-4.0, f64::NAN));
    expect_powf(-0.5, -1.0, (-4.0, f64::NAN));
    // x < 0, fractional y: the value itself is NaN, so is everything.
    expect_powf(-8.0, 1.0 / 3.0, (f64::NAN, f64::NAN));
    // Regular point for comparison.
    expect_powf(2.0, 3.0, (12.0, 8.0 * 2.0_f64.ln()));
}

/// The x part is never poisoned by the y part: along x alone, the
/// tangent of `x.powf(1.0)` at 0 is 1, in `f64` and `f32`.
#[test]
fn powf_at_zero_in_forward_mode() {
    assert_eq!(powf2::f_jvp(0.0, 1.0, 1.0, 0.0), (0.0, 1.0));
    assert_eq!(powf2::f_jvp(0.0, 1.0, 0.0, 1.0), (0.0, 0.0));
    assert_eq!(powf2::f_grad(0.0, 1.0), (1.0, 0.0));
    assert_eq!(powf32::f_jvp(0.0, 1.0, 1.0, 0.0), (0.0, 1.0));
    assert_eq!(powf32::f_grad(0.0, 2.0), (0.0, 0.0));
}

mod powf32 {
    #[super::differentiate]
    pub fn f(x: f32, y: f32) -> f32 {
        x.powf(y)
    }
}

mod powf32_wrt_x {
    #[super::differentiate(wrt(x))]
    pub fn f(x: f32, y: f32) -> f32 {
        x.powf(y)
    }
}

#[test]
fn powf_constant_exponent_stays_finite_for_nonpositive_base() {
    // d/dx (x^2 + x^3) = 2x + 3x^2.
    expect1("(x^2 + x^3)' at 0", d1!(powf_x, 0.0), 0.0);
    expect1("(x^2 + x^3)' at -2", d1!(powf_x, -2.0), 8.0);
    expect1("(x^2 + x^3)' at -0.5", d1!(powf_x, -0.5), -0.25);
    // wrt(x) only: no y part, so no NaN from ln x.
    assert_eq!(powf_wrt_x::f_grad(-2.0, 3.0), 12.0);
    assert_eq!(powf_wrt_x::f_vjp(-2.0, 3.0, 1.0), (-8.0, 12.0));
    assert_eq!(powf_wrt_x::f_jacobian(0.0, 2.0), 0.0);
}

/// The x part reuses the value: `y (x^y / x)` where `x^y` is a normal
/// number and `y` finite, the formula `y x^(y - 1)` elsewhere. Both agree
/// at every point of a grid of edges (zeros of both signs, subnormals,
/// the extremes, infinities, NaN), the special values exactly and the rest
/// to 4 ulp; where `y - 1` rounds (a tiny `y`) the formula is the one off
/// (by about 30 ulp at `x = 1e-300`, `y = 1e-10`), so the bound there is
/// `1e-13`. In every mode: grad, jvp, vjp and jacobian; in `f32` too.
#[test]
fn powf_x_part_reuses_the_value_with_the_formula_s_edges() {
    fn agree(got: f64, want: f64, tol: f64) -> bool {
        if got.is_nan() || want.is_nan() || got.is_infinite() || want.is_infinite() || want == 0.0 {
            return same(got, want) && got.is_sign_negative() == want.is_sign_negative();
        }
        (got - want).abs() <= tol * want.abs()
    }
    let xs = [
        0.0,
        -0.0,
        5e-324,
        -5e-324,
        1e-310,
        f64::MIN_POSITIVE,
        1e-300,
        0.5,
        -0.5,
        1.0,
        -1.0,
        2.0,
        -2.0,
        3.7,
        1e155,
        1e300,
        -1e300,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let ys = [
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.0,
        -1.0,
        1.5,
        2.0,
        3.0,
        -2.5,
        1e-10,
        -1e-10,
        300.0,
        -300.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    for x in xs {
        for y in ys {
            let want = if y != 0.0 { y * x.powf(y - 1.0) } else { 0.0 };
            let tol = if y.abs() < 1e-3 {
                1e-13
            } else {
                4.0 * f64::EPSILON
            };
            let got = [
                powf_wrt_x::f_grad(x, y),
                powf_wrt_x::f_jvp(x, y, 1.0).1,
                powf_wrt_x::f_vjp(x, y, 1.0).1,
                powf_wrt_x::f_jacobian(x, y),
                powf2::f_grad(x, y).0,
            ];
            for g in got {
                assert!(
                    agree(g, want, tol),
                    "powf x part at ({x:e}, {y:e}): {g:e}, formula {want:e}"
                );
            }
            let (x, y) = (x as f32, y as f32);
            let want = if y != 0.0 { y * x.powf(y - 1.0) } else { 0.0 };
            let g = powf32_wrt_x::f_jvp(x, y, 1.0).1;
            let tol = if y.abs() < 1e-3 {
                1e-5
            } else {
                4.0 * f64::from(f32::EPSILON)
            };
            assert!(
                agree(g.into(), want.into(), tol),
                "f32 powf x part at ({x:e}, {y:e}): {g:e}, formula {want:e}"
            );
        }
    }
}

mod powi0 {
    #[super::differentiate]
    pub fn f(x: f64, n: i32) -> f64 {
        x.powi(n)
    }
}

#[test]
fn powi_at_zero() {
    // d/dx x^n = n x^(n-1).
    for (n, want) in [(1, 1.0), (2, 0.0), (3, 0.0), (-1, f64::NEG_INFINITY)] {
        assert!(same(powi0::f_value_and_grad(0.0, n).0, powi0::f(0.0, n)));
        let got = [
            powi0::f_grad(0.0, n),
            powi0::f_value_and_grad(0.0, n).1,
            powi0::f_jvp(0.0, n, 1.0).1,
            powi0::f_vjp(0.0, n, 1.0).1,
            powi0::f_jacobian(0.0, n),
        ];
        expect1(&format!("d/dx x^{n} at 0"), got, want);
    }
}

#[test]
fn powi_zero_exponent_has_zero_derivative_at_zero() {
    let got = [
        powi0::f_grad(0.0, 0),
        powi0::f_value_and_grad(0.0, 0).1,
        powi0::f_jvp(0.0, 0, 1.0).1,
        powi0::f_vjp(0.0, 0, 1.0).1,
        powi0::f_jacobian(0.0, 0),
    ];
    expect1("d/dx x^0 at 0", got, 0.0);
}

#[test]
fn powi_extreme_exponents_do_not_panic() {
    // n x^(n-1) with n = i32::MIN must not overflow `n - 1` (a panic in
    // debug builds). At x = 1 the derivative is n; at x = 2 it underflows to
    // -0 (n * 2^(n-1) with 2^(n-1) = 0).
    let g = powi0::f_grad(1.0, i32::MIN);
    assert_eq!(g, i32::MIN as f64);
    let g = powi0::f_grad(2.0, i32::MIN);
    assert!(g == 0.0, "d/dx x^i32::MIN at 2: got {g:e}, expected 0");
    let g = powi0::f_grad(1.0, i32::MAX);
    assert_eq!(g, i32::MAX as f64);
    // At x = -1, (-1)^(n-1) = -1 for the even n = i32::MIN.
    let g = powi0::f_grad(-1.0, i32::MIN);
    assert_eq!(g, -(i32::MIN as f64));
}

// ---------------------------------------------------------------------------
// NaN and infinity inputs
// ---------------------------------------------------------------------------

mod exp1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.exp()
    }
}
mod tanh1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.tanh()
    }
}
mod atan1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.atan()
    }
}
mod sq1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x * x
    }
}
mod ln1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.ln()
    }
}
mod sin1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.sin()
    }
}
mod mul2 {
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x * y
    }
}
mod recip1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.recip()
    }
}

#[test]
fn infinite_inputs_give_what_the_formulas_give() {
    let inf = f64::INFINITY;
    expect1("exp'(inf)", d1!(exp1, inf), inf);
    expect1("exp'(-inf)", d1!(exp1, -inf), 0.0);
    expect1("tanh'(inf) = 1 - tanh² = 0", d1!(tanh1, inf), 0.0);
    expect1("tanh'(-inf)", d1!(tanh1, -inf), 0.0);
    expect1("atan'(inf) = 1 / (1 + inf)", d1!(atan1, inf), 0.0);
    expect1("(x²)'(inf)", d1!(sq1, inf), inf);
    expect1("(x²)'(-inf)", d1!(sq1, -inf), -inf);
    expect1("ln'(inf) = 1 / inf", d1!(ln1, inf), 0.0);
    expect1("ln'(0) = 1 / 0", d1!(ln1, 0.0), inf);
    expect1("sin'(inf) = cos(inf)", d1!(sin1, inf), f64::NAN);
    expect1("recip'(inf) = -1/inf²", d1!(recip1, inf), 0.0);
    expect1("recip'(0) = -1/0²", d1!(recip1, 0.0), -inf);
    // Reverse modes give the partials one by one; a JVP mixes them
    // (2·1 + inf·0 = NaN is what the formula J·v gives, not asserted).
    expect_rev2("(xy) at (inf, 2)", rev2!(mul2, inf, 2.0), (2.0, inf));
}

#[test]
fn nan_inputs_give_what_the_formulas_give() {
    let nan = f64::NAN;
    for (name, d) in [
        ("exp", d1!(exp1, nan)),
        ("tanh", d1!(tanh1, nan)),
        ("atan", d1!(atan1, nan)),
        ("x²", d1!(sq1, nan)),
        ("ln", d1!(ln1, nan)),
        ("sin", d1!(sin1, nan)),
        ("recip", d1!(recip1, nan)),
        ("sqrt", d1!(sqrt1, nan)),
        ("cbrt", d1!(cbrt1, nan)),
    ] {
        expect1(&format!("{name}'(NaN)"), d, nan);
    }
    // ∂(xy)/∂x = y, ∂(xy)/∂y = x: a NaN in one input only poisons the
    // partial that contains it.
    expect_rev2("(xy) at (NaN, 2)", rev2!(mul2, nan, 2.0), (2.0, nan));
    // Piecewise-constant rules stay 0; abs follows sign0(NaN) = NaN.
    expect1("floor'(NaN)", d1!(floor1, nan), 0.0);
    expect1("signum chain at NaN", d1!(signum1, nan), 1.0);
    // Values are the original function's.
    assert!(exp1::f_value_and_grad(nan).0.is_nan());
    assert!(mul2::f_vjp(nan, 2.0, 1.0).0.is_nan());
}

mod zoo {
    /// Many rules in one function, to sweep special inputs.
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        let a = x.hypot(y) + x.atan2(y) + x.max(y) - x.min(y) + x.abs() * y.signum();
        let b = x.powf(y)
            + x.powi(3)
            + x.sqrt()
            + x.cbrt()
            + x.ln()
            + x.log(y)
            + x.log2()
            + x.log10()
            + x.ln_1p();
        let c = x.exp()
            + x.exp2()
            + x.exp_m1()
            + x.sin() * y.cos()
            + x.tan()
            + x.asin()
            + x.acos()
            + x.atan();
        let d = x.sinh()
            + x.cosh()
            + x.tanh()
            + x.asinh()
            + x.acosh()
            + x.atanh()
            + x.recip()
            + x.mul_add(y, x);
        let e =
            x.floor() + x.ceil() + x.round() + x.trunc() + x.fract() + (x / y) - y.clamp(-1.0, 1.0);
        if x > y {
            a * b + c
        } else {
            d / e
        }
    }
}

mod zoo32 {
    #[super::differentiate]
    pub fn f(x: f32, y: f32) -> (f32, f32) {
        (
            x.hypot(y) * x.powf(y) + x.sqrt() / y,
            x.ln() * y.atanh() - x.max(y),
        )
    }
}

#[test]
fn special_inputs_never_panic() {
    let specials = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
    ];
    let mut n = 0;
    for &x in &specials {
        for &y in &specials {
            let _ = zoo::f_grad(x, y);
            let _ = zoo::f_value_and_grad(x, y);
            let _ = zoo::f_jvp(x, y, 1.0, -1.0);
            let _ = zoo::f_jvp(x, y, f64::NAN, f64::INFINITY);
            let _ = zoo::f_vjp(x, y, 1.0);
            let _ = zoo::f_vjp(x, y, f64::NAN);
            let _ = zoo::f_jacobian(x, y);
            let (x32, y32) = (x as f32, y as f32);
            let (v32, _) = zoo32::f_jvp(x32, y32, 1.0, 1.0);
            let w32 = zoo32::f(x32, y32);
            assert!(
                same(v32.0 as f64, w32.0 as f64) && same(v32.1 as f64, w32.1 as f64),
                "f32 jvp value at ({x}, {y})"
            );
            let _ = zoo32::f_vjp(x32, y32, (1.0, f32::INFINITY));
            let _ = zoo32::f_jacobian(x32, y32);
            // Values equal the original function's (bit for bit up to NaN).
            let v = zoo::f(x, y);
            assert!(
                same(zoo::f_value_and_grad(x, y).0, v),
                "value at ({x}, {y})"
            );
            assert!(
                same(zoo::f_jvp(x, y, 1.0, 0.0).0, v),
                "jvp value at ({x}, {y})"
            );
            assert!(same(zoo::f_vjp(x, y, 1.0).0, v), "vjp value at ({x}, {y})");
            n += 1;
        }
    }
    assert_eq!(n, specials.len() * specials.len());
}

// ---------------------------------------------------------------------------
// if / else: the taken branch's derivative, forward and reverse
// ---------------------------------------------------------------------------

mod branch1 {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        if x > 1.0 {
            x * x
        } else {
            3.0 * x
        }
    }
}

#[test]
fn if_takes_the_derivative_of_the_taken_branch() {
    expect1("then branch at 2", d1!(branch1, 2.0), 4.0);
    expect1("else branch at 0.5", d1!(branch1, 0.5), 3.0);
    // The boundary: `1 > 1` is false, so the else branch.
    expect1("else branch at 1", d1!(branch1, 1.0), 3.0);
    expect1(
        "then branch just above 1",
        d1!(branch1, 1.0 + f64::EPSILON),
        2.0 * (1.0 + f64::EPSILON),
    );
    // NaN > 1 is false: the else branch's formula.
    expect1("else branch at NaN", d1!(branch1, f64::NAN), 3.0);
}

mod relu {
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        if x < 0.0 {
            0.0
        } else {
            x
        }
    }
}

#[test]
fn relu_branches() {
    expect1("relu'(-1)", d1!(relu, -1.0), 0.0);
    expect1("relu'(2)", d1!(relu, 2.0), 1.0);
    expect1("relu'(0) (else branch)", d1!(relu, 0.0), 1.0);
    expect1("relu'(-0) (else branch)", d1!(relu, -0.0), 1.0);
}

mod guarded_sqrt {
    /// The branch not taken is never evaluated, so its NaN/inf derivative
    /// must not leak (as `0 * NaN`) into the result.
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        if x > 0.0 {
            x.sqrt() + x.ln()
        } else {
            2.0 * x
        }
    }
}

mod guarded_mut {
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        let mut s = x * y;
        if x > 0.0 {
            s = s.sqrt() * x.ln();
        } else {
            s += y;
        }
        s
    }
}

#[test]
fn untaken_branch_does_not_leak_nan() {
    expect1("guarded at -1", d1!(guarded_sqrt, -1.0), 2.0);
    expect1("guarded at 0", d1!(guarded_sqrt, 0.0), 2.0);
    expect1("guarded at 1", d1!(guarded_sqrt, 1.0), 1.5);
    // else branch: s = x y + y -> (y, x + 1)
    expect2(
        "guarded_mut at (-1, 2)",
        d2!(guarded_mut, -1.0, 2.0),
        (2.0, 0.0),
    );
    expect2(
        "guarded_mut at (0, -3)",
        d2!(guarded_mut, 0.0, -3.0),
        (-3.0, 1.0),
    );
    // then branch at (1, 4): s = sqrt(x y) ln x; at x = 1: ln 1 = 0, so
    // ∂x = sqrt(xy)/x = 2, ∂y = 0.
    expect2(
        "guarded_mut at (1, 4)",
        d2!(guarded_mut, 1.0, 4.0),
        (2.0, 0.0),
    );
}

mod outside_operand {
    /// `a` is computed before the `if` (NaN for x < 0, with derivative
    /// +inf at 0) but only the then-branch uses it: where the else-branch
    /// is taken, the derivative is the else-branch's, 2.
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        let a = x.sqrt();
        if x > 0.0 {
            a
        } else {
            2.0 * x
        }
    }
}

mod outside_operand2 {
    /// Same with two parameters and a `let mut` reassigned in one branch.
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        let l = x.ln();
        let mut s = y * 3.0;
        if x > 1.0 {
            s += l;
        }
        s
    }
}

mod outside_max {
    /// The same through `max`: at x <= 0 the first argument is taken.
    #[super::differentiate]
    pub fn f(x: f64) -> f64 {
        x.max(x.sqrt() - 5.0)
    }
}

#[test]
fn untaken_branch_operand_computed_before_the_if_forward() {
    assert_eq!(outside_operand::f_jvp(-1.0, 1.0).1, 2.0);
    assert_eq!(outside_operand::f_jvp(0.0, 1.0).1, 2.0);
    assert_eq!(outside_operand::f_jvp(4.0, 1.0).1, 0.25);
    assert_eq!(outside_operand2::f_jvp(-1.0, 1.0, 1.0, 0.0).1, 0.0);
    assert_eq!(outside_operand2::f_jvp(0.0, 1.0, 0.0, 1.0).1, 3.0);
    assert_eq!(outside_max::f_jvp(-1.0, 1.0).1, 1.0);
    assert_eq!(outside_max::f_jvp(0.0, 1.0).1, 1.0);
}

#[test]
fn untaken_branch_operand_computed_before_the_if_reverse() {
    expect1("at -1", d1!(outside_operand, -1.0), 2.0);
    expect1("at 0", d1!(outside_operand, 0.0), 2.0);
    expect1("at 4", d1!(outside_operand, 4.0), 0.25);
    // x <= 1: s = 3y, gradient (0, 3), whatever ln x is.
    expect2("at (-1, 1)", d2!(outside_operand2, -1.0, 1.0), (0.0, 3.0));
    expect2("at (0, 1)", d2!(outside_operand2, 0.0, 1.0), (0.0, 3.0));
    expect2("at (0.5, 1)", d2!(outside_operand2, 0.5, 1.0), (0.0, 3.0));
    expect2("at (2, 1)", d2!(outside_operand2, 2.0, 1.0), (0.5, 3.0));
}

#[test]
fn unselected_max_operand_reverse() {
    expect1("at -1", d1!(outside_max, -1.0), 1.0);
    expect1("at 0", d1!(outside_max, 0.0), 1.0);
    expect1("at 36", d1!(outside_max, 36.0), 1.0);
    expect1("at 100", d1!(outside_max, 100.0), 1.0);
}

mod branch_on_params {
    /// Conditions on a non-float parameter and on a float that is not
    /// differentiated.
    #[super::differentiate(wrt(x))]
    pub fn f(x: f64, t: f64, flag: bool) -> f64 {
        let mut s = x;
        if flag {
            s *= x;
        } else if t > 0.0 {
            s = s.sin();
        } else {
            s = -s * t;
        }
        s
    }
}

#[test]
fn branches_on_non_differentiated_params() {
    let x = 0.5_f64;
    for (t, flag, want) in [
        (1.0, true, 2.0 * x),
        (1.0, false, x.cos()),
        (-2.0, false, 2.0),
        (-2.0, true, 2.0 * x),
    ] {
        let got = [
            branch_on_params::f_grad(x, t, flag),
            branch_on_params::f_value_and_grad(x, t, flag).1,
            branch_on_params::f_jvp(x, t, flag, 1.0).1,
            branch_on_params::f_vjp(x, t, flag, 1.0).1,
            branch_on_params::f_jacobian(x, t, flag),
        ];
        assert_eq!(
            branch_on_params::f_vjp(x, t, flag, 1.0).0,
            branch_on_params::f(x, t, flag)
        );
        expect1(&format!("t = {t}, flag = {flag}"), got, want);
    }
}

mod branch_tuple {
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> (f64, f64) {
        if x > y {
            (x * y, x)
        } else {
            (y, x * x)
        }
    }
}

#[test]
fn branch_with_tuple_output_forward_and_reverse() {
    // then: J = [[y, x], [1, 0]]; else: J = [[0, 1], [2x, 0]].
    let (x, y) = (3.0, 2.0);
    assert_eq!(branch_tuple::f(x, y), (6.0, 3.0));
    assert_eq!(branch_tuple::f_jacobian(x, y), ([y, 1.0], [x, 0.0]));
    assert_eq!(branch_tuple::f_jvp(x, y, 1.0, 0.0), ((6.0, 3.0), (y, 1.0)));
    assert_eq!(branch_tuple::f_vjp(x, y, (1.0, 0.0)), ((6.0, 3.0), (y, x)));
    let (x, y) = (2.0, 3.0);
    assert_eq!(branch_tuple::f_jacobian(x, y), ([0.0, 2.0 * x], [1.0, 0.0]));
    assert_eq!(
        branch_tuple::f_jvp(x, y, 0.0, 1.0),
        ((3.0, 4.0), (1.0, 0.0))
    );
    assert_eq!(
        branch_tuple::f_vjp(x, y, (0.0, 1.0)),
        ((3.0, 4.0), (2.0 * x, 0.0))
    );
    // tie x == y: else branch.
    assert_eq!(branch_tuple::f_jacobian(1.0, 1.0), ([0.0, 2.0], [1.0, 0.0]));
}

mod hypot0 {
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.hypot(y)
    }

    /// The fuzzer's seed 13 case 194: a zero factor times hypot at the
    /// origin gave a NaN tangent (0 * 0/0).
    #[super::differentiate]
    pub fn scaled(x: f64, y: f64) -> f64 {
        (x - y) * x.hypot(y) + y
    }
}

#[test]
fn hypot_at_the_origin_has_derivative_zero() {
    assert_eq!(hypot0::f_grad(0.0, 0.0), (0.0, 0.0));
    assert_eq!(hypot0::f_jvp(0.0, 0.0, 1.0, 1.0), (0.0, 0.0));
    let (gx, gy) = hypot0::f_grad(3.0, -4.0);
    assert!((gx - 0.6).abs() < 1e-15 && (gy + 0.8).abs() < 1e-15);
    assert_eq!(hypot0::scaled_grad(0.0, 0.0), (0.0, 1.0));
    assert_eq!(hypot0::scaled_jvp(0.0, 0.0, 1.0, 0.0).1, 0.0);
}

mod atan2_origin {
    #[super::differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        x.atan2(y)
    }

    /// The fuzzer's seed 21 case 4355: `(w * 0.0 * v).atan2(b)` met `b ==
    /// 0` in a loop; the first argument's tangent is 0, but 0 * 0/0 made
    /// the whole gradient NaN.
    #[super::differentiate]
    pub fn zero_numerator(v: f64, b: f64) -> f64 {
        (v * 0.0).atan2(b.trunc()) + v
    }
}

#[test]
fn atan2_at_the_origin_has_derivative_zero() {
    assert_eq!(atan2_origin::f_grad(0.0, 0.0), (0.0, 0.0));
    assert_eq!(atan2_origin::f_jvp(0.0, 0.0, 1.0, 1.0), (0.0, 0.0));
    // Elsewhere y / (x² + y²) and -x / (x² + y²).
    let (gx, gy) = atan2_origin::f_grad(3.0, -4.0);
    assert!((gx + 4.0 / 25.0).abs() < 1e-15 && (gy + 3.0 / 25.0).abs() < 1e-15);
    assert_eq!(atan2_origin::zero_numerator_grad(1.5, 0.25), (1.0, 0.0));
    assert_eq!(atan2_origin::zero_numerator_jvp(1.5, 0.25, 1.0, 1.0).1, 1.0);
}
