//! Arrays and loops: every companion of functions over `[T; N]`,
//! `[[T; C]; R]` and `&[T]` with `for` loops, compared with num-dual
//! (directional derivatives, one dual pass per direction) and finite
//! differences.

// Index loops are the form #[differentiate] reads (iterators come later).
#![allow(clippy::needless_range_loop)]

use autodiff::differentiate;
use common::{dual_grad, dual_jacobian, rosenbrock_ref, smoothness_ref};

use crate::common;
use num_dual::{Dual64, DualNum};

/// Relative tolerance against num-dual (same formulas, different order).
const TOL: f64 = 1e-11;

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= TOL * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

/// The directional derivative of `f` at `x` along `v`, by num-dual.
fn dual_dir(f: impl Fn(&[Dual64]) -> Dual64, x: &[f64], v: &[f64]) -> f64 {
    let xd: Vec<Dual64> = x.iter().zip(v).map(|(&a, &b)| Dual64::new(a, b)).collect();
    f(&xd).eps
}

/// A deterministic point in [-1.5, 1.5]^n.
fn point(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 3.0 - 1.5
        })
        .collect()
}

// ---- extended Rosenbrock on a slice ----

#[differentiate]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

/// The textbook gradient of the extended Rosenbrock function.
fn rosenbrock_hand(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut g = vec![0.0; n];
    for i in 0..n - 1 {
        let a = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * a * x[i] - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * a;
    }
    g
}

#[test]
fn rosenbrock_small_sizes_against_num_dual() {
    for n in [2, 3, 100] {
        for seed in 0..3 {
            let x = point(n, seed);
            let g = rosenbrock_grad(&x);
            let want = dual_grad(rosenbrock_ref, &x);
            assert_eq!(g.len(), n);
            for j in 0..n {
                close(g[j], want[j], &format!("n={n} d/dx{j}"));
            }
            let (v, g2) = rosenbrock_value_and_grad(&x);
            assert_eq!(v, rosenbrock(&x));
            assert_eq!(g2, g);
            let dir = point(n, seed + 10);
            let (v3, t) = rosenbrock_jvp(&x, &dir);
            assert_eq!(v3, v);
            close(t, dual_dir(rosenbrock_ref, &x, &dir), "jvp");
            let (_, gb) = rosenbrock_vjp(&x, 0.5);
            for j in 0..n {
                close(gb[j], 0.5 * want[j], "vjp");
            }
            assert_eq!(rosenbrock_jacobian(&x), g);
        }
    }
}

#[test]
fn rosenbrock_ten_thousand() {
    let x = point(10_000, 7);
    let g = rosenbrock_grad(&x);
    let want = rosenbrock_hand(&x);
    for j in 0..x.len() {
        close(g[j], want[j], "n=10000");
    }
    // One dual pass checks a random direction of the forward mode.
    let dir = point(10_000, 8);
    let (_, t) = rosenbrock_jvp(&x, &dir);
    close(t, dual_dir(rosenbrock_ref, &x, &dir), "jvp n=10000");
}

#[test]
fn loops_with_zero_iterations_give_zero_gradients() {
    assert_eq!(rosenbrock_grad(&[0.7]), vec![0.0]);
    assert_eq!(rosenbrock_value_and_grad(&[0.7]).0, 0.0);
}

// ---- stencils: the adjoint loops the gather pass rewrites ----

/// A smoothness penalty: the squared second differences. Its adjoint loop
/// writes `x_bar[i - 1]`, `x_bar[i]` and `x_bar[i + 1]`.
#[differentiate]
fn smoothness(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 1..x.len() - 1 {
        s += (x[i + 1] - 2.0 * x[i] + x[i - 1]).powi(2);
    }
    s
}

/// Offsets -2, 0 and 1 (not contiguous), a reversed loop from 2.
#[differentiate]
fn lagged(x: &[f64], w: f64) -> f64 {
    let mut s = 0.0;
    for i in (2..x.len() - 1).rev() {
        s += (x[i + 1] - x[i - 2]) * x[i] * w;
    }
    s
}

fn lagged_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let w = x[x.len() - 1];
    let x = &x[..x.len() - 1];
    let mut s = D::from(0.0);
    for i in (2..x.len() - 1).rev() {
        s += (x[i + 1] - x[i - 2]) * x[i] * w;
    }
    s
}

#[test]
fn stencils_against_num_dual_at_every_trip_count() {
    // n = 2: no iteration; 3: one, fewer than the offsets span; 4: two.
    for n in [2, 3, 4, 5, 50] {
        let x = point(n, n as u64);
        let want = dual_grad(smoothness_ref, &x);
        let g = smoothness_grad(&x);
        assert_eq!(g.len(), n);
        for j in 0..n {
            close(g[j], want[j], &format!("smoothness n={n} d/dx{j}"));
        }
        let (v, g2) = smoothness_value_and_grad(&x);
        assert_eq!(v, smoothness(&x));
        assert_eq!(g2, g);
        let (_, gb) = smoothness_vjp(&x, -0.5);
        for j in 0..n {
            close(gb[j], -0.5 * want[j], "smoothness vjp");
        }
        let dir = point(n, 20 + n as u64);
        let (_, t) = smoothness_jvp(&x, &dir);
        close(t, dual_dir(smoothness_ref, &x, &dir), "smoothness jvp");
    }
    // `_pp` shows the code that runs: the gathered loop, filling the
    // gradient in index order.
    let pp = smoothness_pp();
    let code = pp.simplified("x").expect("a derivative in x");
    assert!(
        code.contains("fill_like") && code.contains("extend"),
        "{code}"
    );
    for n in [3, 4, 5, 6, 50] {
        let x = point(n, 40 + n as u64);
        let w = 0.75;
        let mut xw = x.clone();
        xw.push(w);
        let want = dual_grad(lagged_ref, &xw);
        // `w`'s adjoint is summed across iterations: that loop is not
        // gathered, so this one is checked as it was.
        let (v, (gx, gw)) = lagged_value_and_grad(&x, w);
        assert_eq!(v, lagged(&x, w));
        for j in 0..n {
            close(gx[j], want[j], &format!("lagged n={n} d/dx{j}"));
        }
        close(gw, want[n], "lagged d/dw");
    }
}

/// `lagged` at a fixed weight: the adjoint loop carries only `x_bar`.
#[differentiate(wrt(x))]
fn lagged_fixed(x: &[f64], w: f64) -> f64 {
    let mut s = 0.0;
    for i in (2..x.len() - 1).rev() {
        s += (x[i + 1] - x[i - 2]) * x[i] * w;
    }
    s
}

#[test]
fn stencil_with_gaps_between_offsets() {
    // No iteration up to n = 3; n = 4, 5: fewer than the span of the
    // offsets (3); n = 6: as many.
    for n in [1, 2, 3, 4, 5, 6, 7, 50] {
        let x = point(n, 60 + n as u64);
        let w = -1.25;
        let (v, g) = lagged_fixed_value_and_grad(&x, w);
        assert_eq!(v, lagged_fixed(&x, w));
        assert_eq!(g.len(), n);
        let mut xw = x.clone();
        xw.push(w);
        let want = dual_grad(lagged_ref, &xw);
        for j in 0..n {
            close(g[j], want[j], &format!("lagged_fixed n={n} d/dx{j}"));
        }
    }
}

// ---- fixed arrays, a branch inside a reversed loop, a scalar parameter ----

#[differentiate]
fn gated_dot(a: [f64; 3], b: [f64; 3], k: f64) -> f64 {
    let mut s = 0.0;
    for i in (0..3).rev() {
        if a[i] > 0.0 {
            s += k * a[i] * b[i];
        } else {
            s = s * 0.5 + a[i].sin();
        }
    }
    s * s
}

fn gated_dot_ref<D: DualNum<f64> + Copy>(v: &[D]) -> D {
    let (a, b, k) = (&v[0..3], &v[3..6], v[6]);
    let mut s = D::from(0.0);
    for i in (0..3).rev() {
        if a[i].re() > 0.0 {
            s += k * a[i] * b[i];
        } else {
            s = s * 0.5 + a[i].sin();
        }
    }
    s * s
}

#[test]
fn branches_inside_loops_in_both_modes() {
    for seed in 0..6 {
        let p = point(7, seed);
        let (a, b, k) = ([p[0], p[1], p[2]], [p[3], p[4], p[5]], p[6]);
        let want = dual_grad(gated_dot_ref, &p);
        let (ga, gb, gk) = gated_dot_grad(a, b, k);
        let got: Vec<f64> = ga.iter().chain(&gb).copied().chain([gk]).collect();
        for j in 0..7 {
            close(got[j], want[j], &format!("seed {seed} d/dp{j}"));
        }
        let dir = point(7, seed + 100);
        let (v, t) = gated_dot_jvp(
            a,
            b,
            k,
            [dir[0], dir[1], dir[2]],
            [dir[3], dir[4], dir[5]],
            dir[6],
        );
        assert_eq!(v, gated_dot(a, b, k));
        close(t, dual_dir(gated_dot_ref, &p, &dir), "jvp");
    }
}

// ---- a matrix and nested loops: TUTORIAL.md row 2 ----

#[differentiate]
fn logistic_sum(x: [[f64; 2]; 2]) -> f64 {
    let mut s = 0.0;
    for i in 0..2 {
        for j in 0..2 {
            s += 1.0 / (1.0 + (-x[i][j]).exp());
        }
    }
    s
}

#[test]
fn tutorial_row2_logistic_gradient_on_a_matrix() {
    let x = [[0.0, 1.0], [-1.0, -2.0]];
    let (value, g) = logistic_sum_value_and_grad(x);
    assert_eq!(value, logistic_sum(x));
    // s(x) (1 - s(x)) elementwise: TUTORIAL.md gives these to 8 digits.
    let want = [[0.25, 0.19661193], [0.19661193, 0.10499359]];
    for i in 0..2 {
        for j in 0..2 {
            assert!((g[i][j] - want[i][j]).abs() < 1e-8, "{g:?}");
            let s = 1.0 / (1.0 + (-[[0.0, 1.0], [-1.0, -2.0_f64]][i][j]).exp());
            close(g[i][j], s * (1.0 - s), "s(1-s)");
        }
    }
}

// ---- taped carried values: Horner's rule and a running product ----

#[differentiate]
fn horner(c: &[f64], x: f64) -> f64 {
    let mut acc = 0.0;
    for i in (0..c.len()).rev() {
        acc = acc * x + c[i];
    }
    acc
}

fn horner_ref<D: DualNum<f64> + Copy>(v: &[D]) -> D {
    let (c, x) = (&v[..v.len() - 1], v[v.len() - 1]);
    let mut acc = D::from(0.0);
    for i in (0..c.len()).rev() {
        acc = acc * x + c[i];
    }
    acc
}

#[differentiate]
fn running_product(x: &[f64]) -> f64 {
    let mut p = 1.0;
    for i in 0..x.len() {
        p *= x[i].tanh() + 1.5;
    }
    p
}

fn running_product_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut p = D::from(1.0);
    for xi in x {
        p *= xi.tanh() + 1.5;
    }
    p
}

#[test]
fn carried_values_the_adjoint_needs_are_taped() {
    for seed in 0..4 {
        let p = point(6, seed);
        let (v, (gc, gx)) = horner_value_and_grad(&p[..5], p[5]);
        assert_eq!(v, horner(&p[..5], p[5]));
        let want = dual_grad(horner_ref, &p);
        for j in 0..5 {
            close(gc[j], want[j], "d/dc");
        }
        close(gx, want[5], "d/dx");
        let g = running_product_grad(&p);
        let want = dual_grad(running_product_ref, &p);
        for j in 0..6 {
            close(g[j], want[j], "running product");
        }
    }
}

#[test]
fn gradients_agree_with_finite_differences() {
    let x = point(5, 3);
    let r = autodiff::check_grad(rosenbrock, rosenbrock_grad, &x);
    assert!(r.passed(1e-6), "{r:?}");
    let r = autodiff::check_grad(running_product, running_product_grad, &x);
    assert!(r.passed(1e-6), "{r:?}");
}

// ---- local arrays, element writes, array outputs ----

#[differentiate]
fn cumsum(x: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i].sin();
        y[i] = s;
    }
    y
}

fn cumsum_ref<D: DualNum<f64> + Copy>(x: &[D]) -> Vec<D> {
    let mut s = D::from(0.0);
    x.iter()
        .map(|v| {
            s += v.sin();
            s
        })
        .collect()
}

#[test]
fn vec_output_jacobian_is_a_matrix() {
    let x = point(5, 1);
    let j = cumsum_jacobian(&x);
    let want = dual_jacobian(cumsum_ref, &x);
    assert_eq!((j.nrows(), j.ncols()), (5, 5));
    for i in 0..5 {
        for k in 0..5 {
            close(j[(i, k)], want[i][k], "cumsum J");
        }
    }
    let w = point(5, 2);
    let (y, g) = cumsum_vjp(&x, &w);
    assert_eq!(y, cumsum(&x));
    for k in 0..5 {
        let col: f64 = (0..5).map(|i| w[i] * want[i][k]).sum();
        close(g[k], col, "cumsum vjp");
    }
    let (_, t) = cumsum_jvp(&x, &w);
    for i in 0..5 {
        close(t[i], (0..5).map(|k| want[i][k] * w[k]).sum(), "cumsum jvp");
    }
}

#[differentiate]
fn softmax(x: [f64; 4]) -> [f64; 4] {
    let mut m = x[0];
    for i in 1..4 {
        m = m.max(x[i]);
    }
    let mut e = [0.0; 4];
    let mut s = 0.0;
    for i in 0..4 {
        e[i] = (x[i] - m).exp();
        s += e[i];
    }
    let mut y = [0.0; 4];
    for i in 0..4 {
        y[i] = e[i] / s;
    }
    y
}

fn softmax_ref<D: DualNum<f64> + Copy>(x: &[D]) -> Vec<D> {
    let m = x
        .iter()
        .fold(x[0], |a, &b| if b.re() > a.re() { b } else { a });
    let e: Vec<D> = x.iter().map(|&v| (v - m).exp()).collect();
    let s = e.iter().fold(D::from(0.0), |a, &b| a + b);
    e.iter().map(|&v| v / s).collect()
}

#[test]
fn softmax_with_max_subtraction() {
    for seed in 0..4 {
        let p = point(4, seed);
        let x = [p[0] * 300.0, p[1], p[2], p[3]];
        let j = softmax_jacobian(x);
        let want = dual_jacobian(softmax_ref, &x);
        for i in 0..4 {
            for k in 0..4 {
                close(j[i][k], want[i][k], "softmax J");
            }
        }
        let (y, _) = softmax_jvp(x, [1.0, 0.0, 0.0, 0.0]);
        assert_eq!(y, softmax(x));
        assert!(y.iter().all(|v| v.is_finite()));
    }
}

#[differentiate]
fn tanh_net(x: [f64; 2], w: [[f64; 2]; 3], v: [f64; 3]) -> f64 {
    let mut h = [0.0; 3];
    for j in 0..3 {
        let mut a = 0.0;
        for k in 0..2 {
            a += w[j][k] * x[k];
        }
        h[j] = a.tanh();
    }
    let mut out = 0.0;
    for j in 0..3 {
        out += v[j] * h[j];
    }
    out
}

fn tanh_net_ref<D: DualNum<f64> + Copy>(p: &[D]) -> D {
    let (x, w, v) = (&p[0..2], &p[2..8], &p[8..11]);
    let mut out = D::from(0.0);
    for j in 0..3 {
        let a = w[2 * j] * x[0] + w[2 * j + 1] * x[1];
        out += v[j] * a.tanh();
    }
    out
}

#[test]
fn two_layer_tanh_network() {
    for seed in 0..4 {
        let p = point(11, seed);
        let x = [p[0], p[1]];
        let w = [[p[2], p[3]], [p[4], p[5]], [p[6], p[7]]];
        let v = [p[8], p[9], p[10]];
        let (value, (gx, gw, gv)) = tanh_net_value_and_grad(x, w, v);
        assert_eq!(value, tanh_net(x, w, v));
        let got: Vec<f64> = gx
            .iter()
            .chain(gw.iter().flatten())
            .chain(&gv)
            .copied()
            .collect();
        let want = dual_grad(tanh_net_ref, &p);
        for k in 0..11 {
            close(got[k], want[k], &format!("tanh net d/dp{k}"));
        }
    }
}

#[differentiate(wrt(p))]
fn residuals(p: [f64; 2], t: &[f64], y: &[f64]) -> Vec<f64> {
    let mut r = vec![0.0; t.len()];
    for i in 0..t.len() {
        r[i] = p[0] * (p[1] * t[i]).exp() - y[i];
    }
    r
}

#[test]
fn least_squares_residual_jacobian() {
    let t = [0.0, 0.5, 1.0, 1.5];
    let y = [1.0, 1.6, 2.7, 4.4];
    let p = [1.1, 0.9];
    let j = residuals_jacobian(p, &t, &y);
    assert_eq!((j.nrows(), j.ncols()), (4, 2));
    let want = dual_jacobian(
        |q| {
            t.iter()
                .zip(&y)
                .map(|(&ti, &yi)| q[0] * (q[1] * ti).exp() - yi)
                .collect()
        },
        &p,
    );
    for i in 0..4 {
        for k in 0..2 {
            close(j[(i, k)], want[i][k], "residual J");
        }
    }
}

#[differentiate]
fn write_into_a_copy(x: [f64; 3]) -> f64 {
    let mut y = x;
    y[0] = 2.0 * y[1];
    y[2] *= x[0];
    y[0] + y[1] * y[2] + x[0]
}

#[test]
fn writing_into_a_copy_of_a_parameter() {
    let x = [0.5, -1.5, 2.0];
    let g = write_into_a_copy_grad(x);
    // f = 2 x1 + x1 x2 x0 + x0
    let want = [x[1] * x[2] + 1.0, 2.0 + x[2] * x[0], x[1] * x[0]];
    for k in 0..3 {
        close(g[k], want[k], "copy");
    }
    assert_eq!(write_into_a_copy_value_and_grad(x).0, write_into_a_copy(x));
}

#[differentiate]
fn squares(x: [f64; 2]) -> [f64; 2] {
    [x[0] * x[0], x[1] * x[1]]
}

#[test]
fn tutorial_row4_jacobian_of_squares() {
    // TUTORIAL.md row 4: [[8, 0], [0, 8]] at x = [4, 4].
    let j = squares_jacobian([4.0, 4.0]);
    let want = dual_jacobian(|x| x.iter().map(|&v| v * v).collect(), &[4.0, 4.0]);
    for i in 0..2 {
        for k in 0..2 {
            close(j[i][k], want[i][k], "row 4");
        }
    }
    assert_eq!(squares([3.0, 2.0]), [9.0, 4.0]);
}

// ---- more shapes: f32, &[T; N], matrix-vector in nested loops, branches
// writing arrays, cumulative product ----

#[differentiate]
fn matvec_norm(w: [[f64; 3]; 2], x: &[f64; 3]) -> f64 {
    let mut y = [0.0; 2];
    for i in 0..2 {
        for j in 0..3 {
            y[i] += w[i][j] * x[j];
        }
    }
    let mut s = 0.0;
    for i in 0..2 {
        if y[i] > 0.0 {
            y[i] *= 2.0;
        } else {
            y[i] = y[i].sin();
        }
        s += y[i] * y[i];
    }
    s
}

fn matvec_norm_ref<D: DualNum<f64> + Copy>(p: &[D]) -> D {
    let (w, x) = (&p[0..6], &p[6..9]);
    let mut s = D::from(0.0);
    for i in 0..2 {
        let mut y = D::from(0.0);
        for j in 0..3 {
            y += w[3 * i + j] * x[j];
        }
        let y = if y.re() > 0.0 { y * 2.0 } else { y.sin() };
        s += y * y;
    }
    s
}

#[test]
fn nested_loops_accumulating_into_a_local_array() {
    for seed in 0..6 {
        let p = point(9, seed);
        let w = [[p[0], p[1], p[2]], [p[3], p[4], p[5]]];
        let x = [p[6], p[7], p[8]];
        let (gw, gx) = matvec_norm_grad(w, &x);
        let got: Vec<f64> = gw.iter().flatten().chain(&gx).copied().collect();
        let want = dual_grad(matvec_norm_ref, &p);
        for k in 0..9 {
            close(got[k], want[k], &format!("seed {seed} d/dp{k}"));
        }
        let (v, t) = matvec_norm_jvp(w, &x, [[1.0; 3], [0.5; 3]], &[0.0, 1.0, -1.0]);
        assert_eq!(v, matvec_norm(w, &x));
        let dir = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.0, 1.0, -1.0];
        close(t, dual_dir(matvec_norm_ref, &p, &dir), "jvp");
    }
}

#[differentiate]
fn cumprod(x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0; x.len()];
    let mut p = 1.0;
    for i in 0..x.len() {
        p *= x[i];
        y[i] = p;
    }
    y
}

#[test]
fn cumulative_product_in_f32() {
    let x = [1.5_f32, -0.5, 2.0, 0.75];
    let j = cumprod_jacobian(&x);
    // ∂y_i/∂x_k = prod_{m <= i, m != k} x_m for k <= i, else 0.
    for i in 0..4 {
        for k in 0..4 {
            let want: f32 = if k <= i {
                (0..=i).filter(|&m| m != k).map(|m| x[m]).product()
            } else {
                0.0
            };
            assert!(
                (j[(i, k)] - want).abs() <= 1e-6 * want.abs().max(1.0),
                "J[{i}][{k}] = {} vs {want}",
                j[(i, k)]
            );
        }
    }
    let (y, g) = cumprod_vjp(&x, &[0.0, 0.0, 0.0, 1.0]);
    assert_eq!(y, cumprod(&x));
    for k in 0..4 {
        assert!((g[k] - j[(3, k)]).abs() <= 1e-6);
    }
}

#[differentiate]
fn sum_of_squares<const N: usize>(x: [f64; N]) -> f64 {
    let mut s = 0.0;
    for i in 0..N {
        s += x[i] * x[i];
    }
    s
}

#[test]
fn const_generic_lengths() {
    // TUTORIAL.md row 5's function: the gradient of sum(x ** 2) is 2x.
    let g = sum_of_squares_grad([4.0, 4.0, -1.0]);
    let want = dual_grad(
        |x| x.iter().fold(Dual64::from(0.0), |a, &v| a + v * v),
        &[4.0, 4.0, -1.0],
    );
    for k in 0..3 {
        close(g[k], want[k], "sum of squares");
    }
    assert_eq!(
        sum_of_squares_value_and_grad([1.0; 5]).0,
        sum_of_squares([1.0; 5])
    );
    let (_, t) = sum_of_squares_jvp([1.0, 2.0], [1.0, 1.0]);
    assert_eq!(t, 6.0);
}

#[differentiate]
fn reversed_product(x: [f64; 4]) -> f64 {
    let mut p = 1.0;
    for i in (0..4).rev() {
        p = p * x[i] + x[i].cos();
    }
    p
}

fn reversed_product_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut p = D::from(1.0);
    for i in (0..4).rev() {
        p = p * x[i] + x[i].cos();
    }
    p
}

#[test]
fn fixed_trip_counts_tape_into_fixed_arrays() {
    // The tape of `p` is a fixed array here (a literal trip count), filled
    // in the order of a reversed loop.
    for seed in 0..4 {
        let x = point(4, seed);
        let xa = [x[0], x[1], x[2], x[3]];
        let (v, g) = reversed_product_value_and_grad(xa);
        assert_eq!(v, reversed_product(xa));
        let want = dual_grad(reversed_product_ref, &x);
        for k in 0..4 {
            close(g[k], want[k], "reversed product");
        }
    }
}

/// An accumulator whose initial value is a call the attribute keeps as
/// written (its type unknown to it): the body makes it a float, and its
/// adjoint must flow through every iteration (it once did not).
fn start_value(k: usize) -> f64 {
    k as f64 * 0.5
}

#[differentiate]
fn opaque_start(x: [f64; 3]) -> f64 {
    let mut s = start_value(2);
    for i in 0..3 {
        s = s * x[i] + x[i] * x[i];
    }
    s
}

#[test]
fn accumulator_started_by_an_opaque_call() {
    let x = [0.7, -1.3, 2.1];
    let f = |v: &[Dual64]| {
        let mut s = Dual64::from(1.0);
        for i in 0..3 {
            s = s * v[i] + v[i] * v[i];
        }
        s
    };
    let want = dual_grad(f, &x);
    let got = opaque_start_grad(x);
    for i in 0..3 {
        close(got[i], want[i], "gradient through the carried accumulator");
    }
    close(opaque_start(x), f(&x.map(Dual64::from)).re, "value");
}

/// A tuple output holding a scalar, a fixed array and a `Vec`: the
/// Jacobian has, per parameter, one block per output.
#[differentiate]
fn mixed_outputs(a: f64, x: [f64; 2], s: &[f64]) -> (f64, [f64; 2], Vec<f64>) {
    let mut v = vec![0.0; s.len()];
    for i in 0..s.len() {
        v[i] = s[i] * a + x[0];
    }
    (a * x[1], [x[0] * x[0], a.sin()], v)
}

#[test]
fn jacobian_of_tuple_outputs_with_arrays() {
    let (a, x, s) = (0.7, [1.5, -2.0], [0.25, -1.0, 3.0]);
    let (ja, jx, js) = mixed_outputs_jacobian(a, x, &s);
    // d/da: scalar output, array output, Vec output.
    assert_eq!(ja.0, x[1]);
    assert_eq!(ja.1, [0.0, a.cos()]);
    assert_eq!(ja.2, s.to_vec());
    // d/dx: a gradient-shaped block per output.
    assert_eq!(jx.0, [0.0, a]);
    assert_eq!(jx.1, [[2.0 * x[0], 0.0], [0.0, 0.0]]);
    for i in 0..3 {
        assert_eq!(jx.2[(i, 0)], 1.0);
        assert_eq!(jx.2[(i, 1)], 0.0);
    }
    // d/ds: only the `Vec` output depends on s.
    assert_eq!(js.0, vec![0.0; 3]);
    assert_eq!(js.1, [vec![0.0; 3], vec![0.0; 3]]);
    for i in 0..3 {
        for k in 0..3 {
            assert_eq!(js.2[(i, k)], if i == k { a } else { 0.0 });
        }
    }
    assert_eq!(mixed_outputs(a, x, &s).0, a * x[1]);
}

/// `_pp` of an array output: the vjp with the cotangent `out_bar`.
#[test]
fn pp_of_an_array_output() {
    let pp = mixed_outputs_pp();
    let entry = pp.get("mixed_outputs.1", "x").expect("an entry per output");
    assert!(entry.simplified.contains("out_bar"), "{}", entry.simplified);
    assert!(pp.get("mixed_outputs.2", "s").is_some());
    assert!(pp.get("mixed_outputs.0", "a").is_some());
}

/// A loop of literal trip count whose body updates a `Vec` in a nested
/// loop: reverse mode tapes a copy of the `Vec` per iteration (a `Vec`
/// tape, since a fixed array of `Vec`s cannot be built).
#[differentiate]
fn smoothing_passes(x: &[f64]) -> f64 {
    let mut y = vec![0.0; x.len()];
    for k in 0..3 {
        for j in 0..x.len() {
            y[j] = y[j] * 0.5 + x[j] * (k as f64 + 1.0) * y[j].cos();
        }
    }
    let mut s = 0.0;
    for j in 0..x.len() {
        s += y[j] * y[j];
    }
    s
}

#[test]
fn nested_loop_updating_a_vec_with_literal_trip_count() {
    let x = [0.3, -0.7, 1.1];
    let f = |v: &[Dual64]| {
        let mut y = vec![Dual64::from(0.0); v.len()];
        for k in 0..3 {
            for j in 0..v.len() {
                y[j] = y[j] * 0.5 + v[j] * (k as f64 + 1.0) * y[j].cos();
            }
        }
        y.iter().fold(Dual64::from(0.0), |a, &b| a + b * b)
    };
    let g = smoothing_passes_grad(&x);
    let want = dual_grad(f, &x);
    for i in 0..3 {
        close(g[i], want[i], "nested Vec updates");
    }
    close(smoothing_passes(&x), f(&x.map(Dual64::from)).re, "value");
}

/// A gather through a constant index array (`&[usize]` is a constant
/// parameter): repeated indices accumulate.
#[differentiate(wrt(x))]
fn gather(x: &[f64], idx: &[usize]) -> f64 {
    let mut s = 0.0;
    for j in 0..idx.len() {
        s += x[idx[j]] * x[idx[j]];
    }
    s
}

#[test]
fn gather_through_an_index_array() {
    let x = [1.0, 2.0, 3.0];
    assert_eq!(gather_grad(&x, &[2, 0, 2]), vec![2.0, 0.0, 12.0]);
    assert_eq!(gather(&x, &[2, 0, 2]), 19.0);
    let (_, t) = gather_jvp(&x, &[2, 0, 2], &[0.0, 0.0, 1.0]);
    assert_eq!(t, 12.0);
}

// ---- scratch vectors overwritten every iteration, and index counters ----
//
// Reverse mode neither copies a vector that each iteration overwrites
// before reading it nor tapes a counter stepped by a constant (`li += 1`);
// these check that the derivatives stay right, next to the vectors that
// do carry values across iterations (partly overwritten, read first).

const SCRATCH_D: usize = 4;

/// ADBench's GMM in small, its scratch vectors `xc` and `qxc` made by
/// `$scratch` (which may read the dimension `$d`).
macro_rules! scratch_rows {
    ($(#[$doc:meta])* $name:ident, $d:ident, $($scratch:tt)*) => {
        $(#[$doc])*
        #[differentiate(wrt(w))]
        fn $name(w: &[f64], x: &[f64]) -> f64 {
            let $d = SCRATCH_D;
            let k = w.len() / (2 * $d + $d * ($d - 1) / 2);
            let stride = 2 * $d + $d * ($d - 1) / 2;
            let n = x.len() / $d;
            let mut xc = $($scratch)*;
            let mut qxc = $($scratch)*;
            let mut terms = vec![0.0; k];
            let mut total = 0.0;
            for ix in 0..n {
                for ik in 0..k {
                    for id in 0..$d {
                        xc[id] = x[ix * $d + id] - w[ik * stride + id];
                    }
                    for id in 0..$d {
                        qxc[id] = w[ik * stride + $d + id].exp() * xc[id];
                    }
                    let mut li = ik * stride + 2 * $d;
                    for i in 0..$d {
                        for j in i + 1..$d {
                            qxc[j] += w[li] * xc[i];
                            li += 1;
                        }
                    }
                    let mut sq = 0.0;
                    for id in 0..$d {
                        sq += qxc[id] * qxc[id];
                    }
                    terms[ik] = -0.5 * sq;
                }
                total += autodiff::logsumexp(&terms);
            }
            total
        }
    };
}

scratch_rows!(
    /// ADBench's GMM in small: per point, `xc` and `qxc` are overwritten per
    /// component, `qxc` then updated along a packed triangle indexed by a
    /// counter, and `terms` overwritten per point.
    scratch_rows,
    d,
    vec![0.0; d]
);

scratch_rows!(
    /// [`scratch_rows`] with its scratch vectors as fixed-size arrays
    /// (`[0.0; N]`, `N` the constant the loops run to): reverse mode makes
    /// them fresh and reads each iteration's contents back, as it does a
    /// `vec!`'s.
    scratch_rows_fixed,
    d,
    [0.0; SCRATCH_D]
);

fn scratch_rows_ref<D: DualNum<f64> + Copy>(w: &[D], x: &[f64]) -> D {
    let d = SCRATCH_D;
    let stride = 2 * d + d * (d - 1) / 2;
    let k = w.len() / stride;
    let mut total = D::zero();
    for ix in 0..x.len() / d {
        let terms: Vec<D> = (0..k)
            .map(|ik| {
                let xc: Vec<D> = (0..d)
                    .map(|id| -w[ik * stride + id] + x[ix * d + id])
                    .collect();
                let mut qxc: Vec<D> = (0..d)
                    .map(|id| w[ik * stride + d + id].exp() * xc[id])
                    .collect();
                let mut li = ik * stride + 2 * d;
                for i in 0..d {
                    for j in i + 1..d {
                        qxc[j] += w[li] * xc[i];
                        li += 1;
                    }
                }
                qxc.iter().fold(D::zero(), |s, &q| s + q * q) * -0.5
            })
            .collect();
        let m = terms
            .iter()
            .map(|t| t.re())
            .fold(f64::NEG_INFINITY, f64::max);
        total += terms.iter().fold(D::zero(), |s, &t| s + (t - m).exp()).ln() + m;
    }
    total
}

/// `buf[0]` is never overwritten and `buf[1]` is read before it is: both
/// carry values from one iteration to the next.
// A `Vec`, like the scratch vectors reverse mode stops copying.
#[allow(clippy::useless_vec)]
#[differentiate]
fn carried_scratch(x: &[f64]) -> f64 {
    let mut buf = vec![0.5; 3];
    let mut s = 0.0;
    for i in 0..x.len() {
        s += buf[1] * x[i];
        for j in 1..3 {
            buf[j] = (buf[j - 1] + x[i]).sin();
        }
        buf[0] += buf[2] * 0.5;
    }
    s + buf[0]
}

fn carried_scratch_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut buf = [D::from(0.5); 3];
    let mut s = D::zero();
    for &xi in x {
        s += buf[1] * xi;
        for j in 1..3 {
            buf[j] = (buf[j - 1] + xi).sin();
        }
        buf[0] += buf[2] * 0.5;
    }
    s + buf[0]
}

/// Each iteration overwrites `buf[1..]` first, but `buf[0]` carries.
// A `Vec`, like the scratch vectors reverse mode stops copying.
#[allow(clippy::useless_vec)]
#[differentiate]
fn partly_overwritten(x: &[f64]) -> f64 {
    let mut buf = vec![0.5; 3];
    let mut s = 0.0;
    for i in 0..x.len() {
        for j in 1..3 {
            buf[j] = x[i] * (j as f64);
        }
        for j in 0..3 {
            s += buf[j] * buf[2 - j];
        }
        buf[0] = buf[1].sin() + s * 0.1;
    }
    s
}

fn partly_overwritten_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut buf = [D::from(0.5); 3];
    let mut s = D::zero();
    for &xi in x {
        for (j, b) in buf.iter_mut().enumerate().skip(1) {
            *b = xi * j as f64;
        }
        for j in 0..3 {
            s += buf[j] * buf[2 - j];
        }
        buf[0] = buf[1].sin() + s * 0.1;
    }
    s
}

/// A counter stepped down by two.
#[differentiate]
fn counting_down(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() / 2 {
        let mut at = x.len() + 1;
        for _ in 0..i + 1 {
            at -= 2;
            s = (s + x[at] * x[i]).tanh();
        }
    }
    s
}

fn counting_down_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let mut s = D::zero();
    for i in 0..x.len() / 2 {
        let mut at = x.len() + 1;
        for _ in 0..i + 1 {
            at -= 2;
            s = (s + x[at] * x[i]).tanh();
        }
    }
    s
}

#[test]
fn overwritten_scratch_and_counters_against_num_dual() {
    let d = SCRATCH_D;
    let stride = 2 * d + d * (d - 1) / 2;
    for (k, n) in [(1, 1), (2, 3), (3, 5)] {
        let w: Vec<f64> = point(k * stride, 40 + k as u64)
            .iter()
            .map(|v| v * 0.3)
            .collect();
        let x = point(n * d, 50 + n as u64);
        let grad = scratch_rows_grad(&w, &x);
        for dir in 0..3 {
            let v = point(w.len(), 60 + dir);
            let want = dual_dir(|wd| scratch_rows_ref(wd, &x), &w, &v);
            let got: f64 = grad.iter().zip(&v).map(|(g, v)| g * v).sum();
            close(got, want, &format!("scratch_rows k={k} n={n}"));
            let (_, jvp) = scratch_rows_jvp(&w, &x, &v);
            close(jvp, want, &format!("scratch_rows_jvp k={k} n={n}"));
        }
    }
    // The tape of each row's counter-indexed loop is one buffer, reused.
    let code = scratch_rows_pp()
        .simplified("w")
        .expect("a derivative in w");
    assert!(code.contains("retape"), "{code}");
    for n in [0, 1, 2, 5] {
        let x = point(n, 70 + n as u64);
        let g = carried_scratch_grad(&x);
        for k in 0..n {
            let e: Vec<f64> = (0..n).map(|i| f64::from(i == k)).collect();
            close(
                g[k],
                dual_dir(carried_scratch_ref, &x, &e),
                "carried_scratch",
            );
            let g = partly_overwritten_grad(&x);
            close(
                g[k],
                dual_dir(partly_overwritten_ref, &x, &e),
                "partly_overwritten",
            );
        }
    }
    for n in [2, 3, 6, 7] {
        let x = point(n, 80 + n as u64);
        let g = counting_down_grad(&x);
        for k in 0..n {
            let e: Vec<f64> = (0..n).map(|i| f64::from(i == k)).collect();
            close(g[k], dual_dir(counting_down_ref, &x, &e), "counting_down");
        }
    }
}

// ---- a loss summed over rows: the reversal runs fused with the rows ----

const ROW: usize = 3;

/// A logistic loss over rows with its softplus written out (branches on
/// the sign), and a weight decay term added per row.
#[differentiate(wrt(w, decay))]
fn row_loss(w: &[f64], decay: f64, x: &[f64], y: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..y.len() {
        let mut z = 0.0;
        for j in 0..ROW {
            z += w[j] * x[i * ROW + j];
        }
        let m = -y[i] * z;
        s += m.max(0.0) + (-m.abs()).exp().ln_1p() + decay * z * z;
    }
    s
}

fn row_loss_ref<D: DualNum<f64> + Copy>(p: &[D], x: &[f64], y: &[f64]) -> D {
    let (w, decay) = (&p[..ROW], p[ROW]);
    let mut s = D::zero();
    for (i, &yi) in y.iter().enumerate() {
        let z = (0..ROW).fold(D::zero(), |z, j| z + w[j] * x[i * ROW + j]);
        let m = z * -yi;
        let relu = if m.re() > 0.0 { m } else { D::zero() };
        let abs = if m.re() >= 0.0 { m } else { -m };
        s += relu + (-abs).exp().ln_1p() + decay * z * z;
    }
    s
}

#[test]
fn a_loss_over_rows_against_num_dual() {
    for rows in [0, 1, 2, 7] {
        let w = point(ROW, 90 + rows as u64);
        let x = point(rows * ROW, 91 + rows as u64);
        let y: Vec<f64> = point(rows, 92).iter().map(|v| v.signum()).collect();
        let decay = 0.125;
        let (gw, gd) = row_loss_grad(&w, decay, &x, &y);
        let (value, (vw, vd)) = row_loss_vjp(&w, decay, &x, &y, 1.0);
        assert_eq!(value, row_loss(&w, decay, &x, &y));
        let mut p = w.clone();
        p.push(decay);
        for k in 0..=ROW {
            let e: Vec<f64> = (0..=ROW).map(|i| f64::from(i == k)).collect();
            let want = dual_dir(|q| row_loss_ref(q, &x, &y), &p, &e);
            let (got, via_vjp) = if k < ROW { (gw[k], vw[k]) } else { (gd, vd) };
            close(got, want, &format!("row_loss rows={rows} d/dp{k}"));
            close(via_vjp, want, &format!("row_loss_vjp rows={rows} d/dp{k}"));
        }
    }
    // One loop over the rows, no tape: the reversal runs with the rows.
    let code = row_loss_pp().simplified("w").expect("a derivative in w");
    assert!(!code.contains("tape"), "{code}");
    // Generic, fused the same way: at f64 the same gradient as above, at
    // f32 the same to f32 precision.
    let (w, x) = (point(ROW, 95), point(4 * ROW, 96));
    let y = [1.0, -1.0, -1.0, 1.0];
    let (gw, _) = row_loss_grad(&w, 0.125, &x, &y);
    let (gw_t, _) = row_loss_generic_grad(&w, 0.125, &x, &y);
    for k in 0..ROW {
        close(gw_t[k], gw[k], "row_loss_generic f64");
    }
    let f32s = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
    let (gw32, _) = row_loss_generic_grad(&f32s(&w), 0.125_f32, &f32s(&x), &f32s(&y));
    for k in 0..ROW {
        assert!((f64::from(gw32[k]) - gw[k]).abs() < 1e-4 * gw[k].abs().max(1.0));
    }
    let code = row_loss_generic_pp()
        .simplified("w")
        .expect("a derivative in w");
    assert!(!code.contains("tape"), "{code}");
}

/// `row_loss` over any float type.
#[differentiate(wrt(w, decay))]
fn row_loss_generic<T: autodiff::Float>(w: &[T], decay: T, x: &[T], y: &[T]) -> T {
    let mut s = T::zero();
    for i in 0..y.len() {
        let mut z = T::zero();
        for j in 0..ROW {
            z = z + w[j] * x[i * ROW + j];
        }
        let m = -y[i] * z;
        s = s + m.max(T::zero()) + (-m.abs()).exp().ln_1p() + decay * z * z;
    }
    s
}

// ---- sums in registers: what an inner loop adds into one element ----
//
// The reversal of `x[i]` read in a loop over `j` adds into `x_bar[i]` at
// every `j`; the sums pass adds into a float instead, and into the element
// once after the loop, if it ran. Here: alone in its array (`m`'s rank-2
// element), beside updates at the moving index (`x_bar[j]`), with inner
// loops that run no iteration (`j > i` at the last `i`), a reversed inner
// range, and a generic function in `f32` and `f64`.

#[differentiate]
fn pair_energy(x: &[f64], m: &[[f64; 2]]) -> f64 {
    let n = x.len();
    let mut e = 0.0;
    for i in 0..n {
        for j in (i + 1)..n {
            e += (x[i] * x[j]).sin() + m[i][1] * x[j];
        }
        for j in (0..i).rev() {
            e += (x[i] - x[j]).powi(2) * m[j][0];
        }
    }
    e
}

fn pair_energy_ref<D: DualNum<f64> + Copy>(x: &[D], m: &[[D; 2]]) -> D {
    let n = x.len();
    let mut e = D::from(0.0);
    for i in 0..n {
        for j in (i + 1)..n {
            e += (x[i] * x[j]).sin() + m[i][1] * x[j];
        }
        for j in (0..i).rev() {
            e += (x[i] - x[j]).powi(2) * m[j][0];
        }
    }
    e
}

#[differentiate]
fn pair_generic<T: autodiff::Float>(x: &[T]) -> T {
    let mut e = T::zero();
    for i in 0..x.len() {
        for j in 0..x.len() {
            e = e + (x[i] * x[j]).cos() * x[i];
        }
    }
    e
}

#[test]
fn sums_of_an_element_an_inner_loop_keeps_adding_into() {
    let x = [0.3, -0.8, 1.1, 0.5];
    let m = [[0.2, -0.4], [0.7, 0.1], [-0.3, 0.9], [0.6, -0.5]];
    let flat: Vec<f64> = x.iter().chain(m.iter().flatten()).copied().collect();
    let want = dual_grad(
        |v: &[Dual64]| {
            let m: Vec<[Dual64; 2]> = v[4..].chunks(2).map(|c| [c[0], c[1]]).collect();
            pair_energy_ref(&v[..4], &m)
        },
        &flat,
    );
    let (gx, gm) = pair_energy_grad(&x, &m);
    let got: Vec<f64> = gx.iter().chain(gm.iter().flatten()).copied().collect();
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
            "{got:?} vs {want:?}"
        );
    }
    let want = dual_grad(
        |v: &[Dual64]| {
            let mut e = Dual64::from(0.0);
            for i in 0..4 {
                for j in 0..4 {
                    e += (v[i] * v[j]).cos() * v[i];
                }
            }
            e
        },
        &x,
    );
    let got = pair_generic_grad(&x);
    let got32 = pair_generic_grad(&x.map(|v| v as f32));
    for ((g, g32), w) in got.iter().zip(&got32).zip(&want) {
        assert!(
            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
            "{got:?} vs {want:?}"
        );
        assert!(
            (f64::from(*g32) - w).abs() <= 1e-5 * (1.0 + w.abs()),
            "{got32:?}"
        );
    }
}

/// A vector filled before the loop, then filled whole again and read in
/// each iteration: reverse mode reads each iteration's contents back from
/// a copy kept as the iteration ends.
#[differentiate]
fn refilled(input: &[f64], pos: f64) -> f64 {
    let mut v = vec![0.0; input.len()];
    for t in 0..input.len() {
        v[t] = pos + t as f64;
    }
    let mut y = 0.75;
    for k in 0..3 {
        for s in 0..input.len() {
            v[s] = (y * input[s]).sin() + k as f64;
        }
        for s in 0..input.len() {
            y += v[s] * v[s] * 0.1;
        }
    }
    y + v[0] * pos
}

#[test]
fn a_vector_refilled_in_every_iteration() {
    let (input, pos) = ([0.3, -0.6, 0.9], 0.4);
    let want = dual_grad(
        |p: &[Dual64]| {
            let mut v = [Dual64::from(0.0); 3];
            let mut y = Dual64::from(0.75);
            for k in 0..3 {
                for s in 0..3 {
                    v[s] = (y * p[s]).sin() + k as f64;
                }
                for s in 0..3 {
                    y += v[s] * v[s] * 0.1;
                }
            }
            y + v[0] * p[3]
        },
        &[input[0], input[1], input[2], pos],
    );
    let (gi, gp) = refilled_grad(&input, pos);
    let got: Vec<f64> = gi.iter().copied().chain([gp]).collect();
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
            "{got:?} vs {want:?}"
        );
    }
}

/// Two components of three coordinates: the arrays' lengths literals, the
/// loops over their lengths and elements.
#[differentiate]
fn two_centres(x: &[f64], mu: &[f64; 6]) -> f64 {
    let mut xc = [0.0; 3];
    let mut terms = [0.0; 2];
    let mut total = 0.0;
    for i in 0..x.len() / 3 {
        for c in 0..2 {
            for j in 0..xc.len() {
                xc[j] = x[i * 3 + j] - mu[c * 3 + j];
            }
            let mut s = 0.0;
            for xj in xc {
                s += xj * xj;
            }
            terms[c] = -s;
        }
        total += autodiff::logsumexp(&terms);
    }
    total
}

fn two_centres_ref<D: DualNum<f64> + Copy>(p: &[D]) -> D {
    let (x, mu) = p.split_at(p.len() - 6);
    let mut total = D::zero();
    for i in 0..x.len() / 3 {
        let t: Vec<D> = (0..2)
            .map(|c| {
                (0..3).fold(D::zero(), |s, j| {
                    let e = x[i * 3 + j] - mu[c * 3 + j];
                    s + e * e
                }) * -1.0
            })
            .collect();
        let m = t[0].re().max(t[1].re());
        total += ((t[0] - m).exp() + (t[1] - m).exp()).ln() + m;
    }
    total
}

/// Its innermost loop fills three of the four elements: `buf[3]` carries a
/// value from one iteration to the next, so `buf` is not scratch.
#[differentiate]
fn partly_filled_fixed(x: &[f64]) -> f64 {
    let mut buf = [0.5; 4];
    let mut s = 0.0;
    for i in 0..x.len() {
        for c in 0..2 {
            for j in 0..3 {
                buf[j] = (x[i] * (j + c + 1) as f64).sin();
            }
            for j in 0..4 {
                s += buf[j] * buf[3];
            }
            buf[3] = buf[3] * buf[0] + x[i];
        }
    }
    s
}

fn partly_filled_fixed_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let (mut last, mut s) = (D::from(0.5), D::zero());
    for &xi in x {
        for c in 0..2 {
            for j in 0..3 {
                s += (xi * (j + c + 1) as f64).sin() * last;
            }
            s += last * last;
            last = last * (xi * (c + 1) as f64).sin() + xi;
        }
    }
    s
}

#[test]
fn fixed_size_scratch_arrays_against_num_dual() {
    let d = SCRATCH_D;
    let stride = 2 * d + d * (d - 1) / 2;
    for (k, n) in [(1, 1), (2, 3), (3, 5)] {
        let w: Vec<f64> = point(k * stride, 40 + k as u64)
            .iter()
            .map(|v| v * 0.3)
            .collect();
        let x = point(n * d, 50 + n as u64);
        let grad = scratch_rows_fixed_grad(&w, &x);
        for dir in 0..3 {
            let v = point(w.len(), 60 + dir);
            let want = dual_dir(|wd| scratch_rows_ref(wd, &x), &w, &v);
            let got: f64 = grad.iter().zip(&v).map(|(g, v)| g * v).sum();
            close(got, want, &format!("scratch_rows_fixed k={k} n={n}"));
        }
    }
    for n in [0, 1, 3] {
        let (x, mu) = (point(3 * n, 80 + n as u64), point(6, 90));
        let (gx, gm) = two_centres_grad(&x, &mu.clone().try_into().unwrap());
        let p: Vec<f64> = x.iter().chain(&mu).copied().collect();
        for (k, g) in gx.iter().chain(&gm).enumerate() {
            let e: Vec<f64> = (0..p.len()).map(|i| f64::from(i == k)).collect();
            close(*g, dual_dir(two_centres_ref, &p, &e), "two_centres");
        }
        let g = partly_filled_fixed_grad(&x);
        for k in 0..x.len() {
            let e: Vec<f64> = (0..x.len()).map(|i| f64::from(i == k)).collect();
            close(
                g[k],
                dual_dir(partly_filled_fixed_ref, &x, &e),
                "partly_filled_fixed",
            );
        }
    }
}

// ---- in-place methods inside loops ----

/// A trimmed mean: bubble sort of a copy by `swap` (in an `if` in nested
/// loops), then the mean of the middle elements.
#[differentiate]
fn trimmed_mean(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    let n = v.len();
    for i in 0..n {
        for j in 0..n - 1 - i {
            if v[j] > v[j + 1] {
                v.swap(j, j + 1);
            }
        }
    }
    let mut s = 0.0;
    for k in 1..n - 1 {
        s += v[k];
    }
    s / (n - 2) as f64
}

/// `copy_from_slice` and `fill` in loops, and a rotation by `swap` of a
/// fixed array. (A `Vec` on purpose: its copy is a slice's.)
#[allow(clippy::useless_vec)]
#[differentiate]
fn refilled_in_loops(x: &[f64; 3]) -> f64 {
    let mut v = vec![0.0; 2];
    let mut s = 0.0;
    for k in 0..3 {
        v.copy_from_slice(&x[..2]);
        s += v[0] * k as f64;
        v[1] *= x[2];
    }
    let mut w = [x[0], x[1], x[2]];
    for j in 0..2 {
        w.swap(j, j + 1);
    }
    let mut u = *x;
    for _ in 0..2 {
        s += u[0] * u[2];
        u.fill(x[1]);
    }
    s + v[1] + 10.0 * w[0] + w[2] * u[2]
}

/// In-place methods on a parameter's copy and on a parameter held by
/// value.
#[differentiate]
fn in_place_on_copies(x: [f64; 2], mut y: [f64; 3], z: &[f64; 2]) -> f64 {
    let mut v = x;
    v.swap(0, 1);
    y.swap(0, 2);
    let mut w = *z;
    w.fill(x[0]);
    v[0] * 10.0 + v[1] + y[0] * 3.0 + x[0] + w[1] * z[0]
}

#[test]
fn in_place_methods_inside_loops_change_the_array() {
    let x = [0.9, -0.3, 2.5, 0.1, 1.7];
    let (value, g) = trimmed_mean_value_and_grad(&x);
    assert_eq!(value, trimmed_mean(&x));
    // The middle three of the sorted values: -0.3 and 2.5 are trimmed.
    close(value, (0.9 + 0.1 + 1.7) / 3.0, "trimmed_mean value");
    let third = 1.0 / 3.0;
    for (k, want) in [third, 0.0, 0.0, third, third].iter().enumerate() {
        close(g[k], *want, "trimmed_mean");
    }

    let x = [0.8, -1.2, 1.5];
    let reference = |p: &[Dual64]| {
        let s = p[0] * 3.0 + p[1] * p[2] + p[0] * p[2] + p[1] * p[1];
        s + p[1] * 10.0 + p[0] * p[1]
    };
    let (value, g) = refilled_in_loops_value_and_grad(&x);
    assert_eq!(value, refilled_in_loops(&x));
    for (k, want) in dual_grad(reference, &x).iter().enumerate() {
        close(g[k], *want, "refilled_in_loops");
    }
    let (_, tangent) = refilled_in_loops_jvp(&x, &[0.0, 1.0, 0.0]);
    close(tangent, g[1], "refilled_in_loops jvp");

    let (x, y, z) = ([1.5, -2.0], [3.0, 4.0, 5.0], [6.0, 7.0]);
    let (value, (gx, gy, gz)) = in_place_on_copies_value_and_grad(x, y, &z);
    assert_eq!(value, in_place_on_copies(x, y, &z));
    assert_eq!(value, -20.0 + 1.5 + 15.0 + 1.5 + 1.5 * 6.0);
    assert_eq!(
        (gx, gy, gz),
        ([1.0 + 1.0 + 6.0, 10.0], [0.0, 0.0, 3.0], [1.5, 0.0])
    );
}

// ---- `Vec::new()` filled by `push` in a loop ----

/// A hidden layer pushed element by element, then iterated.
#[differentiate]
fn pushed_layer(x: &[f64], w: &[f64]) -> f64 {
    let mut h = Vec::new();
    for i in 0..x.len() {
        h.push((x[i] * w[i]).tanh());
    }
    let mut s = 0.0;
    for v in &h {
        s += v * v;
    }
    s + h.len() as f64
}

/// An exponential moving average pushed over `enumerate`, reading the
/// elements pushed before: a `Vec` output.
#[differentiate]
fn pushed_average(x: &[f64], a: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for (i, v) in x.iter().enumerate() {
        let prev = if i == 0 { *v } else { out[i - 1] };
        out.push(a * v + (1.0 - a) * prev);
    }
    out
}

/// Pushed over a reversed inclusive range of `i32` (empty for `n < 1`).
#[differentiate]
fn pushed_backwards(x: &[f64; 3], n: i32) -> f64 {
    let mut out: Vec<f64> = vec![];
    for k in (1..=n).rev() {
        out.push(x[(k % 3) as usize] * k as f64);
    }
    out.iter().sum::<f64>() + out.len() as f64
}

/// The pushed value bound first in the body, by a `let` (typed or not),
/// the way a convolution pushes its accumulator.
#[differentiate]
fn pushed_bindings(x: &[f64]) -> f64 {
    const K: [f64; 3] = [0.25, 0.5, 0.25];
    let mut y = Vec::with_capacity(x.len());
    for i in 1..x.len() - 1 {
        let mut acc = 0.0;
        for j in 0..3 {
            acc += K[j] * x[i + j - 1];
        }
        y.push(acc);
    }
    let mut z = Vec::new();
    for &v in y.iter() {
        let t: f64 = v.tanh();
        let u = 2.0 * t;
        z.push(u);
    }
    z.iter().map(|v| v * v).sum()
}

#[test]
fn pushed_values_bound_by_let() {
    let x = [0.5, -1.0, 2.0, 0.25, 1.5];
    let reference = |v: &[Dual64]| {
        let k = [0.25, 0.5, 0.25];
        (1..4)
            .map(|i| {
                let acc = (0..3).fold(Dual64::from(0.0), |a, j| a + v[i + j - 1] * k[j]);
                (acc.tanh() * 2.0).powi(2)
            })
            .fold(Dual64::from(0.0), |s, t| s + t)
    };
    let (value, g) = pushed_bindings_value_and_grad(&x);
    assert_eq!(value, pushed_bindings(&x));
    for (g, want) in g.iter().zip(dual_grad(reference, &x)) {
        close(*g, want, "pushed_bindings");
    }
}

#[test]
fn vecs_filled_by_push_in_loops() {
    let (x, w) = ([0.5, -1.0, 2.0], [0.3, 0.2, 0.1]);
    let p: Vec<f64> = x.iter().chain(&w).copied().collect();
    let reference = |v: &[Dual64]| {
        (0..3)
            .map(|i| (v[i] * v[3 + i]).tanh().powi(2))
            .fold(Dual64::from(3.0), |s, t| s + t)
    };
    let (value, (gx, gw)) = pushed_layer_value_and_grad(&x, &w);
    assert_eq!(value, pushed_layer(&x, &w));
    let got: Vec<f64> = gx.iter().chain(&gw).copied().collect();
    for (g, want) in got.iter().zip(dual_grad(reference, &p)) {
        close(*g, want, "pushed_layer");
    }

    let a = 0.3;
    let mut p = x.to_vec();
    p.push(a);
    let reference = |v: &[Dual64]| {
        let mut out: Vec<Dual64> = Vec::new();
        for i in 0..3 {
            let prev = if i == 0 { v[0] } else { out[i - 1] };
            out.push(v[3] * v[i] + (-v[3] + 1.0) * prev);
        }
        out
    };
    let (jx, ja) = pushed_average_jacobian(&x, a);
    assert_eq!(pushed_average(&x, a).len(), 3);
    for (row, want) in dual_jacobian(reference, &p).iter().enumerate() {
        for k in 0..3 {
            close(jx[(row, k)], want[k], "pushed_average d/dx");
        }
        close(ja[row], want[3], "pushed_average d/da");
    }

    // k = 4, 3, 2, 1 reads x[1], x[0], x[2], x[1].
    let x = [0.5, -1.0, 2.0];
    let (value, g) = pushed_backwards_value_and_grad(&x, 4);
    assert_eq!(value, pushed_backwards(&x, 4));
    assert_eq!(g, [3.0, 5.0, 2.0]);
    assert_eq!(pushed_backwards_value_and_grad(&x, -2), (0.0, [0.0; 3]));
}

// ---- a loop nested in a loop reads an array written after both ----

/// The inner loop reads `step` whole (`norm`), and `step` is written after
/// the outer loop: the reversal of the inner loop must read the copy made
/// before the write (fuzzer seed 57 case 676: it read the later contents).
#[differentiate(wrt(w))]
fn read_before_a_later_write(w: f64, c: f64) -> f64 {
    let mut step = [0.0; 4];
    for j in 0..4 {
        step[j] = w * (j as f64 + 1.0) + c;
    }
    let mut phase = 0.0;
    for &r in step.iter() {
        let mut q = [0.0; 4];
        for k in 0..4 {
            q[k] = autodiff::norm(&step) + (k as f64) * 0.1;
        }
        phase += r * r;
        phase += q[1] * 0.5;
    }
    step[0] = 1.0;
    phase + step[0]
}

#[test]
fn an_inner_loop_reads_the_array_as_it_was_before_a_later_write() {
    for (w, c) in [(-0.6356, 4.2), (0.8, -1.0)] {
        let reference = |v: &[Dual64]| {
            let step: Vec<Dual64> = (0..4).map(|j| v[0] * (j as f64 + 1.0) + c).collect();
            let norm = step
                .iter()
                .map(|s| *s * *s)
                .fold(Dual64::from(0.0), |a, b| a + b)
                .sqrt();
            step.iter()
                .fold(Dual64::from(1.0), |p, r| p + *r * *r + (norm + 0.1) * 0.5)
        };
        let want = dual_grad(reference, &[w])[0];
        let (value, g) = read_before_a_later_write_vjp(w, c, 1.0);
        assert_eq!(value, read_before_a_later_write(w, c));
        close(g, want, "vjp");
        close(read_before_a_later_write_grad(w, c), want, "grad");
        close(read_before_a_later_write_jvp(w, c, 1.0).1, want, "jvp");
    }
}

/// A `Vec::new()` made in a `while` body and filled by a `for` loop
/// there: the pushes are per iteration of the `while`.
#[differentiate]
fn pushed_in_while(x: &[f64]) -> f64 {
    let mut k = 0;
    let mut s = 0.0;
    while k < 2 {
        let mut h = Vec::new();
        for j in 0..x.len() {
            h.push(x[j] * (k + 1) as f64);
        }
        s += h[0] * h[1];
        k += 1;
    }
    s
}

#[test]
fn a_vec_pushed_in_a_while_body() {
    let x = [1.0, 2.0];
    // s = x0 x1 + 4 x0 x1.
    assert_eq!(pushed_in_while_value_and_grad(&x), (10.0, vec![10.0, 5.0]));
}

// ---- `to_vec` of a fixed-size array ----

/// `to_vec()` of a fixed-size parameter, by value and by reference, and of
/// local fixed arrays: `Vec`s (power iteration starts from one).
#[differentiate(wrt(v0))]
fn power_iteration(a: &[[f64; 3]], v0: [f64; 3], w0: &[f64; 2]) -> Vec<f64> {
    let mut v = v0.to_vec();
    for _ in 0..5 {
        let mut w = vec![0.0; 3];
        for i in 0..3 {
            for j in 0..3 {
                w[i] += a[i][j] * v[j];
            }
        }
        let nrm = (w[0] * w[0] + w[1] * w[1] + w[2] * w[2]).sqrt();
        for i in 0..3 {
            w[i] /= nrm;
        }
        v = w;
    }
    let tail = w0.to_vec();
    let lit = [v0[0], 1.0].to_vec();
    v[0] += tail[1] * lit[0];
    v
}

#[test]
fn to_vec_of_fixed_arrays_is_a_vec() {
    let a = [[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]];
    let (v0, w0) = ([1.0, 0.3, -0.2], [0.0, 0.7]);
    let reference = |p: &[Dual64]| {
        let mut v: Vec<Dual64> = p.to_vec();
        for _ in 0..5 {
            let mut w = [Dual64::from(0.0); 3];
            for i in 0..3 {
                for j in 0..3 {
                    w[i] += v[j] * a[i][j];
                }
            }
            let nrm = (w[0] * w[0] + w[1] * w[1] + w[2] * w[2]).sqrt();
            v = w.iter().map(|x| *x / nrm).collect();
        }
        v[0] += p[0] * w0[1];
        v
    };
    let got: Vec<f64> = power_iteration(&a, v0, &w0);
    let want = dual_jacobian(reference, &v0);
    let j = power_iteration_jacobian(&a, v0, &w0);
    for (row, want_row) in want.iter().enumerate() {
        assert_eq!(got.len(), 3);
        for k in 0..3 {
            close(j[(row, k)], want_row[k], "power_iteration");
        }
    }
}

// ---- `std::mem::swap` ----

/// Double buffering: the heat equation steps into `next`, then swaps the
/// buffers (`std::mem::swap(&mut u, &mut next)` is `(u, next) = (next,
/// u)`); also two floats swapped.
#[differentiate]
fn heat_double_buffered(u0: &[f64], steps: usize) -> f64 {
    let n = u0.len();
    let mut u = u0.to_vec();
    let mut next = vec![0.0; n];
    for _ in 0..steps {
        for i in 1..n - 1 {
            next[i] = u[i] + 0.1 * (u[i - 1] - 2.0 * u[i] + u[i + 1]);
        }
        next[0] = u[0];
        next[n - 1] = u[n - 1];
        std::mem::swap(&mut u, &mut next);
    }
    let (mut a, mut b) = (u[0], u[1]);
    core::mem::swap(&mut a, &mut b);
    u.iter().map(|v| v * v).sum::<f64>() + 3.0 * a + b
}

#[test]
fn mem_swap_exchanges_the_values() {
    let u0 = [0.1, 0.5, -0.3, 0.8, 0.2];
    let reference = |p: &[Dual64]| {
        let mut u = p.to_vec();
        for _ in 0..4 {
            let mut next = u.clone();
            for i in 1..4 {
                next[i] = u[i] + (u[i - 1] - u[i] * 2.0 + u[i + 1]) * 0.1;
            }
            u = next;
        }
        u.iter().fold(Dual64::from(0.0), |s, v| s + *v * *v) + u[1] * 3.0 + u[0]
    };
    let (value, g) = heat_double_buffered_value_and_grad(&u0, 4);
    assert_eq!(value, heat_double_buffered(&u0, 4));
    for (got, want) in g.iter().zip(dual_grad(reference, &u0)) {
        close(*got, want, "heat_double_buffered");
    }
}

// ---- whole rows written into a local matrix ----

/// Trajectory snapshots: a row of a local matrix written whole, from an
/// array variable, an array literal and by `copy_from_slice`.
#[differentiate]
fn snapshots(y0: [f64; 2]) -> [[f64; 2]; 3] {
    let mut out = [[0.0; 2]; 3];
    let mut y = y0;
    for k in 0..3 {
        y[0] *= y[1];
        out[k] = y;
    }
    let mut lit = [[0.0; 2]; 2];
    lit[1] = [y0[0] * 2.0, y0[1]];
    lit[0].copy_from_slice(&y0);
    out[0][1] += lit[1][0] + lit[0][1];
    out
}

#[test]
fn rows_of_a_local_matrix_written_whole() {
    let (a, b) = (0.5, 1.5);
    let j = snapshots_jacobian([a, b]);
    // out[k][0] = a b^(k+1); out[k][1] = b, and out[0][1] = b + 2a + b.
    for k in 0..3 {
        let p = b.powi(k as i32 + 1);
        let dp = (k as f64 + 1.0) * b.powi(k as i32);
        assert!((j[k][0][0] - p).abs() < 1e-14 && (j[k][0][1] - a * dp).abs() < 1e-14);
    }
    assert_eq!(j[0][1], [2.0, 2.0]);
    assert_eq!(j[2][1], [0.0, 1.0]);
}
