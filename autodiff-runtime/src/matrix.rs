//! [`Matrix`]: the dense row-major type of Jacobians and Hessians whose
//! size is known only at run time (slices, `Vec` outputs).

use std::fmt;
use std::iter::FusedIterator;
use std::ops::{Index, IndexMut};

/// A dense matrix stored row by row. Row `i` of a Jacobian is the
/// derivative of output `i`; column `j` is with respect to input `j`.
///
/// It converts with [`From`] to and from `Vec<Vec<T>>` (one `Vec` a row),
/// and, under the features of those names, to and from nalgebra's
/// `DMatrix<T>` (0.33) and ndarray's `Array2<T>` (0.16), element `(i, j)`
/// staying element `(i, j)` whatever the storage order,
/// is indexed by `m[(i, j)]`, iterates over its rows as slices
/// (`for row in &m`, or [`rows`](Matrix::rows)), and prints one row a line
/// with `{}`, columns aligned, honouring a precision (`{:.3}`).
///
/// ```
/// use autodiff::Matrix;
///
/// let m = Matrix::from(vec![vec![1.0, -2.5], vec![3.0, 4.0]]);
/// assert_eq!((m.nrows(), m.ncols()), (2, 2));
/// assert_eq!(m[(1, 0)], 3.0);
/// for row in &m {
///     assert_eq!(row.len(), 2);
/// }
/// assert_eq!(format!("{m:.1}"), "1.0  -2.5\n3.0   4.0");
/// let rows: Vec<Vec<f64>> = m.into();
/// assert_eq!(rows, vec![vec![1.0, -2.5], vec![3.0, 4.0]]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    nrows: usize,
    ncols: usize,
    data: Vec<T>,
}

impl<T> Matrix<T> {
    /// A matrix from its rows, which must all have the same length.
    ///
    /// # Panics
    ///
    /// If the rows have different lengths (the message names the first row
    /// whose length differs from row 0's).
    pub fn from_rows<R: AsRef<[T]>>(rows: &[R]) -> Self
    where
        T: Clone,
    {
        let ncols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * ncols);
        for (i, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            check_row(i, r.len(), ncols);
            data.extend_from_slice(r);
        }
        Matrix {
            nrows: rows.len(),
            ncols,
            data,
        }
    }

    /// The number of rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }

    /// The number of columns.
    pub fn ncols(&self) -> usize {
        self.ncols
    }

    /// Row `i`.
    ///
    /// # Panics
    ///
    /// If `i >= self.nrows()`.
    pub fn row(&self, i: usize) -> &[T] {
        assert!(
            i < self.nrows,
            "row {i} out of range for a matrix of {} rows",
            self.nrows
        );
        &self.data[i * self.ncols..(i + 1) * self.ncols]
    }

    /// The rows, in order, as slices (what `for row in &m` iterates over).
    pub fn rows(&self) -> Rows<'_, T> {
        Rows {
            data: &self.data,
            ncols: self.ncols,
            front: 0,
            back: self.nrows,
        }
    }

    /// The elements, row after row.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The offset of `(i, j)` in `data`.
    #[track_caller]
    fn offset(&self, (i, j): (usize, usize)) -> usize {
        assert!(
            i < self.nrows && j < self.ncols,
            "index ({i}, {j}) out of range for a {}×{} matrix",
            self.nrows,
            self.ncols
        );
        i * self.ncols + j
    }
}

/// Panics unless row `i` has `ncols` elements.
#[track_caller]
fn check_row(i: usize, len: usize, ncols: usize) {
    assert!(
        len == ncols,
        "the rows of a matrix must have one length, but row {i} has {len} elements and row 0 has {ncols}"
    );
}

impl<T> Index<(usize, usize)> for Matrix<T> {
    type Output = T;

    /// The element in row `i`, column `j`.
    ///
    /// # Panics
    ///
    /// If `i` or `j` is out of range.
    #[track_caller]
    fn index(&self, ij: (usize, usize)) -> &T {
        &self.data[self.offset(ij)]
    }
}

impl<T> IndexMut<(usize, usize)> for Matrix<T> {
    /// The element in row `i`, column `j`.
    ///
    /// # Panics
    ///
    /// If `i` or `j` is out of range.
    #[track_caller]
    fn index_mut(&mut self, ij: (usize, usize)) -> &mut T {
        let k = self.offset(ij);
        &mut self.data[k]
    }
}

/// A matrix from its rows, one `Vec` a row, without copying the elements.
/// `From` rather than `TryFrom`, as `Vec<Vec<T>>` is how dense matrices are
/// written in Rust and ragged rows are a bug, not a condition to handle.
///
/// # Panics
///
/// If the rows have different lengths (ragged rows), as
/// [`Matrix::from_rows`]. No rows give a `0×0` matrix.
impl<T> From<Vec<Vec<T>>> for Matrix<T> {
    #[track_caller]
    fn from(rows: Vec<Vec<T>>) -> Self {
        let nrows = rows.len();
        let ncols = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(nrows * ncols);
        for (i, r) in rows.into_iter().enumerate() {
            check_row(i, r.len(), ncols);
            data.extend(r);
        }
        Matrix { nrows, ncols, data }
    }
}

/// The rows, one `Vec` a row. A matrix of no rows gives no rows, whatever
/// its number of columns.
impl<T> From<Matrix<T>> for Vec<Vec<T>> {
    fn from(m: Matrix<T>) -> Self {
        let mut rows = Vec::with_capacity(m.nrows);
        let mut data = m.data.into_iter();
        for _ in 0..m.nrows {
            rows.push(data.by_ref().take(m.ncols).collect());
        }
        rows
    }
}

/// `DMatrix<T>` (nalgebra 0.33, feature `nalgebra`), which stores
/// columns: the elements are reordered, element `(i, j)` staying `(i, j)`.
#[cfg(feature = "nalgebra")]
mod with_nalgebra {
    use super::Matrix;
    use nalgebra::{DMatrix, Scalar};

    impl<T: Scalar> From<Matrix<T>> for DMatrix<T> {
        fn from(m: Matrix<T>) -> Self {
            DMatrix::from_row_iterator(m.nrows, m.ncols, m.data)
        }
    }

    impl<T: Scalar> From<DMatrix<T>> for Matrix<T> {
        fn from(m: DMatrix<T>) -> Self {
            let (nrows, ncols) = m.shape();
            // The transpose's columns are `m`'s rows.
            let data = Vec::from(m.transpose().data);
            Matrix { nrows, ncols, data }
        }
    }
}

/// `Array2<T>` (ndarray 0.16, feature `ndarray`): element `(i, j)` stays
/// `(i, j)`, whatever the array's memory order.
#[cfg(feature = "ndarray")]
mod with_ndarray {
    use super::Matrix;
    use ndarray::Array2;

    impl<T> From<Matrix<T>> for Array2<T> {
        fn from(m: Matrix<T>) -> Self {
            match Array2::from_shape_vec((m.nrows, m.ncols), m.data) {
                Ok(a) => a,
                // A `Matrix` always holds `nrows * ncols` elements.
                Err(e) => unreachable!("a Matrix of the wrong size: {e}"),
            }
        }
    }

    impl<T: Clone> From<Array2<T>> for Matrix<T> {
        fn from(a: Array2<T>) -> Self {
            let (nrows, ncols) = a.dim();
            // `iter` visits the elements in logical (row-major) order.
            let data = a.iter().cloned().collect();
            Matrix { nrows, ncols, data }
        }
    }
}

impl<'a, T> IntoIterator for &'a Matrix<T> {
    type Item = &'a [T];
    type IntoIter = Rows<'a, T>;

    fn into_iter(self) -> Rows<'a, T> {
        self.rows()
    }
}

/// One row a line, no newline after the last; the elements of a column
/// right-aligned to the widest, two spaces apart. A precision (`{:.3}`)
/// applies to every element; other flags are ignored. A matrix with no
/// rows prints nothing.
impl<T: fmt::Display> fmt::Display for Matrix<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cells: Vec<String> = self
            .data
            .iter()
            .map(|v| match f.precision() {
                Some(p) => format!("{v:.p$}"),
                None => v.to_string(),
            })
            .collect();
        let mut widths = vec![0; self.ncols];
        for (k, c) in cells.iter().enumerate() {
            let w = &mut widths[k % self.ncols];
            *w = (*w).max(c.chars().count());
        }
        for i in 0..self.nrows {
            if i > 0 {
                f.write_str("\n")?;
            }
            for j in 0..self.ncols {
                if j > 0 {
                    f.write_str("  ")?;
                }
                let c = &cells[i * self.ncols + j];
                write!(f, "{c:>w$}", w = widths[j])?;
            }
        }
        Ok(())
    }
}

/// The rows of a [`Matrix`], as slices: [`Matrix::rows`] and
/// `for row in &m`.
#[derive(Clone, Debug)]
pub struct Rows<'a, T> {
    data: &'a [T],
    ncols: usize,
    /// The rows `front..back` are still to come.
    front: usize,
    back: usize,
}

impl<'a, T> Rows<'a, T> {
    fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.ncols..(i + 1) * self.ncols]
    }
}

impl<'a, T> Iterator for Rows<'a, T> {
    type Item = &'a [T];

    fn next(&mut self) -> Option<&'a [T]> {
        (self.front < self.back).then(|| {
            self.front += 1;
            self.row(self.front - 1)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl<'a, T> DoubleEndedIterator for Rows<'a, T> {
    fn next_back(&mut self) -> Option<&'a [T]> {
        (self.front < self.back).then(|| {
            self.back -= 1;
            self.row(self.back)
        })
    }
}

impl<T> ExactSizeIterator for Rows<'_, T> {}

impl<T> FusedIterator for Rows<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_by_three() -> Matrix<f64> {
        Matrix::from_rows(&[vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]])
    }

    #[test]
    fn rows_and_elements() {
        let m = two_by_three();
        assert_eq!((m.nrows(), m.ncols()), (2, 3));
        assert_eq!(m[(1, 0)], 4.0);
        assert_eq!(m[(0, 2)], 3.0);
        assert_eq!(m.row(0), &[1.0, 2.0, 3.0]);
        assert_eq!(m.as_slice(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let empty: Matrix<f64> = Matrix::from_rows::<Vec<f64>>(&[]);
        assert_eq!((empty.nrows(), empty.ncols()), (0, 0));
    }

    #[test]
    fn index_mut_writes_one_element() {
        let mut m = two_by_three();
        m[(1, 2)] = -1.0;
        assert_eq!(m.as_slice(), &[1.0, 2.0, 3.0, 4.0, 5.0, -1.0]);
    }

    #[test]
    #[should_panic(expected = "index (0, 3) out of range for a 2×3 matrix")]
    fn a_column_out_of_range_panics() {
        let _ = two_by_three()[(0, 3)];
    }

    #[test]
    #[should_panic(expected = "index (2, 0) out of range for a 2×3 matrix")]
    fn a_row_out_of_range_panics() {
        let _ = two_by_three()[(2, 0)];
    }

    #[test]
    #[should_panic(expected = "row 2 out of range for a matrix of 2 rows")]
    fn row_out_of_range_panics() {
        two_by_three().row(2);
    }

    #[test]
    fn converts_from_and_to_nested_vecs() {
        let rows = vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]];
        let m = Matrix::from(rows.clone());
        assert_eq!(m, two_by_three());
        let back: Vec<Vec<f64>> = m.into();
        assert_eq!(back, rows);

        let none: Matrix<f32> = Vec::<Vec<f32>>::new().into();
        assert_eq!((none.nrows(), none.ncols()), (0, 0));
        assert_eq!(Vec::<Vec<f32>>::from(none), Vec::<Vec<f32>>::new());

        // Rows of no columns survive the round trip.
        let thin = Matrix::<f64>::from(vec![vec![], vec![], vec![]]);
        assert_eq!((thin.nrows(), thin.ncols()), (3, 0));
        assert_eq!(Vec::from(thin), vec![Vec::<f64>::new(); 3]);

        // No `Copy` needed: the elements move.
        let words = Matrix::from(vec![vec![String::from("a")], vec![String::from("b")]]);
        assert_eq!(words[(1, 0)], "b");
    }

    #[test]
    #[should_panic(
        expected = "the rows of a matrix must have one length, but row 1 has 2 elements and row 0 has 3"
    )]
    fn ragged_rows_panic() {
        let _ = Matrix::from(vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0]]);
    }

    #[test]
    #[should_panic(expected = "but row 2 has 1 elements and row 0 has 2")]
    fn ragged_rows_panic_in_from_rows() {
        Matrix::from_rows(&[&[1.0, 2.0][..], &[3.0, 4.0], &[5.0]]);
    }

    #[test]
    fn iterates_over_rows_both_ways() {
        let m = two_by_three();
        let mut seen = Vec::new();
        for row in &m {
            seen.push(row.to_vec());
        }
        assert_eq!(seen, vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]);
        let mut rows = m.rows();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.next_back(), Some(&[4.0, 5.0, 6.0][..]));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows.next(), Some(&[1.0, 2.0, 3.0][..]));
        assert_eq!(rows.next(), None);
        assert_eq!(rows.next_back(), None);
        let sums: Vec<f64> = m.rows().map(|r| r.iter().sum()).collect();
        assert_eq!(sums, vec![6.0, 15.0]);

        // Rows of no columns are still rows.
        let thin = Matrix::<f64>::from(vec![vec![], vec![]]);
        assert_eq!(thin.rows().collect::<Vec<_>>(), vec![&[] as &[f64]; 2]);
    }

    #[test]
    fn displays_one_row_a_line_with_aligned_columns() {
        let m = Matrix::from(vec![vec![1.0, -2.5, 100.0], vec![0.25, 3.0, -4.0]]);
        assert_eq!(m.to_string(), "   1  -2.5  100\n0.25     3   -4");
        assert_eq!(
            format!("{m:.2}"),
            "1.00  -2.50  100.00\n0.25   3.00   -4.00"
        );
        assert_eq!(format!("{:.0}", Matrix::from(vec![vec![0.4_f32]])), "0");
        assert_eq!(Matrix::<f64>::from(vec![]).to_string(), "");
        assert_eq!(Matrix::from(vec![vec![1, 20]]).to_string(), "1  20");
    }

    #[cfg(feature = "nalgebra")]
    #[test]
    fn converts_to_and_from_nalgebra_keeping_elements_in_place() {
        let m = two_by_three();
        let d = nalgebra::DMatrix::from(m.clone());
        assert_eq!(d.shape(), (2, 3));
        assert_eq!(d[(0, 2)], 3.0);
        assert_eq!(d[(1, 0)], 4.0);
        assert_eq!(Matrix::from(d), m);
        let col_major = nalgebra::DMatrix::from_column_slice(2, 3, &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(Matrix::from(col_major), m);
        let empty = nalgebra::DMatrix::<f64>::zeros(0, 3);
        let e = Matrix::from(empty);
        assert_eq!((e.nrows(), e.ncols()), (0, 3));
    }

    #[cfg(feature = "ndarray")]
    #[test]
    fn converts_to_and_from_ndarray_keeping_elements_in_place() {
        let m = two_by_three();
        let a = ndarray::Array2::from(m.clone());
        assert_eq!(a.dim(), (2, 3));
        assert_eq!(a[[0, 2]], 3.0);
        assert_eq!(a[[1, 0]], 4.0);
        assert_eq!(Matrix::from(a.clone()), m);
        // A column-major array gives the same matrix.
        let f = a.t().to_owned().reversed_axes();
        assert_eq!(Matrix::from(f), m);
        let transposed = a.reversed_axes();
        assert_eq!(
            Matrix::from(transposed),
            Matrix::from(vec![vec![1.0, 4.0], vec![2.0, 5.0], vec![3.0, 6.0]])
        );
    }
}
