//! Iterator forms on differentiated arrays (rewritten as index loops by
//! the attribute), checked against num-dual and against the same function
//! written with an index loop.

// Index loops are the references here.
#![allow(clippy::needless_range_loop)]

use autodiff::differentiate;
use common::dual_grad;
use num_dual::{Dual64, DualNum};

use crate::common;

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-12 * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

#[differentiate]
fn sum_plain(x: &[f64]) -> f64 {
    x.iter().sum::<f64>()
}

#[differentiate]
fn sum_of_squares(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

#[differentiate]
fn weighted(x: &[f64], w: &[f64]) -> f64 {
    x.iter()
        .copied()
        .zip(w.iter())
        .map(|(a, b)| a * b.sin())
        .sum::<f64>()
}

#[differentiate]
fn prod(x: [f64; 4]) -> f64 {
    x.iter().map(|&v| v + 2.0).product::<f64>()
}

#[differentiate]
fn horner(c: &[f64], t: f64) -> f64 {
    c.iter().fold(0.0, |acc, &ci| acc * t + ci)
}

#[differentiate]
fn squares(x: [f64; 3]) -> [f64; 3] {
    x.map(|v| v * v * 0.5)
}

#[differentiate]
fn scaled(x: &[f64], k: f64) -> Vec<f64> {
    x.iter().map(|v| (*v * k).tanh()).collect::<Vec<_>>()
}

#[differentiate]
fn ramp(t: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| t.powi(i as i32)).collect()
}

#[differentiate]
fn for_each_forms(x: &[f64], w: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for v in x.iter() {
        s += v.exp();
    }
    for (i, &v) in w.iter().enumerate() {
        s += v * (i as f64 + 1.0);
    }
    for (a, b) in x.iter().zip(&w) {
        s += a * b;
    }
    s
}

#[test]
fn sums_products_and_folds() {
    let x = [0.3, -1.2, 2.5, 0.7];
    let w = [1.1, -0.4, 0.9, 2.0];
    assert_eq!(sum_plain_grad(&x), vec![1.0; 4]);
    assert_eq!(sum_plain(&x), sum_plain_value_and_grad(&x).0);
    assert_eq!(sum_of_squares(&x), sum_of_squares_value_and_grad(&x).0);
    assert_eq!(weighted(&x, &w), weighted_value_and_grad(&x, &w).0);
    assert_eq!(prod(x), prod_value_and_grad(x).0);
    let g = sum_of_squares_grad(&x);
    for i in 0..4 {
        close(g[i], 2.0 * x[i], "sum of squares");
    }
    let (gx, gw) = weighted_grad(&x, &w);
    for i in 0..4 {
        close(gx[i], w[i].sin(), "d/dx");
        close(gw[i], x[i] * w[i].cos(), "d/dw");
    }
    let g = prod_grad(x);
    let want = dual_grad(
        |v| v.iter().fold(Dual64::from(1.0), |p, &a| p * (a + 2.0)),
        &x,
    );
    for i in 0..4 {
        close(g[i], want[i], "product");
    }
    let mut p = x.to_vec();
    p.push(0.8);
    let (gc, gt) = horner_grad(&x, 0.8);
    let want = dual_grad(
        |v| {
            v[..4]
                .iter()
                .fold(Dual64::from(0.0), |acc, &c| acc * v[4] + c)
        },
        &p,
    );
    for i in 0..4 {
        close(gc[i], want[i], "horner d/dc");
    }
    close(gt, want[4], "horner d/dt");
    close(horner(&x, 0.8), horner_value_and_grad(&x, 0.8).0, "value");
}

#[test]
fn maps_and_collects() {
    let x = [0.3, -1.2, 2.5];
    assert_eq!(squares(x), [0.045, 0.72, 3.125]);
    let j = squares_jacobian(x);
    for i in 0..3 {
        for k in 0..3 {
            assert_eq!(j[i][k], if i == k { x[i] } else { 0.0 });
        }
    }
    let (y, t) = scaled_jvp(&x, 1.5, &[1.0, 0.0, 0.0], 0.0);
    assert_eq!(y, scaled(&x, 1.5));
    let d = 1.5 * (1.0 - (0.3_f64 * 1.5).tanh().powi(2));
    close(t[0], d, "d tanh");
    assert_eq!(&t[1..], &[0.0, 0.0]);
    let (_, (xb, kb)) = scaled_vjp(&x, 1.5, &[1.0, 1.0, 1.0]);
    for i in 0..3 {
        let s = 1.0 - (x[i] * 1.5).tanh().powi(2);
        close(xb[i], 1.5 * s, "x bar");
    }
    let want: f64 = (0..3)
        .map(|i| x[i] * (1.0 - (x[i] * 1.5).tanh().powi(2)))
        .sum();
    close(kb, want, "k bar");
    let (v, dt) = ramp_jvp(0.5, 4, 1.0);
    assert_eq!(v, vec![1.0, 0.5, 0.25, 0.125]);
    assert_eq!(dt, vec![0.0, 1.0, 1.0, 0.75]);
    assert_eq!(v, ramp(0.5, 4));
    // A scalar parameter and a `Vec` output: the Jacobian is one column.
    assert_eq!(ramp_jacobian(0.5, 4), vec![0.0, 1.0, 1.0, 0.75]);
}

#[test]
fn for_loops_over_iterators() {
    let x = [0.3, -1.2, 2.5];
    let w = [1.1, -0.4, 0.9];
    let (gx, gw) = for_each_forms_grad(&x, w);
    for i in 0..3 {
        close(gx[i], x[i].exp() + w[i], "d/dx");
        close(gw[i], i as f64 + 1.0 + x[i], "d/dw");
    }
    close(
        for_each_forms(&x, w),
        for_each_forms_value_and_grad(&x, w).0,
        "value",
    );
}

/// Empty inputs: no iteration, in both modes.
#[test]
fn empty_slices() {
    let e: [f64; 0] = [];
    assert_eq!(sum_of_squares_grad(&e), Vec::<f64>::new());
    assert_eq!(sum_of_squares_value_and_grad(&e).0, 0.0);
    let (gc, gt) = horner_grad(&e, 2.0);
    assert!(gc.is_empty());
    assert_eq!(gt, 0.0);
    let (y, t) = scaled_jvp(&e, 1.0, &e, 1.0);
    assert!(y.is_empty() && t.is_empty());
    assert_eq!(ramp_jacobian(0.5, 0), Vec::<f64>::new());
}

/// A chain over a computed array (a helper's result) computes it once.
#[differentiate]
fn over_computed(x: &[f64]) -> f64 {
    let mut s = autodiff::softmax(x).iter().map(|p| p * p).sum::<f64>();
    for v in autodiff::sigmoid(x).iter() {
        s += v;
    }
    s
}

#[test]
fn chains_over_computed_arrays() {
    let x = [0.3, -1.0, 2.0];
    let f = |v: &[Dual64]| {
        let m = v.iter().fold(f64::NEG_INFINITY, |m, a| m.max(a.re));
        let z = v.iter().fold(Dual64::from(0.0), |a, &b| a + (b - m).exp());
        let sq = v.iter().fold(Dual64::from(0.0), |a, &b| {
            let p = (b - m).exp() / z;
            a + p * p
        });
        v.iter()
            .fold(sq, |a, &b| a + (Dual64::from(1.0) + (-b).exp()).recip())
    };
    let g = over_computed_grad(&x);
    let want = dual_grad(f, &x);
    for i in 0..3 {
        close(g[i], want[i], "over computed arrays");
    }
    close(over_computed(&x), f(&x.map(Dual64::from)).re, "value");
}

/// A `Vec` output collected from the data alone (the fuzzer's seed 22
/// case 697: its tangent came back empty).
#[differentiate(wrt(w))]
fn with_data(w: f64, r: &[f64]) -> (f64, Vec<f64>) {
    let scaled: Vec<f64> = r.iter().map(|&v| v.sin()).collect();
    (w * r[0], scaled)
}

/// The same, generic, and a declared fixed array of a const-generic length.
#[differentiate(wrt(x))]
fn with_data_generic<T: autodiff::Float>(x: T, d: &[T]) -> (T, Vec<T>) {
    let v: Vec<T> = d.iter().map(|&t| t.sin()).collect();
    (x * v[0], v)
}

#[differentiate(wrt(x))]
fn with_fixed_data<const N: usize>(x: f64, d: [f64; N]) -> (f64, [f64; N]) {
    let a: [f64; N] = d.map(|t| t * 0.5);
    (x * a[0], a)
}

#[test]
fn a_constant_collected_output_has_zero_tangents_of_its_length() {
    let ((_, v), (dx, dv)) = with_data_generic_jvp(0.5_f32, &[1.0, 2.0], 1.0);
    assert_eq!((dx, dv), (v[0], vec![0.0; 2]));
    let ((_, a), (dx, da)) = with_fixed_data_jvp(0.5, [1.0, 2.0, 4.0], 1.0);
    assert_eq!((dx, da), (a[0], [0.0; 3]));
    let r = [0.5, 1.0, 2.0];
    let ((value, data), (dw, ddata)) = with_data_jvp(1.5, &r, 1.0);
    assert_eq!((value, data.len()), (0.75, 3));
    assert_eq!(dw, 0.5);
    assert_eq!(ddata, vec![0.0; 3]);
}

// ---- the rows of a matrix ----

/// A line fitted to constant points, iterated as rows.
#[differentiate(wrt(w))]
fn fit_rows(w: &[f64; 2], data: &[[f64; 2]]) -> f64 {
    let mut loss = 0.0;
    for p in data {
        loss += (w[0] * p[0] + w[1] - p[1]).powi(2);
    }
    loss / data.len() as f64
}

/// Rows of a differentiated matrix: by element, taken apart, with their
/// index, zipped with weights, and one copied out by `m[i]`.
#[differentiate]
fn rows(pts: &[[f64; 3]], wt: &[f64]) -> f64 {
    let mut e = 0.0;
    for &[x, y, z] in pts {
        e += x * (y * z).sin();
    }
    for (i, p) in pts.iter().enumerate() {
        let [a, ..] = *p;
        e += a * p[2] * (i as f64 + 1.0);
    }
    for (p, &c) in pts.iter().zip(wt) {
        e += c * p[1] * p[1];
    }
    let q = pts[1];
    e + q[0] * q[2]
}

/// A row's own elements iterated, its length, a sub-slice of it, and its
/// last element counted from the end.
#[differentiate]
fn row_as_slice(m: &[[f64; 3]], x: &[f64; 3]) -> f64 {
    let mut s = 0.0;
    for row in m {
        let z: f64 = row.iter().zip(x).map(|(w, xi)| w * xi).sum::<f64>();
        s += z.tanh() * row.len() as f64;
        let [.., last] = *row;
        s += last * row[1..].iter().sum::<f64>();
    }
    s
}

/// A differentiated function that takes a slice.
#[differentiate]
fn pair_product(p: &[f64]) -> f64 {
    p[0] * p[1].sin()
}

/// Windows passed on as they are (`g(w)`, a reference): by reference.
#[differentiate]
fn windows_passed(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for w in x.windows(2) {
        s += pair_product(w);
    }
    s
}

/// A row of a matrix held by value (`m[0]` of a parameter, which is never
/// written in place).
#[differentiate]
fn first_row(m: [[f64; 2]; 2]) -> f64 {
    let row = m[0];
    row[1] * row[0] + m[1][1]
}

/// A row of a local matrix borrowed (`let r = &m[0];`), read, then the
/// matrix written: the reads are of the values before the write.
#[differentiate]
fn row_copy(x: &[f64; 2]) -> f64 {
    let mut m = [[0.0; 2]; 2];
    m[0][0] = x[0];
    m[0][1] = x[1];
    let r = &m[0];
    let (a, b) = (r[0], r[1]);
    m[0][0] = x[1] * 3.0;
    a * m[0][0] + b * b
}

/// Iterated by value (`for v in xs`), an array the body writes yields the
/// elements it had as the loop started, as in Rust.
#[differentiate]
fn by_value_iteration(x: &[f64; 3]) -> f64 {
    let mut v = *x;
    let mut s = 0.0;
    for e in v {
        v[2] += e;
        s += e * v[2];
    }
    s
}

/// A loop writing an array that another name still holds (`let z = y;`
/// copies a fixed array) or that is a parameter's copy (`*x`): the other
/// name and the parameter keep their values.
#[differentiate]
fn written_in_a_loop(x: &[f64; 2]) -> f64 {
    let mut y = [x[0], x[1]];
    let z = y;
    for i in 0..2 {
        y[i] *= 2.0;
    }
    let mut w = *x;
    for i in 0..2 {
        w[1] += w[i];
    }
    z[0] + y[1] * z[1] + w[1] * x[1]
}

#[test]
fn matrix_rows_read_by_element() {
    let data = [[0.5, 1.2], [-0.3, 0.1], [1.5, 2.9]];
    let w = [0.7, -0.2];
    let g = fit_rows_grad(&w, &data);
    let want = dual_grad(
        |v| {
            data.iter()
                .map(|p| (v[0] * p[0] + v[1] - p[1]).powi(2))
                .sum::<Dual64>()
                / 3.0
        },
        &w,
    );
    close(g[0], want[0], "fit_rows d/dw0");
    close(g[1], want[1], "fit_rows d/dw1");

    let pts = [[0.4, -0.8, 1.1], [0.9, 0.3, -0.5]];
    let wt = [1.5, -0.7];
    let flat: Vec<f64> = pts.iter().flatten().chain(&wt).copied().collect();
    let reference = |v: &[Dual64]| {
        let p = |i: usize, j: usize| v[3 * i + j];
        let mut e = Dual64::from(0.0);
        for i in 0..2 {
            e += p(i, 0) * (p(i, 1) * p(i, 2)).sin();
        }
        for i in 0..2 {
            e += p(i, 0) * p(i, 2) * (i as f64 + 1.0);
        }
        for i in 0..2 {
            e += v[6 + i] * p(i, 1) * p(i, 1);
        }
        e + p(1, 0) * p(1, 2)
    };
    let want = dual_grad(reference, &flat);
    let (gp, gw) = rows_grad(&pts, &wt);
    let got: Vec<f64> = gp.iter().flatten().chain(&gw).copied().collect();
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        close(*g, *w, &format!("rows component {k}"));
    }
    assert_eq!(
        rows(&pts, &wt).to_bits(),
        rows_value_and_grad(&pts, &wt).0.to_bits()
    );

    let x = [0.6, -1.3];
    let g = row_copy_grad(&x);
    let want = dual_grad(|v| v[0] * v[1] * 3.0 + v[1] * v[1], &x);
    close(g[0], want[0], "row_copy d/dx0");
    close(g[1], want[1], "row_copy d/dx1");
    assert_eq!(row_copy(&x), x[0] * (x[1] * 3.0) + x[1] * x[1]);

    let (m, x) = ([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]], [0.4, 0.9, -0.2]);
    let flat: Vec<f64> = m.iter().flatten().copied().collect();
    let want = dual_grad(
        |v| {
            let mut s = Dual64::from(0.0);
            for r in 0..2 {
                let row = &v[3 * r..3 * r + 3];
                let z = row[0] * x[0] + row[1] * x[1] + row[2] * x[2];
                s += z.tanh() * 3.0 + row[2] * (row[1] + row[2]);
            }
            s
        },
        &flat,
    );
    let (gm, _) = row_as_slice_grad(&m, &x);
    for (k, g) in gm.iter().flatten().enumerate() {
        close(*g, want[k], "row_as_slice");
    }
    let x = [0.3, -0.7, 1.1, 0.4];
    let want = dual_grad(
        |v| (0..3).map(|i| v[i] * v[i + 1].sin()).sum::<Dual64>(),
        &x,
    );
    let g = windows_passed_grad(&x);
    for k in 0..4 {
        close(g[k], want[k], "windows_passed");
    }

    let g = first_row_grad([[0.3, -0.8], [1.2, 0.5]]);
    assert_eq!(g, [[-0.8, 0.3], [0.0, 1.0]]);

    // s = a (c + a) + b (c + a + b) + c (2c + a + b).
    let x = [1.0, 2.0, 3.0];
    let r = |v: &[Dual64]| {
        let (a, b, c) = (v[0], v[1], v[2]);
        a * (c + a) + b * (c + a + b) + c * (c * 2.0 + a + b)
    };
    let (value, g) = by_value_iteration_value_and_grad(&x);
    assert_eq!(value, by_value_iteration(&x));
    for (k, w) in dual_grad(r, &x).iter().enumerate() {
        close(g[k], *w, "by_value_iteration");
    }

    // z = x, y = 2x, w1 = x1 + x0 + (x1 + x0) = 2 (x0 + x1).
    let x = [0.5, 1.5];
    let r = |v: &[Dual64]| v[0] + v[1] * 2.0 * v[1] + (v[0] + v[1]) * 2.0 * v[1];
    let (value, g) = written_in_a_loop_value_and_grad(&x);
    assert_eq!(value, written_in_a_loop(&x));
    for (k, w) in dual_grad(r, &x).iter().enumerate() {
        close(g[k], *w, "written_in_a_loop");
    }
}

// ---- `.rev()` of elements ----

/// Horner's rule, as a loop and as a fold over the coefficients reversed.
#[differentiate]
fn horner_rev(c: &[f64], t: f64) -> f64 {
    let mut acc = 0.0;
    for &ci in c.iter().rev() {
        acc = acc * t + ci;
    }
    acc + c.iter().rev().fold(0.0, |a, &ci| a * t + ci)
}

/// Reversed pairs with their positions, and a reversed map collected.
#[differentiate]
fn reversed(x: &[f64], y: &[f64]) -> Vec<f64> {
    let mut s = 0.0;
    for (i, v) in x.iter().enumerate().rev() {
        s = s * 0.5 + v * (i as f64 + 1.0);
    }
    for (a, b) in x.iter().zip(y).rev() {
        s = (s + a * b).sin();
    }
    let mut out: Vec<f64> = x.iter().rev().map(|v| v * v).collect();
    out[0] += s;
    out
}

#[test]
fn reversed_elements() {
    let (c, t) = ([0.5, -1.2, 0.8, 2.0], 0.7);
    let mut p = c.to_vec();
    p.push(t);
    let want = dual_grad(
        |v| {
            let horner = (0..4).rev().fold(Dual64::from(0.0), |a, k| a * v[4] + v[k]);
            horner * 2.0
        },
        &p,
    );
    let (gc, gt) = horner_rev_grad(&c, t);
    for k in 0..4 {
        close(gc[k], want[k], "horner_rev d/dc");
    }
    close(gt, want[4], "horner_rev d/dt");

    let (x, y) = ([0.3, -0.9, 1.4], [1.1, 0.2, -0.6]);
    let reference = |v: &[Dual64]| -> Vec<Dual64> {
        let (x, y) = (&v[..3], &v[3..]);
        let mut s = Dual64::from(0.0);
        for i in (0..3).rev() {
            s = s * 0.5 + x[i] * (i as f64 + 1.0);
        }
        for i in (0..3).rev() {
            s = (s + x[i] * y[i]).sin();
        }
        let mut out: Vec<Dual64> = (0..3).rev().map(|i| x[i] * x[i]).collect();
        out[0] += s;
        out
    };
    let p: Vec<f64> = x.iter().chain(&y).copied().collect();
    let value = reversed(&x, &y);
    let want_value: Vec<f64> = reference(&p.iter().map(|&v| Dual64::from(v)).collect::<Vec<_>>())
        .iter()
        .map(|d| d.re)
        .collect();
    for k in 0..3 {
        close(value[k], want_value[k], "reversed value");
    }
    let (jx, jy) = reversed_jacobian(&x, &y);
    for out in 0..3 {
        let row = dual_grad(|v| reference(v)[out], &p);
        for k in 0..3 {
            close(jx[(out, k)], row[k], "reversed d/dx");
            close(jy[(out, k)], row[3 + k], "reversed d/dy");
        }
    }
}

// ---- zips of three arrays, and of unequal lengths ----

/// Three arrays zipped both ways, in loops (one walked backwards, one
/// binding a pair whole) and in a chain; `y` may be longer than `c`.
#[differentiate]
fn zipped_three(c: &[f64; 2], b: &[f64], y: &[f64]) -> f64 {
    let mut l = 0.0;
    for ((ci, bi), yi) in c.iter().zip(b).zip(y) {
        l += ci * (bi - yi).powi(2);
    }
    let s: f64 = c
        .iter()
        .zip(b.iter().zip(y))
        .map(|(ci, (bi, yi))| ci * bi * yi)
        .sum();
    let mut r = 0.0;
    for (ci, pair) in c.iter().zip(b.iter().zip(y)).rev() {
        r = r * 0.5 + ci * pair.0 * pair.1;
    }
    l + s + r
}

/// `zip` stops at the shorter array, as in Rust: here `x` may be longer
/// or shorter than `w`.
#[differentiate]
fn zipped_unequal(x: &[f64], w: &[f64]) -> f64 {
    let mut s = 0.0;
    for (a, b) in x.iter().zip(w) {
        s += a * b.sin();
    }
    s + x.iter().zip(w).map(|(a, b)| a * a * b).sum::<f64>()
}

#[test]
fn zips_of_three_and_of_unequal_lengths() {
    // The pairs run over the two first elements: `c` has two.
    let reference = |v: &[Dual64]| {
        let (c, b, y) = (&v[..2], &v[2..5], &v[5..]);
        let mut l = Dual64::from(0.0);
        let mut s = Dual64::from(0.0);
        for i in 0..2 {
            l += c[i] * (b[i] - y[i]).powi(2);
            s += c[i] * b[i] * y[i];
        }
        let mut r = Dual64::from(0.0);
        for i in (0..2).rev() {
            r = r * 0.5 + c[i] * b[i] * y[i];
        }
        l + s + r
    };
    let (c, b, y) = ([0.7, -1.3], [0.4, 2.1, 9.0], [1.5, -0.2, 3.0, 4.0]);
    let p: Vec<f64> = c.iter().chain(&b).chain(&y).copied().collect();
    let (value, (gc, gb, gy)) = zipped_three_value_and_grad(&c, &b, &y);
    assert_eq!(value, zipped_three(&c, &b, &y));
    let want = dual_grad(reference, &p);
    let got: Vec<f64> = gc.iter().chain(&gb).chain(&gy).copied().collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        close(*g, *w, "zipped_three");
    }
    // The elements past the shorter length have no influence.
    assert_eq!((gb[2], gy[2], gy[3]), (0.0, 0.0, 0.0));

    for (x, w) in [
        (vec![0.5, -1.0, 2.0], vec![0.3, 0.9]),
        (vec![0.5], vec![0.3, 0.9, 1.1]),
    ] {
        let n = x.len().min(w.len());
        let reference = |v: &[Dual64]| {
            let (a, b) = (&v[..x.len()], &v[x.len()..]);
            (0..n)
                .map(|i| a[i] * b[i].sin() + a[i] * a[i] * b[i])
                .fold(Dual64::from(0.0), |s, t| s + t)
        };
        let p: Vec<f64> = x.iter().chain(&w).copied().collect();
        let (value, (gx, gw)) = zipped_unequal_value_and_grad(&x, &w);
        assert_eq!(value, zipped_unequal(&x, &w));
        let got: Vec<f64> = gx.iter().chain(&gw).copied().collect();
        for (g, want) in got.iter().zip(dual_grad(reference, &p)) {
            close(*g, want, "zipped_unequal");
        }
        let (_, tangent) = zipped_unequal_jvp(&x, &w, &vec![1.0; x.len()], &vec![0.0; w.len()]);
        close(tangent, gx.iter().sum(), "zipped_unequal jvp");
    }
}

// ---- windows of a constant matrix's rows ----

/// A polyline's length scaled by `p`: `windows(2)` of constant points
/// (`&[[f64; 2]]`), each window's rows copied and indexed, in a loop and
/// in a chain; and a row's elements in an array literal. (Two copies of a
/// window's rows expanded into code that moved a range twice.)
#[differentiate(wrt(p))]
fn polyline(p: f64, pts: &[[f64; 2]]) -> f64 {
    let mut s = 0.0;
    for w in pts.windows(2) {
        let a = w[0];
        let b = w[1];
        s += (p * (b[0] - a[0])).hypot(b[1] - a[1]);
    }
    let chain = pts
        .windows(2)
        .map(|w| (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]))
        .sum::<f64>();
    let b = &pts[1];
    let ab = [b[0], b[1]];
    s + p * chain + p * p * (ab[0] + ab[1])
}

#[test]
fn windows_of_a_constant_matrix() {
    let pts = [[0.0, 0.0], [2.0, 1.0], [3.0, 3.0]];
    let p = 1.5;
    let reference = |p: Dual64| {
        let mut s = Dual64::from(0.0);
        let mut chain = 0.0;
        for k in 0..2 {
            let (dx, dy) = (pts[k + 1][0] - pts[k][0], pts[k + 1][1] - pts[k][1]);
            s += ((p * dx).powi(2) + dy * dy).sqrt();
            chain += dx.hypot(dy);
        }
        s + p * chain + p * p * 3.0
    };
    let (value, g) = polyline_value_and_grad(p, &pts);
    assert_eq!(value, polyline(p, &pts));
    close(value, reference(Dual64::from(p)).re, "polyline value");
    close(g, reference(Dual64::new(p, 1.0)).eps, "polyline");
}

// ---- loops over a sub-slice or a row bound to a name ----

/// `let tail = &x[1..];` and `let row = &m[1];` walked by `for` loops
/// (by element, enumerated and reversed, zipped).
#[differentiate]
fn named_windows(x: &[f64], m: &[[f64; 2]]) -> f64 {
    let tail = &x[1..];
    let mut s = x[0];
    for v in tail.iter() {
        s = s * 0.5 + v;
    }
    for (i, v) in tail.iter().enumerate().rev() {
        s += v * i as f64;
    }
    for &v in tail {
        s += v.sin();
    }
    let row = &m[1];
    for (a, b) in row.iter().zip(tail) {
        s += a * b;
    }
    s
}

#[test]
fn loops_over_named_windows() {
    let (x, m) = ([0.5, 1.0, -2.0, 0.25], [[1.0, 2.0], [3.0, 4.0]]);
    let reference = |v: &[Dual64]| {
        let (x, m1) = (&v[..4], &v[6..]);
        let mut s = x[0];
        for k in 1..4 {
            s = s * 0.5 + x[k];
        }
        for k in (1..4).rev() {
            s += x[k] * (k - 1) as f64;
        }
        for k in 1..4 {
            s += x[k].sin();
        }
        s + m1[0] * x[1] + m1[1] * x[2]
    };
    let p: Vec<f64> = x.iter().chain(m.iter().flatten()).copied().collect();
    let (value, (gx, gm)) = named_windows_value_and_grad(&x, &m);
    assert_eq!(value, named_windows(&x, &m));
    let got: Vec<f64> = gx.iter().chain(gm.iter().flatten()).copied().collect();
    for (g, w) in got.iter().zip(dual_grad(reference, &p)) {
        close(*g, w, "named_windows");
    }
}

/// A float method after a chain's consumer (`.sum::<f64>().min(10.0)`):
/// the `min` of a sum, not an iterator adaptor (the fuzzer's push class,
/// seed 63 case 134, found it refused).
#[differentiate]
fn method_of_a_sum(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().min(10.0) + x.iter().sum::<f64>().max(0.0).sqrt()
}

#[test]
fn float_methods_after_a_consumer() {
    let x = [0.5, 1.5, 2.0];
    let reference = |v: &[Dual64]| {
        let sq = v.iter().fold(Dual64::from(0.0), |s, t| s + *t * *t);
        let s = v.iter().fold(Dual64::from(0.0), |s, t| s + *t);
        sq + s.sqrt()
    };
    let (value, g) = method_of_a_sum_value_and_grad(&x);
    assert_eq!(value, method_of_a_sum(&x));
    for (got, want) in g.iter().zip(dual_grad(reference, &x)) {
        close(*got, want, "method_of_a_sum");
    }
}

// ---- loops over constant tables ----

const COEF: [f64; 4] = [1.0, -0.5, 0.25, 0.125];
static TABLE: &[f64] = &[0.1, 0.2, 0.3];

/// `const` and `static` tables walked by `for` loops: reversed (Horner),
/// borrowed, enumerated, zipped with a parameter, and copied into a typed
/// local first. (Refused before, by a message that listed the form.)
#[differentiate]
fn tables(x: f64, y: &[f64]) -> f64 {
    let mut s = 0.0;
    for c in COEF.iter().rev() {
        s = s * x + c;
    }
    for &c in &COEF {
        s = (s + c * x).sin();
    }
    for (k, c) in TABLE.iter().enumerate() {
        s += c * x.powi(k as i32);
    }
    for (a, c) in y.iter().zip(COEF.iter()) {
        s += (a * c).sin();
    }
    let t: [f64; 4] = COEF;
    for c in t.iter() {
        s += c * x * t[1];
    }
    let tail: &[f64] = &TABLE[1..];
    for c in tail {
        s += (c * x).exp();
    }
    s
}

fn tables_ref<D: DualNum<f64> + Copy>(v: &[D]) -> D {
    let (x, y) = (v[0], &v[1..]);
    let mut s = D::from(0.0);
    for c in COEF.iter().rev() {
        s = s * x + *c;
    }
    for &c in &COEF {
        s = (s + x * c).sin();
    }
    for (k, c) in TABLE.iter().enumerate() {
        s += x.powi(k as i32) * *c;
    }
    for (a, c) in y.iter().zip(COEF.iter()) {
        s += (*a * *c).sin();
    }
    for c in COEF.iter() {
        s += x * (c * COEF[1]);
    }
    for c in &TABLE[1..] {
        s += (x * *c).exp();
    }
    s
}

#[test]
fn loops_over_constant_tables() {
    for v in [[0.7, 0.5, -1.0], [-1.3, 2.0, 0.25]] {
        let (value, (gx, gy)) = tables_value_and_grad(v[0], &v[1..]);
        assert_eq!(value, tables(v[0], &v[1..]));
        close(value, tables_ref::<f64>(&v), "tables value");
        let want = dual_grad(tables_ref, &v);
        close(gx, want[0], "tables d/dx");
        close(gy[0], want[1], "tables d/dy0");
        close(gy[1], want[2], "tables d/dy1");
    }
}

/// An associated constant walked by a method's loop (`Self::WS`).
struct Horner;

impl Horner {
    const WS: [f64; 3] = [0.5, -1.0, 2.0];

    #[differentiate]
    fn eval(&self, x: f64) -> f64 {
        let mut s = 0.0;
        for w in Self::WS.iter() {
            s = s * x + w;
        }
        s
    }
}

#[test]
fn a_loop_over_an_associated_constant() {
    // 0.5 x² - x + 2: derivative x - 1.
    for x in [2.0, -0.5] {
        assert_eq!(Horner.eval_value_and_grad(x), (Horner.eval(x), x - 1.0));
    }
}

/// A loop body binding anew (`let mut y`) the name of a window it walks:
/// the body's own `y`, not the window, is written (it was refused as a
/// tuple a loop cannot carry; fuzzer seed 76 case 23).
#[differentiate]
fn shadowed_window(x: &[f64]) -> f64 {
    let y = &x[1..];
    let mut s = 0.0;
    for (k, &v) in y.iter().enumerate() {
        let mut y = v * v;
        y += k as f64;
        s += y.sin();
    }
    s
}

#[test]
fn a_body_shadowing_the_window_it_walks() {
    let x = [0.5, -1.0, 2.0];
    let reference = |d: &[Dual64]| {
        (1..3).fold(Dual64::from(0.0), |s, k| {
            s + (d[k] * d[k] + (k - 1) as f64).sin()
        })
    };
    let (value, g) = shadowed_window_value_and_grad(&x);
    assert_eq!(value, shadowed_window(&x));
    for (g, want) in g.iter().zip(dual_grad(reference, &x)) {
        close(*g, want, "shadowed_window");
    }
}
