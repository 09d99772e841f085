//! What the helper kernels compute (`autodiff::__private::rules`), for the
//! test interpreter: the same formulas on [`Scalar`]s, so dual numbers
//! check the kernels' derivative rules against their values.

use super::value::{add_arrays, Val};
use super::{err, Error, Scalar};
use crate::ir::{Bin, FloatTy, Kernel, Un};

/// Arithmetic on `T` in one float type.
struct Ar {
    ty: FloatTy,
}

impl Ar {
    fn c<T: Scalar>(&self, v: f64) -> T {
        T::constant(v)
    }
    fn bin<T: Scalar>(&self, op: Bin, a: &T, b: &T) -> T {
        T::bin(self.ty, op, a, b)
    }
    fn add<T: Scalar>(&self, a: &T, b: &T) -> T {
        self.bin(Bin::Add, a, b)
    }
    fn sub<T: Scalar>(&self, a: &T, b: &T) -> T {
        self.bin(Bin::Sub, a, b)
    }
    fn mul<T: Scalar>(&self, a: &T, b: &T) -> T {
        self.bin(Bin::Mul, a, b)
    }
    fn un<T: Scalar>(&self, op: Un, x: &T) -> T {
        T::un(self.ty, op, x)
    }
    /// Σ f(i) in index order, from zero.
    fn sum<T: Scalar>(&self, n: usize, f: impl Fn(usize) -> T) -> T {
        (0..n).fold(self.c(0.0), |s, i| self.add(&s, &f(i)))
    }
}

fn floats<T: Scalar>(v: &Val<T>) -> Result<Vec<T>, Error> {
    v.array()?.iter().map(|x| x.float().cloned()).collect()
}

fn rows<T: Scalar>(v: &Val<T>) -> Result<Vec<Vec<T>>, Error> {
    v.array()?.iter().map(floats).collect()
}

fn vector<T: Scalar>(xs: Vec<T>) -> Val<T> {
    Val::Array(xs.into_iter().map(Val::F).collect())
}

fn matrix<T: Scalar>(m: Vec<Vec<T>>) -> Val<T> {
    Val::Array(m.into_iter().map(vector).collect())
}

fn same_len(what: &str, a: usize, b: usize) -> Result<(), Error> {
    if a == b {
        Ok(())
    } else {
        err(format!("{what}: lengths {a} and {b}"))
    }
}

/// `f` of the elements at the same place in `vals` (a vector or a
/// matrix; shaped like the first).
fn zip_map<T: Scalar>(vals: &[&Val<T>], f: &dyn Fn(&[T]) -> T) -> Result<Val<T>, Error> {
    match vals[0] {
        Val::F(_) => {
            let xs: Vec<T> = vals
                .iter()
                .map(|v| v.float().cloned())
                .collect::<Result<_, _>>()?;
            Ok(Val::F(f(&xs)))
        }
        Val::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for k in 0..items.len() {
                let parts: Vec<&Val<T>> = vals
                    .iter()
                    .map(|v| match v.array()?.get(k) {
                        Some(x) => Ok(x),
                        None => err(format!("elementwise: no element {k} in {v:?}")),
                    })
                    .collect::<Result<_, _>>()?;
                out.push(zip_map(&parts, f)?);
            }
            Ok(Val::Array(out))
        }
        other => err(format!("elementwise on {other:?}")),
    }
}

fn matvec<T: Scalar>(ar: &Ar, a: &[Vec<T>], x: &[T]) -> Result<Vec<T>, Error> {
    a.iter()
        .map(|row| {
            same_len("matvec", row.len(), x.len())?;
            Ok(ar.sum(x.len(), |j| ar.mul(&row[j], &x[j])))
        })
        .collect()
}

fn vecmat<T: Scalar>(ar: &Ar, x: &[T], a: &[Vec<T>], cols: usize) -> Result<Vec<T>, Error> {
    same_len("vecmat", x.len(), a.len())?;
    Ok((0..cols)
        .map(|j| ar.sum(x.len(), |i| ar.mul(&x[i], &a[i][j])))
        .collect())
}

fn transpose<T: Scalar>(a: &[Vec<T>], cols: usize) -> Vec<Vec<T>> {
    (0..cols)
        .map(|j| a.iter().map(|row| row[j].clone()).collect())
        .collect()
}

fn matmul<T: Scalar>(
    ar: &Ar,
    a: &[Vec<T>],
    b: &[Vec<T>],
    cols: usize,
) -> Result<Vec<Vec<T>>, Error> {
    a.iter().map(|row| vecmat(ar, row, b, cols)).collect()
}

fn outer<T: Scalar>(ar: &Ar, x: &[T], y: &[T]) -> Vec<Vec<T>> {
    x.iter()
        .map(|a| y.iter().map(|b| ar.mul(a, b)).collect())
        .collect()
}

/// The number of columns of matrix value `m` (0 without rows).
fn cols<T: Scalar>(m: &Val<T>) -> usize {
    m.array()
        .ok()
        .and_then(|rows| rows.first())
        .and_then(|r| r.array().ok())
        .map_or(0, |r| r.len())
}

/// The largest real part, as a constant (the max shift).
fn max_shift<T: Scalar>(x: &[T]) -> f64 {
    x.iter()
        .map(Scalar::re)
        .fold(f64::NEG_INFINITY, |m, v| if v > m { v } else { m })
}

/// `exp(x - m)` and their sum, with `m` the max shift.
fn shifted_exp<T: Scalar>(ar: &Ar, x: &[T]) -> (Vec<T>, T) {
    let m: T = ar.c(max_shift(x));
    let e: Vec<T> = x.iter().map(|v| ar.un(Un::Exp, &ar.sub(v, &m))).collect();
    let s = ar.sum(e.len(), |i| e[i].clone());
    (e, s)
}

/// The max-shifted softmax.
fn softmax<T: Scalar>(ar: &Ar, x: &[T]) -> Vec<T> {
    let (e, s) = shifted_exp(ar, x);
    e.iter().map(|ei| ar.bin(Bin::Div, ei, &s)).collect()
}

/// Whether `logsumexp(x)` is finite: the gate of its adjoints, which add
/// nothing where it is not.
fn lse_finite<T: Scalar>(ar: &Ar, x: &[T]) -> bool {
    max_shift(x).is_finite() && shifted_exp(ar, x).1.re().is_finite()
}

/// The value of kernel `k` on `args`.
pub fn eval<T: Scalar>(ty: FloatTy, k: Kernel, args: &[Val<T>]) -> Result<Val<T>, Error> {
    use Kernel::*;
    let ar = &Ar { ty };
    let v = |i: usize| floats(&args[i]);
    let m = |i: usize| rows(&args[i]);
    let f = |i: usize| args[i].float().cloned();
    let out = match k {
        Sum => Val::F(super::value::sum_all(ty, args[0].array()?)?),
        Mean => {
            let x = v(0)?;
            let s = ar.sum(x.len(), |i| x[i].clone());
            Val::F(ar.bin(Bin::Div, &s, &ar.c(x.len() as f64)))
        }
        Dot => {
            let (x, y) = (v(0)?, v(1)?);
            same_len("dot", x.len(), y.len())?;
            Val::F(ar.sum(x.len(), |i| ar.mul(&x[i], &y[i])))
        }
        Norm => {
            let x = v(0)?;
            Val::F(ar.un(Un::Sqrt, &ar.sum(x.len(), |i| ar.mul(&x[i], &x[i]))))
        }
        Logsumexp => {
            let x = v(0)?;
            let top = max_shift(&x);
            if top.is_infinite() {
                Val::F(ar.c(top))
            } else {
                let (_, s) = shifted_exp(ar, &x);
                Val::F(ar.add(&ar.c(top), &ar.un(Un::Ln, &s)))
            }
        }
        ZeroOf => Val::F(ar.c(0.0)),
        LogsumexpDot => {
            let (x, lse, xd) = (v(0)?, f(1)?, v(2)?);
            if lse.re().is_finite() {
                let s = softmax(ar, &x);
                Val::F(ar.sum(x.len(), |i| ar.mul(&s[i], &xd[i])))
            } else {
                Val::F(ar.c(0.0))
            }
        }
        Softmax => vector(softmax(ar, &v(0)?)),
        LogSoftmax => {
            let x = v(0)?;
            let (_, s) = shifted_exp(ar, &x);
            let (top, l) = (ar.c(max_shift(&x)), ar.un(Un::Ln, &s));
            vector(x.iter().map(|xi| ar.sub(&ar.sub(xi, &top), &l)).collect())
        }
        Sigmoid => zip_map(&[&args[0]], &|e| ar.un(Un::Sigmoid, &e[0]))?,
        Softplus => zip_map(&[&args[0]], &|e| ar.un(Un::Softplus, &e[0]))?,
        Matvec => vector(matvec(ar, &m(0)?, &v(1)?)?),
        Vecmat => {
            let a = m(1)?;
            let c = cols(&args[1]);
            vector(vecmat(ar, &v(0)?, &a, c)?)
        }
        Matmul => {
            let b = m(1)?;
            let c = cols(&args[1]);
            matrix(matmul(ar, &m(0)?, &b, c)?)
        }
        Transpose => {
            let a = m(0)?;
            let c = cols(&args[0]);
            matrix(transpose(&a, c))
        }
        Outer => matrix(outer(ar, &v(0)?, &v(1)?)),
        _ => {
            let term = acc_term(ar, k, args)?;
            return add_arrays(ty, &args[0], &term);
        }
    };
    Ok(out)
}

/// The term an accumulating kernel adds to `args[0]`.
fn acc_term<T: Scalar>(ar: &Ar, k: Kernel, args: &[Val<T>]) -> Result<Val<T>, Error> {
    use Kernel::*;
    let v = |i: usize| floats(&args[i]);
    let m = |i: usize| rows(&args[i]);
    let f = |i: usize| args[i].float().cloned();
    let one: T = ar.c(1.0);
    Ok(match k {
        AccFill => {
            let s = f(1)?;
            zip_map(&[&args[0]], &|_| s.clone())?
        }
        AccScaled => {
            let s = f(1)?;
            zip_map(&[&args[2]], &|e| ar.mul(&s, &e[0]))?
        }
        AccMatvec => vector(matvec(ar, &m(1)?, &v(2)?)?),
        AccVecmat => {
            let a = m(2)?;
            let c = cols(&args[2]);
            vector(vecmat(ar, &v(1)?, &a, c)?)
        }
        AccOuter => matrix(outer(ar, &v(1)?, &v(2)?)),
        AccMatmul => {
            let b = m(2)?;
            let c = cols(&args[2]);
            matrix(matmul(ar, &m(1)?, &b, c)?)
        }
        AccMatmulNt => {
            let b = m(2)?;
            let bt = transpose(&b, cols(&args[2]));
            let c = b.len();
            matrix(matmul(ar, &m(1)?, &bt, c)?)
        }
        AccMatmulTn => {
            let a = m(1)?;
            let at = transpose(&a, cols(&args[1]));
            let b = m(2)?;
            let c = cols(&args[2]);
            matrix(matmul(ar, &at, &b, c)?)
        }
        AccTranspose => {
            let a = m(1)?;
            matrix(transpose(&a, cols(&args[1])))
        }
        AccSigmoidBar => zip_map(&[&args[1], &args[2]], &|e| {
            ar.mul(&ar.mul(&e[0], &e[1]), &ar.sub(&one, &e[1]))
        })?,
        AccSoftplusBar => zip_map(&[&args[1], &args[2]], &|e| {
            ar.mul(&e[0], &ar.un(Un::Sigmoid, &e[1]))
        })?,
        AccSoftmaxBar => {
            let (yb, s) = (v(1)?, v(2)?);
            same_len("softmax adjoint", yb.len(), s.len())?;
            let d = ar.sum(s.len(), |i| ar.mul(&yb[i], &s[i]));
            vector(
                (0..s.len())
                    .map(|i| ar.mul(&s[i], &ar.sub(&yb[i], &d)))
                    .collect(),
            )
        }
        AccLogSoftmaxBar => {
            let (yb, l) = (v(1)?, v(2)?);
            same_len("log_softmax adjoint", yb.len(), l.len())?;
            let t = ar.sum(yb.len(), |i| yb[i].clone());
            vector(
                (0..l.len())
                    .map(|i| ar.sub(&yb[i], &ar.mul(&ar.un(Un::Exp, &l[i]), &t)))
                    .collect(),
            )
        }
        AccLogSoftmaxDot => {
            let (xd, l) = (v(1)?, v(2)?);
            same_len("log_softmax tangent", xd.len(), l.len())?;
            let d = ar.sum(l.len(), |i| ar.mul(&ar.un(Un::Exp, &l[i]), &xd[i]));
            vector(xd.iter().map(|x| ar.sub(x, &d)).collect())
        }
        AccLogsumexpBar => {
            let (yb, x) = (f(1)?, v(2)?);
            if !lse_finite(ar, &x) {
                return zip_map(&[&args[0]], &|_| ar.c(0.0));
            }
            vector(softmax(ar, &x).iter().map(|si| ar.mul(&yb, si)).collect())
        }
        AccSigmoidBarDot => zip_map(&[&args[1], &args[2], &args[3]], &|e| {
            let two_s = ar.mul(&ar.c(2.0), &e[1]);
            ar.mul(&ar.mul(&e[0], &ar.sub(&one, &two_s)), &e[2])
        })?,
        AccSoftplusBarDot => zip_map(&[&args[1], &args[2], &args[3]], &|e| {
            let s = ar.un(Un::Sigmoid, &e[1]);
            let ds = ar.mul(&s, &ar.sub(&one, &s));
            ar.mul(&ar.mul(&e[0], &ds), &e[2])
        })?,
        AccSoftmaxBarDot => {
            let (yb, s, sd) = (v(1)?, v(2)?, v(3)?);
            let d = ar.sum(s.len(), |i| ar.mul(&yb[i], &s[i]));
            let dd = ar.sum(s.len(), |i| ar.mul(&yb[i], &sd[i]));
            vector(
                (0..s.len())
                    .map(|i| ar.sub(&ar.mul(&sd[i], &ar.sub(&yb[i], &d)), &ar.mul(&s[i], &dd)))
                    .collect(),
            )
        }
        AccLogSoftmaxBarDot => {
            let (yb, l, ld) = (v(1)?, v(2)?, v(3)?);
            let t = ar.sum(yb.len(), |i| yb[i].clone());
            vector(
                (0..l.len())
                    .map(|i| {
                        let e = ar.mul(&ar.un(Un::Exp, &l[i]), &ld[i]);
                        ar.un(Un::Neg, &ar.mul(&e, &t))
                    })
                    .collect(),
            )
        }
        AccLogsumexpBarDot => {
            let (yb, x, xd) = (f(1)?, v(2)?, v(3)?);
            if !lse_finite(ar, &x) {
                return zip_map(&[&args[0]], &|_| ar.c(0.0));
            }
            let s = softmax(ar, &x);
            let d = ar.sum(x.len(), |i| ar.mul(&s[i], &xd[i]));
            vector(
                (0..x.len())
                    .map(|i| ar.mul(&ar.mul(&yb, &s[i]), &ar.sub(&xd[i], &d)))
                    .collect(),
            )
        }
        _ => return err(format!("{k:?} is not an accumulating kernel")),
    })
}
