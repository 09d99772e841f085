//! Numeric helpers on vectors and matrices: reductions, softmax, matrix
//! products, and `scan`. They are ordinary functions to call from plain
//! code; the macro knows their derivatives and emits loops with the same
//! arithmetic, in the same order, so the formulas in the docs are exact.
//!
//! Vectors are passed by reference as anything that is `AsRef<[T]>`
//! (`[T; N]`, `[T]`, `Vec<T>`); matrices as rows of a fixed width, anything
//! that is `AsRef<[[T; C]]>` (`[[T; C]; R]`, `[[T; C]]`, `Vec<[T; C]>`).

// As in `array.rs`, the shape traits name the element type `T` as a trait
// parameter so that impls for rank 1 and rank 2 do not overlap.

use crate::array::{Zeros, ZerosLike};
use num_traits::Float;

// ---------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------

/// Zeros with one element per row of a matrix: `[[T; C]; R]` gives
/// `[T; R]`, a slice of rows `[[T; C]]` (or `Vec<[T; C]>`) gives `Vec<T>`;
/// references see through.
pub trait ZerosRows<T> {
    /// The type of the zeros.
    type Out: AsMut<[T]>;
    /// Zeros of length `self.len()` (the number of rows).
    fn zeros_rows(&self) -> Self::Out;
}

impl<T: Float, const C: usize, const R: usize> ZerosRows<T> for [[T; C]; R] {
    type Out = [T; R];
    #[inline]
    fn zeros_rows(&self) -> [T; R] {
        Zeros::zeros()
    }
}

impl<T: Float, const C: usize> ZerosRows<T> for [[T; C]] {
    type Out = Vec<T>;
    #[inline]
    fn zeros_rows(&self) -> Vec<T> {
        vec![T::zero(); self.len()]
    }
}

impl<T: Float, const C: usize> ZerosRows<T> for Vec<[T; C]> {
    type Out = Vec<T>;
    #[inline]
    fn zeros_rows(&self) -> Vec<T> {
        self[..].zeros_rows()
    }
}

impl<T, A: ZerosRows<T> + ?Sized> ZerosRows<T> for &A {
    type Out = A::Out;
    #[inline]
    fn zeros_rows(&self) -> A::Out {
        (**self).zeros_rows()
    }
}

/// Zeros shaped like the outer product of `self` with a `[T; C]`: a vector
/// `[T; R]` gives `[[T; C]; R]`, a slice `[T]` (or `Vec<T>`) gives
/// `Vec<[T; C]>` with `self.len()` rows; references see through.
pub trait ZerosOuter<T, const C: usize> {
    /// The type of the zeros.
    type Out: AsMut<[[T; C]]>;
    /// Zeros with one row of `C` per element of `self`.
    fn zeros_outer(&self) -> Self::Out;
}

impl<T: Float, const R: usize, const C: usize> ZerosOuter<T, C> for [T; R] {
    type Out = [[T; C]; R];
    #[inline]
    fn zeros_outer(&self) -> [[T; C]; R] {
        Zeros::zeros()
    }
}

impl<T: Float, const C: usize> ZerosOuter<T, C> for [T] {
    type Out = Vec<[T; C]>;
    #[inline]
    fn zeros_outer(&self) -> Vec<[T; C]> {
        vec![Zeros::zeros(); self.len()]
    }
}

impl<T: Float, const C: usize> ZerosOuter<T, C> for Vec<T> {
    type Out = Vec<[T; C]>;
    #[inline]
    fn zeros_outer(&self) -> Vec<[T; C]> {
        self[..].zeros_outer()
    }
}

impl<T, const C: usize, A: ZerosOuter<T, C> + ?Sized> ZerosOuter<T, C> for &A {
    type Out = A::Out;
    #[inline]
    fn zeros_outer(&self) -> A::Out {
        (**self).zeros_outer()
    }
}

/// Zeros shaped like the product of the matrix `self` with a matrix of `C`
/// columns: `[[T; K]; R]` gives `[[T; C]; R]`, a slice of rows `[[T; K]]`
/// (or `Vec<[T; K]>`) gives `Vec<[T; C]>` with `self.len()` rows;
/// references see through.
pub trait ZerosProduct<T, const C: usize> {
    /// The type of the zeros.
    type Out: AsMut<[[T; C]]>;
    /// Zeros with the rows of `self` and `C` columns.
    fn zeros_product(&self) -> Self::Out;
}

impl<T: Float, const K: usize, const R: usize, const C: usize> ZerosProduct<T, C> for [[T; K]; R] {
    type Out = [[T; C]; R];
    #[inline]
    fn zeros_product(&self) -> [[T; C]; R] {
        Zeros::zeros()
    }
}

impl<T: Float, const K: usize, const C: usize> ZerosProduct<T, C> for [[T; K]] {
    type Out = Vec<[T; C]>;
    #[inline]
    fn zeros_product(&self) -> Vec<[T; C]> {
        vec![Zeros::zeros(); self.len()]
    }
}

impl<T: Float, const K: usize, const C: usize> ZerosProduct<T, C> for Vec<[T; K]> {
    type Out = Vec<[T; C]>;
    #[inline]
    fn zeros_product(&self) -> Vec<[T; C]> {
        self[..].zeros_product()
    }
}

impl<T, const C: usize, A: ZerosProduct<T, C> + ?Sized> ZerosProduct<T, C> for &A {
    type Out = A::Out;
    #[inline]
    fn zeros_product(&self) -> A::Out {
        (**self).zeros_product()
    }
}

/// Zeros of the length of a row of `a`: `[T; C]` (the width is a constant
/// for fixed matrices and slices of rows alike; `a` is not read).
#[inline]
fn zeros_cols<T: Float, const C: usize, M: AsRef<[[T; C]]> + ?Sized>(_a: &M) -> [T; C] {
    Zeros::zeros()
}

/// Zeros shaped like `outer(x, y)`: `[[T; C]; R]` for `x: [T; R]`,
/// `Vec<[T; C]>` of `x.len()` rows for a slice or `Vec` `x` (`y` is not
/// read).
#[inline]
fn zeros_outer<T: Float, const C: usize, X: ZerosOuter<T, C> + ?Sized>(
    x: &X,
    _y: &[T; C],
) -> X::Out {
    x.zeros_outer()
}

/// Zeros shaped like `transpose(a)`: `[[T; R]; C]` for `a: [[T; C]; R]`.
#[inline]
fn zeros_transposed<T: Float, const C: usize, const R: usize>(_a: &[[T; C]; R]) -> [[T; R]; C] {
    Zeros::zeros()
}

// ---------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------

/// The largest element, starting from `-inf` and taking `x[i]` when
/// `x[i] > m` (NaNs are skipped; `-inf` for an empty slice).
#[inline]
fn max_of<T: Float>(x: &[T]) -> T {
    let mut m = T::neg_infinity();
    for &v in x {
        if v > m {
            m = v;
        }
    }
    m
}

/// The sum of every element: `s = 0; for i in 0..n { s = s + x[i] }`;
/// for a matrix, each row's sum added in the same way. 0 for an empty
/// array.
#[inline]
pub fn sum<T: Float, V: crate::array::SumAll<T> + ?Sized>(x: &V) -> T {
    x.sum_all()
}

/// The mean: `sum(x) / n` with `n` the length as a `T`. NaN for an empty
/// vector (0 / 0).
#[inline]
pub fn mean<T: Float, V: AsRef<[T]> + ?Sized>(x: &V) -> T {
    let x = x.as_ref();
    sum(x) / crate::scalar::cast::<T, _>(x.len())
}

/// The dot product: `s = 0; for i in 0..n { s = s + x[i] * y[i] }`.
///
/// # Panics
/// If `x` and `y` have different lengths.
#[inline]
pub fn dot<T: Float, X: AsRef<[T]> + ?Sized, Y: AsRef<[T]> + ?Sized>(x: &X, y: &Y) -> T {
    let (x, y) = (x.as_ref(), y.as_ref());
    assert_eq!(
        x.len(),
        y.len(),
        "dot: the vectors must have the same length"
    );
    let mut s = T::zero();
    for i in 0..x.len() {
        s = s + x[i] * y[i];
    }
    s
}

/// The Euclidean norm: `s = 0; for i in 0..n { s = s + x[i] * x[i] }`,
/// then `s.sqrt()`. 0 for an empty vector. (No rescaling: squares overflow
/// past about `1e154` for `f64`.)
#[inline]
pub fn norm<T: Float, V: AsRef<[T]> + ?Sized>(x: &V) -> T {
    let mut s = T::zero();
    for &v in x.as_ref() {
        s = s + v * v;
    }
    s.sqrt()
}

/// `ln(Σ exp(x[i]))` without overflow: `m` is the largest element (from
/// `-inf`, taking `x[i]` when `x[i] > m`), then
/// `s = 0; for i { s = s + (x[i] - m).exp() }` and the result is
/// `m + s.ln()`.
///
/// `-inf` if `m` is `-inf` (an empty vector, or every element `-inf`);
/// `+inf` if some element is `+inf`. A NaN element gives NaN.
#[inline]
pub fn logsumexp<T: Float, V: AsRef<[T]> + ?Sized>(x: &V) -> T {
    let x = x.as_ref();
    let m = max_of(x);
    if m == T::neg_infinity() {
        return T::neg_infinity();
    }
    if m == T::infinity() {
        return T::infinity();
    }
    let mut s = T::zero();
    for &v in x {
        s = s + (v - m).exp();
    }
    m + s.ln()
}

// ---------------------------------------------------------------------
// Same-shape vector results
// ---------------------------------------------------------------------

/// The softmax, without overflow: `m` is the largest element (as in
/// [`logsumexp`]), `e[i] = (x[i] - m).exp()`, `s` the sum of the `e[i]` in
/// index order, and `y[i] = e[i] / s`. Same shape as `x`: `[T; N]` for an
/// array, `Vec<T>` for a slice or `Vec`.
///
/// Empty gives empty; every element `-inf`, or some element `+inf`, gives
/// NaNs (`inf - inf`).
#[inline]
pub fn softmax<T: Float, V: AsRef<[T]> + ZerosLike<T> + ?Sized>(x: &V) -> V::Out
where
    V::Out: AsMut<[T]>,
{
    let mut out = x.zeros_like();
    let x = x.as_ref();
    let y = out.as_mut();
    let m = max_of(x);
    for i in 0..x.len() {
        y[i] = (x[i] - m).exp();
    }
    let mut s = T::zero();
    for &e in y.iter() {
        s = s + e;
    }
    for e in y.iter_mut() {
        *e = *e / s;
    }
    out
}

/// The log of the softmax, without overflow: `m` is the largest element (as
/// in [`logsumexp`]), `s = 0; for i { s = s + (x[i] - m).exp() }`,
/// `l = s.ln()`, and `y[i] = x[i] - m - l`. Same shape as `x`: `[T; N]` for
/// an array, `Vec<T>` for a slice or `Vec`.
///
/// Empty gives empty; every element `-inf`, or some element `+inf`, gives
/// NaNs (`inf - inf`).
#[inline]
pub fn log_softmax<T: Float, V: AsRef<[T]> + ZerosLike<T> + ?Sized>(x: &V) -> V::Out
where
    V::Out: AsMut<[T]>,
{
    let mut out = x.zeros_like();
    let x = x.as_ref();
    let y = out.as_mut();
    let m = max_of(x);
    let mut s = T::zero();
    for &v in x {
        s = s + (v - m).exp();
    }
    let l = s.ln();
    for i in 0..x.len() {
        y[i] = x[i] - m - l;
    }
    out
}

/// A scalar function applied to every element, in index order (row after
/// row for matrices): a float `T` gives `T`, `[T; N]` and `[[T; C]; R]`
/// (or a reference to one) give themselves, `&[T]` and `&Vec<T>` give
/// `Vec<T>`, and a slice or `Vec` of rows `[T; C]` gives `Vec<[T; C]>`.
/// Taken by value.
pub trait Elementwise<T> {
    /// The type of the result.
    type Out;
    /// `f` applied to every element.
    fn map_elements<F: FnMut(T) -> T>(self, f: F) -> Self::Out;
}

impl<T: Float> Elementwise<T> for T {
    type Out = T;
    #[inline]
    fn map_elements<F: FnMut(T) -> T>(self, mut f: F) -> T {
        f(self)
    }
}

impl<T: Float, const N: usize> Elementwise<T> for [T; N] {
    type Out = [T; N];
    #[inline]
    fn map_elements<F: FnMut(T) -> T>(mut self, mut f: F) -> [T; N] {
        for v in self.iter_mut() {
            *v = f(*v);
        }
        self
    }
}

impl<T: Float, const C: usize, const R: usize> Elementwise<T> for [[T; C]; R] {
    type Out = [[T; C]; R];
    #[inline]
    fn map_elements<F: FnMut(T) -> T>(mut self, mut f: F) -> [[T; C]; R] {
        for row in self.iter_mut() {
            for v in row.iter_mut() {
                *v = f(*v);
            }
        }
        self
    }
}

impl<T: Float, const N: usize> Elementwise<T> for &[T; N] {
    type Out = [T; N];
    #[inline]
    fn map_elements<F: FnMut(T) -> T>(self, f: F) -> [T; N] {
        (*self).map_elements(f)
    }
}

impl<T: Float, const C: usize, const R: usize> Elementwise<T> for &[[T; C]; R] {
    type Out = [[T; C]; R];
    #[inline]
    fn map_elements<F: FnMut(T) -> T>(self, f: F) -> [[T; C]; R] {
        (*self).map_elements(f)
    }
}

impl<T: Float, const C: usize> Elementwise<T> for &[[T; C]] {
    type Out = Vec<[T; C]>;
    #[inline]
    fn map_elements<F: FnMut(T) -> T>(self, mut f: F) -> Vec<[T; C]> {
        let mut out = Vec::with_capacity(self.len());
        for row in self {
            out.push(row.map(&mut f));
        }
        out
    }
}

impl<T: Float, const C: usize> Elementwise<T> for &Vec<[T; C]> {
    type Out = Vec<[T; C]>;
    #[inline]
    fn map_elements<F: FnMut(T) -> T>(self, f: F) -> Vec<[T; C]> {
        self[..].map_elements(f)
    }
}

impl<T: Float> Elementwise<T> for &[T] {
    type Out = Vec<T>;
    #[inline]
    fn map_elements<F: FnMut(T) -> T>(self, mut f: F) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        for &v in self {
            out.push(f(v));
        }
        out
    }
}

impl<T: Float> Elementwise<T> for &Vec<T> {
    type Out = Vec<T>;
    #[inline]
    fn map_elements<F: FnMut(T) -> T>(self, f: F) -> Vec<T> {
        self[..].map_elements(f)
    }
}

/// The logistic function `1 / (1 + exp(-x))`, without overflow, on a float
/// or elementwise on an array, a matrix or a slice, taken by value or by
/// reference. The result has the argument's shape: a float gives a float,
/// `[T; N]` and `[[T; C]; R]` give themselves, `&[T]`, `&Vec<T>` and
/// slices of rows give a `Vec`. Per element: `1 / (1 + (-x).exp())` for
/// `x >= 0`, else `e / (1 + e)` with `e = x.exp()`. A NaN gives NaN.
#[inline]
pub fn sigmoid<T: Float, X: Elementwise<T>>(x: X) -> X::Out {
    x.map_elements(crate::scalar::sigmoid)
}

/// `ln(1 + exp(x))`, without overflow, on a float or elementwise on an
/// array, matrix or slice (shaped as [`sigmoid`]'s result). Per element:
/// `x + (-x).exp().ln_1p()` for `x > 0`, else `x.exp().ln_1p()`. A NaN
/// gives NaN.
#[inline]
pub fn softplus<T: Float, X: Elementwise<T>>(x: X) -> X::Out {
    x.map_elements(crate::scalar::softplus)
}

// ---------------------------------------------------------------------
// Matrix products
// ---------------------------------------------------------------------

/// The matrix-vector product `a x`: for each row `i`,
/// `s = 0; for j in 0..C { s = s + a[i][j] * x[j] }` and `y[i] = s`.
/// `[T; R]` for `a: [[T; C]; R]`, `Vec<T>` for a slice or `Vec` of rows.
///
/// # Panics
/// If `x.len() != C`.
#[inline]
pub fn matvec<
    T: Float,
    const C: usize,
    M: ZerosRows<T> + AsRef<[[T; C]]> + ?Sized,
    V: AsRef<[T]> + ?Sized,
>(
    a: &M,
    x: &V,
) -> M::Out {
    let x = x.as_ref();
    assert_eq!(
        x.len(),
        C,
        "matvec: the vector's length must be the matrix's number of columns"
    );
    let mut out = a.zeros_rows();
    let y = out.as_mut();
    for (i, row) in a.as_ref().iter().enumerate() {
        let mut s = T::zero();
        for j in 0..C {
            s = s + row[j] * x[j];
        }
        y[i] = s;
    }
    out
}

/// The vector-matrix product `xᵀ a`: `y = 0` (of length `C`), then
/// `for i in 0..R { for j in 0..C { y[j] = y[j] + x[i] * a[i][j] } }`.
///
/// # Panics
/// If `x.len()` is not the number of rows of `a`.
#[inline]
pub fn vecmat<T: Float, const C: usize, V: AsRef<[T]> + ?Sized, M: AsRef<[[T; C]]> + ?Sized>(
    x: &V,
    a: &M,
) -> [T; C] {
    let x = x.as_ref();
    let rows = a.as_ref();
    assert_eq!(
        x.len(),
        rows.len(),
        "vecmat: the vector's length must be the matrix's number of rows"
    );
    let mut y = zeros_cols(rows);
    for i in 0..rows.len() {
        for j in 0..C {
            y[j] = y[j] + x[i] * rows[i][j];
        }
    }
    y
}

/// The matrix product `a b`: for each row `i` of `a` and `j in 0..C`,
/// `s = 0; for k in 0..K { s = s + a[i][k] * b[k][j] }` and
/// `out[i][j] = s`. `[[T; C]; R]` for `a: [[T; K]; R]`, `Vec<[T; C]>` for a
/// slice or `Vec` of rows `a`.
///
/// # Panics
/// If `b` does not have `K` rows (the width of `a`).
#[inline]
pub fn matmul<
    T: Float,
    const K: usize,
    const C: usize,
    A: ZerosProduct<T, C> + AsRef<[[T; K]]> + ?Sized,
    B: AsRef<[[T; C]]> + ?Sized,
>(
    a: &A,
    b: &B,
) -> A::Out {
    let b = b.as_ref();
    assert_eq!(
        b.len(),
        K,
        "matmul: the second matrix's number of rows must be the first's number of columns"
    );
    let mut out = a.zeros_product();
    let o = out.as_mut();
    for (i, row) in a.as_ref().iter().enumerate() {
        for j in 0..C {
            let mut s = T::zero();
            for k in 0..K {
                s = s + row[k] * b[k][j];
            }
            o[i][j] = s;
        }
    }
    out
}

/// The transpose: `out[j][i] = a[i][j]`, `[[T; R]; C]` for
/// `a: [[T; C]; R]`.
#[inline]
pub fn transpose<T: Float, const C: usize, const R: usize>(a: &[[T; C]; R]) -> [[T; R]; C] {
    let mut out = zeros_transposed(a);
    for i in 0..R {
        for j in 0..C {
            out[j][i] = a[i][j];
        }
    }
    out
}

/// The outer product `x yᵀ`: `out[i][j] = x[i] * y[j]`. `[[T; C]; R]` for
/// `x: [T; R]`, `Vec<[T; C]>` of `x.len()` rows for a slice or `Vec` `x`.
#[inline]
pub fn outer<T: Float, const C: usize, X: ZerosOuter<T, C> + AsRef<[T]> + ?Sized>(
    x: &X,
    y: &[T; C],
) -> X::Out {
    let mut out = zeros_outer(x, y);
    let o = out.as_mut();
    for (i, &xi) in x.as_ref().iter().enumerate() {
        for j in 0..C {
            o[i][j] = xi * y[j];
        }
    }
    out
}

// ---------------------------------------------------------------------
// Scan
// ---------------------------------------------------------------------

/// Theano's scan: `carry = init`, then for each `x` of `xs` in order,
/// `(carry, y) = f(carry, x)` and `y` is collected. Returns the final carry
/// and the `y`s (`(init, [])` for an empty `xs`).
#[inline]
pub fn scan<C, X: Copy, Y, F: FnMut(C, X) -> (C, Y)>(init: C, xs: &[X], mut f: F) -> (C, Vec<Y>) {
    let mut carry = init;
    let mut ys = Vec::with_capacity(xs.len());
    for &x in xs {
        let (next, y) = f(carry, x);
        carry = next;
        ys.push(y);
    }
    (carry, ys)
}

/// [`scan`] without a sequence: `f` gets the step index `0..n` in order.
/// Returns the final carry and the `n` outputs.
#[inline]
pub fn scan_n<C, Y, F: FnMut(C, usize) -> (C, Y)>(init: C, n: usize, mut f: F) -> (C, Vec<Y>) {
    let mut carry = init;
    let mut ys = Vec::with_capacity(n);
    for i in 0..n {
        let (next, y) = f(carry, i);
        carry = next;
        ys.push(y);
    }
    (carry, ys)
}

// ---------------------------------------------------------------------
// Gradient control
// ---------------------------------------------------------------------

/// `x` itself, whose derivative is 0: JAX's `stop_gradient`, Theano's
/// `disconnected_grad`.
///
/// At run time it is the identity. Inside a `#[differentiate]` function,
/// `stop_gradient(e)` has the value of `e` and derivative 0 in every
/// companion: `e` is treated as a constant, as if it depended on no
/// differentiated parameter (a target held fixed, a baseline, a value
/// whose gradient must not flow back).
///
/// ```
/// use autodiff::stop_gradient;
///
/// let x = 1.5_f64;
/// assert_eq!(stop_gradient(x), x);
/// assert_eq!(stop_gradient([1.0, 2.0]), [1.0, 2.0]);
/// ```
#[inline]
pub fn stop_gradient<T>(x: T) -> T {
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    const LN2: f64 = std::f64::consts::LN_2;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + b.abs())
    }

    #[test]
    fn shapes_fixed_slice_and_vec() {
        let m = [[1.0_f64, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let s: &[[f64; 3]] = &m;
        let v = m.to_vec();

        let r: [f64; 2] = m.zeros_rows();
        assert_eq!(r, [0.0; 2]);
        assert_eq!(s.zeros_rows(), vec![0.0; 2]);
        assert_eq!((&s).zeros_rows(), vec![0.0; 2]);
        assert_eq!(v.zeros_rows(), vec![0.0; 2]);

        assert_eq!(zeros_cols(&m), [0.0; 3]);
        assert_eq!(zeros_cols(s), [0.0; 3]);
        assert_eq!(zeros_cols(&v), [0.0; 3]);

        let x = [1.0_f64, 2.0];
        let y = [1.0_f64, 2.0, 3.0];
        let yr = &y;
        let o: [[f64; 3]; 2] = zeros_outer(&x, &y);
        assert_eq!(o, [[0.0; 3]; 2]);
        // `&&[T; C]`, as generated code may pass for a reference
        // parameter, coerces to `&[T; C]`.
        #[allow(clippy::needless_borrow)]
        let from_ref = zeros_outer(&x[..], &yr);
        assert_eq!(from_ref, vec![[0.0; 3]; 2]);
        assert_eq!(zeros_outer(&x.to_vec(), &y), vec![[0.0; 3]; 2]);

        let b = [[1.0_f64; 4]; 3];
        let p: [[f64; 4]; 2] = ZerosProduct::<f64, 4>::zeros_product(&m);
        assert_eq!(p, [[0.0; 4]; 2]);
        assert_eq!(matmul(s, &b), vec![[6.0; 4], [15.0; 4]]);
        assert_eq!(ZerosProduct::<f64, 4>::zeros_product(s), vec![[0.0; 4]; 2]);
        assert_eq!(ZerosProduct::<f64, 4>::zeros_product(&v), vec![[0.0; 4]; 2]);

        let t: [[f64; 2]; 3] = zeros_transposed(&m);
        assert_eq!(t, [[0.0; 2]; 3]);
    }

    #[test]
    fn reductions() {
        let a = [0.5_f64, -1.25, 3.0, 2.0];
        let s: &[f64] = &a;
        let v = a.to_vec();
        let expected = ((0.5 + -1.25) + 3.0) + 2.0;
        assert_eq!(sum(&a), expected);
        assert_eq!(sum(s), expected);
        assert_eq!(sum(&v), expected);
        assert_eq!(sum::<f64, [f64]>(&[]), 0.0);

        assert_eq!(mean(&a), expected / 4.0);
        assert_eq!(mean(s), expected / 4.0);
        assert_eq!(mean(&v), expected / 4.0);
        assert!(mean::<f64, [f64]>(&[]).is_nan());

        let b = [2.0_f64, 0.5, -1.0, 4.0];
        let d = ((0.5 * 2.0 + -1.25 * 0.5) + -3.0) + 2.0 * 4.0;
        assert_eq!(dot(&a, &b), d);
        assert_eq!(dot(s, &b.to_vec()), d);
        assert_eq!(dot(&v, &b[..]), d);
        assert_eq!(dot::<f32, [f32], [f32]>(&[], &[]), 0.0);

        let n = (((0.5_f64 * 0.5 + 1.25 * 1.25) + 9.0) + 4.0).sqrt();
        assert_eq!(norm(&a), n);
        assert_eq!(norm(s), n);
        assert_eq!(norm(&v), n);
        assert_eq!(norm(&[3.0_f32, 4.0]), 5.0);
    }

    #[test]
    #[should_panic(expected = "dot: the vectors must have the same length")]
    fn dot_of_different_lengths_panics() {
        dot(&[1.0_f64, 2.0], &[1.0_f64, 2.0, 3.0]);
    }

    #[test]
    fn logsumexp_values_and_stability() {
        let a = [0.5_f64, -1.0, 2.0];
        let naive = (0.5_f64.exp() + (-1.0_f64).exp() + 2.0_f64.exp()).ln();
        assert!(close(logsumexp(&a), naive));
        assert!(close(logsumexp(&a[..]), naive));
        assert!(close(logsumexp(&a.to_vec()), naive));

        assert_eq!(logsumexp(&[700.0_f64, 700.0]), 700.0 + LN2);
        assert_eq!(logsumexp(&[800.0_f64, 800.0]), 800.0 + LN2);
        assert_eq!(logsumexp(&[-800.0_f64, -800.0]), -800.0 + LN2);
        assert_eq!(logsumexp(&[800.0_f64, -800.0]), 800.0);
        assert_eq!(logsumexp(&[-700.0_f64, 700.0]), 700.0);

        assert_eq!(logsumexp::<f64, [f64]>(&[]), f64::NEG_INFINITY);
        assert_eq!(
            logsumexp(&[f64::NEG_INFINITY, f64::NEG_INFINITY]),
            f64::NEG_INFINITY
        );
        assert_eq!(logsumexp(&[f64::NEG_INFINITY, 1.0]), 1.0);
        assert_eq!(logsumexp(&[1.0, f64::INFINITY]), f64::INFINITY);
        assert!(logsumexp(&[1.0, f64::NAN]).is_nan());
    }

    #[test]
    fn softmax_values_and_stability() {
        let a = [0.5_f64, -1.0, 2.0];
        let z = 0.5_f64.exp() + (-1.0_f64).exp() + 2.0_f64.exp();
        let naive = [0.5_f64.exp() / z, (-1.0_f64).exp() / z, 2.0_f64.exp() / z];
        let fixed: [f64; 3] = softmax(&a);
        let sliced: Vec<f64> = softmax(&a[..]);
        let vec: Vec<f64> = softmax(&a.to_vec());
        for i in 0..3 {
            assert!(close(fixed[i], naive[i]));
            assert_eq!(sliced[i], fixed[i]);
            assert_eq!(vec[i], fixed[i]);
        }
        assert!(close(sum(&fixed), 1.0));

        assert_eq!(softmax(&[800.0_f64, 0.0]), [1.0, 0.0]);
        assert_eq!(softmax(&[-800.0_f64, 0.0]), [0.0, 1.0]);
        assert_eq!(softmax(&[700.0_f64, 700.0]), [0.5, 0.5]);
        assert_eq!(softmax(&[-700.0_f64, -700.0]), [0.5, 0.5]);
        assert_eq!(softmax::<f64, [f64]>(&[]), Vec::<f64>::new());
    }

    #[test]
    fn log_softmax_values_and_stability() {
        let a = [0.5_f64, -1.0, 2.0];
        let lse = (0.5_f64.exp() + (-1.0_f64).exp() + 2.0_f64.exp()).ln();
        let fixed: [f64; 3] = log_softmax(&a);
        let sliced: Vec<f64> = log_softmax(&a[..]);
        let vec: Vec<f64> = log_softmax(&a.to_vec());
        for i in 0..3 {
            assert!(close(fixed[i], a[i] - lse));
            assert_eq!(sliced[i], fixed[i]);
            assert_eq!(vec[i], fixed[i]);
        }

        assert_eq!(log_softmax(&[-800.0_f64, 0.0]), [-800.0, 0.0]);
        assert_eq!(log_softmax(&[800.0_f64, 0.0]), [0.0, -800.0]);
        assert_eq!(log_softmax(&[700.0_f64, 700.0]), [-LN2, -LN2]);
        assert_eq!(log_softmax(&[-700.0_f64, -700.0]), [-LN2, -LN2]);
        assert_eq!(log_softmax::<f64, [f64]>(&[]), Vec::<f64>::new());
    }

    fn sigmoid_naive(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    fn softplus_naive(x: f64) -> f64 {
        (1.0 + x.exp()).ln()
    }

    fn generic<T: Float>(x: T) -> T {
        // The way generated code calls them on a scalar of a generic type.
        sigmoid(x) + softplus(x)
    }

    #[test]
    fn sigmoid_and_softplus_on_scalars_and_arrays() {
        for x in [-2.0_f64, -0.5, 0.0, 0.5, 3.0] {
            assert_eq!(sigmoid(x), crate::scalar::sigmoid(x));
            assert_eq!(softplus(x), crate::scalar::softplus(x));
            assert!(close(sigmoid(x), sigmoid_naive(x)));
            assert!(close(softplus(x), softplus_naive(x)));
            assert_eq!(generic(x), sigmoid(x) + softplus(x));
        }
        assert_eq!(sigmoid(1.5_f32), crate::scalar::sigmoid(1.5_f32));

        let a = [-2.0_f64, 0.0, 3.0];
        let fixed: [f64; 3] = sigmoid(a);
        let by_ref: [f64; 3] = sigmoid(&a);
        let sliced: Vec<f64> = sigmoid(&a[..]);
        let vec: Vec<f64> = sigmoid(&a.to_vec());
        let sp: [f64; 3] = softplus(a);
        let sp_sliced: Vec<f64> = softplus(&a[..]);
        for i in 0..3 {
            assert_eq!(fixed[i], crate::scalar::sigmoid(a[i]));
            assert_eq!(by_ref[i], fixed[i]);
            assert_eq!(sliced[i], fixed[i]);
            assert_eq!(vec[i], fixed[i]);
            assert_eq!(sp[i], crate::scalar::softplus(a[i]));
            assert_eq!(sp_sliced[i], sp[i]);
        }

        let m = [[-1.0_f64, 0.0], [1.0, 2.0]];
        let sm: [[f64; 2]; 2] = sigmoid(m);
        let pm: [[f64; 2]; 2] = softplus(m);
        let sm_ref: [[f64; 2]; 2] = sigmoid(&m);
        let sm_rows: Vec<[f64; 2]> = sigmoid(&m[..]);
        let pm_vec: Vec<[f64; 2]> = softplus(&m.to_vec());
        for i in 0..2 {
            for j in 0..2 {
                assert_eq!(sm[i][j], crate::scalar::sigmoid(m[i][j]));
                assert_eq!(pm[i][j], crate::scalar::softplus(m[i][j]));
                assert_eq!(sm_ref[i][j], sm[i][j]);
                assert_eq!(sm_rows[i][j], sm[i][j]);
                assert_eq!(pm_vec[i][j], pm[i][j]);
            }
        }
    }

    #[test]
    fn sigmoid_and_softplus_are_stable() {
        let xs = [-800.0_f64, -700.0, 700.0, 800.0];
        let s: [f64; 4] = sigmoid(xs);
        let p: [f64; 4] = softplus(xs);
        assert!(s.iter().chain(&p).all(|v| v.is_finite()));
        assert_eq!(s[0], 0.0);
        assert!(close(s[1], (-700.0_f64).exp()));
        assert_eq!(s[2], 1.0);
        assert_eq!(s[3], 1.0);
        assert_eq!(p[0], 0.0);
        assert!(close(p[1], (-700.0_f64).exp()));
        assert_eq!(p[2], 700.0);
        assert_eq!(p[3], 800.0);
    }

    #[test]
    fn matvec_and_vecmat() {
        let m = [[1.0_f64, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let x = [0.5_f64, -1.0, 2.0];
        let expected = [
            (1.0 * 0.5 + -2.0) + 3.0 * 2.0,
            (4.0 * 0.5 + -5.0) + 6.0 * 2.0,
        ];
        let fixed: [f64; 2] = matvec(&m, &x);
        assert_eq!(fixed, expected);
        assert_eq!(matvec(&m[..], &x[..]), expected.to_vec());
        assert_eq!(matvec(&m.to_vec(), &x.to_vec()), expected.to_vec());

        let w = [2.0_f64, -0.5];
        let expected = [
            1.0 * 2.0 + 4.0 * -0.5,
            2.0 * 2.0 + 5.0 * -0.5,
            3.0 * 2.0 + 6.0 * -0.5,
        ];
        assert_eq!(vecmat(&w, &m), expected);
        assert_eq!(vecmat(&w[..], &m[..]), expected);
        assert_eq!(vecmat(&w.to_vec(), &m.to_vec()), expected);
    }

    #[test]
    #[should_panic(expected = "matvec")]
    fn matvec_checks_the_length() {
        matvec(&[[1.0_f64, 2.0]], &[1.0_f64, 2.0, 3.0]);
    }

    #[test]
    #[should_panic(expected = "vecmat")]
    fn vecmat_checks_the_length() {
        vecmat(&[1.0_f64], &[[1.0_f64, 2.0], [3.0, 4.0]]);
    }

    #[test]
    fn matmul_transpose_and_outer() {
        let a = [[1.0_f64, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let b = [[1.0_f64, -1.0], [0.5, 2.0], [-2.0, 0.25]];
        let mut expected = [[0.0_f64; 2]; 2];
        for (i, row) in expected.iter_mut().enumerate() {
            for (j, e) in row.iter_mut().enumerate() {
                *e = (a[i][0] * b[0][j] + a[i][1] * b[1][j]) + a[i][2] * b[2][j];
            }
        }
        let fixed: [[f64; 2]; 2] = matmul(&a, &b);
        assert_eq!(fixed, expected);
        assert_eq!(matmul(&a[..], &b[..]), expected.to_vec());
        assert_eq!(matmul(&a.to_vec(), &b.to_vec()), expected.to_vec());

        let t: [[f64; 2]; 3] = transpose(&a);
        assert_eq!(t, [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]);
        assert_eq!(transpose(&t), a);

        let x = [2.0_f64, -1.0];
        let y = [1.0_f64, 0.5, 3.0];
        let expected = [[2.0, 1.0, 6.0], [-1.0, -0.5, -3.0]];
        let o: [[f64; 3]; 2] = outer(&x, &y);
        assert_eq!(o, expected);
        assert_eq!(outer(&x[..], &y), expected.to_vec());
        assert_eq!(outer(&x.to_vec(), &y), expected.to_vec());
    }

    #[test]
    #[should_panic(expected = "matmul")]
    fn matmul_checks_the_inner_size() {
        matmul(&[[1.0_f64, 2.0]], &[[1.0_f64, 2.0]]);
    }

    #[test]
    fn scan_running_sum_and_fibonacci() {
        let (total, running) = scan(0.0_f64, &[1.0, 2.0, 3.0, 4.0], |s, x| (s + x, s + x));
        assert_eq!(total, 10.0);
        assert_eq!(running, vec![1.0, 3.0, 6.0, 10.0]);

        let v = vec![1.0_f64, 1.0, 1.0, 1.0, 1.0];
        let ((a, b), fib) = scan((0.0_f64, 1.0_f64), &v, |(a, b), _| ((b, a + b), a));
        assert_eq!(fib, vec![0.0, 1.0, 1.0, 2.0, 3.0]);
        assert_eq!((a, b), (5.0, 8.0));

        let (c, ys) = scan(7, &[] as &[f64], |c, x| (c, x));
        assert_eq!((c, ys), (7, vec![]));
    }

    #[test]
    fn scan_n_powers() {
        let (last, powers) = scan_n(1.0_f64, 5, |p, _| (p * 2.0, p));
        assert_eq!(powers, vec![1.0, 2.0, 4.0, 8.0, 16.0]);
        assert_eq!(last, 32.0);

        let (steps, idx) = scan_n(0_usize, 3, |c, i| (c + 1, i));
        assert_eq!((steps, idx), (3, vec![0, 1, 2]));
    }
}
