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
//!
//! The files: this one has the entry points; [`value`] the values and
//! their array operations, [`scalar`] the [`Scalar`] trait and its `f64`
//! and dual-number implementations, [`eval`] the evaluator, [`vars`] the
//! variables the emitted code keeps arrays in, [`opaque`] the opaque
//! expressions it can evaluate, [`kernels`] the helper kernels.

mod eval;
mod kernels;
mod opaque;
mod scalar;
#[cfg(test)]
mod tests;
mod value;
mod vars;

use num_dual::Dual64;

use crate::ir::{Function, NodeId};

pub use scalar::Scalar;
pub use value::{Val, Value};

/// Why a program could not be run.
#[derive(Clone, Debug, PartialEq)]
pub struct Error(pub String);

fn err<X>(msg: String) -> Result<X, Error> {
    Err(Error(msg))
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
    eval::exec(f, params, false, false).map(|t| t.outputs)
}

/// Runs `f` on `params` with the IR's own semantics: every array version
/// is a value of its own (what the emitted code computes only if each
/// version is used once).
pub fn try_run_ir(f: &Function, params: &[Value]) -> Result<Vec<Value>, Error> {
    eval::exec(f, params, false, true).map(|t| t.outputs)
}

/// Runs `f` (its plain semantics) on dual-number params: each output's
/// `eps` is the directional derivative along the params' `eps`.
pub fn run_dual(f: &Function, params: &[Val<Dual64>]) -> Result<Vec<Val<Dual64>>, Error> {
    eval::exec(f, params, false, false).map(|t| t.outputs)
}

/// Runs `f` on `params` over any [`Scalar`], keeping every evaluation.
pub fn trace<T: Scalar>(f: &Function, params: &[Val<T>]) -> Result<Trace<T>, Error> {
    eval::exec(f, params, true, false)
}
