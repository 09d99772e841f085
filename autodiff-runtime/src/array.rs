//! Array support for generated code: zero accumulators shaped like a
//! parameter, and loop tapes.

// Every trait here names the element type `T` as a trait parameter, so
// that the impls for rank 1 (`[T; N]`) and rank 2 (`[[T; C]; R]`) do not
// overlap, and every impl asks only `T: Float`: generated code for a
// function generic over `T: Float` can use them.

use num_traits::Float;

/// A fixed array of zeros: `[T; N]` or `[[T; C]; R]`.
pub trait Zeros<T> {
    /// The zeros.
    fn zeros() -> Self;
}

impl<T: Float, const N: usize> Zeros<T> for [T; N] {
    #[inline]
    fn zeros() -> Self {
        [T::zero(); N]
    }
}

impl<T: Float, const C: usize, const R: usize> Zeros<T> for [[T; C]; R] {
    #[inline]
    fn zeros() -> Self {
        [[T::zero(); C]; R]
    }
}

/// The gradient shape of an array parameter: `[T; N]` and `[[T; C]; R]`
/// give themselves, a slice `[T]` (or `Vec<T>`) gives `Vec<T>`;
/// references see through.
pub trait ZerosLike<T> {
    /// The type of the zeros.
    type Out;
    /// Zeros shaped like `self`.
    fn zeros_like(&self) -> Self::Out;
}

impl<T: Float, const N: usize> ZerosLike<T> for [T; N] {
    type Out = [T; N];
    #[inline]
    fn zeros_like(&self) -> [T; N] {
        Zeros::zeros()
    }
}

impl<T: Float, const C: usize, const R: usize> ZerosLike<T> for [[T; C]; R] {
    type Out = [[T; C]; R];
    #[inline]
    fn zeros_like(&self) -> [[T; C]; R] {
        Zeros::zeros()
    }
}

impl<T: Float> ZerosLike<T> for [T] {
    type Out = Vec<T>;
    #[inline]
    fn zeros_like(&self) -> Vec<T> {
        vec![T::zero(); self.len()]
    }
}

impl<T: Float, const C: usize> ZerosLike<T> for [[T; C]] {
    type Out = Vec<[T; C]>;
    #[inline]
    fn zeros_like(&self) -> Vec<[T; C]> {
        vec![Zeros::zeros(); self.len()]
    }
}

impl<T: Float> ZerosLike<T> for Vec<T> {
    type Out = Vec<T>;
    #[inline]
    fn zeros_like(&self) -> Vec<T> {
        self[..].zeros_like()
    }
}

impl<T: Float, const C: usize> ZerosLike<T> for Vec<[T; C]> {
    type Out = Vec<[T; C]>;
    #[inline]
    fn zeros_like(&self) -> Vec<[T; C]> {
        self[..].zeros_like()
    }
}

impl<T, A: ZerosLike<T> + ?Sized> ZerosLike<T> for &A {
    type Out = A::Out;
    #[inline]
    fn zeros_like(&self) -> A::Out {
        (**self).zeros_like()
    }
}

/// Zeros shaped like `a` (see [`ZerosLike`]): the buffer of `a.map(..)`
/// in generated code.
#[inline]
pub fn zeros_like<T, A: ZerosLike<T> + ?Sized>(a: &A) -> A::Out {
    a.zeros_like()
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

impl<T: Float> SumAll<T> for [T] {
    #[inline]
    fn sum_all(&self) -> T {
        self.iter().fold(T::zero(), |a, &b| a + b)
    }
}

impl<T: Float, const N: usize> SumAll<T> for [T; N] {
    #[inline]
    fn sum_all(&self) -> T {
        self[..].sum_all()
    }
}

impl<T: Float, const C: usize> SumAll<T> for [[T; C]] {
    #[inline]
    fn sum_all(&self) -> T {
        self.iter().fold(T::zero(), |a, row| a + row.sum_all())
    }
}

impl<T: Float, const C: usize, const R: usize> SumAll<T> for [[T; C]; R] {
    #[inline]
    fn sum_all(&self) -> T {
        self[..].sum_all()
    }
}

impl<T: Float> SumAll<T> for Vec<T> {
    #[inline]
    fn sum_all(&self) -> T {
        self[..].sum_all()
    }
}

/// `self += other`, elementwise, for float arrays of rank 1 or 2 (adjoints
/// of copies of arrays join).
pub trait AddAssign<T, Rhs: ?Sized> {
    /// Adds `other` elementwise.
    fn add_assign(&mut self, other: &Rhs);
}

impl<T: Float, R: AsRef<[T]> + ?Sized> AddAssign<T, R> for [T] {
    #[inline]
    fn add_assign(&mut self, other: &R) {
        for (a, &b) in self.iter_mut().zip(other.as_ref()) {
            *a = *a + b;
        }
    }
}

impl<T: Float, const C: usize, R: AsRef<[[T; C]]> + ?Sized> AddAssign<T, R> for [[T; C]] {
    #[inline]
    fn add_assign(&mut self, other: &R) {
        for (a, b) in self.iter_mut().zip(other.as_ref()) {
            a[..].add_assign(b);
        }
    }
}

impl<T: Float, R: ?Sized, const N: usize> AddAssign<T, R> for [T; N]
where
    [T]: AddAssign<T, R>,
{
    #[inline]
    fn add_assign(&mut self, other: &R) {
        self[..].add_assign(other);
    }
}

impl<T: Float, R: ?Sized, const C: usize, const N: usize> AddAssign<T, R> for [[T; C]; N]
where
    [[T; C]]: AddAssign<T, R>,
{
    #[inline]
    fn add_assign(&mut self, other: &R) {
        self[..].add_assign(other);
    }
}

impl<T: Float, R: ?Sized> AddAssign<T, R> for Vec<T>
where
    [T]: AddAssign<T, R>,
{
    #[inline]
    fn add_assign(&mut self, other: &R) {
        self[..].add_assign(other);
    }
}

impl<T: Float, R: ?Sized, const C: usize> AddAssign<T, R> for Vec<[T; C]>
where
    [[T; C]]: AddAssign<T, R>,
{
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

/// `tape` emptied for a loop over `start..end`, keeping its allocation: a
/// tape made in a loop body is one buffer for every iteration.
#[inline]
pub fn retape<T>(tape: &mut Vec<T>, start: usize, end: usize) {
    tape.clear();
    tape.reserve(end.saturating_sub(start));
}

/// A tape of one slot per iteration of a loop over `start..end`, each
/// `empty` until the loop writes its value at its position. Writing by
/// position, unlike `push`, keeps no length to check and update, so the
/// loop's own dependency chain is all it waits for (Chebyquad's gradient:
/// 1.4 times faster).
#[inline]
pub fn tape_slots<T: Clone>(start: usize, end: usize, empty: T) -> Vec<T> {
    vec![empty; end.saturating_sub(start)]
}

/// `tape_slots` for a tape made in a loop body: one buffer for every
/// iteration, refilled only when the trip count changes, lent as the
/// slots of this iteration's loop (a slice whose length the compiler
/// sees, so that writing and reading by position checks no bounds).
/// Values of an earlier iteration left in it are never read: a loop
/// writes every slot it runs before its reversal reads that slot.
#[inline]
pub fn retape_slots<T: Clone>(tape: &mut Vec<T>, start: usize, end: usize, empty: T) -> &mut [T] {
    let n = end.saturating_sub(start);
    if tape.len() != n {
        tape.clear();
        tape.resize(n, empty);
    }
    &mut tape[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_tapes_have_one_slot_per_iteration() {
        let mut t = tape_slots(2, 5, 0.0_f64);
        assert_eq!(t, [0.0; 3]);
        t[1] = 4.0;
        // The same trip count keeps the buffer and what it holds ...
        assert_eq!(retape_slots(&mut t, 0, 3, 0.0), [0.0, 4.0, 0.0]);
        // ... another one refills it; an empty range empties it.
        assert_eq!(retape_slots(&mut t, 0, 4, 0.0), [0.0; 4]);
        assert!(retape_slots(&mut t, 3, 1, 0.0).is_empty());
    }

    #[test]
    fn zeros_have_the_gradient_shape() {
        let a = [1.0_f64, 2.0, 3.0];
        assert_eq!(ZerosLike::zeros_like(&a), [0.0; 3]);
        let m = [[1.0_f32; 2]; 3];
        assert_eq!(ZerosLike::zeros_like(&m), [[0.0; 2]; 3]);
        let rows: &[[f64; 2]] = &[[1.0, 2.0]];
        assert_eq!(ZerosLike::zeros_like(&rows), vec![[0.0, 0.0]]);
        let z: [[f64; 2]; 2] = Zeros::zeros();
        assert_eq!(z, [[0.0; 2]; 2]);
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
        let mut v = vec![[1.0_f64, 2.0]];
        AddAssign::add_assign(&mut v, &[[1.0, 1.0]]);
        assert_eq!(v, vec![[2.0, 3.0]]);
    }

    #[test]
    fn tapes_reserve_the_trip_count() {
        let t: Vec<f64> = tape(3, 10);
        assert!(t.capacity() >= 7 && t.is_empty());
        let empty: Vec<f64> = tape(5, 2);
        assert!(empty.is_empty());
    }
}
