//! Every function the attribute accepts compiles (SPEC §7): one test per
//! construct that once expanded to code rustc refused, each checked
//! against num-dual on a hand-written reference, and the run-time length
//! checks of the companions that take slices.
//!
//! The whole crate is compiled under `deny(warnings)`: generated code must
//! not warn either.
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
use common::{close, dual_grad, dual_jacobian, Dual64};

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(close(*g, *w, 1e-12), "{what}: {got:?} vs {want:?}");
    }
}

// ---------------------------------------------------------------------------
// `+=` under `if` on a local array element in a loop: the adjoint array
// yielded by a branch (it was not `mut`, and was copied into fresh zeros).
// ---------------------------------------------------------------------------

#[differentiate]
fn bump_even(x: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    for i in 0..x.len() {
        out[i] = x[i] * x[i];
        if i % 2 == 0 {
            out[i] += x[i];
        }
    }
    out
}

fn bump_even_ref(x: &[Dual64]) -> Vec<Dual64> {
    (0..x.len())
        .map(|i| x[i] * x[i] + if i % 2 == 0 { x[i] } else { 0.0.into() })
        .collect()
}

#[test]
fn add_under_if_on_a_local_vec() {
    let x = [0.5, -1.5, 2.0, 3.0, -0.25];
    let jac = bump_even_jacobian(&x);
    let want = dual_jacobian(bump_even_ref, &x);
    for (i, row) in want.iter().enumerate() {
        assert_close(jac.row(i), row, "jacobian row");
    }
    let (value, tangent) = bump_even_jvp(&x, &[1.0, 0.0, -1.0, 2.0, 0.5]);
    assert_eq!(value, bump_even(&x));
    let dirs = [1.0, 0.0, -1.0, 2.0, 0.5];
    let want: Vec<f64> = want
        .iter()
        .map(|r| r.iter().zip(&dirs).map(|(a, b)| a * b).sum())
        .collect();
    assert_close(&tangent, &want, "jvp");
}

#[differentiate]
fn fixed_scaled(x: [f64; 3]) -> f64 {
    let mut out = [0.0; 3];
    for i in 0..3 {
        out[i] = x[i] * x[i];
        if i % 2 == 0 {
            out[i] *= 2.0;
        }
    }
    out[0] + out[1] * out[2]
}

#[test]
fn times_under_if_on_a_local_array() {
    let x = [0.7, -1.1, 1.3];
    let f = |x: &[Dual64]| {
        let sq: Vec<Dual64> = x.iter().map(|v| v * v).collect();
        sq[0] * 2.0 + sq[1] * sq[2] * 2.0
    };
    assert_close(&fixed_scaled_grad(x), &dual_grad(f, &x), "grad");
}

/// One bubble pass with a swap under `if`, then the first element.
#[differentiate]
fn bubble_first(array: &[f64]) -> f64 {
    let n = array.len();
    let mut a = vec![0.0; n];
    for i in 0..n {
        a[i] = array[i];
    }
    for j in 1..n {
        if a[j - 1] < a[j] {
            let tmp = a[j];
            a[j] = a[j - 1];
            a[j - 1] = tmp;
        }
    }
    a[0]
}

#[test]
fn swap_under_if() {
    let f = |x: &[Dual64]| {
        let mut a = x.to_vec();
        for j in 1..a.len() {
            if a[j - 1].re < a[j].re {
                a.swap(j - 1, j);
            }
        }
        a[0]
    };
    for x in [[3.0, 1.0, 2.0, 0.5], [0.1, 0.4, 0.3, 0.2]] {
        assert_close(&bubble_first_grad(&x), &dual_grad(f, &x), "grad");
    }
}

// ---------------------------------------------------------------------------
// Generics and shapes in the signatures of the companions.
// ---------------------------------------------------------------------------

#[differentiate]
fn generic_pair<T: autodiff::Float>(x: T, y: T) -> (T, T) {
    (x * y, x)
}

#[test]
fn generic_tuple_output() {
    let (jx, jy) = generic_pair_jacobian(2.0_f64, 3.0);
    assert_eq!((jx, jy), ([3.0, 1.0], [2.0, 0.0]));
    let (jx, _) = generic_pair_jacobian(2.0_f32, 3.0);
    assert_eq!(jx, [3.0, 1.0]);
}

#[differentiate]
fn const_generic<const N: usize>(x: f64, v: [f64; N]) -> [f64; 2] {
    [x * v[0], x]
}

#[test]
fn const_generic_with_a_vector_output() {
    let (jx, jv) = const_generic_jacobian(2.0, [3.0, 5.0, 7.0]);
    assert_eq!(jx, [3.0, 1.0]);
    assert_eq!(jv, [[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);
}

/// A constant accumulator of unknown type, updated with `-=`.
#[differentiate(wrt(y))]
fn constant_accumulator(x: f64, y: f64, v: [f64; 3]) -> f64 {
    let mut acc = v.iter().map(|t| t * t).sum::<f64>();
    acc -= v[1];
    acc * y + x
}

#[test]
fn compound_assignment_on_a_constant() {
    let v = [1.0, 2.0, 3.0];
    assert_eq!(constant_accumulator_grad(0.5, 2.0, v), 14.0 - 2.0);
}

/// Outputs of two float types: each tangent in its output's type, the
/// Jacobian's columns in the output's own tuple type.
#[differentiate]
fn mixed_floats(x: f64, y: f32) -> (f64, f32) {
    (x * 2.0, y * 3.0 + 0.5)
}

#[test]
fn mixed_float_types_in_a_tuple_output() {
    let ((a, b), (da, db)) = mixed_floats_jvp(1.5, 2.0, 1.0, 1.0);
    assert_eq!((a, b), mixed_floats(1.5, 2.0));
    assert_eq!((da, db), (2.0, 3.0));
    assert_eq!(mixed_floats_jacobian(1.5, 2.0), ((2.0, 0.0), (0.0, 3.0)));
    let (_, (gx, gy)) = mixed_floats_vjp(1.5, 2.0, (1.0, 2.0));
    assert_eq!((gx, gy), (2.0, 6.0));
}

/// The float methods through the trait, as generic code calls them.
#[differentiate]
fn through_the_trait(x: f64, y: f64) -> f64 {
    <f64 as autodiff::Float>::sin(x) * y + autodiff::Float::exp(y)
}

#[test]
fn ufcs_through_the_float_trait() {
    let (x, y) = (0.7, -0.3);
    let (gx, gy) = through_the_trait_grad(x, y);
    assert!(close(gx, x.cos() * y, 1e-15) && close(gy, x.sin() + y.exp(), 1e-15));
}

/// Rows of no fixed length are constant data.
#[differentiate(wrt(y))]
fn nested_slices(x: &[&[f64]], y: f64) -> f64 {
    x[0][1] * y * y
}

#[test]
fn nested_slices_are_data() {
    let rows: [&[f64]; 2] = [&[1.0, 2.0], &[3.0]];
    assert_eq!(nested_slices_grad(&rows, 3.0), 12.0);
}

// ---------------------------------------------------------------------------
// Opaque code keeps its meaning: field shorthand, and a closure parameter
// shadowing a binding.
// ---------------------------------------------------------------------------

struct Cfg {
    k: usize,
}

fn scale(c: Cfg) -> f64 {
    c.k as f64
}

#[differentiate]
fn field_shorthand(x: f64, n: usize) -> f64 {
    let k = n * 2;
    x * scale(Cfg { k })
}

/// A field named like a differentiated binding (`k: 2`) reads nothing of it.
#[differentiate]
fn field_named_like_a_binding(x: f64, n: usize) -> f64 {
    let k = x * x;
    k * scale(Cfg { k: n + 1 })
}

#[differentiate]
fn shadowing_closure(x: f64, n: usize) -> f64 {
    let k = 3;
    x * (0..n).map(|k| k as f64).sum::<f64>() * k as f64
}

#[test]
fn opaque_code_as_written() {
    assert_eq!(field_shorthand_grad(1.0, 4), 8.0);
    assert_eq!(shadowing_closure_grad(1.0, 4), 18.0);
    // d/dx (x² (n + 1)) = 2 x (n + 1).
    assert_eq!(field_named_like_a_binding_grad(1.5, 3), 12.0);
}

/// A vector of unknown type read twice: it is not moved by the first read.
#[differentiate]
fn data_read_twice(x: f64, n: usize) -> f64 {
    let data: Vec<f64> = (0..n).map(|i| i as f64).collect();
    x * data.iter().sum::<f64>() + x * x * data.len() as f64
}

#[test]
fn data_of_unknown_type_read_twice() {
    assert_eq!(data_read_twice_grad(2.0, 4), 6.0 + 2.0 * 2.0 * 4.0);
}

// ---------------------------------------------------------------------------
// Run-time length checks (SPEC §7).
// ---------------------------------------------------------------------------

#[differentiate(hessian)]
fn sum_cubes(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v * v).sum()
}

#[differentiate]
fn squares(x: &[f64]) -> Vec<f64> {
    x.iter().map(|v| v * v).collect()
}

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("a panic");
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast::<&str>()
            .map_or(String::new(), |s| s.to_string()),
    }
}

#[test]
fn short_or_long_tangents_and_cotangents_panic_naming_both_lengths() {
    let x = [1.0, 2.0, 3.0];
    type Case = (Box<dyn FnOnce() + std::panic::UnwindSafe>, &'static str);
    let cases: [Case; 6] = [
        (
            Box::new(move || {
                let _ = sum_cubes_jvp(&x, &[1.0, 1.0]);
            }),
            "sum_cubes_jvp: `x_dot` has length 2 but must have length 3",
        ),
        (
            Box::new(move || {
                let _ = sum_cubes_jvp(&x, &[1.0; 4]);
            }),
            "sum_cubes_jvp: `x_dot` has length 4 but must have length 3",
        ),
        (
            Box::new(move || {
                let _ = sum_cubes_hvp(&x, &[1.0]);
            }),
            "sum_cubes_hvp: `x_dot` has length 1",
        ),
        (
            Box::new(move || {
                let _ = sum_cubes_grad_vjp(&x, &[1.0; 5]);
            }),
            "sum_cubes_grad_vjp: `grad_bar` has length 5",
        ),
        (
            Box::new(move || {
                let _ = squares_vjp(&x, &[1.0, 1.0]);
            }),
            "squares_vjp: `out_bar` has length 2 but must have length 3",
        ),
        (
            Box::new(move || {
                let _ = squares_vjp(&x, &[1.0; 4]);
            }),
            "squares_vjp: `out_bar` has length 4 but must have length 3",
        ),
    ];
    for (call, want) in cases {
        let got = panic_message(call);
        assert!(got.contains(want), "{got:?} should contain {want:?}");
    }
}

#[test]
fn right_lengths_do_not_panic() {
    let x = [1.0, 2.0, 3.0];
    assert_eq!(sum_cubes_jvp(&x, &[1.0, 0.0, 0.0]).1, 3.0);
    assert_eq!(squares_vjp(&x, &[1.0, 1.0, 1.0]).1, vec![2.0, 4.0, 6.0]);
}

// ---------------------------------------------------------------------------
// An associated function without `self`: companions never name each other
// by path (`f_vjp` could not be found there, `Self::f_vjp` not elsewhere).
// ---------------------------------------------------------------------------

struct Model;

impl Model {
    #[differentiate(hessian)]
    fn energy(x: [f64; 3]) -> f64 {
        x[0] * x[1] + x[2] * x[2] * x[0]
    }

    #[differentiate]
    fn pair(x: [f64; 2]) -> (f64, [f64; 2]) {
        (x[0] * x[1], [x[0], x[1] * x[1]])
    }
}

#[test]
fn associated_functions_without_self() {
    let x = [1.0, 2.0, 3.0];
    let h = Model::energy_hessian(x);
    assert_eq!(h, [[0.0, 1.0, 6.0], [1.0, 0.0, 0.0], [6.0, 0.0, 2.0]]);
    assert_eq!(Model::energy_jacobian(x), [2.0 + 9.0, 1.0, 6.0]);
    let (value_block, array_block) = Model::pair_jacobian([2.0, 3.0]);
    assert_eq!(value_block, [3.0, 2.0]);
    assert_eq!(array_block, [[1.0, 0.0], [0.0, 6.0]]);
}

// ---------------------------------------------------------------------------
// Hessians of arrays passed by reference, and through a helper in a branch.
// ---------------------------------------------------------------------------

#[differentiate(hessian)]
fn product_by_ref<T: autodiff::Float>(r: &[T; 2]) -> T {
    let p = r[0] * r[1];
    p * p
}

#[differentiate(hessian)]
fn helper_in_a_branch(q: [f64; 2]) -> f64 {
    let mut vel = q[0];
    if vel > q[1] {
        vel += autodiff::sum(&q);
    }
    vel * q[1]
}

#[test]
fn hessians_of_arrays_by_reference_and_of_branches() {
    let (a, b) = (0.7, -1.3);
    // (ab)²: [[2b², 4ab], [4ab, 2a²]]
    let want = [[2.0 * b * b, 4.0 * a * b], [4.0 * a * b, 2.0 * a * a]];
    let h = product_by_ref_hessian(&[a, b]);
    for i in 0..2 {
        assert_close(&h[i], &want[i], "hessian");
    }
    let h32 = product_by_ref_hessian(&[0.5_f32, 2.0]);
    assert_eq!(h32, [[8.0, 4.0], [4.0, 0.5]]);
    // a > b: (2a + b) b
    assert_eq!(helper_in_a_branch_hessian([a, b]), [[0.0, 2.0], [2.0, 2.0]]);
}
