//! Derivative rules for the array helpers: the kernels generated code calls
//! for the derivatives of `sum`, `dot`, `matvec`, `softmax`, ... instead of
//! differentiating through the helpers' loops.
//!
//! # Conventions
//!
//! - Every function is generic over `T: Float` and is called as
//!   `rules::f(&arg, ...)`: array arguments by `&`, accumulators by
//!   `&mut`, scalars by value.
//! - A vector is read through `&V` with `V: AsRef<[T]>`, so `[T; N]`,
//!   `&[T; N]`, `&[T]`, `Vec<T>` and `&Vec<T>` all pass as `&x`. A matrix
//!   (rows of a constant width `C`) is read through `&M` with
//!   `M: AsRef<[[T; C]]>`: `[[T; C]; R]`, `&[[T; C]; R]`, `&[[T; C]]`,
//!   `Vec<[T; C]>`.
//! - A result array has the kind of its shape source: a fixed array in
//!   gives a fixed array out, a slice or `Vec` gives a `Vec`.
//! - An accumulator `acc_*` takes `acc: &mut A` with `A: AsMut<[T]>`
//!   (rank 1) or `A: AsMut<[[T; C]]>` (rank 2) and *adds* its term to
//!   `acc`, in index order, with `s = s + ...` arithmetic; it never
//!   allocates.
//! - Lengths that must match are asserted; the panic message starts with
//!   the function's name.
//!
//! # Which rule is which derivative
//!
//! With `ybar` a cotangent of the output and `xdot` a tangent of the input:
//!
//! | helper             | JVP (`ydot += ...`)                          | VJP (`xbar += ...`)                                |
//! |--------------------|----------------------------------------------|----------------------------------------------------|
//! | `sum(x)`, `mean`   | `sum(xdot)` (`/ n`)                          | [`acc_fill`]`(xbar, ybar)` (`ybar / n`)            |
//! | `sum2(a)`          | `sum2(adot)`                                 | [`acc_fill2`]`(abar, ybar)`                        |
//! | `dot(x, y)`        | `dot(xdot, y) + dot(x, ydot)`                | [`acc_scaled`]`(xbar, ybar, y)`, and `x`, `y` swapped |
//! | `norm(x)`          | `dot(x, xdot) / norm(x)`                     | [`acc_scaled`]`(xbar, ybar / norm(x), x)`          |
//! | `matvec(a, x)`     | [`acc_matvec`]`(ydot, adot, x)`, `(ydot, a, xdot)` | [`acc_outer`]`(abar, ybar, x)`, [`acc_vecmat`]`(xbar, ybar, a)` |
//! | `vecmat(x, a)`     | [`acc_vecmat`]`(ydot, xdot, a)`, `(ydot, x, adot)` | [`acc_outer`]`(abar, x, ybar)`, [`acc_matvec`]`(xbar, a, ybar)` |
//! | `matmul(a, b)`     | [`acc_matmul`]`(cdot, adot, b)`, `(cdot, a, bdot)` | [`acc_matmul_nt`]`(abar, cbar, b)`, [`acc_matmul_tn`]`(bbar, a, cbar)` |
//! | `transpose(a)`     | `transpose(adot)`                            | [`acc_transpose`]`(abar, ybar)`                    |
//! | `outer(x, y)`      | [`acc_outer`]`(odot, xdot, y)`, `(odot, x, ydot)` | [`acc_matvec`]`(xbar, obar, y)`, [`acc_vecmat`]`(ybar, x, obar)` |
//! | `sigmoid(x)`       | [`acc_sigmoid_bar`]`(ydot, xdot, s)`         | [`acc_sigmoid_bar`]`(xbar, ybar, s)`               |
//! | `softplus(x)`      | [`acc_softplus_bar`]`(ydot, xdot, x)`        | [`acc_softplus_bar`]`(xbar, ybar, x)`              |
//! | `softmax(x)`       | [`acc_softmax_bar`]`(ydot, xdot, s)`         | [`acc_softmax_bar`]`(xbar, ybar, s)`               |
//! | `log_softmax(x)`   | [`acc_log_softmax_dot`]`(ydot, xdot, l)`     | [`acc_log_softmax_bar`]`(xbar, ybar, l)`           |
//! | `logsumexp(x)`     | [`logsumexp_dot`]`(x, lse, xdot)`            | [`acc_logsumexp_bar`]`(xbar, ybar, x)`             |
//!
//! (`s = sigmoid(x)` or `softmax(x)`, `l = log_softmax(x)`,
//! `lse = logsumexp(x)`; `_2` variants for matrices.) The `*_bar_dot`
//! functions are the tangents of the nonlinear accumulators with respect to
//! their nonlinear operand, for Hessian-vector products.
//!
//! [`acc_fill`]: crate::rules::acc_fill
//! [`acc_fill2`]: crate::rules::acc_fill2
//! [`acc_log_softmax_bar`]: crate::rules::acc_log_softmax_bar
//! [`acc_log_softmax_dot`]: crate::rules::acc_log_softmax_dot
//! [`acc_logsumexp_bar`]: crate::rules::acc_logsumexp_bar
//! [`acc_matmul`]: crate::rules::acc_matmul
//! [`acc_matmul_nt`]: crate::rules::acc_matmul_nt
//! [`acc_matmul_tn`]: crate::rules::acc_matmul_tn
//! [`acc_matvec`]: crate::rules::acc_matvec
//! [`acc_outer`]: crate::rules::acc_outer
//! [`acc_scaled`]: crate::rules::acc_scaled
//! [`acc_sigmoid_bar`]: crate::rules::acc_sigmoid_bar
//! [`acc_softmax_bar`]: crate::rules::acc_softmax_bar
//! [`acc_softplus_bar`]: crate::rules::acc_softplus_bar
//! [`acc_transpose`]: crate::rules::acc_transpose
//! [`acc_vecmat`]: crate::rules::acc_vecmat
//! [`logsumexp_dot`]: crate::rules::logsumexp_dot

use crate::array::ZerosLike;
use crate::helpers;

/// The helpers whose kernel is the helper itself (same signature, same
/// arithmetic).
pub use crate::helpers::{
    dot, log_softmax, logsumexp, matmul, matvec, mean, norm, outer, softmax, transpose, vecmat,
};
use crate::scalar;
use num_traits::Float;

// ---------------------------------------------------------------------
// Private kernels
// ---------------------------------------------------------------------

/// Panics with `"{name}: {what} must have the same length ({a} and {b})"`
/// unless `a == b`.
#[inline]
#[track_caller]
fn same_len(name: &str, what: &str, a: usize, b: usize) {
    assert!(
        a == b,
        "{name}: {what} must have the same length ({a} and {b})"
    );
}

/// The largest element `m` and `Σ exp(x[i] - m)`: the softmax is
/// `exp(x[i] - m) / sum`, accurate to a few ulps whatever the size of the
/// elements (`exp(x[i] - lse)` would lose `|lse|` ulps).
#[inline]
fn shift_and_sum<T: Float>(x: &[T]) -> (T, T) {
    let mut m = T::neg_infinity();
    for &v in x {
        if v > m {
            m = v;
        }
    }
    let mut sum = T::zero();
    for &v in x {
        sum = sum + (v - m).exp();
    }
    (m, sum)
}

/// Up to how many elements [`each_softmax`] keeps the exponentials on the
/// stack rather than computing them twice.
const KEPT: usize = 16;

/// Calls `f(i, w)` with each softmax weight `w = exp(x[i] - m) / sum` of
/// `x` in order (the values [`shift_and_sum`] describes), or never when
/// `logsumexp(x) = m + ln(sum)` is not finite (an empty or all `-inf` `x`,
/// a `+inf` element, a NaN: there are then no weights, and no NaN from
/// `-inf - -inf`). Each exponential is computed once for up to [`KEPT`]
/// elements (a logsumexp over a few mixture components, per data point),
/// twice beyond that; the weights are the same either way, bit for bit.
#[inline]
fn each_softmax<T: Float>(x: &[T], mut f: impl FnMut(usize, T)) {
    if x.len() <= KEPT {
        let mut m = T::neg_infinity();
        for &v in x {
            if v > m {
                m = v;
            }
        }
        if !m.is_finite() {
            return;
        }
        let mut e = [T::zero(); KEPT];
        let mut sum = T::zero();
        for (ei, &v) in e.iter_mut().zip(x) {
            *ei = (v - m).exp();
            sum = sum + *ei;
        }
        if !sum.is_finite() {
            return;
        }
        for (i, &ei) in e[..x.len()].iter().enumerate() {
            f(i, ei / sum);
        }
    } else {
        let (m, sum) = shift_and_sum(x);
        if !(m.is_finite() && sum.is_finite()) {
            return;
        }
        for (i, &v) in x.iter().enumerate() {
            f(i, (v - m).exp() / sum);
        }
    }
}

/// Panics with `"{name}: {what} must have the same number of rows ({a} and
/// {b})"` unless `a == b`.
#[inline]
#[track_caller]
fn same_rows(name: &str, what: &str, a: usize, b: usize) {
    assert!(
        a == b,
        "{name}: {what} must have the same number of rows ({a} and {b})"
    );
}

/// `f` applied to every element of `x`, into zeros shaped like `x`.
#[inline]
fn map1<T: Float, V: AsRef<[T]> + ZerosLike<T> + ?Sized, F: Fn(T) -> T>(x: &V, f: F) -> V::Out
where
    V::Out: AsMut<[T]>,
{
    let mut out = x.zeros_like();
    for (y, &v) in out.as_mut().iter_mut().zip(x.as_ref()) {
        *y = f(v);
    }
    out
}

/// `f` applied to every element of the matrix `a`, row after row, into
/// zeros shaped like `a`.
#[inline]
fn map2<T: Float, const C: usize, M: AsRef<[[T; C]]> + ZerosLike<T> + ?Sized, F: Fn(T) -> T>(
    a: &M,
    f: F,
) -> M::Out
where
    M::Out: AsMut<[[T; C]]>,
{
    let mut out = a.zeros_like();
    for (orow, arow) in out.as_mut().iter_mut().zip(a.as_ref()) {
        for (y, &v) in orow.iter_mut().zip(arow) {
            *y = f(v);
        }
    }
    out
}

/// `acc[i] += ybar[i] * s[i] * (1 - s[i])`.
#[inline]
fn sigmoid_bar<T: Float>(name: &str, acc: &mut [T], ybar: &[T], s: &[T]) {
    same_len(name, "acc and ybar", acc.len(), ybar.len());
    same_len(name, "acc and s", acc.len(), s.len());
    for ((a, &yb), &si) in acc.iter_mut().zip(ybar).zip(s) {
        *a = *a + yb * si * (T::one() - si);
    }
}

/// `acc[i] += ybar[i] * sigmoid(x[i])`.
#[inline]
fn softplus_bar<T: Float>(name: &str, acc: &mut [T], ybar: &[T], x: &[T]) {
    same_len(name, "acc and ybar", acc.len(), ybar.len());
    same_len(name, "acc and x", acc.len(), x.len());
    for ((a, &yb), &xi) in acc.iter_mut().zip(ybar).zip(x) {
        *a = *a + yb * scalar::sigmoid(xi);
    }
}

/// `acc[i] += ybar[i] * (1 - 2 s[i]) * sdot[i]`.
#[inline]
fn sigmoid_bar_dot<T: Float>(name: &str, acc: &mut [T], ybar: &[T], s: &[T], sdot: &[T]) {
    same_len(name, "acc and ybar", acc.len(), ybar.len());
    same_len(name, "acc and s", acc.len(), s.len());
    same_len(name, "acc and sdot", acc.len(), sdot.len());
    let two = T::one() + T::one();
    for (((a, &yb), &si), &sd) in acc.iter_mut().zip(ybar).zip(s).zip(sdot) {
        *a = *a + yb * (T::one() - two * si) * sd;
    }
}

/// `acc[i] += ybar[i] * σ(x[i]) * (1 - σ(x[i])) * xdot[i]`.
#[inline]
fn softplus_bar_dot<T: Float>(name: &str, acc: &mut [T], ybar: &[T], x: &[T], xdot: &[T]) {
    same_len(name, "acc and ybar", acc.len(), ybar.len());
    same_len(name, "acc and x", acc.len(), x.len());
    same_len(name, "acc and xdot", acc.len(), xdot.len());
    for (((a, &yb), &xi), &xd) in acc.iter_mut().zip(ybar).zip(x).zip(xdot) {
        let s = scalar::sigmoid(xi);
        *a = *a + yb * s * (T::one() - s) * xd;
    }
}

// ---------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------

/// `Σ x[i]`, added in index order from 0: [`crate::sum`] on the slice,
/// bit for bit. 0 for an empty vector.
#[inline]
pub fn sum<T: Float, V: AsRef<[T]> + ?Sized>(x: &V) -> T {
    helpers::sum(x.as_ref())
}

/// `Σ_i Σ_j a[i][j]`: each row summed in index order, the row sums added in
/// row order, as [`crate::sum`] on a matrix, bit for bit. 0 for no rows.
#[inline]
pub fn sum2<T: Float, const C: usize, M: AsRef<[[T; C]]> + ?Sized>(a: &M) -> T {
    helpers::sum(a.as_ref())
}

/// `1 / (1 + exp(-x[i]))` elementwise, with the stable scalar form of
/// [`crate::sigmoid`] (same bits). Shaped like `x` (as [`softmax`]).
#[inline]
pub fn sigmoid<T: Float, V: AsRef<[T]> + ZerosLike<T> + ?Sized>(x: &V) -> V::Out
where
    V::Out: AsMut<[T]>,
{
    map1(x, scalar::sigmoid)
}

/// `ln(1 + exp(x[i]))` elementwise, with the stable scalar form of
/// [`crate::softplus`] (same bits). Shaped like `x` (as [`softmax`]).
#[inline]
pub fn softplus<T: Float, V: AsRef<[T]> + ZerosLike<T> + ?Sized>(x: &V) -> V::Out
where
    V::Out: AsMut<[T]>,
{
    map1(x, scalar::softplus)
}

/// [`sigmoid`] of every element of a matrix: `[[T; C]; R]` for a fixed
/// matrix (or a reference to one), `Vec<[T; C]>` for a slice or `Vec` of
/// rows.
#[inline]
pub fn sigmoid2<T: Float, const C: usize, M: AsRef<[[T; C]]> + ZerosLike<T> + ?Sized>(
    a: &M,
) -> M::Out
where
    M::Out: AsMut<[[T; C]]>,
{
    map2(a, scalar::sigmoid)
}

/// [`softplus`] of every element of a matrix, shaped like `a` (as
/// [`sigmoid2`]).
#[inline]
pub fn softplus2<T: Float, const C: usize, M: AsRef<[[T; C]]> + ZerosLike<T> + ?Sized>(
    a: &M,
) -> M::Out
where
    M::Out: AsMut<[[T; C]]>,
{
    map2(a, scalar::softplus)
}

/// `Σ softmax(x)[i] xdot[i]` (`softmax(x)[i] = exp(x[i] - lse)`, computed
/// max-shifted as `softmax` does), in index order: the tangent of
/// `lse = logsumexp(x)` along `xdot`. 0 when `lse` is not finite (empty or
/// all `-inf` `x`, a `+inf` element, NaN).
///
/// # Panics
/// If `x` and `xdot` have different lengths.
#[inline]
pub fn logsumexp_dot<T: Float, X: AsRef<[T]> + ?Sized, D: AsRef<[T]> + ?Sized>(
    x: &X,
    lse: T,
    xdot: &D,
) -> T {
    let (x, xdot) = (x.as_ref(), xdot.as_ref());
    same_len("logsumexp_dot", "x and xdot", x.len(), xdot.len());
    let mut s = T::zero();
    if !lse.is_finite() {
        return s;
    }
    each_softmax(x, |i, w| s = s + w * xdot[i]);
    s
}

/// A zero shaped like `c`: the tangent of a constant passed to a
/// differentiated function whose type the attribute does not see (a
/// float, or an array: `g(W, x)` with `const W: [f64; 2]`).
pub trait ZeroOf {
    /// The zero's type (`Self`, or `Vec<T>` for a slice).
    type Out;
    /// A zero shaped like `self`.
    fn zero_of(&self) -> Self::Out;
}

impl ZeroOf for f64 {
    type Out = f64;
    #[inline]
    fn zero_of(&self) -> f64 {
        0.0
    }
}

impl ZeroOf for f32 {
    type Out = f32;
    #[inline]
    fn zero_of(&self) -> f32 {
        0.0
    }
}

impl<Z: ZeroOf, const N: usize> ZeroOf for [Z; N] {
    type Out = [Z::Out; N];
    #[inline]
    fn zero_of(&self) -> [Z::Out; N] {
        core::array::from_fn(|i| self[i].zero_of())
    }
}

impl<Z: ZeroOf> ZeroOf for Vec<Z> {
    type Out = Vec<Z::Out>;
    #[inline]
    fn zero_of(&self) -> Vec<Z::Out> {
        self.iter().map(ZeroOf::zero_of).collect()
    }
}

impl<Z: ZeroOf> ZeroOf for [Z] {
    type Out = Vec<Z::Out>;
    #[inline]
    fn zero_of(&self) -> Vec<Z::Out> {
        self.iter().map(ZeroOf::zero_of).collect()
    }
}

impl<Z: ZeroOf + ?Sized> ZeroOf for &Z {
    type Out = Z::Out;
    #[inline]
    fn zero_of(&self) -> Z::Out {
        (**self).zero_of()
    }
}

/// [`ZeroOf::zero_of`] of `c` (passed as the call it is the tangent of
/// passes it).
#[inline]
pub fn zero_of<Z: ZeroOf>(c: Z) -> Z::Out {
    c.zero_of()
}

// ---------------------------------------------------------------------
// Accumulators
// ---------------------------------------------------------------------

/// `acc[i] += s` for every element (the VJP of `sum`).
#[inline]
pub fn acc_fill<T: Float, A: AsMut<[T]> + ?Sized>(acc: &mut A, s: T) {
    for a in acc.as_mut() {
        *a = *a + s;
    }
}

/// `acc[i][j] += s` for every element of a matrix (the VJP of `sum2`).
#[inline]
pub fn acc_fill2<T: Float, const C: usize, A: AsMut<[[T; C]]> + ?Sized>(acc: &mut A, s: T) {
    for row in acc.as_mut() {
        for a in row {
            *a = *a + s;
        }
    }
}

/// `acc[i] += s x[i]` (the VJP of `dot` and `norm`).
///
/// # Panics
/// If `acc` and `x` have different lengths.
#[inline]
pub fn acc_scaled<T: Float, A: AsMut<[T]> + ?Sized, X: AsRef<[T]> + ?Sized>(
    acc: &mut A,
    s: T,
    x: &X,
) {
    let (acc, x) = (acc.as_mut(), x.as_ref());
    same_len("acc_scaled", "acc and x", acc.len(), x.len());
    for (a, &xi) in acc.iter_mut().zip(x) {
        *a = *a + s * xi;
    }
}

/// `acc[i] += Σ_j a[i][j] x[j]`: the row sum in `j` order, then added (from
/// a zero `acc`, the bits of [`matvec`]).
///
/// # Panics
/// If `acc` does not have one element per row of `a`, or `x.len() != C`.
#[inline]
pub fn acc_matvec<
    T: Float,
    const C: usize,
    A: AsMut<[T]> + ?Sized,
    M: AsRef<[[T; C]]> + ?Sized,
    X: AsRef<[T]> + ?Sized,
>(
    acc: &mut A,
    a: &M,
    x: &X,
) {
    let (acc, a, x) = (acc.as_mut(), a.as_ref(), x.as_ref());
    same_len("acc_matvec", "acc and the rows of a", acc.len(), a.len());
    same_len("acc_matvec", "x and a row of a", x.len(), C);
    for (o, row) in acc.iter_mut().zip(a) {
        let mut s = T::zero();
        for (&aij, &xj) in row.iter().zip(x) {
            s = s + aij * xj;
        }
        *o = *o + s;
    }
}

/// `acc[j] += Σ_i x[i] a[i][j]`: the column sums in `i` order (kept in one
/// `[T; C]` on the stack), then added (from a zero `acc`, the bits of
/// [`vecmat`]).
///
/// # Panics
/// If `acc.len() != C`, or `x` does not have one element per row of `a`.
#[inline]
pub fn acc_vecmat<
    T: Float,
    const C: usize,
    A: AsMut<[T]> + ?Sized,
    X: AsRef<[T]> + ?Sized,
    M: AsRef<[[T; C]]> + ?Sized,
>(
    acc: &mut A,
    x: &X,
    a: &M,
) {
    let (acc, x, a) = (acc.as_mut(), x.as_ref(), a.as_ref());
    same_len("acc_vecmat", "acc and a row of a", acc.len(), C);
    same_len("acc_vecmat", "x and the rows of a", x.len(), a.len());
    let mut s = [T::zero(); C];
    for (&xi, row) in x.iter().zip(a) {
        for (sj, &aij) in s.iter_mut().zip(row) {
            *sj = *sj + xi * aij;
        }
    }
    for (o, &sj) in acc.iter_mut().zip(&s) {
        *o = *o + sj;
    }
}

/// `acc[i][j] += u[i] v[j]` (the VJP of `matvec` in the matrix).
///
/// # Panics
/// If `u` does not have one element per row of `acc`, or `v.len() != C`.
#[inline]
pub fn acc_outer<
    T: Float,
    const C: usize,
    A: AsMut<[[T; C]]> + ?Sized,
    U: AsRef<[T]> + ?Sized,
    V: AsRef<[T]> + ?Sized,
>(
    acc: &mut A,
    u: &U,
    v: &V,
) {
    let (acc, u, v) = (acc.as_mut(), u.as_ref(), v.as_ref());
    same_len("acc_outer", "u and the rows of acc", u.len(), acc.len());
    same_len("acc_outer", "v and a row of acc", v.len(), C);
    for (row, &ui) in acc.iter_mut().zip(u) {
        for (o, &vj) in row.iter_mut().zip(v) {
            *o = *o + ui * vj;
        }
    }
}

/// `acc += a b`: `acc[i][j] += Σ_k a[i][k] b[k][j]`, each sum in `k` order
/// then added (from a zero `acc`, the bits of [`matmul`]).
///
/// # Panics
/// If `acc` and `a` have different numbers of rows, or `b` does not have
/// `K` rows.
#[inline]
pub fn acc_matmul<
    T: Float,
    const K: usize,
    const C: usize,
    A: AsMut<[[T; C]]> + ?Sized,
    Ma: AsRef<[[T; K]]> + ?Sized,
    Mb: AsRef<[[T; C]]> + ?Sized,
>(
    acc: &mut A,
    a: &Ma,
    b: &Mb,
) {
    let (acc, a, b) = (acc.as_mut(), a.as_ref(), b.as_ref());
    same_rows("acc_matmul", "acc and a", acc.len(), a.len());
    same_len("acc_matmul", "the rows of b and a row of a", b.len(), K);
    for (orow, arow) in acc.iter_mut().zip(a) {
        for (j, o) in orow.iter_mut().enumerate() {
            let mut s = T::zero();
            for (&aik, brow) in arow.iter().zip(b) {
                s = s + aik * brow[j];
            }
            *o = *o + s;
        }
    }
}

/// `acc += a bᵀ`: `acc[i][j] += Σ_k a[i][k] b[j][k]`, each sum in `k` order
/// then added (the VJP of `matmul` in its first factor: `abar += cbar bᵀ`).
///
/// # Panics
/// If `acc` and `a` have different numbers of rows, or `b` does not have
/// `N` rows (the width of `acc`).
#[inline]
pub fn acc_matmul_nt<
    T: Float,
    const K: usize,
    const N: usize,
    A: AsMut<[[T; N]]> + ?Sized,
    Ma: AsRef<[[T; K]]> + ?Sized,
    Mb: AsRef<[[T; K]]> + ?Sized,
>(
    acc: &mut A,
    a: &Ma,
    b: &Mb,
) {
    let (acc, a, b) = (acc.as_mut(), a.as_ref(), b.as_ref());
    same_rows("acc_matmul_nt", "acc and a", acc.len(), a.len());
    same_len(
        "acc_matmul_nt",
        "the rows of b and a row of acc",
        b.len(),
        N,
    );
    for (orow, arow) in acc.iter_mut().zip(a) {
        for (o, brow) in orow.iter_mut().zip(b) {
            let mut s = T::zero();
            for (&aik, &bjk) in arow.iter().zip(brow) {
                s = s + aik * bjk;
            }
            *o = *o + s;
        }
    }
}

/// `acc += aᵀ b`: `acc[i][j] += Σ_k a[k][i] b[k][j]`, each sum in `k` order
/// then added (the VJP of `matmul` in its second factor: `bbar += aᵀ cbar`).
///
/// # Panics
/// If `a` and `b` have different numbers of rows, or `acc` does not have
/// `R` rows (the width of `a`).
#[inline]
pub fn acc_matmul_tn<
    T: Float,
    const R: usize,
    const C: usize,
    A: AsMut<[[T; C]]> + ?Sized,
    Ma: AsRef<[[T; R]]> + ?Sized,
    Mb: AsRef<[[T; C]]> + ?Sized,
>(
    acc: &mut A,
    a: &Ma,
    b: &Mb,
) {
    let (acc, a, b) = (acc.as_mut(), a.as_ref(), b.as_ref());
    same_rows("acc_matmul_tn", "a and b", a.len(), b.len());
    same_len(
        "acc_matmul_tn",
        "the rows of acc and a row of a",
        acc.len(),
        R,
    );
    for (i, orow) in acc.iter_mut().enumerate() {
        for (j, o) in orow.iter_mut().enumerate() {
            let mut s = T::zero();
            for (arow, brow) in a.iter().zip(b) {
                s = s + arow[i] * brow[j];
            }
            *o = *o + s;
        }
    }
}

/// `acc[i][j] += a[j][i]` (the VJP of `transpose`). Works for slices and
/// `Vec`s of rows too.
///
/// # Panics
/// If `acc` does not have `R` rows (the width of `a`), or `a` does not have
/// `C` rows (the width of `acc`).
#[inline]
pub fn acc_transpose<
    T: Float,
    const C: usize,
    const R: usize,
    A: AsMut<[[T; C]]> + ?Sized,
    M: AsRef<[[T; R]]> + ?Sized,
>(
    acc: &mut A,
    a: &M,
) {
    let (acc, a) = (acc.as_mut(), a.as_ref());
    same_len(
        "acc_transpose",
        "the rows of acc and a row of a",
        acc.len(),
        R,
    );
    same_len(
        "acc_transpose",
        "the rows of a and a row of acc",
        a.len(),
        C,
    );
    for (i, orow) in acc.iter_mut().enumerate() {
        for (o, arow) in orow.iter_mut().zip(a) {
            *o = *o + arow[i];
        }
    }
}

/// `acc[i] += ybar[i] s[i] (1 - s[i])` with `s = sigmoid(x)`: the VJP (and,
/// with a tangent for `ybar`, the JVP) of `sigmoid`.
///
/// # Panics
/// If `acc`, `ybar` and `s` do not all have the same length.
#[inline]
pub fn acc_sigmoid_bar<
    T: Float,
    A: AsMut<[T]> + ?Sized,
    Yb: AsRef<[T]> + ?Sized,
    S: AsRef<[T]> + ?Sized,
>(
    acc: &mut A,
    ybar: &Yb,
    s: &S,
) {
    sigmoid_bar("acc_sigmoid_bar", acc.as_mut(), ybar.as_ref(), s.as_ref());
}

/// [`acc_sigmoid_bar`] on matrices, row after row.
///
/// # Panics
/// If `acc`, `ybar` and `s` do not all have the same number of rows.
#[inline]
pub fn acc_sigmoid_bar2<
    T: Float,
    const C: usize,
    A: AsMut<[[T; C]]> + ?Sized,
    Yb: AsRef<[[T; C]]> + ?Sized,
    S: AsRef<[[T; C]]> + ?Sized,
>(
    acc: &mut A,
    ybar: &Yb,
    s: &S,
) {
    let (acc, ybar, s) = (acc.as_mut(), ybar.as_ref(), s.as_ref());
    same_rows("acc_sigmoid_bar2", "acc and ybar", acc.len(), ybar.len());
    same_rows("acc_sigmoid_bar2", "acc and s", acc.len(), s.len());
    sigmoid_bar(
        "acc_sigmoid_bar2",
        acc.as_flattened_mut(),
        ybar.as_flattened(),
        s.as_flattened(),
    );
}

/// `acc[i] += ybar[i] sigmoid(x[i])`: the VJP (and JVP) of `softplus`.
///
/// # Panics
/// If `acc`, `ybar` and `x` do not all have the same length.
#[inline]
pub fn acc_softplus_bar<
    T: Float,
    A: AsMut<[T]> + ?Sized,
    Yb: AsRef<[T]> + ?Sized,
    X: AsRef<[T]> + ?Sized,
>(
    acc: &mut A,
    ybar: &Yb,
    x: &X,
) {
    softplus_bar("acc_softplus_bar", acc.as_mut(), ybar.as_ref(), x.as_ref());
}

/// [`acc_softplus_bar`] on matrices, row after row.
///
/// # Panics
/// If `acc`, `ybar` and `x` do not all have the same number of rows.
#[inline]
pub fn acc_softplus_bar2<
    T: Float,
    const C: usize,
    A: AsMut<[[T; C]]> + ?Sized,
    Yb: AsRef<[[T; C]]> + ?Sized,
    X: AsRef<[[T; C]]> + ?Sized,
>(
    acc: &mut A,
    ybar: &Yb,
    x: &X,
) {
    let (acc, ybar, x) = (acc.as_mut(), ybar.as_ref(), x.as_ref());
    same_rows("acc_softplus_bar2", "acc and ybar", acc.len(), ybar.len());
    same_rows("acc_softplus_bar2", "acc and x", acc.len(), x.len());
    softplus_bar(
        "acc_softplus_bar2",
        acc.as_flattened_mut(),
        ybar.as_flattened(),
        x.as_flattened(),
    );
}

/// `d = Σ ybar[i] s[i]`, then `acc[i] += s[i] (ybar[i] - d)`, with
/// `s = softmax(x)`: the VJP of `softmax`, and its JVP (with `xdot` for
/// `ybar`: the Jacobian is symmetric). Nothing for empty vectors.
///
/// # Panics
/// If `acc`, `ybar` and `s` do not all have the same length.
#[inline]
pub fn acc_softmax_bar<
    T: Float,
    A: AsMut<[T]> + ?Sized,
    Yb: AsRef<[T]> + ?Sized,
    S: AsRef<[T]> + ?Sized,
>(
    acc: &mut A,
    ybar: &Yb,
    s: &S,
) {
    let (acc, ybar, s) = (acc.as_mut(), ybar.as_ref(), s.as_ref());
    same_len("acc_softmax_bar", "acc and ybar", acc.len(), ybar.len());
    same_len("acc_softmax_bar", "acc and s", acc.len(), s.len());
    let mut d = T::zero();
    for (&yb, &si) in ybar.iter().zip(s) {
        d = d + yb * si;
    }
    for ((a, &yb), &si) in acc.iter_mut().zip(ybar).zip(s) {
        *a = *a + si * (yb - d);
    }
}

/// `t = Σ ybar[i]`, then `acc[i] += ybar[i] - exp(l[i]) t`, with
/// `l = log_softmax(x)`: the VJP of `log_softmax`.
///
/// # Panics
/// If `acc`, `ybar` and `l` do not all have the same length.
#[inline]
pub fn acc_log_softmax_bar<
    T: Float,
    A: AsMut<[T]> + ?Sized,
    Yb: AsRef<[T]> + ?Sized,
    L: AsRef<[T]> + ?Sized,
>(
    acc: &mut A,
    ybar: &Yb,
    l: &L,
) {
    let (acc, ybar, l) = (acc.as_mut(), ybar.as_ref(), l.as_ref());
    same_len("acc_log_softmax_bar", "acc and ybar", acc.len(), ybar.len());
    same_len("acc_log_softmax_bar", "acc and l", acc.len(), l.len());
    let mut t = T::zero();
    for &yb in ybar {
        t = t + yb;
    }
    for ((a, &yb), &li) in acc.iter_mut().zip(ybar).zip(l) {
        *a = *a + (yb - li.exp() * t);
    }
}

/// `d = Σ exp(l[i]) xdot[i]`, then `acc[i] += xdot[i] - d`, with
/// `l = log_softmax(x)`: the JVP of `log_softmax`.
///
/// # Panics
/// If `acc`, `xdot` and `l` do not all have the same length.
#[inline]
pub fn acc_log_softmax_dot<
    T: Float,
    A: AsMut<[T]> + ?Sized,
    D: AsRef<[T]> + ?Sized,
    L: AsRef<[T]> + ?Sized,
>(
    acc: &mut A,
    xdot: &D,
    l: &L,
) {
    let (acc, xdot, l) = (acc.as_mut(), xdot.as_ref(), l.as_ref());
    same_len("acc_log_softmax_dot", "acc and xdot", acc.len(), xdot.len());
    same_len("acc_log_softmax_dot", "acc and l", acc.len(), l.len());
    let mut d = T::zero();
    for (&li, &xd) in l.iter().zip(xdot) {
        d = d + li.exp() * xd;
    }
    for (a, &xd) in acc.iter_mut().zip(xdot) {
        *a = *a + (xd - d);
    }
}

/// `acc[i] += ybar softmax(x)[i]` (`= ybar exp(x[i] - lse)` with `lse =
/// logsumexp(x)`, computed max-shifted): the VJP of `logsumexp`. Adds
/// nothing when `lse` is not finite (empty or all `-inf` `x`, a `+inf`
/// element, NaN), so there is no NaN from `-inf - -inf`. It needs no `lse`:
/// a gradient that does not use the value does not compute it.
///
/// # Panics
/// If `acc` and `x` have different lengths.
#[inline]
pub fn acc_logsumexp_bar<T: Float, A: AsMut<[T]> + ?Sized, X: AsRef<[T]> + ?Sized>(
    acc: &mut A,
    ybar: T,
    x: &X,
) {
    let (acc, x) = (acc.as_mut(), x.as_ref());
    same_len("acc_logsumexp_bar", "acc and x", acc.len(), x.len());
    each_softmax(x, |i, w| acc[i] = acc[i] + ybar * w);
}

// ---------------------------------------------------------------------
// Second order: tangents of the accumulators' terms
// ---------------------------------------------------------------------

/// `acc[i] += ybar[i] (1 - 2 s[i]) sdot[i]`: the tangent of
/// [`acc_sigmoid_bar`]'s term along `sdot` (the tangent of `s`).
///
/// # Panics
/// If `acc`, `ybar`, `s` and `sdot` do not all have the same length.
#[inline]
pub fn acc_sigmoid_bar_dot<
    T: Float,
    A: AsMut<[T]> + ?Sized,
    Yb: AsRef<[T]> + ?Sized,
    S: AsRef<[T]> + ?Sized,
    Sd: AsRef<[T]> + ?Sized,
>(
    acc: &mut A,
    ybar: &Yb,
    s: &S,
    sdot: &Sd,
) {
    sigmoid_bar_dot(
        "acc_sigmoid_bar_dot",
        acc.as_mut(),
        ybar.as_ref(),
        s.as_ref(),
        sdot.as_ref(),
    );
}

/// [`acc_sigmoid_bar_dot`] on matrices, row after row.
///
/// # Panics
/// If `acc`, `ybar`, `s` and `sdot` do not all have the same number of
/// rows.
#[inline]
pub fn acc_sigmoid_bar_dot2<
    T: Float,
    const C: usize,
    A: AsMut<[[T; C]]> + ?Sized,
    Yb: AsRef<[[T; C]]> + ?Sized,
    S: AsRef<[[T; C]]> + ?Sized,
    Sd: AsRef<[[T; C]]> + ?Sized,
>(
    acc: &mut A,
    ybar: &Yb,
    s: &S,
    sdot: &Sd,
) {
    let (acc, ybar, s, sdot) = (acc.as_mut(), ybar.as_ref(), s.as_ref(), sdot.as_ref());
    let name = "acc_sigmoid_bar_dot2";
    same_rows(name, "acc and ybar", acc.len(), ybar.len());
    same_rows(name, "acc and s", acc.len(), s.len());
    same_rows(name, "acc and sdot", acc.len(), sdot.len());
    sigmoid_bar_dot(
        name,
        acc.as_flattened_mut(),
        ybar.as_flattened(),
        s.as_flattened(),
        sdot.as_flattened(),
    );
}

/// `acc[i] += ybar[i] σ(x[i]) (1 - σ(x[i])) xdot[i]` (`σ` the sigmoid): the
/// tangent of [`acc_softplus_bar`]'s term along `xdot`.
///
/// # Panics
/// If `acc`, `ybar`, `x` and `xdot` do not all have the same length.
#[inline]
pub fn acc_softplus_bar_dot<
    T: Float,
    A: AsMut<[T]> + ?Sized,
    Yb: AsRef<[T]> + ?Sized,
    X: AsRef<[T]> + ?Sized,
    D: AsRef<[T]> + ?Sized,
>(
    acc: &mut A,
    ybar: &Yb,
    x: &X,
    xdot: &D,
) {
    softplus_bar_dot(
        "acc_softplus_bar_dot",
        acc.as_mut(),
        ybar.as_ref(),
        x.as_ref(),
        xdot.as_ref(),
    );
}

/// [`acc_softplus_bar_dot`] on matrices, row after row.
///
/// # Panics
/// If `acc`, `ybar`, `x` and `xdot` do not all have the same number of
/// rows.
#[inline]
pub fn acc_softplus_bar_dot2<
    T: Float,
    const C: usize,
    A: AsMut<[[T; C]]> + ?Sized,
    Yb: AsRef<[[T; C]]> + ?Sized,
    X: AsRef<[[T; C]]> + ?Sized,
    D: AsRef<[[T; C]]> + ?Sized,
>(
    acc: &mut A,
    ybar: &Yb,
    x: &X,
    xdot: &D,
) {
    let (acc, ybar, x, xdot) = (acc.as_mut(), ybar.as_ref(), x.as_ref(), xdot.as_ref());
    let name = "acc_softplus_bar_dot2";
    same_rows(name, "acc and ybar", acc.len(), ybar.len());
    same_rows(name, "acc and x", acc.len(), x.len());
    same_rows(name, "acc and xdot", acc.len(), xdot.len());
    softplus_bar_dot(
        name,
        acc.as_flattened_mut(),
        ybar.as_flattened(),
        x.as_flattened(),
        xdot.as_flattened(),
    );
}

/// `d = Σ ybar[i] s[i]`, `ḋ = Σ ybar[i] sdot[i]`, then
/// `acc[i] += sdot[i] (ybar[i] - d) - s[i] ḋ`: the tangent of
/// [`acc_softmax_bar`]'s term along `sdot` (the tangent of `s`).
///
/// # Panics
/// If `acc`, `ybar`, `s` and `sdot` do not all have the same length.
#[inline]
pub fn acc_softmax_bar_dot<
    T: Float,
    A: AsMut<[T]> + ?Sized,
    Yb: AsRef<[T]> + ?Sized,
    S: AsRef<[T]> + ?Sized,
    Sd: AsRef<[T]> + ?Sized,
>(
    acc: &mut A,
    ybar: &Yb,
    s: &S,
    sdot: &Sd,
) {
    let (acc, ybar, s, sdot) = (acc.as_mut(), ybar.as_ref(), s.as_ref(), sdot.as_ref());
    let name = "acc_softmax_bar_dot";
    same_len(name, "acc and ybar", acc.len(), ybar.len());
    same_len(name, "acc and s", acc.len(), s.len());
    same_len(name, "acc and sdot", acc.len(), sdot.len());
    let mut d = T::zero();
    let mut d_dot = T::zero();
    for ((&yb, &si), &sd) in ybar.iter().zip(s).zip(sdot) {
        d = d + yb * si;
        d_dot = d_dot + yb * sd;
    }
    for (((a, &yb), &si), &sd) in acc.iter_mut().zip(ybar).zip(s).zip(sdot) {
        *a = *a + (sd * (yb - d) - si * d_dot);
    }
}

/// `t = Σ ybar[i]`, then `acc[i] += -exp(l[i]) ldot[i] t`: the tangent of
/// [`acc_log_softmax_bar`]'s term along `ldot` (the tangent of `l`).
///
/// # Panics
/// If `acc`, `ybar`, `l` and `ldot` do not all have the same length.
#[inline]
pub fn acc_log_softmax_bar_dot<
    T: Float,
    A: AsMut<[T]> + ?Sized,
    Yb: AsRef<[T]> + ?Sized,
    L: AsRef<[T]> + ?Sized,
    Ld: AsRef<[T]> + ?Sized,
>(
    acc: &mut A,
    ybar: &Yb,
    l: &L,
    ldot: &Ld,
) {
    let (acc, ybar, l, ldot) = (acc.as_mut(), ybar.as_ref(), l.as_ref(), ldot.as_ref());
    let name = "acc_log_softmax_bar_dot";
    same_len(name, "acc and ybar", acc.len(), ybar.len());
    same_len(name, "acc and l", acc.len(), l.len());
    same_len(name, "acc and ldot", acc.len(), ldot.len());
    let mut t = T::zero();
    for &yb in ybar {
        t = t + yb;
    }
    for ((a, &li), &ld) in acc.iter_mut().zip(l).zip(ldot) {
        *a = *a + -(li.exp() * ld * t);
    }
}

/// `acc[i] += ybar s[i] (xdot[i] - Σ_j s[j] xdot[j])` with `s =
/// softmax(x)` (max-shifted): the tangent of [`acc_logsumexp_bar`]'s term
/// along `xdot`. Nothing is added where `logsumexp(x)` is not finite, as
/// in [`acc_logsumexp_bar`].
///
/// # Panics
/// If `acc`, `x` and `xdot` have different lengths.
#[inline]
pub fn acc_logsumexp_bar_dot<
    T: Float,
    A: AsMut<[T]> + ?Sized,
    X: AsRef<[T]> + ?Sized,
    D: AsRef<[T]> + ?Sized,
>(
    acc: &mut A,
    ybar: T,
    x: &X,
    xdot: &D,
) {
    let (acc, x, xdot) = (acc.as_mut(), x.as_ref(), xdot.as_ref());
    let name = "acc_logsumexp_bar_dot";
    same_len(name, "acc and x", acc.len(), x.len());
    same_len(name, "acc and xdot", acc.len(), xdot.len());
    let mut d = T::zero();
    each_softmax(x, |i, w| d = d + w * xdot[i]);
    each_softmax(x, |i, w| acc[i] = acc[i] + ybar * w * (xdot[i] - d));
}
