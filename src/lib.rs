#![doc = include_str!("guide.md")]

/// Differentiates a numeric function at compile time: beside it, the
/// attribute emits its companions, plain Rust functions with the same
/// visibility and generics.
///
/// ```
/// use autodiff::differentiate;
///
/// #[differentiate(hessian)]
/// fn f(x: f64, y: [f64; 2]) -> f64 {
///     x * y[0] + (x * y[1]).sin()
/// }
///
/// // What `#[differentiate(hessian)]` emits for this `f` (generated code):
/// //   fn f_grad(x: f64, y: [f64; 2]) -> (f64, [f64; 2])
/// //   fn f_value_and_grad(x: f64, y: [f64; 2]) -> (f64, (f64, [f64; 2]))
/// //   fn f_jvp(x: f64, y: [f64; 2], x_dot: f64, y_dot: [f64; 2]) -> (f64, f64)
/// //   fn f_vjp(x: f64, y: [f64; 2], out_bar: f64) -> (f64, (f64, [f64; 2]))
/// //   fn f_jacobian(x: f64, y: [f64; 2]) -> (f64, [f64; 2])
/// //   fn f_hvp(x: f64, y: [f64; 2], x_dot: f64, y_dot: [f64; 2]) -> (f64, [f64; 2])
/// //   fn f_hessian(x: f64, y: [f64; 2]) -> autodiff::Matrix<f64>  // 3 × 3
/// //   fn f_pp() -> autodiff::Pretty
/// let (gx, gy): (f64, [f64; 2]) = f_grad(0.5, [2.0, 0.0]);
/// assert_eq!((gx, gy), (2.0, [0.5, 0.5]));
/// let (value, tangent) = f_jvp(0.5, [2.0, 0.0], 1.0, [0.0, 0.0]);
/// assert_eq!((value, tangent), (1.0, 2.0));
/// let h = f_hessian(0.5, [2.0, 0.0]);
/// assert_eq!(h[(0, 1)], 1.0);
/// ```
///
/// Options: `wrt(x, ..)` (the parameters to differentiate; by default every
/// float and float array), `hessian` (second-order companions),
/// `linearize` (`f_linearize` and `f_pullback`: closures giving J·v and
/// vᵀ·J at one point) and `crate = path` (where the facade is, for a
/// re-export). The crate
/// documentation is the full guide: which bodies are understood, every
/// companion's shapes, `&mut` and struct parameters, and the errors.
pub use autodiff_macros::differentiate;
/// Derives [`Tangent`](trait@Tangent) for a struct: see the trait, and the
/// guide's "Structs".
pub use autodiff_macros::Tangent;
pub use autodiff_runtime::{Matrix, Pretty, PrettyEntry, Rows, Tangent};

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
