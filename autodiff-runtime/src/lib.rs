//! Runtime support for [`autodiff`](https://docs.rs/autodiff): the small
//! scalar helpers generated code calls, the [`Pretty`] derivative printout,
//! and [`check_grad`], a finite-difference gradient check.
//!
//! Everything here is usable from plain code too. Depend on the `autodiff`
//! facade rather than on this crate directly.

mod array;
mod check;
mod fill;
mod helpers;
mod matrix;
mod pretty;
/// Derivative rules for the array helpers: the JVP and VJP kernels generated
/// code calls for `sum`, `dot`, `matvec`, `softmax`, ...
pub mod rules;
mod scalar;

pub use array::{filled, tape, zeros_like, AddAssign, Owned, SumAll, Zeros, ZerosLike};
pub use check::{check_grad, GradCheck};
pub use fill::{ArrayFill, Fill, FillLike, VecFill};
pub use helpers::*;
pub use matrix::Matrix;
pub use pretty::{Pretty, PrettyEntry};
pub use scalar::{cast, lit, max_first, min_first, sign0};

/// The `num-traits` crate, for `T: Float` bounds.
pub use num_traits;

/// Marker for companions that exist only to explain why they cannot be
/// used: it is implemented for no type, so calling `f_grad` on a function
/// with a tuple output fails to compile with the message below.
#[diagnostic::on_unimplemented(
    message = "a gradient needs a scalar output, and this function returns a tuple",
    label = "this function's output is not a scalar",
    note = "call the `_jacobian` companion for every partial derivative, or `_vjp` with a cotangent `out_bar` to weight the outputs"
)]
pub trait GradientNeedsScalarOutput {}
