//! The evaluator: nodes in region order, `If`s and `Loop`s, every op.

use std::collections::HashMap;

use super::kernels;
use super::opaque::opaque_value;
use super::value::{add_arrays, element, element_mut, len_of, sum_all, zeros};
use super::vars::{default_siblings, fixed_shape, variables, Var};
use super::{err, Error, Scalar, Trace, Val};
use crate::ir::IntOp;
use crate::ir::{eval, Bin, Cmp, Function, NodeId, Op, RegionId, Ty, ROOT};

/// Most node evaluations in one run: a guard against runaway loops.
const MAX_STEPS: usize = 1 << 22;

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

pub(super) fn exec<T: Scalar>(
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
    fn run_loop(&mut self, id: NodeId) -> Result<Val<T>, Error> {
        let g = &self.f.graph;
        let Op::Loop {
            body,
            carried,
            rev,
            exit,
        } = *g.op(id)
        else {
            return err(format!("%{}: not a loop", id.0));
        };
        let carried = carried as usize;
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
        // An unbounded loop runs until its exit (or this many iterations).
        const MAX_TRIPS: i64 = 100_000;
        let indices: Box<dyn Iterator<Item = i64>> = match exit {
            Some(e) if e.unbounded => Box::new(start..start + MAX_TRIPS),
            _ => Box::new(indices.into_iter()),
        };
        let mut trips = 0;
        for i in indices {
            trips += 1;
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
            if let Some(e) = exit {
                if !cur[e.go as usize].boolean()? {
                    break;
                }
                if e.unbounded && trips == MAX_TRIPS {
                    return err(format!("%{}: no exit after {MAX_TRIPS} iterations", id.0));
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
            Op::Loop { .. } => return self.run_loop(id),
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
            // `x + 0` in the target type: the value rounded to it, the
            // derivative passed through.
            Op::FloatCast => Val::F(T::bin(float_ty()?, Bin::Add, &farg(0)?, &T::constant(0.0))),
            Op::FloatToInt(t) => Val::Int(t.cast(farg(0)?.re())),
            Op::Pred(p) => Val::Bool(p.eval(g.float_ty(node.args[0]), farg(0)?.re())),
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
                    IntOp::Min => Some(a.min(b)),
                    IntOp::Max => Some(a.max(b)),
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
            Op::Len => {
                let arr = arg(0)?;
                let rows = arr.array()?;
                let len = match node.args.get(1) {
                    // `[m, i]`: the length of row `i`.
                    Some(_) => {
                        let i = ints(&node.args[1..2])?[0];
                        rows.get(i as usize)
                            .ok_or_else(|| Error(format!("%{}: row {i} out of bounds", id.0)))?
                            .array()?
                            .len()
                    }
                    None => rows.len(),
                };
                Val::Int(len as i64)
            }
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
            Op::Call(_)
            | Op::CallJvp(_)
            | Op::CallVjp(_)
            | Op::CallVjpJvp(_)
            | Op::TupleAt { .. } => return err(format!("%{}: calls cannot be interpreted", id.0)),
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
