//! Support only generated code uses: the marker trait behind a compile
//! error.

/// Marker for companions that exist only to explain why they cannot be
/// used: it is implemented for no type, so calling `f_grad` on a function
/// with a tuple output fails to compile with the message below.
#[diagnostic::on_unimplemented(
    message = "a gradient needs a scalar output, and this function returns a tuple",
    label = "this function's output is not a scalar",
    note = "call the `_jacobian` companion for every partial derivative, or `_vjp` with a cotangent `out_bar` to weight the outputs"
)]
pub trait GradientNeedsScalarOutput {}
