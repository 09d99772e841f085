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

/// The value a branch yields for an array of floats `T` that it does not
/// compute (the other branch's value is used). `Default` would not do:
/// `[T; N]` has it only for `T: Default` (which `T: Float` does not give)
/// and, in the standard library, for `N` up to 32.
pub trait Filler<T> {
    /// Zeros, or an empty `Vec` or slice.
    fn filler() -> Self;
}

/// `A::filler()`, as generated code writes it (`filler::<T, _>()`).
#[inline]
pub fn filler<T, A: Filler<T>>() -> A {
    A::filler()
}

// (A fixed array's filler is its zeros.)
impl<T: Float, const N: usize> Filler<T> for [T; N] {
    #[inline]
    fn filler() -> Self {
        Zeros::zeros()
    }
}

impl<T: Float, const C: usize, const R: usize> Filler<T> for [[T; C]; R] {
    #[inline]
    fn filler() -> Self {
        Zeros::zeros()
    }
}

impl<T, V> Filler<T> for Vec<V> {
    #[inline]
    fn filler() -> Self {
        Vec::new()
    }
}

impl<T, V> Filler<T> for &[V] {
    #[inline]
    fn filler() -> Self {
        &[]
    }
}

impl<T, V> Filler<T> for TapeRows<V> {
    #[inline]
    fn filler() -> Self {
        TapeRows::default()
    }
}

impl<T, V> Filler<T> for TapeGrid<V> {
    #[inline]
    fn filler() -> Self {
        TapeGrid::default()
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

/// A loop bound: a loop over `start..end` of any primitive integer type
/// (`for i in 0..n` with `n: u32` counts in `u32`) runs
/// [`Bound::trips`]`(start, end)` times, which sizes its tapes.
pub trait Bound: Copy {
    /// The trip count of `start..end`: 0 when `end <= start`.
    fn trips(start: Self, end: Self) -> usize;
}

macro_rules! bounds {
    ($($t:ty),*) => {$(
        impl Bound for $t {
            #[inline]
            fn trips(start: Self, end: Self) -> usize {
                // (Through `i128`: `-100_i8..100` counts 200.)
                if end > start {
                    (end as i128 - start as i128) as usize
                } else {
                    0
                }
            }
        }
    )*};
}

bounds!(u8, u16, u32, u64, usize, i8, i16, i32, i64, i128, isize);

impl Bound for u128 {
    #[inline]
    fn trips(start: Self, end: Self) -> usize {
        end.saturating_sub(start) as usize
    }
}

/// An empty tape for a loop over `start..end`: one allocation per call,
/// sized to the trip count.
#[inline]
pub fn tape<T, I: Bound>(start: I, end: I) -> Vec<T> {
    Vec::with_capacity(I::trips(start, end))
}

/// `tape` emptied for a loop over `start..end`, keeping its allocation: a
/// tape made in a loop body is one buffer for every iteration.
#[inline]
pub fn retape<T, I: Bound>(tape: &mut Vec<T>, start: I, end: I) {
    tape.clear();
    tape.reserve(I::trips(start, end));
}

/// A tape of one slot per iteration of a loop over `start..end`, each
/// `empty` until the loop writes its value at its position. Writing by
/// position, unlike `push`, keeps no length to check and update, so the
/// loop's own dependency chain is all it waits for (Chebyquad's gradient:
/// 1.4 times faster).
#[inline]
pub fn tape_slots<T: Clone, I: Bound>(start: I, end: I, empty: T) -> Vec<T> {
    vec![empty; I::trips(start, end)]
}

/// `tape_slots` for a tape made in a loop body: one buffer for every
/// iteration, refilled only when the trip count changes, lent as the
/// slots of this iteration's loop (a slice whose length the compiler
/// sees, so that writing and reading by position checks no bounds).
/// Values of an earlier iteration left in it are never read: a loop
/// writes every slot it runs before its reversal reads that slot.
#[inline]
pub fn retape_slots<T: Clone, I: Bound>(tape: &mut Vec<T>, start: I, end: I, empty: T) -> &mut [T] {
    let n = I::trips(start, end);
    if tape.len() != n {
        tape.clear();
        tape.resize(n, empty);
    }
    &mut tape[..n]
}

/// The tapes of an inner loop, one row per iteration of the loop around
/// it, in one buffer: the reversal of the inner loop inside the outer
/// loop's reversal reads `rows[outer][inner]` instead of running the inner
/// loop again. A `Vec` of `Vec`s would allocate once per row.
#[derive(Clone, Debug, PartialEq)]
pub struct TapeRows<T> {
    data: Vec<T>,
    /// Where each row starts in `data` (a row ends where the next starts).
    starts: Vec<usize>,
}

// (Not derived: that would ask `T: Default`, which a generic `T: Float`
// is not.)
impl<T> Default for TapeRows<T> {
    #[inline]
    fn default() -> Self {
        tape_rows(0_usize, 0)
    }
}

impl<T> Default for TapeGrid<T> {
    #[inline]
    fn default() -> Self {
        tape_grid(0_usize, 0, 0_usize, 0)
    }
}

impl<T> TapeRows<T> {
    /// Starts a new last row, empty (for [`TapeRows::push`]).
    #[inline]
    pub fn start_row(&mut self) {
        self.starts.push(self.data.len());
    }

    /// Appends `value` to the last row (for a loop that pushes its values
    /// instead of writing slots: a type with no value to fill slots with).
    #[inline]
    pub fn push(&mut self, value: T) {
        self.data.push(value);
    }
}

/// An empty [`TapeRows`] for an outer loop over `start..end`: room for
/// its rows' starts now, for their slots at the first row.
#[inline]
pub fn tape_rows<T, I: Bound>(start: I, end: I) -> TapeRows<T> {
    TapeRows {
        data: Vec::new(),
        starts: Vec::with_capacity(I::trips(start, end)),
    }
}

/// `tape_rows` emptied for an outer loop over `start..end`, keeping its
/// allocations (a tape made in a loop body is one buffer for every
/// iteration).
#[inline]
pub fn retape_rows<T, I: Bound>(rows: &mut TapeRows<T>, start: I, end: I) {
    rows.data.clear();
    rows.starts.clear();
    rows.starts.reserve(I::trips(start, end));
}

/// A tape of rows: [`TapeRows`], or [`TapeGrid`] when every row has the
/// same length.
pub trait RowTape<T> {
    /// A new last row for an inner loop over `start..end`.
    fn row<I: Bound>(&mut self, start: I, end: I, empty: T) -> &mut [T];
}

/// A new last row of `rows` for an inner loop over `start..end`: one slot
/// per iteration, each `empty` until the loop writes its value at its
/// position (see [`tape_slots`]).
#[inline]
pub fn tape_row<T, R: RowTape<T>, I: Bound>(rows: &mut R, start: I, end: I, empty: T) -> &mut [T] {
    rows.row(start, end, empty)
}

impl<T: Clone> RowTape<T> for TapeRows<T> {
    /// When the buffer is full, room is made for every row still to come
    /// at this row's length: one allocation when the rows are alike.
    #[inline]
    fn row<I: Bound>(&mut self, start: I, end: I, empty: T) -> &mut [T] {
        let at = self.data.len();
        let n = I::trips(start, end);
        if self.data.capacity() - at < n {
            let to_come = self
                .starts
                .capacity()
                .saturating_sub(self.starts.len())
                .max(1);
            self.data.reserve(n.saturating_mul(to_come));
        }
        self.starts.push(at);
        self.data.resize(at + n, empty);
        &mut self.data[at..at + n]
    }
}

/// A copy of `value` as a new last row of `rows` (what an array holds at
/// the end of an iteration, kept for the reversal without a `Vec` per
/// copy).
#[inline]
pub fn tape_copy<T: Clone, A: AsRef<[T]> + ?Sized>(rows: &mut TapeRows<T>, value: &A) {
    let value = value.as_ref();
    let at = rows.data.len();
    if rows.data.capacity() - at < value.len() {
        let to_come = rows
            .starts
            .capacity()
            .saturating_sub(rows.starts.len())
            .max(1);
        rows.data.reserve(value.len().saturating_mul(to_come));
    }
    rows.starts.push(at);
    rows.data.extend_from_slice(value);
}

/// [`TapeRows`] whose rows all have one length (an inner loop over a range
/// the outer loop does not change): row `r` starts at `r * width`, so
/// no starts are stored.
#[derive(Clone, Debug, PartialEq)]
pub struct TapeGrid<T> {
    data: Vec<T>,
    width: usize,
}

/// An empty [`TapeGrid`] for an outer loop over `start..end` whose inner
/// loop runs over `from..to`, with room for all its rows.
#[inline]
pub fn tape_grid<T, I: Bound, J: Bound>(start: I, end: I, from: J, to: J) -> TapeGrid<T> {
    let width = J::trips(from, to);
    TapeGrid {
        data: Vec::with_capacity(I::trips(start, end).saturating_mul(width)),
        width,
    }
}

/// `tape_grid` emptied, keeping its allocation.
#[inline]
pub fn retape_grid<T, I: Bound, J: Bound>(
    grid: &mut TapeGrid<T>,
    start: I,
    end: I,
    from: J,
    to: J,
) {
    grid.data.clear();
    grid.width = J::trips(from, to);
    grid.data
        .reserve(I::trips(start, end).saturating_mul(grid.width));
}

impl<T: Clone> RowTape<T> for TapeGrid<T> {
    #[inline]
    fn row<I: Bound>(&mut self, start: I, end: I, empty: T) -> &mut [T] {
        let n = I::trips(start, end);
        debug_assert_eq!(n, self.width, "a grid's rows have one length");
        let at = self.data.len();
        self.data.resize(at + n, empty);
        &mut self.data[at..at + n]
    }
}

impl<T> core::ops::Index<usize> for TapeGrid<T> {
    type Output = [T];

    #[inline]
    fn index(&self, row: usize) -> &[T] {
        let start = row * self.width;
        &self.data[start..start + self.width]
    }
}

impl<T> core::ops::Index<usize> for TapeRows<T> {
    type Output = [T];

    #[inline]
    fn index(&self, row: usize) -> &[T] {
        let start = self.starts[row];
        let end = self.starts.get(row + 1).copied().unwrap_or(self.data.len());
        &self.data[start..end]
    }
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
    fn tape_rows_keep_each_row_apart() {
        let mut rows = tape_rows(0, 3);
        tape_row(&mut rows, 0, 3, 0.0_f64)[2] = 1.0;
        // An empty row (an inner loop that ran no iteration) is a row.
        assert!(tape_row(&mut rows, 4, 2, 0.0).is_empty());
        let last = tape_row(&mut rows, 1, 3, 0.0);
        last[0] = 5.0;
        last[1] = 6.0;
        // Room for the rows to come was made at the first.
        assert!(rows.data.capacity() >= 9);
        assert_eq!(rows.starts.len(), 3);
        assert_eq!(rows[0], [0.0, 0.0, 1.0]);
        assert!(rows[1].is_empty());
        assert_eq!(rows[2], [5.0, 6.0]);
        retape_rows(&mut rows, 0, 1);
        assert!(rows.starts.is_empty() && rows.data.is_empty());
        assert_eq!(tape_row(&mut rows, 0, 2, 7.0), [7.0, 7.0]);
        assert_eq!(rows[0], [7.0, 7.0]);
    }

    #[test]
    fn pushed_rows_end_where_the_next_starts() {
        let mut rows = tape_rows(0, 3);
        rows.start_row();
        rows.push("a");
        rows.push("b");
        rows.start_row();
        rows.start_row();
        rows.push("c");
        assert_eq!(rows[0], ["a", "b"]);
        assert!(rows[1].is_empty());
        assert_eq!(rows[2], ["c"]);
    }

    #[test]
    fn tape_copies_are_rows() {
        let mut rows = tape_rows(0, 2);
        let v = vec![1.0_f64, 2.0];
        tape_copy(&mut rows, &v);
        tape_copy(&mut rows, &[3.0, 4.0, 5.0]);
        assert_eq!(rows[0], [1.0, 2.0]);
        assert_eq!(rows[1], [3.0, 4.0, 5.0]);
    }

    #[test]
    fn tape_grids_have_rows_of_one_length() {
        let mut grid = tape_grid(1, 4, 2, 4);
        assert!(grid.data.capacity() >= 6);
        for r in 0..3 {
            let row = tape_row(&mut grid, 2, 4, 0.0_f64);
            row[1] = r as f64;
        }
        assert_eq!(grid[0], [0.0, 0.0]);
        assert_eq!(grid[2], [0.0, 2.0]);
        retape_grid(&mut grid, 0, 1, 0, 3);
        tape_row(&mut grid, 0, 3, 1.0)[0] = 5.0;
        assert_eq!(grid[0], [5.0, 1.0, 1.0]);
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
