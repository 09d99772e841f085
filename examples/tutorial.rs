//! Theano's "Computing gradients" tutorial, reproduced with
//! `#[differentiate]`. Each section prints the numbers the tutorial prints;
//! `autodiff-tests/tests/it/tutorial.rs` checks the same numbers.
//!
//! Run with `cargo run --example tutorial`.

use autodiff::{differentiate, scan, scan_n, sigmoid, sum, vecmat};

/// Row 1: `gy = T.grad(x ** 2, x)`.
#[differentiate]
pub fn square(x: f64) -> f64 {
    x.powi(2)
}

/// Row 3: `T.grad(cost, [a, b])` gives the gradients as a list in
/// parameter order; here a tuple.
#[differentiate]
pub fn cost(a: f64, b: f64) -> f64 {
    (a * b).sin() + a.powi(3) - 2.0 * b
}

/// Row 2: the logistic function summed over a matrix, `T.grad(s, x)`,
/// written with loops (index loops are the form `#[differentiate]` reads,
/// hence the clippy allowance).
#[differentiate]
#[allow(clippy::needless_range_loop)]
pub fn logistic_sum(x: [[f64; 2]; 2]) -> f64 {
    let mut s = 0.0;
    for i in 0..2 {
        for j in 0..2 {
            s += 1.0 / (1.0 + (-x[i][j]).exp());
        }
    }
    s
}

/// Row 2 again, as Theano writes it: `sum(sigmoid(x))` with the helpers.
#[differentiate]
pub fn logistic_sum_helpers(x: [[f64; 2]; 2]) -> f64 {
    sum(&sigmoid(x))
}

/// Row 4: the Jacobian of `y = x ** 2` on a vector (Theano builds it with
/// `scan` over `T.grad(y[i], x)`; here `f_jacobian`).
#[differentiate]
pub fn squares(x: [f64; 2]) -> [f64; 2] {
    [x[0] * x[0], x[1] * x[1]]
}

/// Rows 6 and 7: `y = dot(x, W)` for a vector `x` and a matrix `W`,
/// differentiated with respect to `W`: the R-operator is `f_jvp` with a
/// tangent `V` for `W`, the L-operator `f_vjp` with a cotangent `v` for `y`.
#[differentiate(wrt(w))]
#[allow(clippy::needless_range_loop)]
pub fn x_dot_w(x: [f64; 2], w: [[f64; 2]; 2]) -> [f64; 2] {
    let mut y = [0.0; 2];
    for j in 0..2 {
        for i in 0..2 {
            y[j] += x[i] * w[i][j];
        }
    }
    y
}

/// Rows 6 and 7 with the helper: `dot(x, W)` of a vector and a matrix is
/// `vecmat(&x, &w)`.
#[differentiate(wrt(w))]
pub fn x_dot_w_helper(x: [f64; 2], w: [[f64; 2]; 2]) -> [f64; 2] {
    vecmat(&x, &w)
}

/// Theano's `scan` tutorial: a polynomial from its coefficients (the
/// per-step outputs are its terms) ...
#[differentiate]
pub fn polynomial(coeffs: &[f64], x: f64) -> f64 {
    let ((value, _), _terms) = scan((0.0, 1.0), coeffs, |(acc, power), c| {
        ((acc + c * power, power * x), c * power)
    });
    value
}

/// ... and `A ** k` elementwise by repeated multiplication.
#[differentiate(wrt(a))]
pub fn power(a: [f64; 2], k: usize) -> [f64; 2] {
    let (result, _) = scan_n([1.0; 2], k, |mut prior, _| {
        for j in 0..2 {
            prior[j] *= a[j];
        }
        (prior, 0.0)
    });
    result
}

/// Rows 5, 8 and 9: `cost = sum(x ** 2)`, its Hessian, and Hessian-times-
/// vector products.
#[differentiate(hessian)]
#[allow(clippy::needless_range_loop)]
pub fn sum_of_squares(x: [f64; 2]) -> f64 {
    let mut s = 0.0;
    for i in 0..2 {
        s += x[i] * x[i];
    }
    s
}

/// Row 8: `sum(grad(sum(x ** 2), x) * v)`, through a call to the
/// generated gradient; its own gradient in `x` is vᵀ·H (the L-operator).
#[differentiate(wrt(x))]
pub fn grad_dot_v(x: [f64; 2], v: [f64; 2]) -> f64 {
    let g: [f64; 2] = sum_of_squares_grad(x);
    g[0] * v[0] + g[1] * v[1]
}

fn main() {
    println!("Row 1: gy = grad(x ** 2, x)");
    println!("  gy(4)    = {:?}", square_grad(4.0));
    println!("  gy(94.2) = {:?}", square_grad(94.2));
    println!("  pp(gy), raw and optimized:");
    let pp = square_pp();
    println!("    raw:       {}", pp.raw("x").unwrap_or("?"));
    println!("    optimized: {}", pp.simplified("x").unwrap_or("?"));

    println!();
    println!("Row 2: gs = grad(sum(1 / (1 + exp(-x))), x) on a matrix");
    let gs = logistic_sum_grad([[0.0, 1.0], [-1.0, -2.0]]);
    println!("  gs([[0, 1], [-1, -2]]) = {gs:.8?}");
    let gs = logistic_sum_helpers_grad([[0.0, 1.0], [-1.0, -2.0]]);
    println!("  with sum(sigmoid(x)) helpers: {gs:.8?}");

    println!();
    println!("Row 3: grad(cost, [a, b]) is a tuple in parameter order");
    let (ga, gb) = cost_grad(1.0, 2.0);
    println!("  (d cost/da, d cost/db) at (1, 2) = ({ga:.6}, {gb:.6})");
    println!("{}", cost_pp());

    println!();
    println!("Row 4: jacobian(x ** 2, x) on a vector");
    println!("  J([4, 4]) = {:?}", squares_jacobian([4.0, 4.0]));

    println!();
    println!("Row 5: hessian(sum(x ** 2), x)");
    println!("  H([4, 4]) = {:?}", sum_of_squares_hessian([4.0, 4.0]));

    println!();
    println!("Row 6: JV = Rop(dot(x, W), W, V)");
    let (x, w) = ([0.0, 1.0], [[1.0, 1.0], [1.0, 1.0]]);
    let (_, jv) = x_dot_w_jvp(x, w, [[2.0, 2.0], [2.0, 2.0]]);
    println!("  JV = {jv:?}");
    let (_, jv) = x_dot_w_helper_jvp(x, w, [[2.0, 2.0], [2.0, 2.0]]);
    println!("  with vecmat: JV = {jv:?}");

    println!();
    println!("Row 7: VJ = Lop(dot(x, W), W, v)");
    let (_, vj) = x_dot_w_vjp(x, w, [2.0, 2.0]);
    println!("  VJ = {vj:?}");
    let (_, vj) = x_dot_w_helper_vjp(x, w, [2.0, 2.0]);
    println!("  with vecmat: VJ = {vj:?}");

    println!();
    println!("Row 8: vH = grad(sum(grad(sum(x ** 2), x) * v), x): the L-operator of the gradient");
    println!(
        "  vH([4, 4], [2, 2]) = {:?}",
        grad_dot_v_grad([4.0, 4.0], [2.0, 2.0])
    );

    println!();
    println!("Row 9: Hv = Rop(grad(sum(x ** 2)), x, v): forward over reverse");
    println!(
        "  Hv([4, 4], [2, 2]) = {:?}",
        sum_of_squares_hvp([4.0, 4.0], [2.0, 2.0])
    );

    println!();
    println!("scan: a polynomial from its coefficients, and A ** k");
    let coeffs = [1.0, 0.0, 2.0];
    println!(
        "  p(3) = {} (1 + 2 x^2), dp/dx = {} (forward: {})",
        polynomial(&coeffs, 3.0),
        polynomial_grad(&coeffs, 3.0).1,
        polynomial_jvp(&coeffs, 3.0, &[0.0; 3], 1.0).1
    );
    println!(
        "  [2, 3] ** 3 = {:?}, Jacobian {:?}",
        power([2.0, 3.0], 3),
        power_jacobian([2.0, 3.0], 3)
    );
}
