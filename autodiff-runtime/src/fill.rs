//! Arrays filled in index order: the buffer a gathered adjoint loop writes
//! its gradient into, each element once, with no zero-fill pass before.
//!
//! Generated code makes the buffer with [`FillLike::fill_like`] (shaped
//! like a parameter), appends elements with [`Fill::push`] and
//! [`Extend::extend`] (a `Vec` reserves once and writes a mapped range
//! without further checks, so the loop vectorizes), skips a prefix of
//! zeros with [`Fill::pad_to`], and ends with [`Fill::finish`], which
//! fills the rest with zeros.

use num_traits::Float;

/// A rank-1 float array being filled in index order.
pub trait Fill<T>: Extend<T> {
    /// The array it becomes.
    type Out;
    /// Appends the next element.
    fn push(&mut self, v: T);
    /// Zeros up to index `n` (exclusive).
    fn pad_to(&mut self, n: usize);
    /// The array, zeros after the last element written.
    ///
    /// # Panics
    ///
    /// If more elements were written than the array holds (an index out of
    /// bounds in the loop the buffer replaces).
    fn finish(self) -> Self::Out;
}

/// An empty [`Fill`] buffer shaped like `self`, becoming what
/// [`ZerosLike`](crate::array::ZerosLike) gives: a `Vec<T>` for a slice or a
/// `Vec`, `[T; N]` for an array.
pub trait FillLike<T> {
    /// The buffer.
    type Buf: Fill<T>;
    /// An empty buffer for as many elements as `self` has.
    fn fill_like(&self) -> Self::Buf;
}

/// A `Vec` reserved for its final length.
#[derive(Debug)]
pub struct VecFill<T> {
    items: Vec<T>,
    len: usize,
}

impl<T> Extend<T> for VecFill<T> {
    #[inline]
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        self.items.extend(iter);
    }
}

impl<T: Float> Fill<T> for VecFill<T> {
    type Out = Vec<T>;

    #[inline]
    fn push(&mut self, v: T) {
        self.items.push(v);
    }

    #[inline]
    fn pad_to(&mut self, n: usize) {
        if n > self.items.len() {
            self.items.resize(n, T::zero());
        }
    }

    #[inline]
    fn finish(mut self) -> Vec<T> {
        assert!(
            self.items.len() <= self.len,
            "index out of bounds: the len is {} but the index is {}",
            self.len,
            self.items.len() - 1
        );
        self.items.resize(self.len, T::zero());
        self.items
    }
}

/// A fixed array of zeros and how many of its elements are written.
#[derive(Debug)]
pub struct ArrayFill<T, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Float, const N: usize> Extend<T> for ArrayFill<T, N> {
    #[inline]
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for v in iter {
            Fill::push(self, v);
        }
    }
}

impl<T: Float, const N: usize> Fill<T> for ArrayFill<T, N> {
    type Out = [T; N];

    #[inline]
    fn push(&mut self, v: T) {
        self.items[self.len] = v;
        self.len += 1;
    }

    #[inline]
    fn pad_to(&mut self, n: usize) {
        assert!(
            n <= N,
            "index out of bounds: the len is {N} but the index is {n}"
        );
        self.len = self.len.max(n);
    }

    #[inline]
    fn finish(self) -> [T; N] {
        self.items
    }
}

impl<T: Float> FillLike<T> for [T] {
    type Buf = VecFill<T>;
    #[inline]
    fn fill_like(&self) -> VecFill<T> {
        VecFill {
            items: Vec::with_capacity(self.len()),
            len: self.len(),
        }
    }
}

impl<T: Float> FillLike<T> for Vec<T> {
    type Buf = VecFill<T>;
    #[inline]
    fn fill_like(&self) -> VecFill<T> {
        self[..].fill_like()
    }
}

impl<T: Float, const N: usize> FillLike<T> for [T; N] {
    type Buf = ArrayFill<T, N>;
    #[inline]
    fn fill_like(&self) -> ArrayFill<T, N> {
        ArrayFill {
            items: [T::zero(); N],
            len: 0,
        }
    }
}

impl<T, A: FillLike<T> + ?Sized> FillLike<T> for &A {
    type Buf = A::Buf;
    #[inline]
    fn fill_like(&self) -> A::Buf {
        (**self).fill_like()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zeros to 2, then 2, 3, 4 (one pushed, two extended), zeros after.
    fn filled<B: Fill<f64>>(mut b: B) -> B::Out {
        b.pad_to(2);
        b.push(2.0);
        b.extend((3..5).map(|i| i as f64));
        b.finish()
    }

    #[test]
    fn vectors_and_arrays_fill_in_order() {
        let s: &[f64] = &[1.0; 6];
        assert_eq!(filled(s.fill_like()), vec![0.0, 0.0, 2.0, 3.0, 4.0, 0.0]);
        assert_eq!(
            filled(vec![1.0; 5].fill_like()),
            vec![0.0, 0.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(filled([1.0; 6].fill_like()), [0.0, 0.0, 2.0, 3.0, 4.0, 0.0]);
        let r: &[f64; 5] = &[1.0; 5];
        assert_eq!(filled(r.fill_like()), [0.0, 0.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn an_empty_fill_is_zeros() {
        let s: &[f32] = &[1.0; 3];
        assert_eq!(s.fill_like().finish(), vec![0.0; 3]);
        assert_eq!([1.0_f32; 2].fill_like().finish(), [0.0; 2]);
    }

    #[test]
    fn vectors_reserve_their_length() {
        let b = vec![1.0_f64; 100].fill_like();
        assert!(b.items.capacity() >= 100 && b.items.is_empty());
    }

    #[test]
    #[should_panic(expected = "index out of bounds")]
    fn writing_past_the_end_of_a_vector_panics() {
        let s: &[f64] = &[1.0; 2];
        let mut b = s.fill_like();
        b.extend([1.0, 2.0, 3.0]);
        b.finish();
    }

    #[test]
    #[should_panic(expected = "index out of bounds")]
    fn writing_past_the_end_of_an_array_panics() {
        let mut b = [1.0_f64; 2].fill_like();
        b.extend([1.0, 2.0, 3.0]);
    }
}
