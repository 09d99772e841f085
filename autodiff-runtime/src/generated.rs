//! Support only generated code uses: run-time length checks of companion
//! arguments, and the marker trait behind a compile error.

/// Checks the length of a slice argument of a companion (a tangent, a
/// cotangent, an out-parameter) against the length it must have.
///
/// # Panics
///
/// If `got != expected`, with the message
///
/// ```text
/// {companion}: `{arg}` has length {got} but must have length {expected}
/// ```
///
/// for example ``f_jvp: `x_dot` has length 2 but must have length 3``: the
/// companion, the argument, the length it has, then the length it must
/// have. The panic location is the caller's (`#[track_caller]`).
#[track_caller]
#[inline]
pub fn check_len(companion: &'static str, arg: &'static str, expected: usize, got: usize) {
    if got != expected {
        length_mismatch(companion, arg, expected, got);
    }
}

/// The panic of [`check_len`], out of line so that the check inlines to a
/// comparison and a call.
#[cold]
#[inline(never)]
#[track_caller]
fn length_mismatch(companion: &str, arg: &str, expected: usize, got: usize) -> ! {
    panic!("{companion}: `{arg}` has length {got} but must have length {expected}")
}

/// Marker for companions that exist only to explain why they cannot be
/// used: it is implemented for no type, so calling `f_grad` on a function
/// with a tuple output fails to compile with the message below.
#[diagnostic::on_unimplemented(
    message = "a gradient needs a scalar output, and this function returns a tuple",
    label = "this function's output is not a scalar",
    note = "call the `_jacobian` companion for every partial derivative, or `_vjp` with a cotangent `out_bar` to weight the outputs"
)]
pub trait GradientNeedsScalarOutput {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_lengths_pass() {
        check_len("f_jvp", "x_dot", 3, 3);
        check_len("f_vjp", "out_bar", 0, 0);
    }

    #[test]
    #[should_panic(expected = "f_jvp: `x_dot` has length 2 but must have length 3")]
    fn a_short_tangent_panics_naming_companion_argument_and_lengths() {
        check_len("f_jvp", "x_dot", 3, 2);
    }

    #[test]
    #[should_panic(expected = "g_vjp: `out_bar` has length 5 but must have length 0")]
    fn a_long_cotangent_panics() {
        check_len("g_vjp", "out_bar", 0, 5);
    }
}
