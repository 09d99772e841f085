#![doc = include_str!("guide.md")]

pub use autodiff_macros::differentiate;
pub use autodiff_runtime::{Matrix, Pretty, PrettyEntry, Rows};

/// Finite-difference checks of derivatives (see the guide's "Checking a
/// gradient").
pub use autodiff_runtime::{check_grad, check_hessian, check_jvp, check_vjp, GradCheck};

/// Array helpers, usable in plain code; inside `#[differentiate]` they are
/// differentiated (see the guide's chapter on them).
pub use autodiff_runtime::{
    dot, log_softmax, logsumexp, matmul, matvec, mean, norm, outer, scan, scan_n, sigmoid, softmax,
    softplus, sum, transpose, vecmat,
};

/// The value of its argument with derivative 0 inside `#[differentiate]`.
pub use autodiff_runtime::stop_gradient;

/// The float trait of functions generic over their float type:
/// `fn f<T: autodiff::Float>(x: T) -> T` (it is `num_traits::Float`).
pub use autodiff_runtime::num_traits::Float;

/// The `num-traits` crate, re-exported so that `T: Float` bounds need no
/// dependency of their own.
pub use autodiff_runtime::num_traits;

/// A differentiated function as an argmin problem (feature `argmin`): see
/// the guide's "Using an optimizer (argmin)".
#[cfg(feature = "argmin")]
pub use autodiff_runtime::argmin;

/// Not public API: what generated code calls, as
/// `::autodiff::__private::name` (the runtime's own hidden `__private`,
/// whole). May change in any release.
#[doc(hidden)]
pub mod __private {
    pub use autodiff_runtime::__private::*;
}
