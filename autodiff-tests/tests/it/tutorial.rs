//! The numbers of `examples/tutorial.rs`, checked against TUTORIAL.md and
//! against num-dual.

#[path = "../../../examples/tutorial.rs"]
#[allow(dead_code)]
mod example;

use example::*;
use num_dual::{Dual64, DualNum};

#[test]
fn row1_gradient_of_x_squared() {
    // TUTORIAL.md row 1: 8.0 at x = 4, 188.4 at x = 94.2.
    assert!((square_grad(4.0) - 8.0).abs() < 1e-12);
    assert!((square_grad(94.2) - 188.4).abs() < 1e-12);
}

#[test]
fn row1_pp_shows_raw_chain_rule_and_two_times_x() {
    let pp = square_pp();
    assert_eq!(pp.simplified("x"), Some("2 * x"));
    let raw = pp.raw("x").expect("an entry for x");
    // The raw derivative is the unsimplified chain rule: the seed 1, the
    // exponent 2 and `x.powi(2 - 1)` all still appear.
    assert!(raw.contains("powi(2 - 1)"), "{raw}");
    assert!(raw.starts_with("1 *"), "{raw}");
}

fn cost_dual(a: Dual64, b: Dual64) -> Dual64 {
    (a * b).sin() + a.powi(3) - b * 2.0
}

#[test]
fn row3_gradients_come_back_in_parameter_order() {
    for &(a, b) in &[(1.0, 2.0), (-0.5, 0.25), (3.0, -1.5)] {
        let (ga, gb) = cost_grad(a, b);
        let da = cost_dual(Dual64::new(a, 1.0), Dual64::from(b)).eps;
        let db = cost_dual(Dual64::from(a), Dual64::new(b, 1.0)).eps;
        assert!((ga - da).abs() <= 1e-12 * da.abs().max(1.0), "{ga} vs {da}");
        assert!((gb - db).abs() <= 1e-12 * db.abs().max(1.0), "{gb} vs {db}");
        // a and b differ, so a swapped order would fail here.
        assert!((ga - gb).abs() > 1e-3);
    }
}

#[test]
#[allow(clippy::needless_range_loop)]
fn row2_logistic_on_a_matrix() {
    let g = logistic_sum_grad([[0.0, 1.0], [-1.0, -2.0]]);
    // TUTORIAL.md row 2, to the 8 digits it prints.
    let want = [[0.25, 0.19661193], [0.19661193, 0.10499359]];
    for i in 0..2 {
        for j in 0..2 {
            assert!((g[i][j] - want[i][j]).abs() < 5e-9, "{g:?}");
        }
    }
}

#[test]
#[allow(clippy::needless_range_loop)]
fn row4_jacobian_of_squares() {
    // TUTORIAL.md row 4: [[8, 0], [0, 8]] at x = [4, 4]; checked against
    // num-dual, one direction at a time.
    let j = squares_jacobian([4.0, 4.0]);
    for k in 0..2 {
        let x: Vec<Dual64> = (0..2)
            .map(|i| Dual64::new(4.0, if i == k { 1.0 } else { 0.0 }))
            .collect();
        for i in 0..2 {
            assert_eq!(j[i][k], (x[i] * x[i]).eps);
        }
    }
    assert_eq!(j, [[8.0, 0.0], [0.0, 8.0]]);
}

#[test]
fn rows_5_and_9_hessian_and_hessian_vector_product() {
    // TUTORIAL.md row 5: [[2, 0], [0, 2]]; row 9: [4, 4].
    assert_eq!(sum_of_squares_hessian([4.0, 4.0]), [[2.0, 0.0], [0.0, 2.0]]);
    assert_eq!(sum_of_squares_hvp([4.0, 4.0], [2.0, 2.0]), [4.0, 4.0]);
}

#[test]
fn row8_hessian_vector_product_through_the_l_operator() {
    // TUTORIAL.md row 8: [4, 4] at x = [4, 4], v = [2, 2]; the gradient of
    // v·∇f where ∇f is a call to the generated `sum_of_squares_grad`.
    assert_eq!(grad_dot_v_grad([4.0, 4.0], [2.0, 2.0]), [4.0, 4.0]);
    let x = [0.5, -3.0];
    let v = [1.5, 0.25];
    assert_eq!(grad_dot_v(x, v), 2.0 * (x[0] * v[0] + x[1] * v[1]));
    assert_eq!(grad_dot_v_grad(x, v), [2.0 * v[0], 2.0 * v[1]]);
}

#[test]
fn rows_6_and_7_r_and_l_operators_of_x_dot_w() {
    // TUTORIAL.md rows 6 ([2, 2]) and 7 ([[0, 0], [2, 2]]).
    let (x, w) = ([0.0, 1.0], [[1.0, 1.0], [1.0, 1.0]]);
    let (y, jv) = x_dot_w_jvp(x, w, [[2.0, 2.0], [2.0, 2.0]]);
    assert_eq!(y, [1.0, 1.0]);
    assert_eq!(jv, [2.0, 2.0]);
    let (_, vj) = x_dot_w_vjp(x, w, [2.0, 2.0]);
    assert_eq!(vj, [[0.0, 0.0], [2.0, 2.0]]);
    // Against dual numbers at a point where nothing is 0 or 1: dy_j/dW_ik
    // is x_i when j = k.
    let x = [0.3, -1.7];
    let w = [[0.5, 2.0], [-1.5, 0.25]];
    let v = [[0.1, -0.2], [0.7, 1.3]];
    let (_, jv) = x_dot_w_jvp(x, w, v);
    for j in 0..2 {
        let y = (0..2)
            .map(|i| Dual64::from(x[i]) * Dual64::new(w[i][j], v[i][j]))
            .fold(Dual64::from(0.0), |a, b| a + b);
        assert!((jv[j] - y.eps).abs() < 1e-15);
    }
    let cot = [0.4, -0.9];
    let (_, vj) = x_dot_w_vjp(x, w, cot);
    for i in 0..2 {
        for k in 0..2 {
            assert!((vj[i][k] - x[i] * cot[k]).abs() < 1e-15);
        }
    }
}

#[test]
fn helper_forms_of_rows_2_6_and_7() {
    // Row 2 with `sigmoid`: the same numbers to the last bits (the
    // sigmoid rule is s (1 - s), the loop form differentiates 1 / (1 + e^-x)).
    let x = [[0.0, 1.0], [-1.0, -2.0]];
    let (a, b) = (logistic_sum_helpers_grad(x), logistic_sum_grad(x));
    for i in 0..2 {
        for j in 0..2 {
            assert!((a[i][j] - b[i][j]).abs() < 1e-16, "{a:?} vs {b:?}");
        }
    }
    assert!((a[1][1] - 0.10499359).abs() < 1e-8);
    let (xv, w) = ([0.0, 1.0], [[1.0, 1.0], [1.0, 1.0]]);
    assert_eq!(
        x_dot_w_helper_jvp(xv, w, [[2.0, 2.0], [2.0, 2.0]]).1,
        [2.0, 2.0]
    );
    assert_eq!(
        x_dot_w_helper_vjp(xv, w, [2.0, 2.0]).1,
        [[0.0, 0.0], [2.0, 2.0]]
    );
}

#[test]
fn scan_examples_both_ways() {
    // 1 + 2 x^2 at 3: 19, derivative 4 x = 12.
    let c = [1.0, 0.0, 2.0];
    assert_eq!(polynomial(&c, 3.0), 19.0);
    assert_eq!(polynomial_grad(&c, 3.0), (vec![1.0, 3.0, 9.0], 12.0));
    assert_eq!(polynomial_jvp(&c, 3.0, &[0.0; 3], 1.0).1, 12.0);
    // a ** 3 elementwise, Jacobian diag(3 a^2).
    assert_eq!(power([2.0, 3.0], 3), [8.0, 27.0]);
    assert_eq!(power_jacobian([2.0, 3.0], 3), [[12.0, 0.0], [0.0, 27.0]]);
    assert_eq!(power_vjp([2.0, 3.0], 3, [1.0, 1.0]).1, [12.0, 27.0]);
}
