//! Array support for generated code: zero accumulators shaped like a
//! parameter, and loop tapes.

/// A float element, or a fixed array of them: something with a zero.
pub trait Zero: Copy {
    /// The zero value (an array of zeros for arrays).
    const ZERO: Self;
}

impl Zero for f64 {
    const ZERO: Self = 0.0;
}

impl Zero for f32 {
    const ZERO: Self = 0.0;
}

impl<T: Zero, const N: usize> Zero for [T; N] {
    const ZERO: Self = [T::ZERO; N];
}

/// The gradient shape of an array parameter: `[T; N]` and `[[T; C]; R]`
/// give themselves, a slice `[T]` gives `Vec<T>`; references see through.
pub trait ZerosLike {
    /// The type of the zeros.
    type Out;
    /// Zeros shaped like `self`.
    fn zeros_like(&self) -> Self::Out;
}

impl<T: Zero, const N: usize> ZerosLike for [T; N] {
    type Out = [T; N];
    #[inline]
    fn zeros_like(&self) -> [T; N] {
        [T::ZERO; N]
    }
}

impl<T: Zero> ZerosLike for [T] {
    type Out = Vec<T>;
    #[inline]
    fn zeros_like(&self) -> Vec<T> {
        vec![T::ZERO; self.len()]
    }
}

impl<A: ZerosLike + ?Sized> ZerosLike for &A {
    type Out = A::Out;
    #[inline]
    fn zeros_like(&self) -> A::Out {
        (**self).zeros_like()
    }
}

/// An empty tape for a loop over `start..end`: one allocation per call,
/// sized to the trip count.
#[inline]
pub fn tape<T>(start: usize, end: usize) -> Vec<T> {
    Vec::with_capacity(end.saturating_sub(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_have_the_gradient_shape() {
        let a = [1.0_f64, 2.0, 3.0];
        assert_eq!(a.zeros_like(), [0.0; 3]);
        let m = [[1.0_f32; 2]; 3];
        assert_eq!(m.zeros_like(), [[0.0; 2]; 3]);
        let s: &[f64] = &[1.0, 2.0];
        assert_eq!(ZerosLike::zeros_like(&s), vec![0.0, 0.0]);
        let r: &[f64; 2] = &[1.0, 2.0];
        assert_eq!(ZerosLike::zeros_like(&r), [0.0, 0.0]);
    }

    #[test]
    fn tapes_reserve_the_trip_count() {
        let t: Vec<f64> = tape(3, 10);
        assert!(t.capacity() >= 7 && t.is_empty());
        let empty: Vec<f64> = tape(5, 2);
        assert!(empty.is_empty());
    }
}
