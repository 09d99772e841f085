//! Runtime values: floats over the scalar `T`, integers, booleans, tuples
//! and arrays, and what the evaluator does with arrays.

use super::{err, Error, Scalar};
use crate::ir::{Bin, FloatTy};

/// A runtime value over the float scalar `T`.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<T> {
    /// A float (of either [`FloatTy`]; `f32` values are kept rounded).
    F(T),
    /// An integer (`powi` exponents, `as` casts, indices, lengths).
    Int(i64),
    Bool(bool),
    /// A tuple parameter (`out_bar` of a function with several outputs).
    Tuple(Vec<Val<T>>),
    /// An array: of floats (rank 1), of rows (rank 2), or a loop's tape of
    /// any values.
    Array(Vec<Val<T>>),
}

/// A plain value: what [`run`] takes and gives.
pub type Value = Val<f64>;

impl<T: Scalar> Val<T> {
    /// The float, or an error naming what it is instead.
    pub fn float(&self) -> Result<&T, Error> {
        match self {
            Val::F(x) => Ok(x),
            other => Err(Error(format!("expected a float, got {other:?}"))),
        }
    }

    pub(super) fn int(&self) -> Result<i64, Error> {
        match self {
            Val::Int(n) => Ok(*n),
            other => Err(Error(format!("expected an integer, got {other:?}"))),
        }
    }

    pub(super) fn boolean(&self) -> Result<bool, Error> {
        match self {
            Val::Bool(b) => Ok(*b),
            other => Err(Error(format!("expected a bool, got {other:?}"))),
        }
    }

    pub(super) fn array(&self) -> Result<&[Val<T>], Error> {
        match self {
            Val::Array(items) => Ok(items),
            other => Err(Error(format!("expected an array, got {other:?}"))),
        }
    }

    /// Every float in the value, in order (arrays row by row, tuples field
    /// by field); integers and booleans are skipped.
    pub fn floats(&self) -> Vec<T> {
        let mut out = Vec::new();
        self.collect_floats(&mut out);
        out
    }

    fn collect_floats(&self, out: &mut Vec<T>) {
        match self {
            Val::F(x) => out.push(x.clone()),
            Val::Int(_) | Val::Bool(_) => {}
            Val::Tuple(items) | Val::Array(items) => {
                items.iter().for_each(|v| v.collect_floats(out))
            }
        }
    }

    /// The value with every float replaced by `f` of it.
    pub fn map<U>(&self, f: &mut impl FnMut(&T) -> U) -> Val<U> {
        match self {
            Val::F(x) => Val::F(f(x)),
            Val::Int(n) => Val::Int(*n),
            Val::Bool(b) => Val::Bool(*b),
            Val::Tuple(items) => Val::Tuple(items.iter().map(|v| v.map(f)).collect()),
            Val::Array(items) => Val::Array(items.iter().map(|v| v.map(f)).collect()),
        }
    }
}

/// Zeros of the given dimensions.
pub(super) fn zeros<T: Scalar>(dims: &[usize]) -> Val<T> {
    match dims.split_first() {
        None => Val::F(T::constant(0.0)),
        Some((&n, rest)) => Val::Array((0..n).map(|_| zeros(rest)).collect()),
    }
}

pub(super) fn len_of(n: i64) -> Result<usize, Error> {
    usize::try_from(n).map_err(|_| Error(format!("negative length {n}")))
}

/// `arr[i][j]...`.
pub(super) fn element<'v, T>(arr: &'v Val<T>, idx: &[i64]) -> Result<&'v Val<T>, Error> {
    let mut cur = arr;
    for &i in idx {
        let items = match cur {
            Val::Array(items) => items,
            _ => return err("indexing into a non-array".to_string()),
        };
        cur = usize::try_from(i)
            .ok()
            .and_then(|i| items.get(i))
            .ok_or_else(|| Error(format!("index {i} out of range for length {}", items.len())))?;
    }
    Ok(cur)
}

pub(super) fn element_mut<'v, T>(
    arr: &'v mut Val<T>,
    idx: &[i64],
) -> Result<&'v mut Val<T>, Error> {
    let mut cur = arr;
    for &i in idx {
        let items = match cur {
            Val::Array(items) => items,
            _ => return err("indexing into a non-array".to_string()),
        };
        let len = items.len();
        cur = usize::try_from(i)
            .ok()
            .and_then(|i| items.get_mut(i))
            .ok_or_else(|| Error(format!("index {i} out of range for length {len}")))?;
    }
    Ok(cur)
}

/// `a + b` elementwise, of the same shape.
pub(super) fn add_arrays<T: Scalar>(ty: FloatTy, a: &Val<T>, b: &Val<T>) -> Result<Val<T>, Error> {
    match (a, b) {
        (Val::F(x), Val::F(y)) => Ok(Val::F(T::bin(ty, Bin::Add, x, y))),
        (Val::Array(xs), Val::Array(ys)) if xs.len() == ys.len() => Ok(Val::Array(
            xs.iter()
                .zip(ys)
                .map(|(x, y)| add_arrays(ty, x, y))
                .collect::<Result<_, _>>()?,
        )),
        _ => err(format!(
            "adding arrays of different shapes: {a:?} and {b:?}"
        )),
    }
}

/// The sum of every element, as `SumAll::sum_all` folds it: row by row,
/// each row from zero.
pub(super) fn sum_all<T: Scalar>(ty: FloatTy, items: &[Val<T>]) -> Result<T, Error> {
    let mut acc = T::constant(0.0);
    for item in items {
        let x = match item {
            Val::F(x) => x.clone(),
            Val::Array(row) => sum_all(ty, row)?,
            other => return err(format!("summing a non-float {other:?}")),
        };
        acc = T::bin(ty, Bin::Add, &acc, &x);
    }
    Ok(acc)
}
