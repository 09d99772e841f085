//! Test-only IR interpreter.
//!
//! [`run`] evaluates a [`Function`] on concrete values the way the emitted
//! Rust would: nodes in region (build) order, an `If` evaluating only the
//! taken region, floats through [`crate::ir::eval`] so the results agree
//! bit for bit with the emitted code and with constant folding.
//!
//! The evaluation is generic over the float [`Scalar`]: `f64` is the plain
//! semantics; [`Dual64`] (from `num-dual`, an independent AD
//! implementation) carries one tangent through the *original* program, so a
//! property test can compare the IR transforms against it. The dual's real
//! part is always the `f64` value of [`crate::ir::eval`] (so branch and
//! piecewise decisions are identical to [`run`]); only its derivative part
//! comes from `num-dual`'s own rules (or, for the ops `num-dual` lacks, from
//! compositions of its rules: `hypot`, `log`, `softplus`, `sigmoid`, ...).
//!
//! The interpreter also checks scoping as the emitter needs it: an operand
//! must have been computed before its use and be visible from the using
//! region (a branch's values are gone after the branch), otherwise the run
//! fails with an [`Error`] instead of giving a value the emitted code could
//! not compute.

use std::fmt::Debug;

use num_dual::{Dual64, DualNum};

use crate::ir::{eval, Bin, Cmp, FloatTy, Function, NodeId, Op, RegionId, Ty, Un, ROOT};

/// A runtime value over the float scalar `T`.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<T> {
    /// A float (of either [`FloatTy`]; `f32` values are kept rounded).
    F(T),
    /// An integer (`powi` exponents, `as` casts).
    Int(i64),
    Bool(bool),
    /// A tuple parameter (`out_bar` of a function with several outputs).
    Tuple(Vec<Val<T>>),
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

    fn int(&self) -> Result<i64, Error> {
        match self {
            Val::Int(n) => Ok(*n),
            other => Err(Error(format!("expected an integer, got {other:?}"))),
        }
    }

    fn boolean(&self) -> Result<bool, Error> {
        match self {
            Val::Bool(b) => Ok(*b),
            other => Err(Error(format!("expected a bool, got {other:?}"))),
        }
    }
}

impl Value {
    /// The `f64` of a float value (panics otherwise; tests only).
    pub fn f(&self) -> f64 {
        match self {
            Val::F(x) => *x,
            other => panic!("expected a float, got {other:?}"),
        }
    }
}

/// Why a program could not be run.
#[derive(Clone, Debug, PartialEq)]
pub struct Error(pub String);

/// A float scalar the interpreter can compute with. Every method gets the
/// node's float type; the real part of every result is the value
/// [`crate::ir::eval`] gives.
pub trait Scalar: Clone + Debug {
    /// A constant (no derivative).
    fn constant(v: f64) -> Self;
    /// The real (primal) part.
    fn re(&self) -> f64;
    fn un(ty: FloatTy, op: Un, x: &Self) -> Self;
    fn bin(ty: FloatTy, op: Bin, a: &Self, b: &Self) -> Self;
    fn powi(ty: FloatTy, x: &Self, n: i64) -> Self;
    fn mul_add(ty: FloatTy, a: &Self, b: &Self, c: &Self) -> Self;
}

impl Scalar for f64 {
    fn constant(v: f64) -> Self {
        v
    }
    fn re(&self) -> f64 {
        *self
    }
    fn un(ty: FloatTy, op: Un, x: &Self) -> Self {
        eval::un(ty, op, *x)
    }
    fn bin(ty: FloatTy, op: Bin, a: &Self, b: &Self) -> Self {
        eval::bin(ty, op, *a, *b)
    }
    fn powi(ty: FloatTy, x: &Self, n: i64) -> Self {
        eval::powi(ty, *x, n)
    }
    fn mul_add(ty: FloatTy, a: &Self, b: &Self, c: &Self) -> Self {
        eval::mul_add(ty, *a, *b, *c)
    }
}

/// `num-dual`'s derivative of one op at the dual operands (its real part is
/// replaced by the `eval` value by the caller).
fn dual_un(op: Un, x: &Dual64) -> Dual64 {
    let zero_slope = |v: f64| Dual64::new(v, 0.0);
    match op {
        Un::Neg => -*x,
        Un::Sin => x.sin(),
        Un::Cos => x.cos(),
        Un::Tan => x.tan(),
        Un::Asin => x.asin(),
        Un::Acos => x.acos(),
        Un::Atan => x.atan(),
        Un::Sinh => x.sinh(),
        Un::Cosh => x.cosh(),
        Un::Tanh => x.tanh(),
        Un::Asinh => x.asinh(),
        Un::Acosh => x.acosh(),
        Un::Atanh => x.atanh(),
        Un::Exp => x.exp(),
        Un::Exp2 => x.exp2(),
        Un::ExpM1 => x.exp_m1(),
        Un::Ln => x.ln(),
        Un::Log2 => x.log2(),
        Un::Log10 => x.log10(),
        Un::Ln1p => x.ln_1p(),
        Un::Sqrt => x.sqrt(),
        Un::Cbrt => x.cbrt(),
        Un::Recip => DualNum::recip(x),
        // |x| = x or -x by the sign (a kink at 0, where the slope is 0 as
        // the IR's rule has it).
        Un::Abs => {
            if x.re > 0.0 {
                *x
            } else if x.re < 0.0 {
                -*x
            } else {
                zero_slope(0.0)
            }
        }
        Un::Signum | Un::Floor | Un::Ceil | Un::Round | Un::Trunc | Un::Sign0 => zero_slope(0.0),
        // x - trunc(x): slope 1 between integers.
        Un::Fract => *x - x.re.trunc(),
        Un::Softplus => {
            if x.re > 0.0 {
                *x + (-*x).exp().ln_1p()
            } else {
                x.exp().ln_1p()
            }
        }
        Un::Sigmoid => DualNum::recip(&((-*x).exp() + 1.0)),
    }
}

fn dual_bin(op: Bin, a: &Dual64, b: &Dual64) -> Dual64 {
    match op {
        Bin::Add => *a + *b,
        Bin::Sub => *a - *b,
        Bin::Mul => *a * *b,
        Bin::Div => *a / *b,
        Bin::Powf => {
            if b.eps == 0.0 {
                DualNum::powf(a, b.re)
            } else {
                a.powd(*b)
            }
        }
        Bin::Atan2 => DualNum::atan2(a, *b),
        Bin::Hypot => (*a * *a + *b * *b).sqrt(),
        Bin::Log => a.ln() / b.ln(),
        Bin::Min => {
            if eval::min_first(a.re, b.re) {
                *a
            } else {
                *b
            }
        }
        Bin::Max => {
            if eval::max_first(a.re, b.re) {
                *a
            } else {
                *b
            }
        }
    }
}

impl Scalar for Dual64 {
    fn constant(v: f64) -> Self {
        Dual64::new(v, 0.0)
    }
    fn re(&self) -> f64 {
        self.re
    }
    fn un(ty: FloatTy, op: Un, x: &Self) -> Self {
        Dual64::new(eval::un(ty, op, x.re), dual_un(op, x).eps)
    }
    fn bin(ty: FloatTy, op: Bin, a: &Self, b: &Self) -> Self {
        Dual64::new(eval::bin(ty, op, a.re, b.re), dual_bin(op, a, b).eps)
    }
    fn powi(ty: FloatTy, x: &Self, n: i64) -> Self {
        let n32 = n.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        Dual64::new(eval::powi(ty, x.re, n), DualNum::powi(x, n32).eps)
    }
    fn mul_add(ty: FloatTy, a: &Self, b: &Self, c: &Self) -> Self {
        Dual64::new(eval::mul_add(ty, a.re, b.re, c.re), (*a * *b + *c).eps)
    }
}

/// The result of one run: the outputs, and the value every evaluated node
/// had (`None` for nodes not evaluated: dead, or in a branch not taken).
#[derive(Clone, Debug)]
pub struct Trace<T> {
    pub outputs: Vec<Val<T>>,
    pub values: Vec<Option<Val<T>>>,
}

/// Runs `f` on `params`, panicking if the program cannot be run.
pub fn run(f: &Function, params: &[Value]) -> Vec<Value> {
    match try_run(f, params) {
        Ok(v) => v,
        Err(e) => panic!("interpreter: {}\n{f}", e.0),
    }
}

/// Runs `f` on `params`.
pub fn try_run(f: &Function, params: &[Value]) -> Result<Vec<Value>, Error> {
    trace(f, params).map(|t| t.outputs)
}

/// Runs `f` (its plain semantics) on dual-number params: each output's
/// `eps` is the directional derivative along the params' `eps`.
pub fn run_dual(f: &Function, params: &[Val<Dual64>]) -> Result<Vec<Val<Dual64>>, Error> {
    trace(f, params).map(|t| t.outputs)
}

/// Runs `f` on `params` over any [`Scalar`], keeping every node's value.
pub fn trace<T: Scalar>(f: &Function, params: &[Val<T>]) -> Result<Trace<T>, Error> {
    let live = f.graph.live(&f.outputs);
    let mut it = Interp {
        f,
        params,
        live,
        env: vec![None; f.graph.nodes.len()],
        if_outs: vec![None; f.graph.nodes.len()],
        values: vec![None; f.graph.nodes.len()],
    };
    it.region(ROOT)?;
    let outputs = f
        .outputs
        .iter()
        .map(|&o| it.get(o))
        .collect::<Result<_, _>>()?;
    Ok(Trace {
        outputs,
        values: it.values,
    })
}

struct Interp<'a, T> {
    f: &'a Function,
    params: &'a [Val<T>],
    live: Vec<bool>,
    /// Values in scope now.
    env: Vec<Option<Val<T>>>,
    /// Outputs of each evaluated `If` in scope.
    if_outs: Vec<Option<Vec<Val<T>>>>,
    /// Every value ever computed (kept after its region is left).
    values: Vec<Option<Val<T>>>,
}

impl<T: Scalar> Interp<'_, T> {
    /// An operand's value; a `Proj` reads its `If`'s outputs, as the
    /// emitter binds them right after the `if`.
    fn get(&self, id: NodeId) -> Result<Val<T>, Error> {
        let i = id.0 as usize;
        if let Some(v) = &self.env[i] {
            return Ok(v.clone());
        }
        if let Op::Proj(k) = *self.f.graph.op(id) {
            let if_node = self.f.graph.args(id)[0];
            if let Some(outs) = &self.if_outs[if_node.0 as usize] {
                return outs.get(k as usize).cloned().ok_or_else(|| {
                    Error(format!("%{}: `If` %{} has no output {k}", i, if_node.0))
                });
            }
        }
        Err(Error(format!(
            "%{i} used before it is computed or outside its region"
        )))
    }

    fn region(&mut self, r: RegionId) -> Result<Vec<Val<T>>, Error> {
        let g = &self.f.graph;
        for &id in &g.region(r).nodes {
            if !self.live[id.0 as usize] {
                continue;
            }
            let v = self.node(id)?;
            self.values[id.0 as usize] = Some(v.clone());
            self.env[id.0 as usize] = Some(v);
        }
        let outs = g
            .region(r)
            .outputs
            .iter()
            .map(|&o| self.get(o))
            .collect::<Result<Vec<_>, _>>();
        if r != ROOT {
            // Leaving the branch: its values are no longer visible.
            for &id in &g.region(r).nodes {
                self.env[id.0 as usize] = None;
                self.if_outs[id.0 as usize] = None;
            }
        }
        outs
    }

    fn node(&mut self, id: NodeId) -> Result<Val<T>, Error> {
        let g = &self.f.graph;
        let node = g.node(id);
        if let Op::If { then, els } = node.op {
            let taken = if self.get(node.args[0])?.boolean()? {
                then
            } else {
                els
            };
            if g.region(els).outputs.len() != g.region(then).outputs.len() {
                return Err(Error(format!("%{}: branches yield different counts", id.0)));
            }
            let outs = self.region(taken)?;
            self.if_outs[id.0 as usize] = Some(outs);
            // The `If` itself has no value; record which side ran.
            return Ok(Val::Bool(taken == then));
        }
        let float_ty = || {
            node.ty
                .float()
                .ok_or_else(|| Error(format!("%{}: float op with type {:?}", id.0, node.ty)))
        };
        let arg = |k: usize| self.get(node.args[k]);
        let farg = |k: usize| -> Result<T, Error> { arg(k)?.float().cloned() };
        let v = match &node.op {
            Op::Param { index, field } => {
                let p = self
                    .params
                    .get(*index as usize)
                    .ok_or_else(|| Error(format!("missing parameter {index}")))?;
                match (field, p) {
                    (None, Val::Tuple(_)) => {
                        return Err(Error(format!("parameter {index} is a tuple")))
                    }
                    (None, v) => v.clone(),
                    (Some(k), Val::Tuple(items)) => items
                        .get(*k as usize)
                        .cloned()
                        .ok_or_else(|| Error(format!("parameter {index} has no field {k}")))?,
                    (Some(_), _) => return Err(Error(format!("parameter {index} is not a tuple"))),
                }
            }
            Op::Const(bits) => Val::F(T::constant(f64::from_bits(*bits))),
            Op::Int(n) => Val::Int(*n),
            Op::Bool(b) => Val::Bool(*b),
            Op::Default => match node.ty {
                Ty::Float(_) => Val::F(T::constant(0.0)),
                Ty::Bool => Val::Bool(false),
                Ty::Other => Val::Int(0),
                Ty::Array(..) => return Err(Error("arrays are not interpreted yet".to_string())),
            },
            // Arrays and loops: not interpreted yet (the random programs
            // do not generate them).
            Op::Index
            | Op::Len
            | Op::AddAt
            | Op::AddArray
            | Op::ZerosLike
            | Op::IntSub
            | Op::RegionArg(..)
            | Op::Loop { .. }
            | Op::FillFixed(_)
            | Op::FillVec
            | Op::ArrayLit
            | Op::Store
            | Op::Owned
            | Op::SumAll => {
                return Err(Error(format!(
                    "%{}: arrays and loops are not interpreted yet",
                    id.0
                )));
            }
            Op::Opaque(i) => {
                return Err(Error(format!(
                    "%{}: opaque expression #{i} cannot be interpreted",
                    id.0
                )))
            }
            Op::Un(u) => Val::F(T::un(float_ty()?, *u, &farg(0)?)),
            Op::Bin(b) => Val::F(T::bin(float_ty()?, *b, &farg(0)?, &farg(1)?)),
            Op::PowI => Val::F(T::powi(float_ty()?, &farg(0)?, arg(1)?.int()?)),
            Op::MulAdd => Val::F(T::mul_add(float_ty()?, &farg(0)?, &farg(1)?, &farg(2)?)),
            Op::Clamp => {
                let (x, lo, hi) = (farg(0)?, farg(1)?, farg(2)?);
                // eval::clamp's choice, keeping the chosen operand (and
                // its derivative part).
                if lo.re().partial_cmp(&hi.re()).is_none_or(|o| o.is_gt()) {
                    Val::F(T::constant(f64::NAN))
                } else if x.re() < lo.re() {
                    Val::F(lo)
                } else if x.re() > hi.re() {
                    Val::F(hi)
                } else {
                    Val::F(x)
                }
            }
            Op::IntToFloat => {
                let n = arg(0)?.int()?;
                Val::F(T::constant(float_ty()?.round(n as f64)))
            }
            Op::IntAdd => Val::Int(arg(0)?.int()?.wrapping_add(arg(1)?.int()?)),
            Op::Cmp(k) => match (arg(0)?, arg(1)?) {
                // Integer comparisons (a runtime `powi` exponent against 0).
                (Val::Int(a), Val::Int(b)) => Val::Bool(int_cmp(*k, a, b)),
                (a, b) => Val::Bool(eval::cmp(*k, a.float()?.re(), b.float()?.re())),
            },
            Op::Not => Val::Bool(!arg(0)?.boolean()?),
            Op::And => Val::Bool(arg(0)?.boolean()? && arg(1)?.boolean()?),
            Op::Or => Val::Bool(arg(0)?.boolean()? || arg(1)?.boolean()?),
            Op::Select => {
                if arg(0)?.boolean()? {
                    arg(1)?
                } else {
                    arg(2)?
                }
            }
            Op::If { .. } => unreachable!(),
            Op::Proj(_) => self.get(id)?,
        };
        Ok(v)
    }
}

/// A comparison of integers (`MaxFirst`/`MinFirst` as `a.max(b)` /
/// `a.min(b)` pick `a`).
fn int_cmp(k: Cmp, a: i64, b: i64) -> bool {
    match k {
        Cmp::Lt => a < b,
        Cmp::Le => a <= b,
        Cmp::Gt => a > b,
        Cmp::Ge | Cmp::MaxFirst => a >= b,
        Cmp::Eq => a == b,
        Cmp::Ne => a != b,
        Cmp::MinFirst => a <= b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Graph, OutShape, Param};

    fn param(name: &str) -> Param {
        Param {
            name: syn::Ident::new(name, proc_macro2::Span::call_site()),
            fields: vec![Ty::Float(FloatTy::F64)],
        }
    }

    /// `if x < y { let s = x * y; (s.sin(), s) } else { (y, x.max(y)) }`
    fn sample() -> Function {
        let mut g = Graph::default();
        let f64t = Ty::Float(FloatTy::F64);
        let x = g.add(
            ROOT,
            Op::Param {
                index: 0,
                field: None,
            },
            vec![],
            f64t,
        );
        let y = g.add(
            ROOT,
            Op::Param {
                index: 1,
                field: None,
            },
            vec![],
            f64t,
        );
        let c = g.cmp(ROOT, Cmp::Lt, x, y);
        let t = g.new_region(ROOT);
        let e = g.new_region(ROOT);
        let s = g.bin(t, Bin::Mul, x, y);
        let ss = g.un(t, Un::Sin, s);
        g.set_outputs(t, vec![ss, s]);
        let m = g.bin(e, Bin::Max, x, y);
        g.set_outputs(e, vec![y, m]);
        let i = g.add(ROOT, Op::If { then: t, els: e }, vec![c], Ty::Other);
        let p0 = g.add(ROOT, Op::Proj(0), vec![i], f64t);
        let p1 = g.add(ROOT, Op::Proj(1), vec![i], f64t);
        let n = g.add(ROOT, Op::Int(3), vec![], Ty::Other);
        let q = g.add(ROOT, Op::PowI, vec![p1, n], f64t);
        let out = g.bin(ROOT, Bin::Add, p0, q);
        Function {
            params: vec![param("x"), param("y")],
            graph: g,
            outputs: vec![out],
            shape: OutShape::Leaf,
        }
    }

    #[test]
    fn runs_the_taken_branch() {
        let f = sample();
        let (x, y) = (0.5f64, 2.0f64);
        let v = run(&f, &[Val::F(x), Val::F(y)]);
        assert_eq!(v, vec![Val::F((x * y).sin() + (x * y).powi(3))]);
        let (x, y) = (3.0f64, 2.0f64);
        let v = run(&f, &[Val::F(x), Val::F(y)]);
        assert_eq!(v, vec![Val::F(y + x.max(y).powi(3))]);
    }

    #[test]
    fn dual_carries_the_derivative() {
        let f = sample();
        let (x, y) = (0.5f64, 2.0f64);
        let v = run_dual(
            &f,
            &[Val::F(Dual64::new(x, 1.0)), Val::F(Dual64::new(y, 0.0))],
        )
        .unwrap();
        let Val::F(d) = &v[0] else { panic!() };
        let s = x * y;
        assert_eq!(d.re, s.sin() + s.powi(3));
        let want = s.cos() * y + 3.0 * s * s * y;
        assert!((d.eps - want).abs() < 1e-12, "{} vs {want}", d.eps);
    }

    #[test]
    fn out_of_scope_use_is_an_error() {
        let mut f = sample();
        // Read the branch-local product from the root.
        let s = f
            .graph
            .nodes
            .iter()
            .position(|n| n.op == Op::Bin(Bin::Mul))
            .unwrap();
        let g = &mut f.graph;
        let bad = g.un(ROOT, Un::Neg, NodeId(s as u32));
        f.outputs = vec![bad];
        assert!(try_run(&f, &[Val::F(0.5), Val::F(2.0)]).is_err());
    }

    #[test]
    fn tuple_params_and_fields() {
        let mut g = Graph::default();
        let f64t = Ty::Float(FloatTy::F64);
        let a = g.add(
            ROOT,
            Op::Param {
                index: 0,
                field: Some(1),
            },
            vec![],
            f64t,
        );
        let b = g.add(
            ROOT,
            Op::Param {
                index: 0,
                field: Some(0),
            },
            vec![],
            f64t,
        );
        let d = g.bin(ROOT, Bin::Sub, a, b);
        let f = Function {
            params: vec![Param {
                name: syn::Ident::new("t", proc_macro2::Span::call_site()),
                fields: vec![f64t, f64t],
            }],
            graph: g,
            outputs: vec![d],
            shape: OutShape::Leaf,
        };
        assert_eq!(
            run(&f, &[Val::Tuple(vec![Val::F(1.0), Val::F(5.0)])]),
            vec![Val::F(4.0)]
        );
    }
}
