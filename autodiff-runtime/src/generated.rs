//! Support only generated code uses: run-time length checks of companion
//! arguments, the conversion of a cotangent to the form a callee takes, and
//! the marker trait behind a compile error.

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

/// A cotangent passed to a callee's `_vjp` in the form its signature takes
/// (SPEC §3): by value for a fixed-size array output, as a slice for a
/// `Vec` output. The caller, which does not see the callee's signature,
/// writes `Cotangent::cotangent(&bar)` and the expected parameter type picks
/// the impl.
pub trait Cotangent<Out> {
    /// `self` as the callee's cotangent parameter.
    fn cotangent(self) -> Out;
}

impl<T: Copy, const N: usize> Cotangent<[T; N]> for &[T; N] {
    #[inline]
    fn cotangent(self) -> [T; N] {
        *self
    }
}

impl<'a, T, const N: usize> Cotangent<&'a [T]> for &'a [T; N] {
    #[inline]
    fn cotangent(self) -> &'a [T] {
        self
    }
}

impl<'a, T> Cotangent<&'a [T]> for &'a Vec<T> {
    #[inline]
    fn cotangent(self) -> &'a [T] {
        self
    }
}

impl<'a, T> Cotangent<&'a [T]> for &'a [T] {
    #[inline]
    fn cotangent(self) -> &'a [T] {
        self
    }
}

/// Marker for companions that exist only to explain why they cannot be
/// used: it is implemented for no type, so calling `f_grad` on a function
/// with a tuple output fails to compile with the message below.
#[diagnostic::on_unimplemented(
    message = "a gradient needs a scalar output, and this function returns an array or a tuple",
    label = "this function's output is not a scalar",
    note = "call the `_jacobian` companion for every partial derivative, or `_vjp` with a cotangent `out_bar` to weight the outputs"
)]
pub trait GradientNeedsScalarOutput {}

/// Marker for the `_hessian` and `_hvp` companions of a function that does
/// not return a scalar: implemented for no type, so calling them fails to
/// compile with the message below.
#[diagnostic::on_unimplemented(
    message = "a Hessian needs a scalar output, and this function returns an array or a tuple",
    label = "this function's output is not a scalar",
    note = "`_vjp_jvp` gives second derivatives along a cotangent and a tangent; a scalar function that calls this one has a Hessian"
)]
pub trait HessianNeedsScalarOutput {}

/// Marker for the second-order companions (`_vjp_jvp`, `_grad_jvp`,
/// `_grad_vjp`) of a function without the `hessian` option: a caller's
/// Hessian, or a call of `_grad` inside a differentiated function, needs
/// them, and the call fails to compile with the message below.
#[diagnostic::on_unimplemented(
    message = "this function is called where second derivatives are needed, and it has only first-order companions",
    label = "needs `#[differentiate(hessian)]` on the function called here",
    note = "put `#[differentiate(hessian)]` on the called function; a hand-written `_jvp`/`_vjp` pair needs a hand-written `_vjp_jvp(args.., out_bar, args_dot.., out_bar_dot) -> ((Out, G), (Out, G))` as well"
)]
pub trait NeedsHessianOption {}

/// Marker for `_grad_vjp_jvp`, the third derivatives a Hessian of a
/// function that calls `_grad` would need: not generated.
#[diagnostic::on_unimplemented(
    message = "third derivatives are not generated: a Hessian cannot go through a call of `_grad`",
    label = "a `_grad` call inside a function with `hessian`",
    note = "take the Hessian of the called function itself, or write the gradient out in the body"
)]
pub trait ThirdDerivativesNotGenerated {}

/// Marker for `_jacobian` and `_hessian` of a function whose struct
/// parameter has a field indexed twice (`p.w[i][j]`): their flattened
/// layout has no type the macro can name, and the call fails to compile
/// with the message below.
#[diagnostic::on_unimplemented(
    message = "`_jacobian` and `_hessian` are not generated for a struct field indexed twice (`p.w[i][j]`)",
    label = "a struct parameter with a field of rows",
    note = "`_grad`, `_vjp`, `_jvp` and `_hvp` give tangents and gradients as the struct itself; a Jacobian is `_vjp` with each basis cotangent"
)]
pub trait NoJacobianOfRows {}

/// `bare_helper_name_calls_the_helper(helper, name)` compiles only when
/// `name`, a bare call in a differentiated function, is the helper that
/// `#[differentiate]` reads it as (a function item has a type of its own):
/// a function of the user's with a helper's name fails to compile here,
/// at that call ("expected fn item `autodiff::norm`, found `norm`"),
/// rather than being differentiated as the helper. The fix: call it by a
/// path (`self::norm(..)`), which reads it through its own companions, or
/// rename it. Does nothing.
#[inline(always)]
pub fn bare_helper_name_calls_the_helper<H>(_helper: H, _called: H) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_value(bar: [f64; 2]) -> f64 {
        bar[0] + bar[1]
    }

    fn by_slice(bar: &[f64]) -> f64 {
        bar.iter().sum()
    }

    #[test]
    fn a_cotangent_takes_the_form_the_callee_names() {
        let (a, v) = ([1.0, 2.0], vec![3.0, 4.0]);
        assert_eq!(by_value(Cotangent::cotangent(&a)), 3.0);
        assert_eq!(by_slice(Cotangent::cotangent(&a)), 3.0);
        assert_eq!(by_slice(Cotangent::cotangent(&v)), 7.0);
    }

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
