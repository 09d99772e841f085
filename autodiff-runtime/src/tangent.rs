//! [`Tangent`]: the types whose values `#[differentiate]` differentiates
//! field by field (JAX's pytrees): floats, arrays and `Vec`s of them, and
//! structs that derive it.

/// A type whose values are differentiated field by field: its tangent,
/// cotangent and gradient are values of the same type.
///
/// Implemented for `f32`, `f64`, `[T; N]` and `Vec<T>` of such types, and
/// derived for structs with `#[derive(autodiff::Tangent)]`:
///
/// ```
/// use autodiff::{differentiate, Tangent};
///
/// #[derive(Clone, Tangent)]
/// struct Line {
///     slope: f64,
///     offset: f64,
///     #[tangent(skip)]
///     label: String,
/// }
///
/// #[differentiate(wrt(line))]
/// fn loss(line: &Line, x: &[f64], y: &[f64]) -> f64 {
///     let mut s = 0.0;
///     for i in 0..x.len() {
///         let r = line.slope * x[i] + line.offset - y[i];
///         s += r * r;
///     }
///     s
/// }
///
/// let line = Line { slope: 2.0, offset: 0.5, label: "fit".into() };
/// let g: Line = loss_grad(&line, &[1.0, 2.0], &[2.0, 4.0]);
/// assert_eq!((g.slope, g.offset), (2.0 * 0.5 + 4.0 * 0.5, 2.0 * 0.5 + 2.0 * 0.5));
/// assert_eq!(g.label, ""); // skipped: `Default::default()`
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not differentiable: add `#[derive(autodiff::Tangent)]` to its definition",
    note = "a parameter named in `wrt(...)` must be a float, an array or slice of floats, or a struct that derives `autodiff::Tangent`"
)]
pub trait Tangent: Sized {
    /// A value of the same shape with every differentiated float 0 (and
    /// every `#[tangent(skip)]` field `Default::default()`).
    fn zero_tangent(&self) -> Self;

    /// Is the field `name` differentiated (not marked `#[tangent(skip)]`)?
    /// `true` for types without fields.
    fn differentiated(name: &str) -> bool {
        let _ = name;
        true
    }
}

impl Tangent for f64 {
    fn zero_tangent(&self) -> Self {
        0.0
    }
}

impl Tangent for f32 {
    fn zero_tangent(&self) -> Self {
        0.0
    }
}

impl<T: Tangent, const N: usize> Tangent for [T; N] {
    fn zero_tangent(&self) -> Self {
        core::array::from_fn(|i| self[i].zero_tangent())
    }
}

impl<T: Tangent> Tangent for Vec<T> {
    fn zero_tangent(&self) -> Self {
        self.iter().map(Tangent::zero_tangent).collect()
    }
}

/// Is `field` of `value`'s type differentiated? (Generated code asks a
/// value, as it cannot name a nested field's type.)
#[doc(hidden)]
pub fn differentiated<S: Tangent>(_value: &S, field: &str) -> bool {
    S::differentiated(field)
}

/// A tangent slice, or zeros of its shape where the field is not
/// differentiated (floats, or rows `[T; C]` of a field indexed twice).
#[doc(hidden)]
pub fn tangent_or_zeros<T: Tangent + Clone>(
    differentiated: bool,
    tangent: &[T],
) -> std::borrow::Cow<'_, [T]> {
    if differentiated {
        std::borrow::Cow::Borrowed(tangent)
    } else {
        std::borrow::Cow::Owned(tangent.iter().map(Tangent::zero_tangent).collect())
    }
}
