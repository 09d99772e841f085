//! [`Matrix`]: the dense row-major type of Jacobians whose size is known
//! only at run time (slices, `Vec` outputs).

use std::ops::Index;

/// A dense matrix stored row by row. Row `i` of a Jacobian is the
/// derivative of output `i`; column `j` is with respect to input `j`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

impl<T: Copy> Matrix<T> {
    /// A matrix from its rows, which must all have the same length.
    ///
    /// # Panics
    /// If the rows have different lengths.
    pub fn from_rows<R: AsRef<[T]>>(rows: &[R]) -> Self {
        let cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for r in rows {
            assert_eq!(
                r.as_ref().len(),
                cols,
                "rows of a matrix must have one length"
            );
            data.extend_from_slice(r.as_ref());
        }
        Matrix {
            rows: rows.len(),
            cols,
            data,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The elements, row after row.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }
}

impl<T> Index<(usize, usize)> for Matrix<T> {
    type Output = T;
    fn index(&self, (i, j): (usize, usize)) -> &T {
        assert!(j < self.cols, "column {j} out of range");
        &self.data[i * self.cols + j]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_elements() {
        let m = Matrix::from_rows(&[vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]);
        assert_eq!((m.rows(), m.cols()), (2, 3));
        assert_eq!(m[(1, 0)], 4.0);
        assert_eq!(m.row(0), &[1.0, 2.0, 3.0]);
        assert_eq!(m.as_slice().len(), 6);
        let empty: Matrix<f64> = Matrix::from_rows::<Vec<f64>>(&[]);
        assert_eq!((empty.rows(), empty.cols()), (0, 0));
    }
}
