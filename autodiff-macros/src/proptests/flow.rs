//! Random programs of control flow: `while`, `loop` with `break value`,
//! `break` and `continue` in `for` loops, early `return` at the top and
//! inside loops, `a..=b`, `.step_by(k)`, `.rev()`, casts to and from
//! integers, float predicates, and closures, as Rust source lowered as `#[differentiate]` lowers it, then
//! checked by the same properties. `fn f(x: &[f64], t: f64) -> f64` builds
//! scalars step by step; `x` has length 0..=5.

use proptest::collection::vec;
use proptest::prelude::*;

use super::point::{point_of, Point, Shape};
use super::properties::{hvp_property, jvp_property, simplify_property, vjp_property};
use super::{check, signed, source_function, Sample};
use crate::ir::Function;

#[derive(Clone, Debug)]
struct FlowCase {
    steps: Vec<(u8, u8)>,
    n: usize,
    x: Vec<f64>,
    v: Vec<f64>,
    w: Vec<f64>,
}

/// The number of step kinds `flow_source` knows.
const FLOW_KINDS: u8 = 16;

/// One step reading scalar `s` and writing scalar `n`.
fn flow_step(kind: u8, s: &str, n: &str) -> String {
    match kind % FLOW_KINDS {
        // A `while` with a condition on integers and on a float.
        0 => format!("let mut {n} = {s}; let mut k = 0; while k < x.len() && {n}.abs() < 20.0 {{ {n} = {n} * 0.75 + x[k].sin(); k += 1; }}"),
        // `break` out of a `for`.
        1 => format!("let mut {n} = 0.0; for i in 0..x.len() {{ {n} += x[i] * {s}; if {n} > 0.5 {{ break; }} }}"),
        // `continue`.
        2 => format!("let mut {n} = {s}; for i in 0..x.len() {{ if x[i] < 0.0 {{ continue; }} {n} += (x[i] * {s}).tanh(); }}"),
        // `loop` with `break value`.
        3 => format!("let {n} = {{ let mut z = {s}; let mut k = 0; loop {{ z = z * 0.5 + 0.25 * {s}.cos(); k += 1; if k >= 3 {{ break z * {s}; }} }} }};"),
        // An early return at the top.
        4 => format!("if {s} > 1.25 {{ return {s} * {s} + t; }} let {n} = {s} * 0.5;"),
        // `a..=b`, the index cast to a float.
        5 => format!("let mut {n} = {s}; for i in 1..=x.len() {{ {n} += x[i - 1] * i as f64; }}"),
        // `.step_by(k)`.
        6 => format!("let mut {n} = {s}; for i in (0..x.len()).step_by(2) {{ {n} = {n} * 0.5 + x[i].exp(); }}"),
        // A return inside a loop.
        7 => format!("for i in 0..x.len() {{ if x[i] * {s} > 0.75 {{ return x[i] * {s} + t; }} }} let {n} = {s} + 1.0;"),
        // An insertion sort: `while` with `&&` on array elements.
        8 => format!("let mut a = vec![0.0; x.len()]; for i in 0..x.len() {{ a[i] = x[i] * {s}; }} for i in 1..a.len() {{ let mut j = i; while j > 0 && a[j - 1] > a[j] {{ let tmp = a[j]; a[j] = a[j - 1]; a[j - 1] = tmp; j -= 1; }} }} let mut {n} = 0.0; for i in 0..a.len() {{ {n} += a[i] * (i as f64 + 1.0); }}"),
        // `.rev()` with `continue` and `break`.
        9 => format!("let mut {n} = {s}; for i in (0..x.len()).rev() {{ if i % 2 == 1 {{ continue; }} {n} = {n} * x[i]; if {n}.abs() < 0.01 {{ break; }} }}"),
        // A nested loop whose inner loop breaks.
        10 => format!("let mut {n} = {s}; for i in 0..x.len() {{ for j in 0..x.len() {{ if j > i {{ break; }} {n} += x[i] * x[j] * 0.25; }} }}"),
        // A closure, called twice.
        11 => format!("let g = |v: f64, c: f64| v * c + (v * 0.5).sin(); let {n} = g({s}, t) + g(t, {s});"),
        // `while` on a float carried value (a fixed point of a
        // contraction, with a cap).
        12 => format!("let mut {n} = {s}; let mut k = 0; while ({n} - ({n} * 0.5 + t).cos()).abs() > 1e-10 && k < 60 {{ {n} = ({n} * 0.5 + t).cos(); k += 1; }}"),
        // Predicates, and a float cast to an integer (piecewise constant).
        14 => format!("let {n} = if {s}.is_sign_negative() || !{s}.is_finite() {{ -{s} }} else {{ {s}.sqrt() * ({s} * 4.0) as i32 as f64 }};"),
        // A `loop` that returns.
        15 => format!("let mut {n} = {s}; let mut k = 0; loop {{ {n} = {n} * 0.5 + t * t; k += 1; if {n}.abs() < 0.125 || {n} > 4.0 {{ return {n} * {s}; }} if {n}.abs() > 0.5 || k > 20 {{ break; }} }}"),
        // A `while` whose body returns.
        _ => format!("let mut {n} = {s}; let mut k = 0; while k < 4 {{ {n} = {n} * 0.5 + t; if {n} > 3.0 {{ return {n}; }} k += 1; }}"),
    }
}

/// The Rust source of a case's function.
fn flow_source(steps: &[(u8, u8)]) -> String {
    let mut scalars = vec!["t".to_string()];
    let mut body = String::new();
    for (k, &(kind, s)) in steps.iter().enumerate() {
        let s = scalars[scalars.len() - 1 - (s as usize % scalars.len())].clone();
        let n = format!("s{k}");
        body.push_str(&flow_step(kind, &s, &n));
        body.push('\n');
        scalars.push(n);
    }
    format!(
        "fn f(x: &[f64], t: f64) -> f64 {{\n{body}{}\n}}",
        scalars.join(" + ")
    )
}

fn flow_function(steps: &[(u8, u8)]) -> Result<Function, TestCaseError> {
    source_function(&flow_source(steps))
}

fn flow_case() -> impl Strategy<Value = FlowCase> {
    let len = prop_oneof![1 => Just(0usize), 2 => Just(1), 3 => 2usize..=3, 3 => 4usize..=5];
    (
        vec((0..FLOW_KINDS, any::<u8>()), 1..=4),
        len,
        vec(signed(0.05, 1.5), 6),
        vec(signed(0.1, 1.0), 6),
        vec(signed(0.1, 1.0), 1),
    )
        .prop_map(|(steps, n, x, v, w)| FlowCase { steps, n, x, v, w })
}

impl Sample for FlowCase {
    fn point(&self) -> Result<Point, TestCaseError> {
        let f = flow_function(&self.steps)?;
        let ins = vec![Shape::Array(vec![self.n]), Shape::Scalar];
        let mut x = self.x[..self.n].to_vec();
        x.push(self.x[5]);
        let mut v = self.v[..self.n].to_vec();
        v.push(self.v[5]);
        point_of(f, ins, &x, &v, &self.w)
    }

    fn show(&self) -> String {
        format!(
            "n = {}, x = {:?}\n{}",
            self.n,
            &self.x,
            flow_source(&self.steps)
        )
    }
}

#[test]
fn flow_jvp_matches_dual_numbers_and_finite_differences() {
    check("flow jvp", 0.3, flow_case(), jvp_property);
}

#[test]
fn flow_vjp_matches_dual_numbers_and_finite_differences() {
    check("flow vjp", 0.3, flow_case(), vjp_property);
}

#[test]
fn flow_forward_over_reverse_matches_dual_numbers() {
    check("flow hvp", 0.0, flow_case(), hvp_property);
}

#[test]
fn flow_simplify_keeps_values() {
    check("flow simplify", 0.0, flow_case(), simplify_property);
}

/// Every step kind lowers, alone and after another.
#[test]
fn flow_generator_covers_every_step() {
    for kind in 0..FLOW_KINDS {
        for steps in [vec![(kind, 0)], vec![(kind, 0), (kind, 1)]] {
            if let Err(e) = flow_function(&steps) {
                panic!("kind {kind}: {e}\n{}", flow_source(&steps));
            }
        }
    }
}
