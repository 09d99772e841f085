//! Scalar helpers the generated code calls by absolute path.

use num_traits::Float;

/// `x.signum()`, but 0 at ±0: the derivative of `abs` (0 at 0, as JAX).
#[inline]
pub fn sign0<T: Float>(x: T) -> T {
    if x == T::zero() {
        T::zero()
    } else {
        x.signum()
    }
}

/// `ln(1 + exp(x))`, without overflow for large `x` or loss for very
/// negative `x`.
#[inline]
pub fn softplus<T: Float>(x: T) -> T {
    if x > T::zero() {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// The logistic function `1 / (1 + exp(-x))`, without overflow.
#[inline]
pub fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// Does `a.max(b)` take `a`? Ties (and a NaN `b`) take the first argument.
#[inline]
pub fn max_first<T: Float>(a: T, b: T) -> bool {
    a >= b || b.is_nan()
}

/// Does `a.min(b)` take `a`? Ties (and a NaN `b`) take the first argument.
#[inline]
pub fn min_first<T: Float>(a: T, b: T) -> bool {
    a <= b || b.is_nan()
}

/// The constant `v` as a `T` (literals in a function generic over
/// `T: Float`). NaN if `T` cannot hold it, which no float type refuses.
#[inline]
pub fn lit<T: Float>(v: f64) -> T {
    T::from(v).unwrap_or_else(T::nan)
}

/// The integer `n` as a `T` (NaN if it does not fit).
#[inline]
pub fn cast<T: Float, N: num_traits::ToPrimitive>(n: N) -> T {
    T::from(n).unwrap_or_else(T::nan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_and_sigmoid_are_stable_at_the_extremes() {
        assert_eq!(softplus(800.0_f64), 800.0);
        assert!(softplus(-800.0_f64) >= 0.0 && softplus(-800.0_f64) < 1e-300);
        assert!((softplus(0.0_f64) - 2.0_f64.ln()).abs() < 1e-15);
        assert_eq!(sigmoid(-800.0_f64), 0.0);
        assert_eq!(sigmoid(800.0_f64), 1.0);
        assert!((sigmoid(1.0_f64) - 1.0 / (1.0 + (-1.0_f64).exp())).abs() < 1e-16);
    }

    #[test]
    fn sign0_is_zero_at_zero() {
        assert_eq!(sign0(0.0_f64), 0.0);
        assert_eq!(sign0(-0.0_f64), 0.0);
        assert_eq!(sign0(-3.0_f32), -1.0);
        assert!(sign0(f64::NAN).is_nan());
    }

    #[test]
    fn ties_pick_the_first_argument() {
        assert!(max_first(1.0, 1.0) && min_first(1.0, 1.0));
        assert!(!max_first(1.0, 2.0) && min_first(1.0, 2.0));
        assert!(max_first(1.0, f64::NAN) && !max_first(f64::NAN, 1.0));
    }

    #[test]
    fn literals_and_casts_convert() {
        assert_eq!(lit::<f32>(0.1), 0.1_f32);
        assert_eq!(lit::<f64>(-2.5), -2.5);
        assert_eq!(cast::<f32, _>(7_i32), 7.0);
        assert_eq!(cast::<f64, _>(3_usize), 3.0);
    }
}
