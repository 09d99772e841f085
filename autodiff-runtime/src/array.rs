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

impl<T: Zero> ZerosLike for Vec<T> {
    type Out = Vec<T>;
    #[inline]
    fn zeros_like(&self) -> Vec<T> {
        vec![T::ZERO; self.len()]
    }
}

/// An owned copy of an array or slice, to update in place: `[T; N]` gives
/// itself, `[T]` and `Vec<T>` give a `Vec<T>`.
pub trait Owned {
    /// The owned type.
    type Out;
    /// The copy.
    fn owned(&self) -> Self::Out;
}

impl<T: Copy, const N: usize> Owned for [T; N] {
    type Out = [T; N];
    #[inline]
    fn owned(&self) -> [T; N] {
        *self
    }
}

impl<T: Copy> Owned for [T] {
    type Out = Vec<T>;
    #[inline]
    fn owned(&self) -> Vec<T> {
        self.to_vec()
    }
}

impl<T: Copy> Owned for Vec<T> {
    type Out = Vec<T>;
    #[inline]
    fn owned(&self) -> Vec<T> {
        self.clone()
    }
}

impl<A: Owned + ?Sized> Owned for &A {
    type Out = A::Out;
    #[inline]
    fn owned(&self) -> A::Out {
        (**self).owned()
    }
}

/// The sum of every element of a float array of rank 1 or 2.
pub trait SumAll<T> {
    /// The sum.
    fn sum_all(&self) -> T;
}

impl<T: num_traits::Float> SumAll<T> for [T] {
    #[inline]
    fn sum_all(&self) -> T {
        self.iter().fold(T::zero(), |a, &b| a + b)
    }
}

impl<T: num_traits::Float, const N: usize> SumAll<T> for [T; N] {
    #[inline]
    fn sum_all(&self) -> T {
        self[..].sum_all()
    }
}

impl<T: num_traits::Float, const C: usize> SumAll<T> for [[T; C]] {
    #[inline]
    fn sum_all(&self) -> T {
        self.iter().fold(T::zero(), |a, row| a + row.sum_all())
    }
}

impl<T: num_traits::Float, const C: usize, const R: usize> SumAll<T> for [[T; C]; R] {
    #[inline]
    fn sum_all(&self) -> T {
        self[..].sum_all()
    }
}

impl<T: num_traits::Float> SumAll<T> for Vec<T> {
    #[inline]
    fn sum_all(&self) -> T {
        self[..].sum_all()
    }
}

/// `self += other`, elementwise (adjoints of copies of arrays join).
pub trait AddAssign<Rhs: ?Sized = Self> {
    /// Adds `other` elementwise.
    fn add_assign(&mut self, other: &Rhs);
}

impl AddAssign for f64 {
    #[inline]
    fn add_assign(&mut self, other: &f64) {
        *self += *other;
    }
}

impl AddAssign for f32 {
    #[inline]
    fn add_assign(&mut self, other: &f32) {
        *self += *other;
    }
}

impl<T: AddAssign, R: AsRef<[T]> + ?Sized> AddAssign<R> for [T] {
    #[inline]
    fn add_assign(&mut self, other: &R) {
        for (a, b) in self.iter_mut().zip(other.as_ref()) {
            a.add_assign(b);
        }
    }
}

impl<T: AddAssign, R: AsRef<[T]> + ?Sized, const N: usize> AddAssign<R> for [T; N] {
    #[inline]
    fn add_assign(&mut self, other: &R) {
        self[..].add_assign(other);
    }
}

impl<T: AddAssign, R: AsRef<[T]> + ?Sized> AddAssign<R> for Vec<T> {
    #[inline]
    fn add_assign(&mut self, other: &R) {
        self[..].add_assign(other);
    }
}

/// `vec![v; n]`.
#[inline]
pub fn filled<T: Clone>(v: T, n: usize) -> Vec<T> {
    vec![v; n]
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
    fn owned_copies_and_sums() {
        let s: &[f64] = &[1.0, 2.0];
        assert_eq!(Owned::owned(&s), vec![1.0, 2.0]);
        assert_eq!(Owned::owned(&[1.0_f32; 2]), [1.0, 1.0]);
        assert_eq!(SumAll::sum_all(&[[1.0, 2.0], [3.0, 4.0_f64]]), 10.0);
        assert_eq!(SumAll::sum_all(&vec![0.5_f64; 4]), 2.0);
        assert_eq!(filled(0.0_f64, 3), vec![0.0; 3]);
        let mut m = [[1.0_f64, 2.0], [3.0, 4.0]];
        AddAssign::add_assign(&mut m, &[[1.0, 1.0], [1.0, 1.0]]);
        assert_eq!(m, [[2.0, 3.0], [4.0, 5.0]]);
        let mut a = [1.0_f64, 2.0];
        AddAssign::add_assign(&mut a, &vec![0.5, 0.5]);
        assert_eq!(a, [1.5, 2.5]);
    }

    #[test]
    fn tapes_reserve_the_trip_count() {
        let t: Vec<f64> = tape(3, 10);
        assert!(t.capacity() >= 7 && t.is_empty());
        let empty: Vec<f64> = tape(5, 2);
        assert!(empty.is_empty());
    }
}
