//! [`VectorParam`]: how generated code reads a vector parameter of
//! another crate's type (nalgebra's `DVector`, `SVector`; ndarray's
//! `Array1`, `ArrayView1`) as a slice, and gives its gradient back in the
//! parameter's own owned type. The implementations are behind the
//! features `nalgebra` and `ndarray`.

/// A vector parameter of a differentiated function: its elements as a
/// slice, and its owned type, which gradients come back in. Generated code
/// calls it by path; a user never needs to.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a vector type #[differentiate] reads",
    note = "static-autodiff reads nalgebra 0.33's DVector and SVector under its feature `nalgebra`, ndarray 0.16's Array1 and ArrayView1 under `ndarray`: enable the feature, and use those versions"
)]
pub trait VectorParam {
    /// The element type (`f64`, `f32`, `T`).
    type Elem;
    /// The owned type of gradients: `DVector<T>` for `DVector<T>`,
    /// `Array1<T>` for `ArrayView1<'_, T>`.
    type Owned;

    /// The elements, in order.
    ///
    /// # Panics
    ///
    /// If the elements are not contiguous in memory (a strided or reversed
    /// ndarray view): the message names the cause and what to pass.
    fn elems(&self) -> &[Self::Elem];

    /// The owned vector holding `v`; `like` fixes the type (and, for a
    /// vector of fixed length, checks `v`'s length).
    fn owned_from(like: &Self, v: Vec<Self::Elem>) -> Self::Owned;
}

impl<V: VectorParam + ?Sized> VectorParam for &V {
    type Elem = V::Elem;
    type Owned = V::Owned;

    #[track_caller]
    fn elems(&self) -> &[V::Elem] {
        (**self).elems()
    }

    #[track_caller]
    fn owned_from(like: &Self, v: Vec<V::Elem>) -> V::Owned {
        V::owned_from(like, v)
    }
}

/// A vector output of a differentiated function (`DVector<T>`,
/// `Array1<T>`): built from the elements the companions compute.
/// Generated code calls it by path.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a vector output #[differentiate] builds",
    note = "static-autodiff builds nalgebra 0.33's DVector under its feature `nalgebra`, ndarray 0.16's Array1 under `ndarray`: enable the feature, and use those versions"
)]
pub trait VectorOut {
    /// The element type.
    type Elem;

    /// The vector of the elements `v`, in order.
    fn from_elems(v: Vec<Self::Elem>) -> Self;
}

/// A matrix parameter of fixed shape (nalgebra's `SMatrix<T, R, C>`): its
/// rows as an array `[[T; C]; R]`, the pipeline's matrix, and its owned
/// type, which gradients come back in. Generated code calls it by path.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a matrix type #[differentiate] reads",
    note = "static-autodiff reads nalgebra 0.33's SMatrix under its feature `nalgebra`: enable the feature, and use that version"
)]
pub trait MatrixParam {
    /// The rows, `[[T; C]; R]`.
    type Rows;
    /// The owned type of gradients.
    type Owned;

    /// The rows, copied out of the matrix's storage (nalgebra's is
    /// column-major).
    fn rows(&self) -> Self::Rows;

    /// The owned matrix whose rows are `rows`; `like` fixes the type.
    fn owned_from(like: &Self, rows: Self::Rows) -> Self::Owned;
}

impl<M: MatrixParam + ?Sized> MatrixParam for &M {
    type Rows = M::Rows;
    type Owned = M::Owned;

    fn rows(&self) -> M::Rows {
        (**self).rows()
    }

    fn owned_from(like: &Self, rows: M::Rows) -> M::Owned {
        M::owned_from(like, rows)
    }
}

/// A matrix parameter of run-time shape (nalgebra's `DMatrix`, ndarray's
/// `Array2` and `ArrayView2`): its elements as one slice in its storage
/// order (nalgebra's column after column, ndarray's row after row), its
/// shape, and its owned type, which gradients come back in. Generated code
/// calls it by path, and indexes the slice in that order.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a matrix type #[differentiate] reads",
    note = "static-autodiff reads nalgebra 0.33's DMatrix under its feature `nalgebra`, ndarray 0.16's Array2 and ArrayView2 under `ndarray`: enable the feature, and use those versions"
)]
pub trait DynMatrixParam {
    /// The element type.
    type Elem;
    /// The owned type of gradients.
    type Owned;

    /// The elements in storage order.
    ///
    /// # Panics
    ///
    /// If an ndarray's elements are not contiguous in row order (a
    /// transposed or strided view): the message says what to pass.
    fn flat(&self) -> &[Self::Elem];

    /// The number of rows.
    fn nrows(&self) -> usize;

    /// The number of columns.
    fn ncols(&self) -> usize;

    /// The owned matrix of `like`'s shape holding `v` in storage order.
    fn owned_from(like: &Self, v: Vec<Self::Elem>) -> Self::Owned;
}

impl<M: DynMatrixParam + ?Sized> DynMatrixParam for &M {
    type Elem = M::Elem;
    type Owned = M::Owned;

    #[track_caller]
    fn flat(&self) -> &[M::Elem] {
        (**self).flat()
    }

    fn nrows(&self) -> usize {
        (**self).nrows()
    }

    fn ncols(&self) -> usize {
        (**self).ncols()
    }

    fn owned_from(like: &Self, v: Vec<M::Elem>) -> M::Owned {
        M::owned_from(like, v)
    }
}

/// No `Scalar` bound: a function generic over `T: Float` takes vectors of
/// `T` (the storage is built directly).
#[cfg(feature = "nalgebra")]
mod with_nalgebra {
    use super::{MatrixParam, VectorParam};
    use nalgebra::{ArrayStorage, DMatrix, DVector, Dyn, SMatrix, SVector, VecStorage, U1};

    impl<T: Clone, const R: usize, const C: usize> MatrixParam for SMatrix<T, R, C> {
        type Rows = [[T; C]; R];
        type Owned = SMatrix<T, R, C>;

        fn rows(&self) -> [[T; C]; R] {
            std::array::from_fn(|i| std::array::from_fn(|j| self[(i, j)].clone()))
        }

        fn owned_from(_: &Self, rows: [[T; C]; R]) -> SMatrix<T, R, C> {
            // nalgebra's storage is column after column.
            let columns = std::array::from_fn(|j| std::array::from_fn(|i| rows[i][j].clone()));
            SMatrix::from_data(ArrayStorage(columns))
        }
    }

    impl<T> super::DynMatrixParam for DMatrix<T> {
        type Elem = T;
        type Owned = DMatrix<T>;

        fn flat(&self) -> &[T] {
            self.as_slice()
        }

        fn nrows(&self) -> usize {
            self.nrows()
        }

        fn ncols(&self) -> usize {
            self.ncols()
        }

        fn owned_from(like: &Self, v: Vec<T>) -> DMatrix<T> {
            DMatrix::from_data(VecStorage::new(Dyn(like.nrows()), Dyn(like.ncols()), v))
        }
    }

    impl<T> super::VectorOut for DVector<T> {
        type Elem = T;

        fn from_elems(v: Vec<T>) -> DVector<T> {
            DVector::from_data(VecStorage::new(Dyn(v.len()), U1, v))
        }
    }

    impl<T> VectorParam for DVector<T> {
        type Elem = T;
        type Owned = DVector<T>;

        fn elems(&self) -> &[T] {
            self.as_slice()
        }

        fn owned_from(_: &Self, v: Vec<T>) -> DVector<T> {
            DVector::from_data(VecStorage::new(Dyn(v.len()), U1, v))
        }
    }

    impl<T, const N: usize> VectorParam for SVector<T, N> {
        type Elem = T;
        type Owned = SVector<T, N>;

        fn elems(&self) -> &[T] {
            self.as_slice()
        }

        #[track_caller]
        fn owned_from(_: &Self, v: Vec<T>) -> SVector<T, N> {
            let n = v.len();
            match <[T; N]>::try_from(v) {
                Ok(a) => SVector::from_data(ArrayStorage([a])),
                Err(_) => panic!("a gradient of {n} elements for an SVector of {N}"),
            }
        }
    }
}

#[cfg(feature = "ndarray")]
mod with_ndarray {
    use super::VectorParam;
    use ndarray::{Array1, Array2, ArrayView1};

    /// The elements of a one-dimensional array, or a panic that says why
    /// there are none to borrow.
    #[track_caller]
    fn contiguous<'a, T>(s: Option<&'a [T]>, what: &str) -> &'a [T] {
        match s {
            Some(s) => s,
            None => panic!(
                "#[differentiate] reads an {what} parameter as a slice, and this one's elements are not contiguous in memory (a strided or reversed view, like `a.slice(s![..;2])`): pass `x.to_owned()`, or a view of contiguous elements"
            ),
        }
    }

    /// The elements of a two-dimensional array in row order, or a panic
    /// that says why there are none to borrow.
    #[track_caller]
    fn rows_in_order<'a, T>(s: Option<&'a [T]>, what: &str) -> &'a [T] {
        match s {
            Some(s) => s,
            None => panic!(
                "#[differentiate] reads an {what} parameter as its elements row after row, and this one's are not contiguous in that order (a transposed or strided view, like `a.t()`): pass `a.as_standard_layout()`, or `a.to_owned()`"
            ),
        }
    }

    /// Every two-dimensional array: owned (`Array2`), viewed
    /// (`ArrayView2`) or shared.
    impl<S: ndarray::Data> super::DynMatrixParam for ndarray::ArrayBase<S, ndarray::Ix2> {
        type Elem = S::Elem;
        type Owned = Array2<S::Elem>;

        #[track_caller]
        fn flat(&self) -> &[S::Elem] {
            rows_in_order(self.as_slice(), "Array2")
        }

        fn nrows(&self) -> usize {
            self.nrows()
        }

        fn ncols(&self) -> usize {
            self.ncols()
        }

        fn owned_from(like: &Self, v: Vec<S::Elem>) -> Array2<S::Elem> {
            owned2(like.dim(), v)
        }
    }

    /// The array of shape `dim` holding `v` row after row (`v` has that
    /// many elements: the gradient of a matrix of that shape).
    #[track_caller]
    fn owned2<T>(dim: (usize, usize), v: Vec<T>) -> Array2<T> {
        let n = v.len();
        match Array2::from_shape_vec(dim, v) {
            Ok(a) => a,
            Err(_) => panic!("a gradient of {n} elements for an array of shape {dim:?}"),
        }
    }

    impl<T> super::VectorOut for Array1<T> {
        type Elem = T;

        fn from_elems(v: Vec<T>) -> Array1<T> {
            Array1::from(v)
        }
    }

    impl<T> VectorParam for Array1<T> {
        type Elem = T;
        type Owned = Array1<T>;

        #[track_caller]
        fn elems(&self) -> &[T] {
            contiguous(self.as_slice(), "Array1")
        }

        fn owned_from(_: &Self, v: Vec<T>) -> Array1<T> {
            Array1::from(v)
        }
    }

    impl<T> VectorParam for ArrayView1<'_, T> {
        type Elem = T;
        type Owned = Array1<T>;

        #[track_caller]
        fn elems(&self) -> &[T] {
            contiguous(self.as_slice(), "ArrayView1")
        }

        fn owned_from(_: &Self, v: Vec<T>) -> Array1<T> {
            Array1::from(v)
        }
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use super::VectorParam;

    #[cfg(feature = "nalgebra")]
    #[test]
    fn nalgebra_vectors_are_slices_and_come_back_owned() {
        use nalgebra::{DVector, SVector};
        let d = DVector::from_vec(vec![1.0, 2.0, 3.0]);
        assert_eq!(VectorParam::elems(&&d), &[1.0, 2.0, 3.0]);
        let g: DVector<f64> = VectorParam::owned_from(&&d, vec![4.0, 5.0, 6.0]);
        assert_eq!(g, DVector::from_vec(vec![4.0, 5.0, 6.0]));
        let s = SVector::<f32, 2>::new(1.0, 2.0);
        assert_eq!(s.elems(), &[1.0, 2.0]);
        let g: SVector<f32, 2> = VectorParam::owned_from(&s, vec![3.0, 4.0]);
        assert_eq!(g, SVector::<f32, 2>::new(3.0, 4.0));
    }

    #[cfg(feature = "nalgebra")]
    #[test]
    fn smatrices_are_rows_and_come_back_owned() {
        use super::MatrixParam;
        let m = nalgebra::Matrix2x3::new(1.0, 2.0, 3.0, 4.0, 5.0, 6.0);
        assert_eq!(MatrixParam::rows(&&m), [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        let back = MatrixParam::owned_from(&m, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        assert_eq!(back, m);
    }

    #[cfg(feature = "nalgebra")]
    #[test]
    #[should_panic(expected = "a gradient of 1 elements for an SVector of 2")]
    fn an_svector_of_the_wrong_length_panics() {
        let s = nalgebra::SVector::<f64, 2>::zeros();
        VectorParam::owned_from(&s, vec![1.0]);
    }

    #[cfg(feature = "ndarray")]
    #[test]
    fn ndarray_vectors_are_slices_and_come_back_owned() {
        use ndarray::{array, Array1};
        let a = array![1.0, 2.0, 3.0];
        assert_eq!(a.elems(), &[1.0, 2.0, 3.0]);
        let v = a.view();
        assert_eq!(VectorParam::elems(&&v), &[1.0, 2.0, 3.0]);
        let g: Array1<f64> = VectorParam::owned_from(&v, vec![0.5, 1.5, 2.5]);
        assert_eq!(g, array![0.5, 1.5, 2.5]);
        // A contiguous part of a longer array is a slice too.
        let part = a.slice_axis(ndarray::Axis(0), ndarray::Slice::from(1..));
        assert_eq!(part.elems(), &[2.0, 3.0]);
    }

    #[cfg(feature = "ndarray")]
    #[test]
    #[should_panic(expected = "this one's elements are not contiguous in memory")]
    fn a_strided_view_panics_naming_the_cause() {
        let a = ndarray::array![1.0, 2.0, 3.0, 4.0];
        let every_other = a.slice_axis(ndarray::Axis(0), ndarray::Slice::new(0, None, 2));
        every_other.elems();
    }
}
