//! A program at one point: its inputs and outputs as flat lists of floats
//! (of the [`Shape`]s of its params and outputs), the primal run, its
//! branch and kink decisions, and the references every property compares
//! against: the Jacobian by dual numbers and `J v` by finite differences.

use num_dual::Dual64;
use proptest::prelude::*;

use super::{FD_ATOL, FD_H, FD_RELIABLE, FD_RTOL};
use crate::interp::{self, Val, Value};
use crate::ir::{Bin, Function, Op, Ty, Un};

/// The shape of a parameter or an output: a float, or an array with these
/// dimensions.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Shape {
    Scalar,
    Array(Vec<usize>),
}

impl Shape {
    /// Number of floats.
    pub(super) fn size(&self) -> usize {
        match self {
            Shape::Scalar => 1,
            Shape::Array(dims) => dims.iter().product(),
        }
    }
}

/// The value of shape `s` from the next floats of `flat`.
fn value_of<T: Clone>(s: &Shape, flat: &mut impl Iterator<Item = T>) -> Val<T> {
    fn dims<T: Clone>(d: &[usize], flat: &mut impl Iterator<Item = T>) -> Val<T> {
        match d.split_first() {
            None => Val::F(flat.next().expect("enough floats")),
            Some((&n, rest)) => Val::Array((0..n).map(|_| dims(rest, flat)).collect()),
        }
    }
    match s {
        Shape::Scalar => dims(&[], flat),
        Shape::Array(d) => dims(d, flat),
    }
}

/// Values of the shapes from the flat list.
pub(super) fn values<T: Clone>(shapes: &[Shape], flat: impl IntoIterator<Item = T>) -> Vec<Val<T>> {
    let mut it = flat.into_iter();
    shapes.iter().map(|s| value_of(s, &mut it)).collect()
}

/// Runs `f`, failing the case on an interpreter error and giving the
/// outputs as a flat list of floats.
pub(super) fn exec(f: &Function, params: &[Value], what: &str) -> Result<Vec<f64>, TestCaseError> {
    match interp::try_run(f, params) {
        Ok(v) => Ok(v.iter().flat_map(Value::floats).collect()),
        Err(e) => Err(TestCaseError::fail(format!(
            "{what}: cannot run: {}\n{f}",
            e.0
        ))),
    }
}

/// The branch and kink decisions a run took, in execution order (a node in
/// a loop once per iteration; a loop's trip count too), or `None` when
/// `atan2` or `hypot` ran at the origin (no derivative: 0/0 in any rule).
fn decisions(f: &Function, t: &interp::Trace<f64>) -> Option<Vec<(u32, i64)>> {
    let g = &f.graph;
    // The latest float value of each node while replaying the run.
    let mut cur = vec![f64::NAN; g.nodes.len()];
    let sign = |x: f64| {
        if x > 0.0 {
            1
        } else if x < 0.0 {
            -1
        } else {
            0
        }
    };
    let mut out = Vec::new();
    for (id, v) in &t.steps {
        let node = g.node(*id);
        let arg = |k: usize| cur[node.args[k].0 as usize];
        let d: Option<i64> = match (&node.op, v) {
            (Op::Cmp(_) | Op::If { .. }, Val::Bool(b)) => Some(*b as i64),
            (Op::Loop { .. }, Val::Int(n)) => Some(*n),
            (Op::Bin(Bin::Min), _) => Some(crate::ir::eval::min_first(arg(0), arg(1)) as i64),
            (Op::Bin(Bin::Max), _) => Some(crate::ir::eval::max_first(arg(0), arg(1)) as i64),
            (Op::Bin(Bin::Atan2 | Bin::Hypot), _) if arg(0) == 0.0 && arg(1) == 0.0 => return None,
            (Op::Bin(Bin::Atan2), _) if arg(1) < 0.0 => Some(sign(arg(0))),
            (Op::Clamp, _) => Some(if arg(0) < arg(1) {
                -1
            } else if arg(0) > arg(2) {
                1
            } else {
                0
            }),
            (Op::Un(Un::Abs | Un::Signum | Un::Sign0), _) => Some(sign(arg(0))),
            (Op::Un(Un::Floor), _) => Some(arg(0).floor() as i64),
            (Op::Un(Un::Ceil), _) => Some(arg(0).ceil() as i64),
            (Op::Un(Un::Round), _) => Some(arg(0).round() as i64),
            (Op::Un(Un::Trunc | Un::Fract), _) => Some(arg(0).trunc() as i64),
            _ => None,
        };
        if let Some(d) = d {
            out.push((id.0, d));
        }
        cur[id.0 as usize] = match v {
            Val::F(x) => *x,
            _ => f64::NAN,
        };
    }
    Some(out)
}

/// `f` at `params`: flat outputs and decisions, or `None` when a value is
/// not finite (or beyond 1e8, where finite differences lose all
/// precision), or at a point with no derivative.
fn primal(
    f: &Function,
    params: &[Value],
) -> Result<Option<(Vec<f64>, Vec<(u32, i64)>)>, TestCaseError> {
    let t = interp::trace(f, params)
        .map_err(|e| TestCaseError::fail(format!("primal: {}\n{f}", e.0)))?;
    let big = |x: &f64| x.abs().partial_cmp(&1e8).is_none_or(|o| o.is_ge());
    if t.steps.iter().any(|(_, v)| v.floats().iter().any(big)) {
        return Ok(None);
    }
    let Some(sig) = decisions(f, &t) else {
        return Ok(None);
    };
    let y = t.outputs.iter().flat_map(Value::floats).collect();
    Ok(Some((y, sig)))
}

/// Everything the properties compare against, at one point. Inputs and
/// outputs are flat: every float of every param (array elements in order),
/// of every output.
pub(super) struct Point {
    pub(super) f: Function,
    /// The shapes of the params and of the outputs.
    pub(super) ins: Vec<Shape>,
    pub(super) outs: Vec<Shape>,
    pub(super) x: Vec<f64>,
    pub(super) v: Vec<f64>,
    pub(super) w: Vec<f64>,
    pub(super) y: Vec<f64>,
    /// `jac[k][i]`: d output k / d input i, by dual numbers.
    pub(super) jac: Vec<Vec<f64>>,
    /// `J v` by one dual-number pass along `v`.
    pub(super) jv: Vec<f64>,
    /// `J v` by finite differences, where reliable.
    pub(super) fd: Option<Vec<f64>>,
}

fn dual_pass(
    f: &Function,
    ins: &[Shape],
    x: &[f64],
    dir: &[f64],
) -> Result<Vec<f64>, TestCaseError> {
    let params = values(ins, x.iter().zip(dir).map(|(&a, &d)| Dual64::new(a, d)));
    let outs = interp::run_dual(f, &params)
        .map_err(|e| TestCaseError::fail(format!("dual: {}\n{f}", e.0)))?;
    Ok(outs
        .iter()
        .flat_map(|o| o.floats())
        .map(|d| d.eps)
        .collect())
}

/// The shapes of `f`'s params for arrays of length `n`.
pub(super) fn param_shapes(f: &Function, n: usize) -> Vec<Shape> {
    f.params
        .iter()
        .map(|p| match p.fields[0] {
            Ty::Array(_, rank) => Shape::Array(vec![n; rank as usize]),
            _ => Shape::Scalar,
        })
        .collect()
}

/// The point of `f` at the first floats of `x`, `v`, `w`.
pub(super) fn point_of(
    f: Function,
    ins: Vec<Shape>,
    x: &[f64],
    v: &[f64],
    w: &[f64],
) -> Result<Point, TestCaseError> {
    let n: usize = ins.iter().map(Shape::size).sum();
    let x = x[..n].to_vec();
    let v = v[..n].to_vec();
    let Some((y, sig)) = primal(&f, &values(&ins, x.iter().copied()))? else {
        return Err(TestCaseError::reject("non-finite primal"));
    };
    let m = y.len();
    // The output shapes, from the values.
    let outs: Vec<Shape> = interp::run(&f, &values(&ins, x.iter().copied()))
        .iter()
        .map(|o| match o {
            Val::Array(rows) => match rows.first() {
                Some(Val::Array(r)) => Shape::Array(vec![rows.len(), r.len()]),
                _ => Shape::Array(vec![rows.len()]),
            },
            _ => Shape::Scalar,
        })
        .collect();
    let w = w[..m].to_vec();
    // Finite differences along v, on stencils that take the same decisions.
    let mut g = Vec::new();
    for t in [FD_H, -FD_H, FD_H / 2.0, -FD_H / 2.0] {
        let xt = x.iter().zip(&v).map(|(a, d)| a + t * d);
        let Some((yt, st)) = primal(&f, &values(&ins, xt))? else {
            return Err(TestCaseError::reject("non-finite primal near x"));
        };
        if st != sig {
            return Err(TestCaseError::reject("a decision changes near x"));
        }
        g.push(yt);
    }
    let mut jac = vec![vec![0.0; n]; m];
    for i in 0..n {
        let e: Vec<f64> = (0..n).map(|j| (i == j) as u8 as f64).collect();
        for (k, d) in dual_pass(&f, &ins, &x, &e)?.into_iter().enumerate() {
            jac[k][i] = d;
        }
    }
    let jv = dual_pass(&f, &ins, &x, &v)?;
    if jac.iter().flatten().chain(&jv).any(|d| !d.is_finite()) {
        return Err(TestCaseError::reject("non-finite derivative"));
    }
    let mut fd = Some(Vec::new());
    for k in 0..m {
        let d1 = (g[0][k] - g[1][k]) / (2.0 * FD_H);
        let d2 = (g[2][k] - g[3][k]) / FD_H;
        let rich = (4.0 * d2 - d1) / 3.0;
        let tol = FD_ATOL + FD_RTOL * rich.abs();
        // Even the plain O(h^2) stencil agrees: the extrapolated value is
        // then far more accurate than the tolerance.
        match &mut fd {
            Some(list) if (rich - d2).abs() <= FD_RELIABLE * tol => list.push(rich),
            _ => fd = None,
        }
    }
    Ok(Point {
        f,
        ins,
        outs,
        x,
        v,
        w,
        y,
        jac,
        jv,
        fd,
    })
}

impl Point {
    /// Number of input floats.
    pub(super) fn n(&self) -> usize {
        self.x.len()
    }
    /// Number of output floats.
    pub(super) fn m(&self) -> usize {
        self.y.len()
    }
    /// `Jᵀ w` by the dual-number Jacobian.
    pub(super) fn jt_w(&self) -> Vec<f64> {
        (0..self.n())
            .map(|i| (0..self.m()).map(|k| self.w[k] * self.jac[k][i]).sum())
            .collect()
    }
    /// Param values from flat floats.
    pub(super) fn args(&self, flat: &[f64]) -> Vec<Value> {
        values(&self.ins, flat.iter().copied())
    }
    /// The cotangent param from the flat `w`: one value, or a tuple.
    pub(super) fn bar(&self) -> Value {
        let mut vals = values(&self.outs, self.w.iter().copied());
        if vals.len() == 1 {
            vals.remove(0)
        } else {
            Val::Tuple(vals)
        }
    }
    /// For each flat output: is it (part of) a scalar output?
    pub(super) fn scalar_outputs(&self) -> Vec<bool> {
        self.outs
            .iter()
            .flat_map(|s| vec![*s == Shape::Scalar; s.size()])
            .collect()
    }
    /// For each param: its first flat input, if it is a scalar.
    pub(super) fn scalar_inputs(&self) -> Vec<Option<usize>> {
        let mut at = 0;
        self.ins
            .iter()
            .map(|s| {
                at += s.size();
                (*s == Shape::Scalar).then(|| at - 1)
            })
            .collect()
    }
}
