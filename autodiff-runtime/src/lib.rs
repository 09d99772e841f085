//! Runtime support for [`autodiff`](https://docs.rs/static-autodiff) (the
//! `static-autodiff` package): the array helpers (which `#[differentiate]`
//! knows the derivatives of), [`scan`],
//! [`stop_gradient`], the dense [`Matrix`] of dynamic Jacobians and
//! Hessians, the [`Pretty`] derivative printout, and finite-difference
//! checks of derivatives ([`check_grad`], [`check_jvp`], [`check_vjp`],
//! [`check_hessian`]).
//!
//! Everything public here is usable from plain code. Depend on the
//! `autodiff` facade rather than on this crate directly: it re-exports all
//! of it. What only generated code calls lives in the hidden `__private`
//! module, which is not API.

mod array;
mod check;
mod fill;
mod generated;
mod helpers;
mod matrix;
mod pretty;
mod rules;
mod scalar;
mod tangent;
mod vector;

#[cfg(feature = "argmin")]
pub mod argmin;

pub use check::{check_grad, check_hessian, check_jvp, check_vjp, GradCheck};
pub use helpers::{
    dot, log_softmax, logsumexp, matmul, matvec, mean, norm, outer, scan, scan_n, sigmoid, softmax,
    softplus, stop_gradient, sum, transpose, vecmat,
};
pub use matrix::{Matrix, Rows};
pub use pretty::{Pretty, PrettyEntry};
pub use tangent::Tangent;

/// The `num-traits` crate, for `T: Float` bounds.
pub use num_traits;

/// Not public API: what generated code calls, by absolute path through the
/// facade's own `__private` (which re-exports this module whole). May
/// change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::array::{
        filled, filler, retape, retape_grid, retape_rows, retape_slots, tape, tape_copy, tape_grid,
        tape_row, tape_rows, tape_slots, zeros_like, AddAssign, Bound, Filler, Owned, SumAll,
        TapeGrid, TapeRows, Zeros, ZerosLike,
    };
    pub use crate::fill::{ArrayFill, Fill, FillLike, VecFill};
    pub use crate::generated::{
        bare_helper_name_calls_the_helper, check_len, Cotangent, GradientNeedsScalarOutput,
        HessianNeedsScalarOutput, NeedsHessianOption, NoJacobianOfRows,
        ThirdDerivativesNotGenerated,
    };
    // The traits in the helpers' bounds: public so that the helpers are,
    // never called by name.
    pub use crate::helpers::{Elementwise, ZerosOuter, ZerosProduct, ZerosRows};
    // Scalar `sigmoid` and `softplus` are the helpers on a float.
    pub use crate::helpers::{sigmoid, softplus};
    pub use crate::matrix::Matrix;
    pub use crate::pretty::{Pretty, PrettyEntry};
    pub use crate::scalar::{cast, lit, max_first, min_first, sign0};
    pub use crate::tangent::{differentiated, tangent_or_zeros, Tangent};
    pub use crate::vector::{DynMatrixParam, MatrixParam, VectorOut, VectorParam};
    /// The owned types of an `ArrayView1`'s and an `ArrayView2`'s
    /// gradients.
    #[cfg(feature = "ndarray")]
    pub use ndarray::{Array1, Array2};

    /// The array helpers, by name: what a bare call must be (see
    /// [`bare_helper_name_calls_the_helper`]).
    pub mod helpers {
        pub use crate::helpers::{
            dot, log_softmax, logsumexp, matmul, matvec, mean, norm, outer, sigmoid, softmax,
            softplus, sum, transpose, vecmat,
        };
    }

    /// Derivative rules for the array helpers: the JVP and VJP kernels
    /// generated code calls for `sum`, `dot`, `matvec`, `softmax`, ...
    pub mod rules {
        pub use crate::rules::*;
    }
}
