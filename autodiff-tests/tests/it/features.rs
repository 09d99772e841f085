//! The nalgebra and ndarray integrations (features `nalgebra`, `ndarray`;
//! SPEC §4 and §8): vector parameters of their types in every companion,
//! checked against num-dual and hyper-dual numbers on hand-written
//! re-implementations, gradients in the parameters' owned types, and the
//! conversions of `Matrix`.
#![deny(warnings)]
#![allow(clippy::needless_range_loop)]

use crate::common;

use autodiff::{differentiate, Matrix};
use common::{close, dual_grad, hyper_hessian, Dual64, DualNum, HyperDual64};
use nalgebra::{DMatrix, DVector, Matrix2x3, SMatrix, SVector, Vector2, Vector3};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// `x·y + ‖x‖ + Σ sin xᵢ`, with nalgebra's methods.
#[differentiate(hessian)]
fn energy(x: &DVector<f64>, y: &DVector<f64>) -> f64 {
    let mut s = x.dot(y) + x.norm();
    for i in 0..x.len() {
        s += x[i].sin() * y[i];
    }
    s
}

fn energy_ref<D: DualNum<f64> + Copy>(x: &[D], y: &[D]) -> D {
    let mut dot = D::from(0.0);
    let mut sq = D::from(0.0);
    let mut s = D::from(0.0);
    for i in 0..x.len() {
        dot += x[i] * y[i];
        sq += x[i] * x[i];
        s += x[i].sin() * y[i];
    }
    dot + sq.sqrt() + s
}

/// The reference on the parameters laid end to end.
fn energy_flat<D: DualNum<f64> + Copy>(z: &[D]) -> D {
    let n = z.len() / 2;
    energy_ref(&z[..n], &z[n..])
}

fn all_close(got: &[f64], want: &[f64], tol: f64) -> bool {
    got.len() == want.len() && got.iter().zip(want).all(|(g, w)| close(*g, *w, tol))
}

#[test]
fn dvector_parameters_in_every_companion() {
    let x = DVector::from_vec(vec![0.3, -1.2, 2.0]);
    let y = DVector::from_vec(vec![1.5, 0.25, -0.7]);
    let z: Vec<f64> = x.iter().chain(y.iter()).copied().collect();
    let want = dual_grad(energy_flat, &z);

    let (gx, gy): (DVector<f64>, DVector<f64>) = energy_grad(&x, &y);
    assert!(all_close(gx.as_slice(), &want[..3], 1e-12), "{gx} {want:?}");
    assert!(all_close(gy.as_slice(), &want[3..], 1e-12));

    let (v, (gx2, _)) = energy_value_and_grad(&x, &y);
    assert!(close(v, energy(&x, &y), 1e-14));
    assert_eq!(gx2, gx);

    // J·v along (u, w), against the num-dual gradient.
    let u = DVector::from_vec(vec![1.0, -2.0, 0.5]);
    let w = DVector::from_vec(vec![0.0, 1.0, 3.0]);
    let (v, dv) = energy_jvp(&x, &y, &u, &w);
    let uw: Vec<f64> = u.iter().chain(w.iter()).copied().collect();
    let want_dv: f64 = want.iter().zip(&uw).map(|(g, d)| g * d).sum();
    assert!(close(v, energy(&x, &y), 1e-14));
    assert!(close(dv, want_dv, 1e-12));

    let (_, (bx, by)) = energy_vjp(&x, &y, 2.0);
    assert!(all_close(
        bx.as_slice(),
        &want[..3].iter().map(|g| 2.0 * g).collect::<Vec<_>>(),
        1e-12
    ));
    assert!(all_close(
        by.as_slice(),
        &want[3..].iter().map(|g| 2.0 * g).collect::<Vec<_>>(),
        1e-12
    ));

    let (jx, jy) = energy_jacobian(&x, &y);
    assert_eq!((jx, jy), (gx.clone(), gy.clone()));

    // H·v and the dense Hessian, against hyper-dual numbers.
    let h = hyper_hessian(energy_flat, &z);
    let (hx, hy) = energy_hvp(&x, &y, &u, &w);
    let hv: Vec<f64> = h
        .iter()
        .map(|row| row.iter().zip(&uw).map(|(a, b)| a * b).sum())
        .collect();
    assert!(all_close(hx.as_slice(), &hv[..3], 1e-11), "{hx} {hv:?}");
    assert!(all_close(hy.as_slice(), &hv[3..], 1e-11));
    let dense = energy_hessian(&x, &y);
    for (i, row) in h.iter().enumerate() {
        assert!(all_close(dense.row(i), row, 1e-11));
    }
}

/// A fixed-size vector by value, one element per `wrt` parameter.
#[differentiate(wrt(p))]
fn spring(p: SVector<f64, 3>, k: f64) -> f64 {
    0.5 * k * p.norm_squared() + p.sum().exp()
}

#[test]
fn svector_by_value_gives_an_svector() {
    let p = SVector::<f64, 3>::new(0.1, -0.4, 0.8);
    let g: SVector<f64, 3> = spring_grad(p, 2.5);
    let want = dual_grad(
        |q: &[Dual64]| {
            let sq = q.iter().fold(Dual64::from(0.0), |a, &b| a + b * b);
            let sum = q.iter().fold(Dual64::from(0.0), |a, &b| a + b);
            sq * 0.5 * 2.5 + sum.exp()
        },
        p.as_slice(),
    );
    assert!(all_close(g.as_slice(), &want, 1e-12));
    // The tangent of a vector passed by value is taken by reference.
    let (_, d) = spring_jvp(p, 2.5, &SVector::<f64, 3>::new(1.0, 0.0, 0.0));
    assert!(close(d, want[0], 1e-12));
}

/// Generic over the float type (no bound but `Float`) and the length.
#[differentiate]
fn sq_norm<T: autodiff::Float, const N: usize>(x: &SVector<T, N>) -> T {
    let mut s = T::zero();
    for i in 0..x.len() {
        s = s + x[i] * x[i];
    }
    s
}

#[test]
fn svector_generic_over_float_and_length() {
    let x = SVector::<f32, 2>::new(1.5, -2.0);
    let g = sq_norm_grad(&x);
    assert_eq!(g, SVector::<f32, 2>::new(3.0, -4.0));
}

/// ndarray's owned vector and a view, side by side.
#[differentiate]
fn weighted(a: &Array1<f64>, w: ArrayView1<f64>) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += w[i] * a[i] * a[i];
    }
    s + a.dot(&w)
}

fn weighted_flat<D: DualNum<f64> + Copy>(z: &[D]) -> D {
    let n = z.len() / 2;
    let (a, w) = (&z[..n], &z[n..]);
    (0..n).fold(D::from(0.0), |s, i| s + w[i] * a[i] * a[i] + a[i] * w[i])
}

#[test]
fn ndarray_vectors_and_views_give_array1() {
    let a = Array1::from(vec![0.5, -1.0, 2.0, 0.25]);
    let w = Array1::from(vec![1.0, 2.0, -0.5, 3.0]);
    let z: Vec<f64> = a.iter().chain(w.iter()).copied().collect();
    let want = dual_grad(weighted_flat, &z);
    let (ga, gw): (Array1<f64>, Array1<f64>) = weighted_grad(&a, w.view());
    assert!(all_close(ga.as_slice().unwrap(), &want[..4], 1e-12));
    assert!(all_close(gw.as_slice().unwrap(), &want[4..], 1e-12));
    // The tangent of a view is a view.
    let ones = Array1::from(vec![1.0; 4]);
    let (_, d) = weighted_jvp(&a, w.view(), &ones, ones.view());
    assert!(close(d, want.iter().sum(), 1e-12));
}

#[test]
#[should_panic(expected = "not contiguous in memory")]
fn a_strided_view_panics() {
    let a = Array1::from(vec![0.5, -1.0, 2.0, 0.25]);
    let w = Array1::from(vec![1.0; 8]);
    let every_other = w.slice_axis(ndarray::Axis(0), ndarray::Slice::new(0, None, 2));
    weighted_grad(&a, every_other);
}

#[test]
#[should_panic(expected = "energy_jvp")]
fn a_tangent_of_the_wrong_length_panics_naming_the_companion() {
    let x = DVector::from_vec(vec![0.3, -1.2]);
    let short = DVector::from_vec(vec![1.0]);
    energy_jvp(&x, &x, &short, &x);
}

#[test]
fn matrix_converts_to_and_from_dmatrix_and_array2() {
    let m = Matrix::from(vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]);
    let d = DMatrix::from(m.clone());
    assert_eq!(
        d,
        DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    );
    assert_eq!(Matrix::from(d), m);
    let a = Array2::from(m.clone());
    assert_eq!(a, ndarray::arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    assert_eq!(Matrix::from(a), m);
    // A Hessian as the linear-algebra crates want it.
    let x = DVector::from_vec(vec![0.3, -1.2]);
    let h: DMatrix<f64> = energy_hessian(&x, &x).into();
    assert_eq!(h.shape(), (4, 4));
    assert!((h.clone() - h.transpose()).abs().max() < 1e-12);
}

/// A vector output of a vector parameter: `f_jvp` takes the tangent in the
/// parameter's type, `f_vjp` gives the gradient back in it, `f_jacobian`
/// is the dense `Matrix`.
#[differentiate]
fn squares(x: &Vector3<f64>) -> Vec<f64> {
    let mut y = vec![0.0; 3];
    y[0] = x[0] * x[1];
    y[1] = x[1] * x[2];
    y[2] = x[2].sin();
    y
}

#[test]
fn a_vector_output_of_an_alias_of_svector() {
    let x = Vector3::new(0.5, -1.5, 2.0);
    // Columns of the Jacobian by num-dual, one seed per parameter.
    let column = |j: usize| {
        let d = common::seeded(x.as_slice(), j);
        [d[0] * d[1], d[1] * d[2], d[2].sin()].map(|v| v.eps)
    };
    let jac = squares_jacobian(&x);
    for j in 0..3 {
        let col = column(j);
        for i in 0..3 {
            assert!(close(jac[(i, j)], col[i], 1e-12));
        }
    }
    let (_, dy) = squares_jvp(&x, &Vector3::new(0.0, 1.0, 0.0));
    assert!(all_close(&dy, &column(1), 1e-12));
    let (_, g): (_, Vector3<f64>) = squares_vjp(&x, &[0.0, 0.0, 1.0]);
    assert!(all_close(g.as_slice(), &[0.0, 0.0, 2.0_f64.cos()], 1e-12));
}

/// Fixed-size matrices: `SMatrix` and its aliases, indexed `a[(i, j)]`,
/// with `nrows`/`ncols` and `a * x`; gradients come back as matrices.
#[differentiate]
fn bilinear(a: &Matrix2x3<f64>, x: &Vector3<f64>, y: Vector2<f64>) -> f64 {
    let ax = a * x;
    let mut s = 0.0;
    for i in 0..a.nrows() {
        s += y[i] * ax[i];
        for j in 0..a.ncols() {
            s += 0.1 * a[(i, j)] * a[(i, j)] * x[j];
        }
    }
    s
}

fn bilinear_ref<D: DualNum<f64> + Copy>(z: &[D]) -> D {
    // a row by row, then x, then y.
    let (a, x, y) = (&z[..6], &z[6..9], &z[9..]);
    let mut s = D::from(0.0);
    for i in 0..2 {
        let mut ax = D::from(0.0);
        for j in 0..3 {
            ax += a[3 * i + j] * x[j];
            s += a[3 * i + j] * a[3 * i + j] * x[j] * 0.1;
        }
        s += y[i] * ax;
    }
    s
}

#[test]
fn smatrix_parameters_give_smatrix_gradients() {
    let a = Matrix2x3::new(0.5, -1.0, 2.0, 1.5, 0.25, -0.75);
    let x = Vector3::new(1.0, -2.0, 0.5);
    let y = Vector2::new(0.3, -0.6);
    let mut z: Vec<f64> = (0..2)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .map(|ij| a[ij])
        .collect();
    z.extend(x.iter().chain(y.iter()));
    let want = dual_grad(bilinear_ref, &z);
    let (ga, gx, gy): (Matrix2x3<f64>, Vector3<f64>, Vector2<f64>) = bilinear_grad(&a, &x, y);
    for i in 0..2 {
        for j in 0..3 {
            assert!(close(ga[(i, j)], want[3 * i + j], 1e-12), "({i}, {j})");
        }
    }
    assert!(all_close(gx.as_slice(), &want[6..9], 1e-12));
    assert!(all_close(gy.as_slice(), &want[9..], 1e-12));
    // The tangent of a matrix is a matrix.
    let da = SMatrix::<f64, 2, 3>::from_fn(|i, j| (i + j) as f64);
    let (_, d) = bilinear_jvp(&a, &x, y, &da, &Vector3::zeros(), &Vector2::zeros());
    let dir: Vec<f64> = (0..2)
        .flat_map(|i| (0..3).map(move |j| (i + j) as f64))
        .collect();
    let want_d: f64 = dir.iter().zip(&want[..6]).map(|(a, b)| a * b).sum();
    assert!(close(d, want_d, 1e-12));
}

/// `x.as_slice()` of a nalgebra vector passed to a function of a slice
/// (another differentiated function), and a closure of the body given the
/// vector itself.
#[differentiate]
fn sum_sq(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i] * v[i];
    }
    s
}

#[differentiate]
fn calls_on_slices(x: &DVector<f64>) -> f64 {
    let first = |v| x[0] * v;
    sum_sq(x.as_slice()) + first(x[1])
}

#[test]
fn a_vector_passed_on_as_a_slice() {
    let x = DVector::from_vec(vec![1.5, -0.5, 2.0]);
    let g = calls_on_slices_grad(&x);
    let want = dual_grad(
        |v: &[Dual64]| v[0] * v[0] + v[1] * v[1] + v[2] * v[2] + v[0] * v[1],
        x.as_slice(),
    );
    assert!(all_close(g.as_slice(), &want, 1e-12));
}

/// A vector and a scalar differentiated together: the gradient and the
/// Jacobian of a scalar output are the pair (vector, scalar).
#[differentiate(hessian)]
fn scaled_norm(x: &DVector<f64>, k: f64) -> f64 {
    k * x.norm()
}

#[test]
fn a_vector_and_a_scalar_together() {
    let x = DVector::from_vec(vec![3.0, 4.0]);
    let want = dual_grad(
        |z: &[Dual64]| z[2] * (z[0] * z[0] + z[1] * z[1]).sqrt(),
        &[3.0, 4.0, 2.0],
    );
    let (gx, gk): (DVector<f64>, f64) = scaled_norm_grad(&x, 2.0);
    assert!(all_close(gx.as_slice(), &want[..2], 1e-12));
    assert!(close(gk, want[2], 1e-12));
    let (jx, jk) = scaled_norm_jacobian(&x, 2.0);
    assert!(all_close(jx.as_slice(), &want[..2], 1e-12));
    assert!(close(jk, want[2], 1e-12));
    let (hx, hk): (DVector<f64>, f64) =
        scaled_norm_hvp(&x, 2.0, &DVector::from_vec(vec![0.0, 0.0]), 1.0);
    // H·(0, 0, 1) is the column ∂g/∂k = x / ‖x‖ (and 0 for k).
    assert!(all_close(hx.as_slice(), &[0.6, 0.8], 1e-12));
    assert!(close(hk, 0.0, 1e-12));
    // The dense Hessian over (x, k) flattened.
    let h = scaled_norm_hessian(&x, 2.0);
    let want_h = hyper_hessian(
        |z: &[HyperDual64]| z[2] * (z[0] * z[0] + z[1] * z[1]).sqrt(),
        &[3.0, 4.0, 2.0],
    );
    for (i, row) in want_h.iter().enumerate() {
        assert!(all_close(h.row(i), row, 1e-12));
    }
}

/// A vector output: built with `DVector::from_vec` (`Array1::from`), its
/// `f_jvp` gives vectors of its type, `f_vjp` takes the cotangent in it,
/// `f_jacobian` is the dense `Matrix`.
#[differentiate]
fn smooth(x: &DVector<f64>) -> DVector<f64> {
    let mut y = vec![0.0; x.len() - 1];
    for i in 0..x.len() - 1 {
        y[i] = x[i].tanh() * x[i + 1];
    }
    DVector::from_vec(y)
}

#[differentiate]
fn smooth_nd(x: &Array1<f64>) -> Array1<f64> {
    let mut y = vec![0.0; x.len() - 1];
    for i in 0..x.len() - 1 {
        y[i] = x[i].tanh() * x[i + 1];
    }
    Array1::from(y)
}

fn smooth_ref(x: &[Dual64]) -> Vec<Dual64> {
    (0..x.len() - 1).map(|i| x[i].tanh() * x[i + 1]).collect()
}

#[test]
fn vector_outputs_of_their_own_types() {
    let xs = [0.3, -1.2, 0.8, 2.0];
    let x = DVector::from_vec(xs.to_vec());
    let jac = smooth_jacobian(&x);
    for j in 0..4 {
        let col: Vec<f64> = smooth_ref(&common::seeded(&xs, j))
            .iter()
            .map(|d| d.eps)
            .collect();
        for i in 0..3 {
            assert!(close(jac[(i, j)], col[i], 1e-12));
        }
        let e = DVector::from_vec(common::basis(4, j));
        let (y, dy): (DVector<f64>, DVector<f64>) = smooth_jvp(&x, &e);
        assert!(all_close(y.as_slice(), smooth(&x).as_slice(), 1e-14));
        assert!(all_close(dy.as_slice(), &col, 1e-12));
        let a = Array1::from(xs.to_vec());
        let (_, dy) = smooth_nd_jvp(&a, &Array1::from(common::basis(4, j)));
        assert!(all_close(dy.as_slice().unwrap(), &col, 1e-12));
    }
    let w = DVector::from_vec(vec![1.0, -2.0, 0.5]);
    let (_, g): (DVector<f64>, DVector<f64>) = smooth_vjp(&x, &w);
    for j in 0..4 {
        let col: Vec<f64> = smooth_ref(&common::seeded(&xs, j))
            .iter()
            .map(|d| d.eps)
            .collect();
        let want: f64 = col.iter().zip(w.iter()).map(|(a, b)| a * b).sum();
        assert!(close(g[j], want, 1e-12));
    }
    let (_, g2) = smooth_nd_vjp(
        &Array1::from(xs.to_vec()),
        &Array1::from(vec![1.0, -2.0, 0.5]),
    );
    assert!(all_close(g2.as_slice().unwrap(), g.as_slice(), 1e-14));
}

/// Hygiene: with `core`, `std` and `autodiff` shadowed by local modules,
/// the wrappers and the helpers that `x.dot(w)`, `x.norm()`, `x.sum()`
/// become still compile (they are emitted by absolute paths).
mod shadowed {
    #[allow(dead_code)]
    mod core {}
    #[allow(dead_code)]
    mod std {}
    #[allow(dead_code)]
    mod autodiff {}

    use nalgebra::{DVector, Matrix2, Vector2};

    #[::autodiff::differentiate(wrt(x))]
    pub fn mixed(x: &DVector<f64>, w: &DVector<f64>) -> f64 {
        x.dot(w) + x.norm() + x.sum() + w.norm_squared()
    }

    #[::autodiff::differentiate]
    pub fn quad(a: Matrix2<f64>, x: Vector2<f64>) -> Vec<f64> {
        let ax = a * x;
        let mut y = vec![0.0; 2];
        y[0] = ax[0] * a[(0, 1)];
        y[1] = ax[1] + a.sum();
        y
    }
}

#[test]
fn hygiene_with_shadowed_crate_names() {
    let x = DVector::from_vec(vec![3.0, 4.0]);
    let w = DVector::from_vec(vec![1.0, 2.0]);
    let g = shadowed::mixed_grad(&x, &w);
    // w + x/‖x‖ + 1
    assert!(all_close(
        g.as_slice(),
        &[1.0 + 0.6 + 1.0, 2.0 + 0.8 + 1.0],
        1e-12
    ));
    let a = nalgebra::Matrix2::new(1.0, 2.0, 3.0, 4.0);
    let (_, dy) = shadowed::quad_jvp(
        a,
        Vector2::new(1.0, 1.0),
        &nalgebra::Matrix2::zeros(),
        &Vector2::new(1.0, 0.0),
    );
    // ∂/∂x₀ of (ax)₀·a₀₁ = a₀₀·a₀₁, of (ax)₁ = a₁₀
    assert!(all_close(&dy, &[2.0, 3.0], 1e-12));
}

/// Matrices of run-time shape (`DMatrix`, `Array2`, `ArrayView2`): indexed
/// `a[(i, j)]` (ndarray's `a[[i, j]]` too), with `nrows`/`ncols`/`dim`,
/// `sum`, `norm`, `a * x` (nalgebra) and `a.dot(x)` (ndarray); gradients
/// and tangents in the matrix's own owned type.
#[differentiate(hessian)]
fn quadratic_form(a: &DMatrix<f64>, x: &DVector<f64>) -> f64 {
    let ax = a * x;
    let mut s = a.norm();
    for i in 0..a.nrows() {
        s += x[i] * ax[i] + a[(i, a.ncols() - 1)].sin();
    }
    s
}

/// The same over dual numbers: `a` row by row (r × c), then `x` (c).
fn quadratic_form_ref<D: DualNum<f64> + Copy>(z: &[D], r: usize, c: usize) -> D {
    let (a, x) = (&z[..r * c], &z[r * c..]);
    let mut s = a.iter().fold(D::from(0.0), |s, &v| s + v * v).sqrt();
    for i in 0..r {
        let mut ax = D::from(0.0);
        for j in 0..c {
            ax += a[c * i + j] * x[j];
        }
        s += x[i] * ax + a[c * i + c - 1].sin();
    }
    s
}

#[differentiate(wrt(w))]
fn ndarray_layer(w: &Array2<f64>, x: &Array1<f64>, mask: ArrayView2<f64>) -> f64 {
    let z = w.dot(x);
    let (rows, cols) = w.dim();
    let mut s = 0.5 * w.sum();
    for i in 0..rows {
        for j in 0..cols {
            s += w[[i, j]] * mask[[i, j]];
        }
        s += z[i].tanh();
    }
    s
}

fn ndarray_layer_ref<D: DualNum<f64> + Copy>(w: &[D], x: &[f64], mask: &[f64], c: usize) -> D {
    let r = w.len() / c;
    let mut s = w.iter().fold(D::from(0.0), |s, &v| s + v) * 0.5;
    for i in 0..r {
        let mut z = D::from(0.0);
        for j in 0..c {
            z += w[c * i + j] * x[j];
            s += w[c * i + j] * mask[c * i + j];
        }
        s += z.tanh();
    }
    s
}

#[differentiate]
fn view_weighted(w: ArrayView2<f64>) -> f64 {
    let mut s = 0.0;
    for i in 0..w.nrows() {
        for j in 0..w.ncols() {
            s += w[(i, j)] * w[(i, j)] * (i + 2 * j) as f64;
        }
    }
    s
}

#[test]
fn matrices_of_run_time_shape_give_their_own_types() {
    // A square DMatrix (a * x needs c == r for x[i] * ax[i]).
    let (r, c) = (3, 3);
    let a = DMatrix::from_row_slice(r, c, &[0.5, -1.0, 2.0, 1.5, 0.25, -0.75, 0.1, 0.9, -0.3]);
    let x = DVector::from_vec(vec![1.0, -2.0, 0.5]);
    let mut z: Vec<f64> = (0..r)
        .flat_map(|i| (0..c).map(move |j| (i, j)))
        .map(|ij| a[ij])
        .collect();
    z.extend(x.iter());
    let want = dual_grad(|z| quadratic_form_ref(z, r, c), &z);
    let (ga, gx): (DMatrix<f64>, DVector<f64>) = quadratic_form_grad(&a, &x);
    assert_eq!(ga.shape(), (r, c));
    for i in 0..r {
        for j in 0..c {
            assert!(close(ga[(i, j)], want[c * i + j], 1e-12), "({i}, {j})");
        }
    }
    assert!(all_close(gx.as_slice(), &want[r * c..], 1e-12));
    // The tangent of a matrix is a matrix; the Hessian is over the
    // parameters' elements in storage order (nalgebra's column-major).
    let da = DMatrix::from_fn(r, c, |i, j| (i + 2 * j) as f64 * 0.1);
    let (_, d) = quadratic_form_jvp(&a, &x, &da, &DVector::zeros(c));
    let want_d: f64 = (0..r)
        .flat_map(|i| (0..c).map(move |j| (i, j)))
        .map(|(i, j)| da[(i, j)] * want[c * i + j])
        .sum();
    assert!(close(d, want_d, 1e-12));
    let h = quadratic_form_hessian(&a, &x);
    let storage = |k: usize| if k < r * c { (k % r) * c + k / r } else { k };
    let want_h = hyper_hessian(|z| quadratic_form_ref(z, r, c), &z);
    for p in 0..r * c + c {
        for q in 0..r * c + c {
            let w = want_h[storage(p)][storage(q)];
            assert!(
                close(h[(p, q)], w, 1e-10),
                "hessian ({p}, {q}): {} vs {w}",
                h[(p, q)]
            );
        }
    }

    // ndarray, row-major: an Array2 by reference and a view as data.
    let w = Array2::from_shape_vec((2, 3), vec![0.1, 0.2, 0.3, -0.4, 0.5, 0.6]).unwrap();
    let xv = Array1::from(vec![1.0, -2.0, 0.5]);
    let mask = Array2::from_shape_vec((2, 3), vec![1.0, 1.5, 2.0, -1.0, 0.0, 3.0]).unwrap();
    let g: Array2<f64> = ndarray_layer_grad(&w, &xv, mask.view());
    let want = dual_grad(
        |z| ndarray_layer_ref(z, xv.as_slice().unwrap(), mask.as_slice().unwrap(), 3),
        w.as_slice().unwrap(),
    );
    assert_eq!(g.dim(), (2, 3));
    assert!(all_close(g.as_slice().unwrap(), &want, 1e-12));

    // A view by value: its gradient is an owned Array2.
    let g: Array2<f64> = view_weighted_grad(w.view());
    for ((i, j), &gij) in g.indexed_iter() {
        assert!(close(gij, 2.0 * w[[i, j]] * (i + 2 * j) as f64, 1e-15));
    }
}

#[test]
#[should_panic(expected = "not contiguous in that order")]
fn a_transposed_view_panics() {
    let w = Array2::from_shape_vec((2, 3), vec![0.1, 0.2, 0.3, -0.4, 0.5, 0.6]).unwrap();
    let _ = view_weighted_grad(w.t());
}

/// Matrices of run-time shape in other element types and passings: a
/// generic `T` (indexed), `f32` with `a * x` (whose loop builds `f32`
/// zeros), and an ndarray matrix by value (its tangent by reference).
#[differentiate]
fn generic_quadratic<T: autodiff::Float + nalgebra::Scalar>(a: &DMatrix<T>, x: &DVector<T>) -> T {
    let mut s = T::zero();
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            s = s + x[i] * a[(i, j)] * x[j];
        }
    }
    s
}

#[differentiate]
fn f32_matvec(a: &DMatrix<f32>, x: &DVector<f32>) -> f32 {
    let y = a * x;
    y[0] * y[1]
}

#[differentiate(wrt(w))]
fn f32_rows(w: Array2<f32>, x: &Array1<f32>) -> f32 {
    let z = w.dot(x);
    z[0] * z[1] + w[[1, 0]]
}

#[test]
fn matrices_of_run_time_shape_generic_f32_and_by_value() {
    let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, -0.5, 0.25]);
    let x = DVector::from_vec(vec![0.5, -1.5]);
    let (ga, gx) = generic_quadratic_grad(&a, &x);
    for i in 0..2 {
        for j in 0..2 {
            assert!(close(ga[(i, j)], x[i] * x[j], 1e-14), "({i}, {j})");
        }
    }
    let want_x = (&a + a.transpose()) * &x;
    assert!(all_close(gx.as_slice(), want_x.as_slice(), 1e-14));

    let (a32, x32) = (a.map(|v| v as f32), x.map(|v| v as f32));
    let (ga32, _) = f32_matvec_grad(&a32, &x32);
    let y = &a * &x;
    for i in 0..2 {
        for j in 0..2 {
            let want = y[1 - i] * x[j];
            assert!(close(ga32[(i, j)] as f64, want, 1e-5), "({i}, {j})");
        }
    }

    let w = Array2::from_shape_vec((2, 2), vec![1.0_f32, 2.0, -0.5, 0.25]).unwrap();
    let xv = Array1::from(vec![0.5_f32, -1.5]);
    let g = f32_rows_grad(w.clone(), &xv);
    let z = w.dot(&xv);
    for i in 0..2 {
        for j in 0..2 {
            let want = z[1 - i] * xv[j] + if (i, j) == (1, 0) { 1.0 } else { 0.0 };
            assert!(
                (g[[i, j]] - want).abs() < 1e-5,
                "({i}, {j}): {} vs {want}",
                g[[i, j]]
            );
        }
    }
    // The tangent of a matrix passed by value is taken by reference.
    let dw = Array2::from_shape_vec((2, 2), vec![0.0_f32, 0.0, 1.0, 0.0]).unwrap();
    let (_, t) = f32_rows_jvp(w, &xv, &dw);
    assert!((t - (z[0] * xv[0] + 1.0)).abs() < 1e-5, "{t}");
}
