//! Hygiene: the generated code must compile whatever the user has in scope
//! (it names only `::core::...` and `::autodiff::__private::...`), must not
//! capture or clash with the user's names, and must not produce warnings.
//! Most of this file "passes if it compiles"; the tests then check values
//! against hand-derived derivatives.
//!
//! The whole test crate is compiled under `deny(warnings)`.
#![deny(warnings)]

// ---------------------------------------------------------------------------
// Shadowed crate names at the crate root: `core`, `std`, `autodiff` as local
// modules. In the 2018+ editions `::core` and `::autodiff` still name the
// crates, but any relative `core::`, `std::` or `autodiff::` path in the
// generated code would fail (or be ambiguous) here.
// ---------------------------------------------------------------------------

#[allow(dead_code)]
mod core {}
#[allow(dead_code)]
mod std {}
#[allow(dead_code)]
mod autodiff {}

#[::autodiff::differentiate]
fn at_root(x: f64, y: f64, n: usize) -> f64 {
    let mut s = x * y;
    if x > y {
        s += x.max(y).sqrt();
    } else {
        s -= (n as f64) * y.abs();
    }
    s.sin() + x.clamp(-1.0, 1.0) + x.powi(n as i32) + x.powf(2.5) + x.signum() + y.hypot(x)
}

#[::autodiff::differentiate]
fn at_root_tuple(x: f32, y: f32) -> (f32, f32, f32) {
    (x * y, x.min(y), (x * 0.5).atan2(y))
}

#[test]
fn root_with_core_std_autodiff_shadowed() {
    let (x, y, n) = (0.8_f64, 0.3_f64, 3usize);
    // x > y: s = x y + sqrt(x); f = sin(s) + x + x^3 + x^2.5 + signum(x) + hypot(y, x)
    let s = x * y + x.sqrt();
    let h = y.hypot(x);
    let want_x = s.cos() * (y + 0.5 / x.sqrt()) + 1.0 + 3.0 * x * x + 2.5 * x.powf(1.5) + x / h;
    let want_y = s.cos() * x + y / h;
    let (v, (gx, gy)) = at_root_value_and_grad(x, y, n);
    assert_eq!(v, at_root(x, y, n));
    assert!(
        (gx - want_x).abs() < 1e-12 && (gy - want_y).abs() < 1e-12,
        "{gx} {gy} vs {want_x} {want_y}"
    );
    let (v, t) = at_root_jvp(x, y, n, 1.0, 0.0);
    assert_eq!(v, at_root(x, y, n));
    assert!((t - want_x).abs() < 1e-12);
    // The gradient is reverse mode and this Jacobian forward mode: the
    // same terms, summed in another order, so equal to rounding.
    let (g, j) = (at_root_grad(x, y, n), at_root_jacobian(x, y, n));
    assert!((g.0 - j.0).abs() <= 1e-15 * g.0.abs() && (g.1 - j.1).abs() <= 1e-15 * g.1.abs());
    assert_eq!(
        at_root_vjp(x, y, n, 2.0).1 .1,
        2.0 * at_root_grad(x, y, n).1
    );
    assert!(!at_root_pp().to_string().is_empty());

    let (x, y) = (0.5_f32, 2.0_f32);
    let (dx, dy) = at_root_tuple_jacobian(x, y);
    // atan2(x/2, y): ∂x = (y/2) / (x²/4 + y²), ∂y = -(x/2) / (x²/4 + y²)
    let d = x * x / 4.0 + y * y;
    assert_eq!(dx[0], y);
    assert_eq!(dx[1], 1.0);
    assert!((dx[2] - (y / 2.0) / d).abs() < 1e-6);
    assert_eq!(dy[0], x);
    assert_eq!(dy[1], 0.0);
    assert!((dy[2] + (x / 2.0) / d).abs() < 1e-6);
    let (v, _) = at_root_tuple_vjp(x, y, (1.0, 1.0, 1.0));
    assert_eq!(v, at_root_tuple(x, y));
    let _ = at_root_tuple_jvp(x, y, 1.0, 1.0);
    assert!(!at_root_tuple_pp().to_string().is_empty());
}

// ---------------------------------------------------------------------------
// A module shadowing prelude items and macros, and `autodiff` as a local
// module in a sub-module.
// ---------------------------------------------------------------------------

mod shadows {
    #![allow(dead_code, non_camel_case_types, unused_macros)]

    // Prelude types / traits / variants.
    pub struct Option;
    pub struct Some;
    pub struct None;
    pub struct Result;
    pub struct Ok;
    pub struct Err;
    pub struct Vec;
    pub struct Box;
    pub struct String;
    pub trait Default {}
    pub trait Into {}
    pub trait From {}
    pub trait Clone {}
    pub trait Copy {}
    pub trait Fn {}
    pub trait Iterator {}
    pub trait IntoIterator {}
    pub struct usize_;
    pub mod core {}
    pub mod std {}
    pub mod __private {}

    // Prelude macros (textual scope wins over the std ones).
    macro_rules! unreachable {
        ($($t:tt)*) => {
            compile_error!("generated code used a relative `unreachable!`")
        };
    }
    macro_rules! panic {
        ($($t:tt)*) => {
            compile_error!("generated code used a relative `panic!`")
        };
    }
    macro_rules! assert {
        ($($t:tt)*) => {
            compile_error!("generated code used a relative `assert!`")
        };
    }
    macro_rules! debug_assert {
        ($($t:tt)*) => {
            compile_error!("generated code used a relative `debug_assert!`")
        };
    }
    macro_rules! vec {
        ($($t:tt)*) => {
            compile_error!("generated code used a relative `vec!`")
        };
    }

    // Runtime helper names the generated code might use unqualified.
    pub fn sign0(_: f64) -> f64 {
        unimplemented!("user sign0 called")
    }
    pub fn max_first(_: f64, _: f64) -> bool {
        unimplemented!("user max_first called")
    }
    pub fn min_first(_: f64, _: f64) -> bool {
        unimplemented!("user min_first called")
    }
    pub fn sigmoid(_: f64) -> f64 {
        unimplemented!("user sigmoid called")
    }

    use ::autodiff::differentiate;

    #[differentiate]
    pub fn f(x: f64, y: f64) -> f64 {
        let m = x.max(y) + x.min(y) + x.abs() + x.clamp(0.0, 1.0);
        if m > 1.0 {
            m * x.exp()
        } else {
            m.powf(y) + x.powi(2)
        }
    }

    /// A tuple output: its `f_grad` is the "needs a scalar output" stub.
    #[differentiate]
    pub fn t(x: f64, y: f64) -> (f64, f64) {
        (x.max(y), x * y)
    }

    pub mod inner {
        #![allow(dead_code)]
        /// A local `autodiff` module: relative `autodiff::` paths break.
        pub mod autodiff {
            pub mod __private {}
            pub fn differentiate() {}
        }

        #[::autodiff::differentiate(wrt(x))]
        pub fn g(x: f64, k: f64, n: u32) -> f64 {
            (x * k).tanh() * (n as f64) + x.abs()
        }
    }
}

#[test]
fn module_with_shadowed_prelude_and_autodiff() {
    // x = 0.5, y = 2: m = 2 + 0.5 + 0.5 + 0.5 = 3.5 > 1 -> f = m e^x,
    // ∂x m = 0 + 1 + 1 + 1 = 3 (min takes x, max takes y), ∂y m = 1.
    let (x, y) = (0.5_f64, 2.0_f64);
    let m = 3.5;
    let (v, (gx, gy)) = shadows::f_value_and_grad(x, y);
    assert_eq!(v, shadows::f(x, y));
    assert!((gx - (3.0 * x.exp() + m * x.exp())).abs() < 1e-12);
    assert!((gy - x.exp()).abs() < 1e-12);
    assert_eq!(shadows::f_grad(x, y), shadows::f_jacobian(x, y));
    assert_eq!(shadows::f_jvp(x, y, 0.0, 1.0).1, gy);
    assert_eq!(shadows::f_vjp(x, y, 1.0).1, (gx, gy));
    assert!(!shadows::f_pp().to_string().is_empty());

    assert_eq!(shadows::t_jacobian(1.0, 3.0), ([0.0, 3.0], [1.0, 1.0]));
    assert_eq!(shadows::t_jvp(1.0, 3.0, 1.0, 0.0), ((3.0, 3.0), (0.0, 3.0)));
    assert_eq!(
        shadows::t_vjp(1.0, 3.0, (1.0, 1.0)),
        ((3.0, 3.0), (3.0, 2.0))
    );
    assert_eq!(shadows::t(1.0, 3.0), (3.0, 3.0));
    assert!(!shadows::t_pp().to_string().is_empty());

    // d/dx [tanh(x k) n + |x|] = k n (1 - tanh²) + sign(x)
    let (x, k, n) = (0.3_f64, 2.0_f64, 4u32);
    let th = (x * k).tanh();
    let want = k * 4.0 * (1.0 - th * th) + 1.0;
    assert!((shadows::inner::g_grad(x, k, n) - want).abs() < 1e-12);
    assert_eq!(
        shadows::inner::g_value_and_grad(x, k, n).0,
        shadows::inner::g(x, k, n)
    );
    assert_eq!(
        shadows::inner::g_jvp(x, k, n, 1.0).1,
        shadows::inner::g_jacobian(x, k, n)
    );
    assert_eq!(
        shadows::inner::g_vjp(x, k, n, 1.0).1,
        shadows::inner::g_grad(x, k, n)
    );
    assert!(!shadows::inner::g_pp().to_string().is_empty());
}

// ---------------------------------------------------------------------------
// No implicit prelude at all.
// ---------------------------------------------------------------------------

#[no_implicit_prelude]
mod bare {
    #[::autodiff::differentiate]
    pub fn f(x: f64, y: f64, n: usize) -> f64 {
        let mut s = x.mul_add(y, 1.0);
        if s > 0.0 {
            s = s.ln() + x.max(y);
        }
        s * (n as f64) + x.abs() + y.clamp(-1.0, 1.0)
    }

    #[::autodiff::differentiate]
    pub fn t(x: f32) -> (f32, f32) {
        (x.sin(), x.min(1.0))
    }
}

#[test]
fn no_implicit_prelude_module() {
    let (x, y, n) = (0.5_f64, 0.25_f64, 2usize);
    // s = x y + 1 > 0 -> s = ln(xy + 1) + max(x, y) (= x)
    // f = 2 s + |x| + y
    let w = x * y + 1.0;
    let want = (2.0 * (y / w + 1.0) + 1.0, 2.0 * (x / w) + 1.0);
    let (v, g) = bare::f_value_and_grad(x, y, n);
    assert_eq!(v, bare::f(x, y, n));
    assert!((g.0 - want.0).abs() < 1e-12 && (g.1 - want.1).abs() < 1e-12);
    assert_eq!(bare::f_grad(x, y, n), g);
    assert_eq!(bare::f_jacobian(x, y, n), g);
    assert_eq!(bare::f_vjp(x, y, n, 1.0), (v, g));
    let _ = bare::f_jvp(x, y, n, 1.0, 1.0);
    assert!(!bare::f_pp().to_string().is_empty());
    assert_eq!(bare::t_jacobian(0.5), [0.5_f32.cos(), 1.0]);
    assert_eq!(bare::t_jvp(0.5, 1.0).0, bare::t(0.5));
    let _ = bare::t_vjp(0.5, (1.0, 1.0));
    let _ = bare::t_pp();
}

// ---------------------------------------------------------------------------
// User names that look like generated ones.
// ---------------------------------------------------------------------------

mod names {
    use ::autodiff::differentiate;

    /// Locals named like the generated tangent / cotangent parameters and
    /// temporaries must not capture (or be captured by) them.
    #[differentiate]
    pub fn locals(x: f64) -> f64 {
        let out_bar = x * 3.0;
        let x_dot = out_bar.sin();
        let t0 = x_dot + out_bar;
        let t1 = t0 * x;
        t1 + t0
    }
}

#[test]
fn user_locals_named_like_generated_ones() {
    // f = (sin 3x + 3x)(x + 1), f' = (3 cos 3x + 3)(x + 1) + sin 3x + 3x
    let x = 0.7_f64;
    let want = (3.0 * (3.0 * x).cos() + 3.0) * (x + 1.0) + (3.0 * x).sin() + 3.0 * x;
    assert!((names::locals_grad(x) - want).abs() < 1e-12);
    // JVP with x_dot = 2 and VJP with out_bar = 2 scale by 2.
    let (v, t) = names::locals_jvp(x, 2.0);
    assert_eq!(v, names::locals(x));
    assert!((t - 2.0 * want).abs() < 1e-12);
    let (v, b) = names::locals_vjp(x, 2.0);
    assert_eq!(v, names::locals(x));
    assert!((b - 2.0 * want).abs() < 1e-12);
    assert_eq!(names::locals_value_and_grad(x).0, v);
    assert!((names::locals_jacobian(x) - want).abs() < 1e-12);
    assert!(!names::locals_pp().to_string().is_empty());
}

// ---------------------------------------------------------------------------
// Other places an annotated function can live.
// ---------------------------------------------------------------------------

macro_rules! make_square_sine {
    ($name:ident) => {
        #[::autodiff::differentiate]
        fn $name(x: f64) -> f64 {
            let y = x * x;
            y.sin()
        }
    };
}

make_square_sine!(from_macro_rules);

#[test]
fn function_generated_by_macro_rules() {
    let x = 0.9_f64;
    let want = (x * x).cos() * 2.0 * x;
    assert!((from_macro_rules_grad(x) - want).abs() < 1e-12);
    assert_eq!(from_macro_rules_value_and_grad(x).0, from_macro_rules(x));
    assert_eq!(
        from_macro_rules_jvp(x, 1.0).1,
        from_macro_rules_vjp(x, 1.0).1
    );
    assert_eq!(from_macro_rules_jacobian(x), from_macro_rules_grad(x));
    let _ = from_macro_rules_pp();
}

#[test]
fn function_nested_in_a_function_body() {
    use ::autodiff::differentiate;
    #[differentiate]
    fn inner(x: f64, y: f64) -> f64 {
        x * y + x.exp()
    }
    let (x, y) = (0.2_f64, 3.0_f64);
    assert_eq!(inner_grad(x, y), (y + x.exp(), x));
    assert_eq!(inner_value_and_grad(x, y).0, inner(x, y));
    assert_eq!(inner_jvp(x, y, 0.0, 1.0).1, x);
    assert_eq!(inner_vjp(x, y, 1.0).1, inner_grad(x, y));
    assert_eq!(inner_jacobian(x, y), inner_grad(x, y));
    let _ = inner_pp();
}

mod visibility {
    use ::autodiff::differentiate as grad_me;

    /// Renamed import of the attribute; `pub(crate)` visibility is copied
    /// to the companions; other attributes are kept.
    #[grad_me]
    #[must_use]
    #[inline]
    pub(crate) fn f(x: f64) -> f64 {
        x.cbrt() * 3.0
    }
}

#[test]
fn renamed_attribute_and_pub_crate() {
    let x = 8.0_f64;
    // d/dx 3 cbrt(x) = x^(-2/3) = 1/4
    assert_eq!(visibility::f_grad(x), 0.25);
    assert_eq!(visibility::f_value_and_grad(x), (visibility::f(x), 0.25));
    assert_eq!(visibility::f_jvp(x, 1.0).1, 0.25);
    assert_eq!(visibility::f_vjp(x, 1.0).1, 0.25);
    assert_eq!(visibility::f_jacobian(x), 0.25);
    let _ = visibility::f_pp();
}

// ---------------------------------------------------------------------------
// Strictness: functions whose derivatives leave parameters unused, and
// companions that are never called, under `deny(warnings)` (the crate
// already denies warnings; this module restates it with the common extra
// lints people turn on).
// ---------------------------------------------------------------------------

#[deny(warnings, unused, nonstandard_style, rust_2018_idioms)]
mod strict {
    use ::autodiff::differentiate;

    /// Linear: the gradient uses neither `x` nor `y`.
    #[differentiate]
    pub fn linear(x: f64, y: f64) -> f64 {
        2.0 * x + 3.0 * y
    }

    /// The derivative does not use `n`, the value does.
    #[differentiate]
    pub fn with_n(x: f64, n: usize) -> f64 {
        x + n as f64
    }

    /// `wrt` excludes `y`, which the derivative does not need.
    #[differentiate(wrt(x))]
    pub fn partial(x: f64, y: f64) -> f64 {
        x * 4.0 - y.exp()
    }

    /// `let mut`, compound assignment, branches, tuple destructuring.
    #[differentiate]
    pub fn busy(x: f64, y: f64, flag: bool) -> f64 {
        let mut s = x;
        s *= y;
        let (a, b) = (s.sin(), s.cos());
        if flag {
            s += a;
        } else {
            s -= b;
        }
        s
    }

    /// Tuple output: `_grad` / `_value_and_grad` are stubs.
    #[differentiate]
    pub fn pair(x: f32, y: f32) -> (f32, f32) {
        (x + y, x - y)
    }

    /// Constant output.
    #[differentiate]
    #[allow(unused_variables)]
    pub fn constant(x: f64) -> f64 {
        1.5
    }
}

#[test]
fn strict_module_values() {
    assert_eq!(strict::linear_grad(1.0, 1.0), (2.0, 3.0));
    assert_eq!(strict::linear(1.0, 1.0), 5.0);
    assert_eq!(strict::with_n_grad(1.0, 3), 1.0);
    assert_eq!(strict::with_n(1.0, 3), 4.0);
    assert_eq!(strict::partial_grad(1.0, 0.0), 4.0);
    assert_eq!(strict::partial(1.0, 0.0), 3.0);
    let (x, y) = (0.5_f64, 2.0_f64);
    let s = x * y;
    assert!((strict::busy_grad(x, y, true).0 - y * (1.0 + s.cos())).abs() < 1e-12);
    assert!((strict::busy_grad(x, y, false).1 - x * (1.0 + s.sin())).abs() < 1e-12);
    assert_eq!(strict::busy(x, y, true), s + s.sin());
    assert_eq!(strict::pair_jacobian(1.0, 2.0), ([1.0, 1.0], [1.0, -1.0]));
    assert_eq!(strict::pair(1.0, 2.0), (3.0, -1.0));
    assert_eq!(strict::constant_grad(1.0), 0.0);
    assert_eq!(strict::constant(1.0), 1.5);
}

// ---------------------------------------------------------------------------
// Parameters named like generated ones.
// ---------------------------------------------------------------------------

mod param_names {
    /// Parameters named like the emitter's temporaries (`t0`, `t1`, ...).
    #[::autodiff::differentiate]
    pub fn temps(x: f64, t0: f64, t1: f64) -> f64 {
        let t2 = x * t0;
        t2 * t1 + x.sin()
    }
}

#[test]
fn params_named_like_temporaries() {
    let (x, t0, t1) = (1.0_f64, 2.0_f64, 3.0_f64);
    let want = (t0 * t1 + x.cos(), x * t1, x * t0);
    assert_eq!(param_names::temps_grad(x, t0, t1), want);
    assert_eq!(
        param_names::temps_vjp(x, t0, t1, 1.0),
        (param_names::temps(x, t0, t1), want)
    );
    assert_eq!(param_names::temps_jvp(x, t0, t1, 0.0, 1.0, 0.0).1, x * t1);
    assert_eq!(
        param_names::temps_value_and_grad(x, t0, t1).1,
        param_names::temps_jacobian(x, t0, t1)
    );
    let _ = param_names::temps_pp();
}

/// A parameter named `<other>_dot` next to `<other>` (a position and its
/// velocity, say) or named `out_bar` must not collide with the generated
/// tangent / cotangent parameters: those take a trailing `_` instead.
mod clash {
    #[::autodiff::differentiate]
    pub fn state(x: f64, x_dot: f64) -> f64 {
        x * x_dot
    }

    #[::autodiff::differentiate]
    pub fn weighted(x: f64, out_bar: f64) -> f64 {
        x * out_bar
    }
}

#[test]
fn params_named_like_tangents_and_cotangents() {
    assert_eq!(clash::state_jvp(2.0, 3.0, 1.0, 0.0), (6.0, 3.0));
    assert_eq!(clash::state_grad(2.0, 3.0), (3.0, 2.0));
    assert_eq!(clash::weighted_vjp(2.0, 3.0, 1.0), (6.0, (3.0, 2.0)));
    assert_eq!(clash::state(2.0, 3.0) + clash::weighted(2.0, 3.0), 12.0);
}

// ---------------------------------------------------------------------------
// Every name the expansion uses itself, as a parameter and as a local: the
// companions' own parameters (`x_dot`, `out_bar`, ...), the locals of the
// Jacobian and Hessian bodies (`i`, `e`, `cols`, `value`, ...), the
// emitter's temporaries (`t0`) and the names iterator chains are rewritten
// with (`__ad_i`, ...), through every companion shape: tuple outputs
// holding arrays, array outputs (by rows and by columns), Hessians of
// arrays and slices, and iterator chains.
// ---------------------------------------------------------------------------

macro_rules! named_like_generated {
    ($($name:ident)*) => {$(
        #[allow(non_snake_case, clippy::all)]
        mod $name {
            use ::autodiff::differentiate;

            #[differentiate]
            pub fn tuple_out(x: [f64; 3], $name: f64) -> (f64, [f64; 3]) {
                (x[0] * x[1] * $name, [x[0] * $name, x[1] * x[1], x[2]])
            }

            #[differentiate(wrt(x))]
            pub fn array_out(x: [f64; 2], $name: f64) -> [f64; 3] {
                [x[0] * $name, x[1] * x[0], x[1] + $name]
            }

            #[differentiate(hessian, wrt(x))]
            pub fn on_slice(x: &[f64], $name: f64) -> f64 {
                $name * x[0] * x[0] * x[1] + x.iter().map(|$name| $name * $name).sum::<f64>()
            }

            #[differentiate(hessian)]
            pub fn local(x: [f64; 2]) -> f64 {
                let $name = x[0] * 2.0;
                let s: f64 = x.iter().zip(x.iter()).map(|($name, b)| $name * b).sum();
                $name * $name * x[1] + s
            }
        }
    )*};
}

named_like_generated!(
    i j n e r k cols rows row0 row1 rows0 rows1 zero0 zero1 value value_fn vjp jvp hvp
    t0 t1 t2 x_dot out_bar out_bar_dot grad_bar arg0 __ad_i __ad_v __ad_acc __ad_out
    __ad_s0 __ad_xs __ad_ys __ad_y __ad_n0 __autodiff_zeros_like
);

macro_rules! check_named_like_generated {
    ($($name:ident)*) => {$({
        let x = [1.5, -2.0, 0.5];
        let k = 3.0;
        // tuple_out: d/dx of (x0 x1 k, [x0 k, x1², x2]) and d/dk.
        let ((gx0, jx1), (gk0, jk1)) = $name::tuple_out_jacobian(x, k);
        assert_eq!(gx0, [x[1] * k, x[0] * k, 0.0]);
        assert_eq!(jx1, [[k, 0.0, 0.0], [0.0, 2.0 * x[1], 0.0], [0.0, 0.0, 1.0]]);
        assert_eq!((gk0, jk1), (x[0] * x[1], [x[0], 0.0, 0.0]));
        let y = [x[0], x[1]];
        assert_eq!(
            $name::array_out_jacobian(y, k),
            [[k, 0.0], [y[1], y[0]], [0.0, 1.0]]
        );
        // on_slice: k x0² x1 + Σ x², Hessian [[2k x1 + 2, 2k x0, 0], [2k x0, 2, 0], [0, 0, 2]].
        let h = $name::on_slice_hessian(&x, k);
        let want = [
            [2.0 * k * x[1] + 2.0, 2.0 * k * x[0], 0.0],
            [2.0 * k * x[0], 2.0, 0.0],
            [0.0, 0.0, 2.0],
        ];
        for (a, row) in want.iter().enumerate() {
            for (b, w) in row.iter().enumerate() {
                assert!((h[(a, b)] - w).abs() < 1e-12, "{} {a} {b}", stringify!($name));
            }
        }
        let (g, hv) = $name::on_slice_grad_vjp(&x, k, &[1.0, 0.0, 0.0]);
        assert_eq!(g.len(), 3);
        assert!((hv[0] - want[0][0]).abs() < 1e-12 && (hv[1] - want[1][0]).abs() < 1e-12);
        // local: 4 x0² x1 + x0² + x1², Hessian [[8 x1 + 2, 8 x0], [8 x0, 2]].
        let h = $name::local_hessian(y);
        assert_eq!(h, [[8.0 * y[1] + 2.0, 8.0 * y[0]], [8.0 * y[0], 2.0]]);
    })*};
}

#[test]
fn every_generated_name_as_a_parameter_and_a_local() {
    check_named_like_generated!(
        i j n e r k cols rows row0 row1 rows0 rows1 zero0 zero1 value value_fn vjp jvp hvp
        t0 t1 t2 x_dot out_bar out_bar_dot grad_bar arg0 __ad_i __ad_v __ad_acc __ad_out
        __ad_s0 __ad_xs __ad_ys __ad_y __ad_n0 __autodiff_zeros_like
    );
}

// ---------------------------------------------------------------------------
// `crate = path` (SPEC §2): the facade reached through a re-export.
// ---------------------------------------------------------------------------

mod reexport {
    pub mod math {
        pub use ::autodiff as ad;
    }
}

mod through_reexport {
    use crate::hygiene::reexport::math::ad;

    #[ad::differentiate(crate = crate::hygiene::reexport::math::ad, hessian)]
    pub fn f(x: f64, y: [f64; 2]) -> f64 {
        x * y[0] + (y[1] * x).sin()
    }

    // serde's string form.
    #[ad::differentiate(crate = "crate::hygiene::reexport::math::ad")]
    pub fn g(x: f64) -> f64 {
        x.exp()
    }
}

#[test]
fn the_facade_reached_through_a_reexport() {
    let (x, y) = (0.5, [2.0, -1.5]);
    let (gx, gy) = through_reexport::f_grad(x, y);
    assert!((gx - (y[0] + y[1] * (y[1] * x).cos())).abs() < 1e-14);
    assert!((gy[0] - x).abs() < 1e-15);
    assert!((gy[1] - x * (y[1] * x).cos()).abs() < 1e-14);
    let h = through_reexport::f_hessian(x, y);
    let want = -y[1] * y[1] * (y[1] * x).sin();
    assert!((h[(0, 0)] - want).abs() < 1e-14);
    assert_eq!(through_reexport::g_grad(1.0), 1.0_f64.exp());
}

// ---------------------------------------------------------------------------
// Parameters named like the crates generated code names (`core`, `std`),
// read beside `if let` and `match`, which lower to `::core::matches!`
// (the fuzzer's seed 11 cases 1353, 1428 and 1434 overflowed the macro's
// stack).
// ---------------------------------------------------------------------------

#[::autodiff::differentiate]
fn crate_named_params(core: f64, std: f64, o: Option<f64>, k: u8) -> f64 {
    let s = match k {
        0 => core,
        _ => std,
    };
    if let Some(cv) = o {
        core * cv + s.sin()
    } else {
        core * std
    }
}

#[test]
fn parameters_named_core_and_std() {
    let (g0, g1) = crate_named_params_grad(2.0, 3.0, Some(0.5), 0);
    assert!((g0 - (0.5 + 2.0_f64.cos())).abs() < 1e-15 && g1 == 0.0);
    let (g0, g1) = crate_named_params_grad(2.0, 3.0, None, 1);
    assert_eq!((g0, g1), (3.0, 2.0));
}

// ---------------------------------------------------------------------------
// A local value of a type the macro cannot see (not `Copy`) read in two
// places, under a name the body binds twice (the loop's `&w` and the
// `let`), so it cannot be emitted under its own name: the tokens that read
// its field borrow it (the fuzzer's seed 14 case 1445 moved it twice).
// ---------------------------------------------------------------------------

/// Data without `Copy`.
pub struct NotCopy {
    /// A weight.
    pub k: f64,
}

#[::autodiff::differentiate]
fn opaque_read_twice(x: f64, y: [f64; 2]) -> f64 {
    let mut s = 0.0;
    for &w in y.iter() {
        s += w * x;
    }
    let w = NotCopy { k: 0.25 };
    let a = w.k.atan2(x);
    s + a * w.k.min(x)
}

#[test]
fn a_value_of_unknown_type_read_twice_is_borrowed() {
    let (x, y) = (0.7, [1.5, -0.5]);
    let (gx, gy) = opaque_read_twice_grad(x, y);
    // d/dx [x (y0 + y1) + atan2(k, x) min(k, x)] with k = 0.25 < x.
    let k: f64 = 0.25;
    let want = y[0] + y[1] - k / (k * k + x * x) * k;
    assert!((gx - want).abs() < 1e-14, "{gx} vs {want}");
    assert_eq!(gy, [x, x]);
}

// ---------------------------------------------------------------------------
// A value of unseen type (not `Copy`) that the pullback's closure captures,
// whose field the value also reads: the first part returns the captured
// values as one tuple with the value, and the value is read before the
// tuple moves `cfg` (the fuzzer's seed 34 case 3855: E0382 in the
// expansion).
// ---------------------------------------------------------------------------

#[::autodiff::differentiate(linearize)]
fn unseen_value_read_after_capture(total: f64, bias: bool, loss: f64) -> f64 {
    let k: f64 = 0.9;
    let cfg = NotCopy { k };
    let beta = -k
        .hypot(cfg.k + 0.5)
        .mul_add((total.tanh() * 0.9).tan(), loss.max(loss));
    let mut a: f64 = 0.0;
    for idx in 0..4 {
        if total + a >= ((idx as f64).abs() + 0.5).powf((idx as f64).tanh() * 0.9) {
            a -= (cfg.k * total).abs();
        }
    }
    let pos = (cfg.k.abs() + 0.5).log2();
    let core = (pos * pos + 1.5).acosh();
    let e = pos + core;
    a += cfg.k.cos().cosh().atan2((e + 0.75).cbrt() + 2.0);
    beta * core + (if bias { 2.5 } else { -0.5 }) * 4.0 + a * 0.05
}

#[test]
fn a_captured_value_of_unseen_type_is_moved_last() {
    let (total, loss) = (0.8, -0.3);
    let f = |t: f64, l: f64| unseen_value_read_after_capture(t, true, l);
    let (value, pull) = unseen_value_read_after_capture_pullback(total, true, loss);
    assert_eq!(value, f(total, loss));
    let (gt, gl) = pull(1.0);
    let h = 1e-6;
    let dt = (f(total + h, loss) - f(total - h, loss)) / (2.0 * h);
    let dl = (f(total, loss + h) - f(total, loss - h)) / (2.0 * h);
    assert!((gt - dt).abs() < 1e-6 * dt.abs().max(1.0), "{gt} vs {dt}");
    assert!((gl - dl).abs() < 1e-6 * dl.abs().max(1.0), "{gl} vs {dl}");
}

// ---------------------------------------------------------------------------
// A local named like a companion's parameter (`out_bar`), holding a value
// of unseen type that the expansion emits under its own name: the
// companion's cotangent takes another name (the fuzzer's seed 16 case
// 921 shadowed `out_bar` and called `len` on the struct).
// ---------------------------------------------------------------------------

#[::autodiff::differentiate]
fn local_named_out_bar(p: [f64; 3], loss: f64) -> [f64; 2] {
    let out_bar = NotCopy { k: 0.3 };
    // Read twice: emitted under its own name.
    let grad_bar = out_bar.k * loss + out_bar.k;
    // An output written by a loop: its cotangent's length is checked.
    let mut y = [0.0; 2];
    for i in 0..2 {
        y[i] = p[i] * grad_bar + p[2] * loss * i as f64;
    }
    y
}

#[test]
fn a_local_named_like_a_cotangent() {
    let (p, loss) = ([1.0, 2.0, 3.0], 0.5);
    let (y, (gp, gl)) = local_named_out_bar_vjp(p, loss, [1.0, 1.0]);
    let k = 0.3 * loss + 0.3;
    assert_eq!(y, [p[0] * k, p[1] * k + p[2] * loss]);
    assert_eq!(gp, [k, k, loss]);
    assert!((gl - (0.3 * (p[0] + p[1]) + p[2])).abs() < 1e-15);
}

// ---------------------------------------------------------------------------
// `enumerate`'s index named like the array it walks (the fuzzer's seed 17
// case 724): the item is read before the index's name shadows the array.
// ---------------------------------------------------------------------------

#[::autodiff::differentiate]
fn index_shadows_array(h: f64, i: &[f64; 3]) -> f64 {
    let mut b = 0.5;
    for (i, &target) in i.iter().enumerate() {
        b += target * h * (i as f64 + 1.0);
    }
    b * h
}

#[test]
fn an_enumerate_index_named_like_its_array() {
    let (h, x) = (0.7, [1.5, -0.5, 2.0]);
    let (gh, gx) = index_shadows_array_grad(h, &x);
    let s = x[0] + 2.0 * x[1] + 3.0 * x[2];
    // f = 0.5 h + s h^2
    assert!((gh - (0.5 + 2.0 * s * h)).abs() < 1e-14, "{gh}");
    let want = [h * h, 2.0 * h * h, 3.0 * h * h];
    for k in 0..3 {
        assert!((gx[k] - want[k]).abs() < 1e-14, "{gx:?}");
    }
}
