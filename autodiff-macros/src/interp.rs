//! Test-only IR interpreter.
//!
//! [`run`] evaluates a [`Function`] on concrete values the way the emitted
//! Rust would: nodes in region (build) order, an `If` evaluating only the
//! taken region, a `Loop` running its body once per index of its range
//! (forward or reversed), floats through [`crate::ir::eval`] so the results
//! agree bit for bit with the emitted code and with constant folding.
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
//! Arrays are values ([`Val::Array`], rank 2 as an array of rows), and the
//! array updates (`AddAt`, `Store`, `AddArray`) are functional updates in
//! the IR. The emitter performs them in place, which is right only when
//! each array version is used once; the interpreter runs what the emitted
//! code does: every array version lives in the variable the emitter keeps
//! it in (its own; the one of the version it updates; the initial array's
//! variable for a loop's carried array; one name yielded by both branches
//! of an `If`), and reading a version reads its variable's current
//! contents. A transform that uses a version after updating it in place
//! then gives the wrong values the emitted code would. ([`try_run_ir`]
//! runs the IR semantics instead; an in-place update of a parameter is an
//! [`Error`].) Loops carry values from iteration to iteration
//! (`RegionArg(body, 0)` is the index, `RegionArg(body, 1 + k)` carried
//! value `k`) and stack the body's remaining outputs into arrays (tapes).
//! Opaque expressions are evaluated when they are integer or boolean
//! arithmetic on literals and their bindings (`x.len() - 1 - i`,
//! `(i + 1) % n`, `i > 0`), as lowering makes them of index arithmetic; the
//! length of `[v; N]` must be such an expression (an integer literal).
//!
//! The interpreter also checks scoping as the emitter needs it: an operand
//! must have been computed before its use and be visible from the using
//! region (a branch's or a loop body's values are gone after it), otherwise
//! the run fails with an [`Error`] instead of giving a value the emitted
//! code could not compute. Indices out of range fail too, as the emitted
//! code would panic, and so does an `IntSub` below zero (index arithmetic:
//! the emitted `usize` subtraction would panic).

use std::collections::HashMap;
use std::fmt::Debug;

use num_dual::{Dual64, DualNum};

mod kernels;

use crate::ir::IntOp;
use crate::ir::{eval, Bin, Cmp, FloatTy, Function, Graph, NodeId, Op, RegionId, Ty, Un, ROOT};

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

    fn array(&self) -> Result<&[Val<T>], Error> {
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

/// The result of one run: the outputs and, for [`trace`], every
/// evaluation in execution order.
#[derive(Clone, Debug)]
pub struct Trace<T> {
    pub outputs: Vec<Val<T>>,
    /// Each node evaluation in order (a node of a loop body once per
    /// iteration). An `If` gives whether it took its `then` side, a `Loop`
    /// its trip count.
    pub steps: Vec<(NodeId, Val<T>)>,
}

/// Most node evaluations in one run: a guard against runaway loops.
const MAX_STEPS: usize = 1 << 22;

/// Runs `f` on `params`, panicking if the program cannot be run.
pub fn run(f: &Function, params: &[Value]) -> Vec<Value> {
    match try_run(f, params) {
        Ok(v) => v,
        Err(e) => panic!("interpreter: {}\n{f}", e.0),
    }
}

/// Runs `f` on `params`, as the emitted code would (arrays updated in
/// place).
pub fn try_run(f: &Function, params: &[Value]) -> Result<Vec<Value>, Error> {
    exec(f, params, false, false).map(|t| t.outputs)
}

/// Runs `f` on `params` with the IR's own semantics: every array version
/// is a value of its own (what the emitted code computes only if each
/// version is used once).
pub fn try_run_ir(f: &Function, params: &[Value]) -> Result<Vec<Value>, Error> {
    exec(f, params, false, true).map(|t| t.outputs)
}

/// Runs `f` (its plain semantics) on dual-number params: each output's
/// `eps` is the directional derivative along the params' `eps`.
pub fn run_dual(f: &Function, params: &[Val<Dual64>]) -> Result<Vec<Val<Dual64>>, Error> {
    exec(f, params, false, false).map(|t| t.outputs)
}

/// Runs `f` on `params` over any [`Scalar`], keeping every evaluation.
pub fn trace<T: Scalar>(f: &Function, params: &[Val<T>]) -> Result<Trace<T>, Error> {
    exec(f, params, true, false)
}

/// Every operand and output is a node of the graph.
fn well_formed(f: &Function) -> Result<(), Error> {
    let g = &f.graph;
    let n = g.nodes.len();
    let bad = |id: &NodeId| id.0 as usize >= n;
    for (i, node) in g.nodes.iter().enumerate() {
        if let Some(a) = node.args.iter().find(|a| bad(a)) {
            return err(format!("%{i}: operand %{} is no node", a.0));
        }
    }
    for (r, region) in g.regions.iter().enumerate() {
        if let Some(o) = region.outputs.iter().find(|o| bad(o)) {
            return err(format!("region {r}: output %{} is no node", o.0));
        }
    }
    if let Some(o) = f.outputs.iter().find(|o| bad(o)) {
        return err(format!("output %{} is no node", o.0));
    }
    Ok(())
}

/// The variable the emitter keeps an array version in: its own, or the
/// one of the version it updates in place (`AddAt`, `Store`, `AddArray`),
/// of the loop that carries it, of the `If` that yields it from both
/// branches under one name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Var {
    Node(NodeId),
    /// Carried value `k` of a loop whose initial array is not a variable
    /// the loop can take over (a parameter, a `Default`).
    Slot(NodeId, u32),
}

/// The variable of every node (of array type; any other node is its own).
fn variables(g: &Graph) -> Vec<Var> {
    let mut loop_of = HashMap::new();
    for (i, node) in g.nodes.iter().enumerate() {
        if let Op::Loop { body, .. } = node.op {
            loop_of.insert(body, NodeId(i as u32));
        }
    }
    let mut memo = vec![None; g.nodes.len()];
    (0..g.nodes.len())
        .map(|i| var_of(g, &loop_of, &mut memo, NodeId(i as u32)))
        .collect()
}

fn var_of(
    g: &Graph,
    loop_of: &HashMap<RegionId, NodeId>,
    memo: &mut Vec<Option<Var>>,
    id: NodeId,
) -> Var {
    if let Some(v) = memo[id.0 as usize] {
        return v;
    }
    // Provisional, against cycles in a malformed graph.
    memo[id.0 as usize] = Some(Var::Node(id));
    let node = g.node(id);
    // The loop variable of carried value `k` of loop `l`: the initial
    // array's own variable when it has one (the emitter's `reuse`).
    let slot = |memo: &mut Vec<Option<Var>>, l: NodeId, k: u32| match g.args(l).get(2 + k as usize)
    {
        Some(&init) if !matches!(g.op(init), Op::Param { .. } | Op::Default) => {
            var_of(g, loop_of, memo, init)
        }
        _ => Var::Slot(l, k),
    };
    let v = if !node.ty.is_array() {
        Var::Node(id)
    } else {
        match node.op {
            ref op if op.updates_in_place() && !node.args.is_empty() => {
                var_of(g, loop_of, memo, node.args[0])
            }
            Op::RegionArg(body, k) if k >= 1 => match loop_of.get(&body) {
                Some(&l) => slot(memo, l, k - 1),
                None => Var::Node(id),
            },
            Op::Proj(k) => match *g.op(node.args[0]) {
                Op::Loop { carried, .. } if k < carried => slot(memo, node.args[0], k),
                Op::If { then, els } => {
                    let out = |r: RegionId| g.region(r).outputs.get(k as usize).copied();
                    match (out(then), out(els)) {
                        (Some(a), Some(b)) => {
                            let (a, b) = (var_of(g, loop_of, memo, a), var_of(g, loop_of, memo, b));
                            if a == b {
                                a
                            } else {
                                Var::Node(id)
                            }
                        }
                        _ => Var::Node(id),
                    }
                }
                _ => Var::Node(id),
            },
            _ => Var::Node(id),
        }
    };
    memo[id.0 as usize] = Some(v);
    v
}

/// For each array `Default` a branch yields: what the other branch yields
/// in its place.
fn default_siblings(g: &Graph) -> HashMap<NodeId, NodeId> {
    let mut out = HashMap::new();
    for node in &g.nodes {
        if let Op::If { then, els } = node.op {
            let (t, e) = (&g.region(then).outputs, &g.region(els).outputs);
            for (&a, &b) in t.iter().zip(e) {
                for (d, other) in [(a, b), (b, a)] {
                    if *g.op(d) == Op::Default && g.ty(d).is_array() {
                        out.insert(d, other);
                    }
                }
            }
        }
    }
    out
}

/// The dimensions of array node `id` if it is a fixed-size array (made by
/// `[v; N]` with a literal `N`, or `[a, b, ..]`, or a version or copy of
/// one), `None` for a `Vec` or a slice (or unknown).
fn fixed_shape(g: &Graph, id: NodeId, depth: usize) -> Option<Vec<usize>> {
    if depth > 64 {
        return None;
    }
    let node = g.node(id);
    let init_of = |l: NodeId, k: u32| g.args(l).get(2 + k as usize).copied();
    match node.op {
        Op::FillFixed(k) => {
            let len = opaque_value::<f64>(&g.opaques[k as usize].expr, &[], &[])
                .ok()
                .and_then(|v| v.int().ok())
                .and_then(|n| usize::try_from(n).ok())?;
            let mut dims = vec![len];
            if g.ty(node.args[0]).is_array() {
                dims.extend(fixed_shape(g, node.args[0], depth + 1)?);
            }
            Some(dims)
        }
        Op::ArrayLit => Some(vec![node.args.len()]),
        Op::AddAt | Op::Store | Op::AddArray | Op::Owned | Op::ZerosLike => {
            fixed_shape(g, *node.args.first()?, depth + 1)
        }
        Op::Kernel(k) if k.accumulates() => fixed_shape(g, *node.args.first()?, depth + 1),
        Op::RegionArg(body, k) if k >= 1 => {
            let l = g
                .nodes
                .iter()
                .position(|n| matches!(n.op, Op::Loop { body: b, .. } if b == body))?;
            fixed_shape(g, init_of(NodeId(l as u32), k - 1)?, depth + 1)
        }
        Op::Proj(k) => match *g.op(node.args[0]) {
            Op::Loop { carried, .. } if k < carried => {
                fixed_shape(g, init_of(node.args[0], k)?, depth + 1)
            }
            Op::If { then, els } => [then, els].iter().find_map(|&r| {
                let o = *g.region(r).outputs.get(k as usize)?;
                fixed_shape(g, o, depth + 1)
            }),
            _ => None,
        },
        _ => None,
    }
}

/// Zeros of the given dimensions.
fn zeros<T: Scalar>(dims: &[usize]) -> Val<T> {
    match dims.split_first() {
        None => Val::F(T::constant(0.0)),
        Some((&n, rest)) => Val::Array((0..n).map(|_| zeros(rest)).collect()),
    }
}

fn exec<T: Scalar>(
    f: &Function,
    params: &[Val<T>],
    record: bool,
    functional: bool,
) -> Result<Trace<T>, Error> {
    well_formed(f)?;
    let n = f.graph.nodes.len();
    let mut it = Interp {
        f,
        params,
        live: f.graph.live(&f.outputs),
        env: vec![None; n],
        region_outs: vec![None; n],
        loop_args: vec![None; f.graph.regions.len()],
        var: variables(&f.graph),
        vars: HashMap::new(),
        default_sibling: default_siblings(&f.graph),
        functional,
        steps: Vec::new(),
        record,
        count: 0,
    };
    it.region(ROOT)?;
    let outputs = f
        .outputs
        .iter()
        .map(|&o| it.get(o))
        .collect::<Result<_, _>>()?;
    Ok(Trace {
        outputs,
        steps: it.steps,
    })
}

struct Interp<'a, T> {
    f: &'a Function,
    params: &'a [Val<T>],
    live: Vec<bool>,
    /// Values in scope now.
    env: Vec<Option<Val<T>>>,
    /// Outputs of each evaluated `If` or `Loop` in scope.
    region_outs: Vec<Option<Vec<Val<T>>>>,
    /// For each loop body being run: its index and carried values in the
    /// current iteration.
    loop_args: Vec<Option<Vec<Val<T>>>>,
    /// The variable of each node, and the current contents of each array
    /// variable: reading an array version reads its variable, as the
    /// emitted code does.
    var: Vec<Var>,
    vars: HashMap<Var, Val<T>>,
    /// Every array version a value of its own instead (the IR semantics).
    functional: bool,
    /// The array the other branch yields where a branch yields an array
    /// `Default`.
    default_sibling: HashMap<NodeId, NodeId>,
    steps: Vec<(NodeId, Val<T>)>,
    record: bool,
    count: usize,
}

fn err<X>(msg: String) -> Result<X, Error> {
    Err(Error(msg))
}

impl<T: Scalar> Interp<'_, T> {
    /// An operand's value; an array version's is its variable's current
    /// contents (unless [`Interp::functional`]).
    fn get(&self, id: NodeId) -> Result<Val<T>, Error> {
        let v = self.peek(id)?;
        if !self.functional && self.f.graph.ty(id).is_array() {
            if let Some(cur) = self.vars.get(&self.var[id.0 as usize]) {
                return Ok(cur.clone());
            }
        }
        Ok(v)
    }

    /// An operand's own value, if it is in scope. A `Proj` reads its
    /// `If`'s or `Loop`'s outputs, as the emitter binds them right after
    /// it; a `RegionArg` its loop's current iteration, as the emitter names
    /// them for the whole body.
    fn peek(&self, id: NodeId) -> Result<Val<T>, Error> {
        let i = id.0 as usize;
        if let Some(v) = &self.env[i] {
            return Ok(v.clone());
        }
        match *self.f.graph.op(id) {
            Op::Proj(k) => {
                let of = self.f.graph.args(id)[0];
                if let Some(outs) = &self.region_outs[of.0 as usize] {
                    return outs
                        .get(k as usize)
                        .cloned()
                        .ok_or_else(|| Error(format!("%{i}: %{} has no output {k}", of.0)));
                }
            }
            Op::RegionArg(r, k) => {
                if let Some(args) = self.loop_args.get(r.0 as usize).and_then(Option::as_ref) {
                    return args
                        .get(k as usize)
                        .cloned()
                        .ok_or_else(|| Error(format!("%{i}: the loop has no input {k}")));
                }
                return err(format!("%{i}: argument of a loop body used outside it"));
            }
            _ => {}
        }
        err(format!(
            "%{i} used before it is computed or outside its region"
        ))
    }

    fn region(&mut self, r: RegionId) -> Result<Vec<Val<T>>, Error> {
        let g = &self.f.graph;
        for &id in &g.region(r).nodes {
            let i = id.0 as usize;
            if !self.live[i] {
                continue;
            }
            self.count += 1;
            if self.count > MAX_STEPS {
                return err(format!("more than {MAX_STEPS} evaluations"));
            }
            let v = self.node(id)?;
            if self.record {
                self.steps.push((id, v.clone()));
            }
            // A new array variable, or an in-place update of one (a loop's
            // variables are kept by the loop, an in-place `If`'s by its
            // branches).
            let var = self.var[i];
            if !self.functional
                && g.ty(id).is_array()
                && (var == Var::Node(id) || g.op(id).updates_in_place())
            {
                self.vars.insert(var, v.clone());
            }
            self.env[i] = Some(v);
        }
        let outs = g
            .region(r)
            .outputs
            .iter()
            .map(|&o| self.get(o))
            .collect::<Result<Vec<_>, _>>();
        if r != ROOT {
            // Leaving the branch or the iteration: its values are no longer
            // visible.
            for &id in &g.region(r).nodes {
                self.env[id.0 as usize] = None;
                self.region_outs[id.0 as usize] = None;
            }
        }
        outs
    }

    /// Runs a loop: its outputs are the final carried values, then one
    /// array per stacked value.
    fn run_loop(
        &mut self,
        id: NodeId,
        body: RegionId,
        carried: usize,
        rev: bool,
    ) -> Result<Val<T>, Error> {
        let g = &self.f.graph;
        let args = g.args(id);
        if args.len() != 2 + carried {
            return err(format!(
                "%{}: a loop carrying {carried} values has {} inputs",
                id.0,
                args.len()
            ));
        }
        let (start, end) = (self.get(args[0])?.int()?, self.get(args[1])?.int()?);
        let mut cur = args[2..]
            .iter()
            .map(|&a| self.get(a))
            .collect::<Result<Vec<_>, _>>()?;
        // The loop variable of each carried array: the initial array's
        // variable itself when it has one (the emitter's `reuse`), else a
        // new one.
        let body_outs = g.region(body).outputs.clone();
        let mut slots = Vec::new();
        if !self.functional {
            for k in 0..carried {
                if !matches!(cur[k], Val::Array(_)) {
                    continue;
                }
                let init = args[2 + k];
                let var = if matches!(g.op(init), Op::Param { .. } | Op::Default) {
                    Var::Slot(id, k as u32)
                } else {
                    self.var[init.0 as usize]
                };
                if slots.iter().any(|&(_, v)| v == var) {
                    return err(format!("%{}: array %{} carried twice", id.0, init.0));
                }
                self.vars.insert(var, cur[k].clone());
                slots.push((k, var));
            }
        }
        let n_out = g.region(body).outputs.len();
        if n_out < carried {
            return err(format!(
                "%{}: the body yields {n_out} values for {carried} carried",
                id.0
            ));
        }
        let mut tapes = vec![Vec::new(); n_out - carried];
        let mut indices: Vec<i64> = (start..end.max(start)).collect();
        if rev {
            indices.reverse();
        }
        let trips = indices.len() as i64;
        for i in indices {
            let mut a = Vec::with_capacity(1 + carried);
            a.push(Val::Int(i));
            a.append(&mut cur);
            self.loop_args[body.0 as usize] = Some(a);
            let mut outs = self.region(body)?.into_iter();
            cur = outs.by_ref().take(carried).collect();
            for (t, v) in tapes.iter_mut().zip(outs) {
                t.push(v);
            }
            // `var = out;` at the end of the body, unless `out` is a
            // version of `var` itself.
            for &(k, var) in &slots {
                if self.var[body_outs[k].0 as usize] != var {
                    self.vars.insert(var, cur[k].clone());
                }
            }
        }
        self.loop_args[body.0 as usize] = None;
        cur.extend(tapes.into_iter().map(Val::Array));
        self.region_outs[id.0 as usize] = Some(cur);
        Ok(Val::Int(trips))
    }

    fn node(&mut self, id: NodeId) -> Result<Val<T>, Error> {
        let g = &self.f.graph;
        let node = g.node(id);
        match node.op {
            Op::If { then, els } => {
                let taken = if self.get(node.args[0])?.boolean()? {
                    then
                } else {
                    els
                };
                if g.region(els).outputs.len() != g.region(then).outputs.len() {
                    return err(format!("%{}: branches yield different counts", id.0));
                }
                let outs = self.region(taken)?;
                self.region_outs[id.0 as usize] = Some(outs);
                // The `If` itself has no value; record which side ran.
                return Ok(Val::Bool(taken == then));
            }
            Op::Loop { body, carried, rev } => {
                return self.run_loop(id, body, carried as usize, rev);
            }
            _ => {}
        }
        let float_ty = || {
            node.ty
                .float()
                .ok_or_else(|| Error(format!("%{}: float op with type {:?}", id.0, node.ty)))
        };
        let elem_ty = || {
            node.ty
                .elem()
                .ok_or_else(|| Error(format!("%{}: array op with type {:?}", id.0, node.ty)))
        };
        let arg = |k: usize| self.get(node.args[k]);
        let farg = |k: usize| -> Result<T, Error> { arg(k)?.float().cloned() };
        let ints = |ks: &[NodeId]| -> Result<Vec<i64>, Error> {
            ks.iter().map(|&k| self.get(k)?.int()).collect()
        };
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
                Ty::Other | Ty::Int => Val::Int(0),
                // The filler a branch yields for an array the other branch
                // computes: Rust infers its type from that array, and
                // `Default` gives zeros of a fixed-size array, an empty
                // `Vec` otherwise.
                Ty::Array(..) => {
                    let shape = self
                        .default_sibling
                        .get(&id)
                        .and_then(|&s| fixed_shape(g, s, 0));
                    match shape {
                        Some(dims) => zeros(&dims),
                        None => Val::Array(Vec::new()),
                    }
                }
            },
            Op::Opaque(k) => {
                let opaque = &g.opaques[*k as usize];
                let args = node
                    .args
                    .iter()
                    .map(|&a| self.get(a))
                    .collect::<Result<Vec<_>, _>>()?;
                opaque_value(&opaque.expr, &opaque.refs, &args)
                    .map_err(|e| Error(format!("%{}: {}", id.0, e.0)))?
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
            Op::IntBin(IntOp::Add) => Val::Int(arg(0)?.int()?.wrapping_add(arg(1)?.int()?)),
            // Index arithmetic: the emitted `usize` subtraction panics below
            // zero.
            Op::IntBin(IntOp::Sub) => match arg(0)?.int()?.checked_sub(arg(1)?.int()?) {
                Some(d) if d >= 0 => Val::Int(d),
                _ => return err(format!("%{}: `usize` subtraction below zero", id.0)),
            },
            Op::IntBin(op) => {
                let (a, b) = (arg(0)?.int()?, arg(1)?.int()?);
                let v = match op {
                    IntOp::Mul => a.checked_mul(b),
                    IntOp::Div => a.checked_div(b),
                    IntOp::Rem => a.checked_rem(b),
                    IntOp::WrappingSubI32 => Some((a as i32).wrapping_sub(b as i32) as i64),
                    IntOp::Add | IntOp::Sub => None,
                };
                match v {
                    Some(v) => Val::Int(v),
                    None => return err(format!("%{}: integer {op:?} fails", id.0)),
                }
            }
            // Integers are `i64` here: a cast changes nothing the
            // interpreted programs rely on.
            Op::IntCast(_) => Val::Int(arg(0)?.int()?),
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
            Op::Proj(_) | Op::RegionArg(..) => self.peek(id)?,
            Op::Index => {
                let arr = arg(0)?;
                let idx = ints(&node.args[1..])?;
                element(&arr, &idx)
                    .cloned()
                    .map_err(|e| Error(format!("%{}: {}", id.0, e.0)))?
            }
            Op::Len => Val::Int(arg(0)?.array()?.len() as i64),
            Op::AddAt | Op::Store => {
                if node.args.len() < 3 {
                    return err(format!(
                        "%{}: an element update needs [arr, index.., value]",
                        id.0
                    ));
                }
                let last = node.args.len() - 1;
                let mut arr = arg(0)?;
                let idx = ints(&node.args[1..last])?;
                let v = farg(last)?;
                let ty = elem_ty()?;
                let slot = element_mut(&mut arr, &idx)
                    .map_err(|e| Error(format!("%{}: {}", id.0, e.0)))?;
                let new = if node.op == Op::Store {
                    v
                } else {
                    T::bin(ty, Bin::Add, slot.float()?, &v)
                };
                *slot = Val::F(new);
                self.in_place(id)?;
                arr
            }
            Op::AddArray => {
                let (acc, b) = (arg(0)?, arg(1)?);
                let sum = add_arrays(elem_ty()?, &acc, &b)
                    .map_err(|e| Error(format!("%{}: {}", id.0, e.0)))?;
                self.in_place(id)?;
                sum
            }
            Op::Kernel(k) => {
                let vals: Vec<Val<T>> = node
                    .args
                    .iter()
                    .map(|&a| self.get(a))
                    .collect::<Result<_, _>>()?;
                let v = kernels::eval(elem_ty()?, *k, &vals)
                    .map_err(|e| Error(format!("%{}: {}", id.0, e.0)))?;
                if k.accumulates() {
                    self.in_place(id)?;
                }
                v
            }
            // A buffer filled in index order is the array of its elements
            // so far; `Finish` pads it with zeros to its shape.
            Op::FillLike => {
                arg(0)?.array()?;
                Val::Array(Vec::new())
            }
            Op::Push | Op::PadTo => {
                let mut items = arg(0)?.array()?.to_vec();
                if node.op == Op::Push {
                    items.push(Val::F(farg(1)?));
                } else {
                    let n = len_of(arg(1)?.int()?)?;
                    if n < items.len() {
                        return err(format!(
                            "%{}: padding {} elements to {n}",
                            id.0,
                            items.len()
                        ));
                    }
                    items.resize(n, Val::F(T::constant(0.0)));
                }
                self.in_place(id)?;
                Val::Array(items)
            }
            Op::Finish => {
                let mut items = arg(0)?.array()?.to_vec();
                let len = arg(1)?.array()?.len();
                if items.len() > len {
                    return err(format!(
                        "%{}: {} elements written into an array of {len}",
                        id.0,
                        items.len()
                    ));
                }
                items.resize(len, Val::F(T::constant(0.0)));
                Val::Array(items)
            }
            Op::ZerosLike => {
                let like = arg(0)?;
                like.array()?;
                like.map(&mut |_| T::constant(0.0))
            }
            Op::FillFixed(k) => {
                let v = arg(0)?;
                let len = opaque_value::<T>(&g.opaques[*k as usize].expr, &[], &[])
                    .and_then(|n| n.int())
                    .map_err(|e| Error(format!("%{}: length: {}", id.0, e.0)))?;
                Val::Array(vec![v; len_of(len)?])
            }
            Op::FillVec => {
                let (v, n) = (arg(0)?, arg(1)?.int()?);
                Val::Array(vec![v; len_of(n)?])
            }
            Op::ArrayLit => Val::Array(
                node.args
                    .iter()
                    .map(|&a| self.get(a))
                    .collect::<Result<_, _>>()?,
            ),
            Op::Owned => {
                let a = arg(0)?;
                a.array()?;
                a
            }
            Op::Checked => {
                let (a, like) = (arg(0)?, arg(1)?);
                if a.array()?.len() != like.array()?.len() {
                    return err(format!("%{}: cotangent of the wrong length", id.0));
                }
                a
            }
            Op::SumAll => Val::F(sum_all(float_ty()?, arg(0)?.array()?)?),
            // A field of a tuple value (a companion's result).
            Op::Field(path) => {
                let mut v = arg(0)?;
                for &k in path {
                    v = match v {
                        Val::Tuple(mut items) if (k as usize) < items.len() => {
                            items.swap_remove(k as usize)
                        }
                        other => return err(format!("%{}: no field {k} in {other:?}", id.0)),
                    };
                }
                v
            }
            // Calls run user functions the interpreter does not have.
            Op::Call(_) | Op::CallJvp(_) | Op::CallVjp(_) | Op::CallVjpJvp(_) => {
                return err(format!("%{}: calls cannot be interpreted", id.0))
            }
            Op::If { .. } | Op::Loop { .. } => unreachable!(),
        };
        Ok(v)
    }

    /// Node `id` updates its first operand in place (emitted as `arr[i] +=
    /// v`, `arr[i] = v`, `arr += b`): a parameter cannot be.
    fn in_place(&self, id: NodeId) -> Result<(), Error> {
        let arr = self.f.graph.args(id)[0];
        if matches!(self.f.graph.op(arr), Op::Param { .. }) {
            return err(format!(
                "%{}: updates the parameter %{} in place",
                id.0, arr.0
            ));
        }
        Ok(())
    }
}

fn len_of(n: i64) -> Result<usize, Error> {
    usize::try_from(n).map_err(|_| Error(format!("negative length {n}")))
}

/// `arr[i][j]...`.
fn element<'v, T>(arr: &'v Val<T>, idx: &[i64]) -> Result<&'v Val<T>, Error> {
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

fn element_mut<'v, T>(arr: &'v mut Val<T>, idx: &[i64]) -> Result<&'v mut Val<T>, Error> {
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
fn add_arrays<T: Scalar>(ty: FloatTy, a: &Val<T>, b: &Val<T>) -> Result<Val<T>, Error> {
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
fn sum_all<T: Scalar>(ty: FloatTy, items: &[Val<T>]) -> Result<T, Error> {
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

/// The value of an opaque expression: integer and boolean arithmetic on
/// literals and its bindings (`refs[k]` is `args[k]`), `.len()` of an
/// array, `a.min(b)` / `a.max(b)` on integers and `as` casts between
/// integers. Integers are `i64` (a `usize` underflow gives a negative
/// value; indexing with it fails).
fn opaque_value<T: Scalar>(
    e: &syn::Expr,
    refs: &[syn::Ident],
    args: &[Val<T>],
) -> Result<Val<T>, Error> {
    use quote::ToTokens;
    use syn::{BinOp, Expr, Lit, UnOp};
    let fail = || {
        Error(format!(
            "opaque expression `{}` cannot be interpreted",
            e.to_token_stream()
        ))
    };
    let sub = |e: &Expr| opaque_value(e, refs, args);
    let int = |v: Val<T>| v.int().map_err(|_| fail());
    let checked = |v: Option<i64>| v.map(Val::Int).ok_or_else(fail);
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => i.base10_parse::<i64>().map(Val::Int).map_err(|_| fail()),
            Lit::Bool(b) => Ok(Val::Bool(b.value)),
            _ => Err(fail()),
        },
        Expr::Path(p) => {
            let id = p.path.get_ident().ok_or_else(fail)?;
            let k = refs.iter().position(|r| id == r).ok_or_else(fail)?;
            args.get(k).cloned().ok_or_else(fail)
        }
        Expr::Paren(p) => sub(&p.expr),
        Expr::Group(g) => sub(&g.expr),
        Expr::Cast(c) => Ok(Val::Int(int(sub(&c.expr)?)?)),
        Expr::Unary(u) => match u.op {
            UnOp::Neg(_) => checked(int(sub(&u.expr)?)?.checked_neg()),
            UnOp::Not(_) => Ok(Val::Bool(!sub(&u.expr)?.boolean().map_err(|_| fail())?)),
            _ => Err(fail()),
        },
        Expr::MethodCall(m) if m.method == "len" && m.args.is_empty() => Ok(Val::Int(
            sub(&m.receiver)?.array().map_err(|_| fail())?.len() as i64,
        )),
        Expr::MethodCall(m) if (m.method == "min" || m.method == "max") && m.args.len() == 1 => {
            let (a, b) = (int(sub(&m.receiver)?)?, int(sub(&m.args[0])?)?);
            Ok(Val::Int(if m.method == "min" {
                a.min(b)
            } else {
                a.max(b)
            }))
        }
        Expr::Binary(b) => {
            let boolean = |v: Val<T>| v.boolean().map_err(|_| fail());
            match b.op {
                BinOp::And(_) => {
                    return Ok(Val::Bool(
                        boolean(sub(&b.left)?)? && boolean(sub(&b.right)?)?,
                    ))
                }
                BinOp::Or(_) => {
                    return Ok(Val::Bool(
                        boolean(sub(&b.left)?)? || boolean(sub(&b.right)?)?,
                    ))
                }
                _ => {}
            }
            let (x, y) = (int(sub(&b.left)?)?, int(sub(&b.right)?)?);
            match b.op {
                BinOp::Add(_) => checked(x.checked_add(y)),
                BinOp::Sub(_) => checked(x.checked_sub(y)),
                BinOp::Mul(_) => checked(x.checked_mul(y)),
                BinOp::Div(_) => checked(x.checked_div(y)),
                BinOp::Rem(_) => checked(x.checked_rem(y)),
                BinOp::Lt(_) => Ok(Val::Bool(x < y)),
                BinOp::Le(_) => Ok(Val::Bool(x <= y)),
                BinOp::Gt(_) => Ok(Val::Bool(x > y)),
                BinOp::Ge(_) => Ok(Val::Bool(x >= y)),
                BinOp::Eq(_) => Ok(Val::Bool(x == y)),
                BinOp::Ne(_) => Ok(Val::Bool(x != y)),
                _ => Err(fail()),
            }
        }
        _ => Err(fail()),
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
        let n = g.add(ROOT, Op::Int(3), vec![], Ty::Int);
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

    const F64: Ty = Ty::Float(FloatTy::F64);
    const ARR: Ty = Ty::Array(FloatTy::F64, 1);

    fn typed(name: &str, ty: Ty) -> Param {
        Param {
            name: syn::Ident::new(name, proc_macro2::Span::call_site()),
            fields: vec![ty],
        }
    }

    fn function(params: &[(&str, Ty)], g: Graph, outputs: Vec<NodeId>) -> Function {
        let shape = if outputs.len() == 1 {
            OutShape::Leaf
        } else {
            OutShape::Tuple(vec![OutShape::Leaf; outputs.len()])
        };
        Function {
            params: params.iter().map(|(n, t)| typed(n, *t)).collect(),
            graph: g,
            outputs,
            shape,
        }
    }

    fn p(g: &mut Graph, index: u32, ty: Ty) -> NodeId {
        g.add(ROOT, Op::Param { index, field: None }, vec![], ty)
    }

    fn int(g: &mut Graph, r: RegionId, n: i64) -> NodeId {
        g.add(r, Op::Int(n), vec![], Ty::Int)
    }

    fn floats(xs: &[f64]) -> Value {
        Val::Array(xs.iter().map(|&x| Val::F(x)).collect())
    }

    /// `for i in (1..4).rev() { s = s * x + i; tape.push(s) }`: carried
    /// values, the index, and a stacked output in execution order.
    #[test]
    fn loops_carry_and_stack() {
        let mut g = Graph::default();
        let x = p(&mut g, 0, F64);
        let (one, four) = (int(&mut g, ROOT, 1), int(&mut g, ROOT, 4));
        let body = g.new_region(ROOT);
        let s = g.add_local(body, Op::RegionArg(body, 1), vec![], F64);
        let i = g.add_local(body, Op::RegionArg(body, 0), vec![], Ty::Int);
        let fi = g.add(body, Op::IntToFloat, vec![i], F64);
        let sx = g.bin(body, Bin::Mul, s, x);
        let next = g.bin(body, Bin::Add, sx, fi);
        g.set_outputs(body, vec![next, next]);
        let op = Op::Loop {
            body,
            carried: 1,
            rev: true,
        };
        let l = g.add(ROOT, op, vec![one, four, x], Ty::Other);
        let fin = g.add(ROOT, Op::Proj(0), vec![l], F64);
        let tape = g.add(ROOT, Op::Proj(1), vec![l], ARR);
        let f = function(&[("x", F64)], g, vec![fin, tape]);
        let x = 2.0;
        let (s3, s2) = (x * x + 3.0, (x * x + 3.0) * x + 2.0);
        let s1 = s2 * x + 1.0;
        assert_eq!(
            run(&f, &[Val::F(x)]),
            vec![Val::F(s1), floats(&[s3, s2, s1])]
        );
        // A loop of no iteration yields its initial values, empty tapes.
        let mut f0 = f.clone();
        f0.graph.nodes[four.0 as usize].op = Op::Int(1);
        assert_eq!(run(&f0, &[Val::F(x)]), vec![Val::F(x), Val::Array(vec![])]);
        // The body's values and arguments are gone after the loop.
        let mut out = f.clone();
        out.outputs = vec![s];
        assert!(try_run(&out, &[Val::F(x)]).is_err());
        out.outputs = vec![next];
        assert!(try_run(&out, &[Val::F(x)]).is_err());
    }

    /// Element reads and writes of rank 1 and 2, fills, literals, copies,
    /// sums and lengths, with `[v; N]`'s literal length and index
    /// arithmetic as opaque expressions.
    #[test]
    fn array_ops() {
        let mut g = Graph::default();
        let x = p(&mut g, 0, F64);
        let a = p(&mut g, 1, ARR);
        let zero = g.konst(ROOT, FloatTy::F64, 0.0);
        let (i0, i1) = (int(&mut g, ROOT, 0), int(&mut g, ROOT, 1));
        let lit = |g: &mut Graph, n: &str| {
            g.opaques.push(crate::ir::Opaque::parsed(n, &[]));
            g.opaques.len() as u32 - 1
        };
        let (k2, k3) = (lit(&mut g, "2"), lit(&mut g, "3"));
        let row = g.add(ROOT, Op::FillFixed(k2), vec![zero], ARR);
        let m = g.add(
            ROOT,
            Op::FillFixed(k3),
            vec![row],
            Ty::Array(FloatTy::F64, 2),
        );
        let m = g.add(
            ROOT,
            Op::Store,
            vec![m, i1, i0, x],
            Ty::Array(FloatTy::F64, 2),
        );
        let m = g.add(
            ROOT,
            Op::AddAt,
            vec![m, i1, i0, x],
            Ty::Array(FloatTy::F64, 2),
        );
        let m10 = g.add(ROOT, Op::Index, vec![m, i1, i0], F64);
        let sum_m = g.add(ROOT, Op::SumAll, vec![m], F64);
        // `a[a.len() - 1]` and `a[(0 + 1) % a.len()]`.
        let last = g.add_opaque(
            ROOT,
            crate::ir::Opaque::parsed("a.len() - 1", &["a"]),
            vec![a],
            Ty::Other,
        );
        let wrap = g.add_opaque(
            ROOT,
            crate::ir::Opaque::parsed("(i + 1) % a.len()", &["i", "a"]),
            vec![i0, a],
            Ty::Other,
        );
        let a_last = g.add(ROOT, Op::Index, vec![a, last], F64);
        let a_wrap = g.add(ROOT, Op::Index, vec![a, wrap], F64);
        let len = g.add(ROOT, Op::Len, vec![a], Ty::Other);
        let v = g.add(ROOT, Op::FillVec, vec![x, len], ARR);
        let lit_arr = g.add(ROOT, Op::ArrayLit, vec![x, a_last, a_wrap], ARR);
        let copy = g.add(ROOT, Op::Owned, vec![a], ARR);
        let both = g.add(ROOT, Op::AddArray, vec![copy, v], ARR);
        let z = g.add(ROOT, Op::ZerosLike, vec![lit_arr], ARR);
        let back = g.add(ROOT, Op::IntBin(IntOp::Sub), vec![len, i1], Ty::Int);
        let b_last = g.add(ROOT, Op::Index, vec![both, back], F64);
        let f = function(
            &[("x", F64), ("a", ARR)],
            g,
            vec![m10, sum_m, lit_arr, both, z, b_last],
        );
        let out = run(&f, &[Val::F(1.5), floats(&[1.0, 2.0, 4.0])]);
        assert_eq!(
            out,
            vec![
                Val::F(3.0),
                Val::F(3.0),
                floats(&[1.5, 4.0, 2.0]),
                floats(&[2.5, 3.5, 5.5]),
                floats(&[0.0; 3]),
                Val::F(5.5),
            ]
        );
        // Out of range: `a[(0 + 1) % a.len()]` of one element is a[0], but
        // `a[a.len() - 1]` of none is a[-1].
        assert!(try_run(&f, &[Val::F(1.5), floats(&[1.0])]).is_ok());
        let e = try_run(&f, &[Val::F(1.5), floats(&[])]).unwrap_err();
        assert!(
            e.0.contains("out of range") || e.0.contains("cannot be"),
            "{e:?}"
        );
    }

    /// An in-place update is emitted as one: a version read after it was
    /// updated reads the update (the IR semantics keeps it), and a loop
    /// takes its initial array's variable over.
    #[test]
    fn in_place_updates_share_a_variable() {
        let mut g = Graph::default();
        let x = p(&mut g, 0, F64);
        let (i0, two) = (int(&mut g, ROOT, 0), int(&mut g, ROOT, 2));
        let y = g.add(ROOT, Op::FillVec, vec![x, two], ARR);
        let y1 = g.add(ROOT, Op::AddAt, vec![y, i0, x], ARR);
        // Reads the old version `y` after the update: 2x in place.
        let old = g.add(ROOT, Op::Index, vec![y, i0], F64);
        let body = g.new_region(ROOT);
        let arg = g.add_local(body, Op::RegionArg(body, 1), vec![], ARR);
        let i = g.add_local(body, Op::RegionArg(body, 0), vec![], Ty::Int);
        let w = g.add(body, Op::Store, vec![arg, i, x], ARR);
        let w = g.add(body, Op::AddAt, vec![w, i, x], ARR);
        g.set_outputs(body, vec![w]);
        let op = Op::Loop {
            body,
            carried: 1,
            rev: false,
        };
        let l = g.add(ROOT, op, vec![i0, two, y1], Ty::Other);
        let fin = g.add(ROOT, Op::Proj(0), vec![l], ARR);
        // `y1` after the loop holds the loop's result.
        let f = function(&[("x", F64)], g, vec![old, y1, fin]);
        let x = 3.0;
        assert_eq!(
            try_run(&f, &[Val::F(x)]).unwrap(),
            vec![
                Val::F(2.0 * x),
                floats(&[2.0 * x; 2]),
                floats(&[2.0 * x; 2])
            ]
        );
        assert_eq!(
            try_run_ir(&f, &[Val::F(x)]).unwrap(),
            vec![Val::F(x), floats(&[2.0 * x, x]), floats(&[2.0 * x; 2])]
        );
    }

    #[test]
    fn array_misuse_is_an_error() {
        // A parameter updated in place.
        let mut g = Graph::default();
        let x = p(&mut g, 0, F64);
        let a = p(&mut g, 1, ARR);
        let i0 = int(&mut g, ROOT, 0);
        let w = g.add(ROOT, Op::AddAt, vec![a, i0, x], ARR);
        let f = function(&[("x", F64), ("a", ARR)], g, vec![w]);
        let e = try_run(&f, &[Val::F(1.0), floats(&[1.0])]).unwrap_err();
        assert!(e.0.contains("parameter"), "{e:?}");
        // One array carried twice by a loop.
        let mut g = Graph::default();
        let x = p(&mut g, 0, F64);
        let (i0, i1) = (int(&mut g, ROOT, 0), int(&mut g, ROOT, 1));
        let y = g.add(ROOT, Op::FillVec, vec![x, i1], ARR);
        let body = g.new_region(ROOT);
        let a1 = g.add_local(body, Op::RegionArg(body, 1), vec![], ARR);
        let a2 = g.add_local(body, Op::RegionArg(body, 2), vec![], ARR);
        g.set_outputs(body, vec![a1, a2]);
        let op = Op::Loop {
            body,
            carried: 2,
            rev: false,
        };
        let l = g.add(ROOT, op, vec![i0, i1, y, y], Ty::Other);
        let fin = g.add(ROOT, Op::Proj(0), vec![l], ARR);
        let f = function(&[("x", F64)], g, vec![fin]);
        let e = try_run(&f, &[Val::F(1.0)]).unwrap_err();
        assert!(e.0.contains("carried twice"), "{e:?}");
    }

    /// Dual numbers through element reads and writes in a loop:
    /// `y = [0; n]; for i { y[i] = a[i] * x } sum(y)`.
    #[test]
    fn dual_numbers_through_arrays() {
        let mut g = Graph::default();
        let x = p(&mut g, 0, F64);
        let a = p(&mut g, 1, ARR);
        let zero = g.konst(ROOT, FloatTy::F64, 0.0);
        let i0 = int(&mut g, ROOT, 0);
        let len = g.add(ROOT, Op::Len, vec![a], Ty::Other);
        let y = g.add(ROOT, Op::FillVec, vec![zero, len], ARR);
        let body = g.new_region(ROOT);
        let arg = g.add_local(body, Op::RegionArg(body, 1), vec![], ARR);
        let i = g.add_local(body, Op::RegionArg(body, 0), vec![], Ty::Int);
        let ai = g.add(body, Op::Index, vec![a, i], F64);
        let v = g.bin(body, Bin::Mul, ai, x);
        let w = g.add(body, Op::Store, vec![arg, i, v], ARR);
        g.set_outputs(body, vec![w]);
        let op = Op::Loop {
            body,
            carried: 1,
            rev: false,
        };
        let l = g.add(ROOT, op, vec![i0, len, y], Ty::Other);
        let fin = g.add(ROOT, Op::Proj(0), vec![l], ARR);
        let s = g.add(ROOT, Op::SumAll, vec![fin], F64);
        let f = function(&[("x", F64), ("a", ARR)], g, vec![s]);
        let d = |re: f64, eps: f64| Val::F(Dual64::new(re, eps));
        let out = run_dual(
            &f,
            &[d(2.0, 1.0), Val::Array(vec![d(1.0, 0.5), d(3.0, 0.0)])],
        )
        .unwrap();
        let Val::F(s) = &out[0] else { panic!() };
        // s = x (a0 + a1): ds = (a0 + a1) dx + x da0.
        assert_eq!((s.re, s.eps), (8.0, 4.0 + 2.0 * 0.5));
    }
}
