//! Random programs from the idioms: iterator chains, array helpers, `scan`.
//!
//! These are Rust source, lowered as `#[differentiate]` lowers a function
//! (iterator chains and `scan` become loops, helpers kernels with their
//! rules, which the interpreter evaluates), then checked by the same
//! properties. `fn f(x: &[f64], t: f64) -> f64` builds arrays and
//! scalars step by step; every array has `x`'s length (0..=5).

use proptest::collection::vec;
use proptest::prelude::*;

use super::point::{point_of, Point, Shape};
use super::properties::{hvp_property, jvp_property, vjp_property};
use super::{check, signed, source_function, Sample};
use crate::ir::Function;

/// One step: its kind and three operand picks (counted back from the
/// latest array or scalar).
#[derive(Clone, Debug)]
struct IdiomCase {
    steps: Vec<(u8, u8, u8, u8)>,
    n: usize,
    x: Vec<f64>,
    v: Vec<f64>,
    w: Vec<f64>,
}

/// The number of step kinds `idiom_source` knows.
const IDIOM_KINDS: u8 = 16;

/// The Rust source of a case's function.
fn idiom_source(steps: &[(u8, u8, u8, u8)]) -> String {
    let mut arrays = vec!["x".to_string()];
    let mut scalars = vec!["t".to_string()];
    let mut body = String::new();
    for (k, &(kind, a, b, s)) in steps.iter().enumerate() {
        let pick =
            |list: &Vec<String>, i: u8| list[list.len() - 1 - (i as usize % list.len())].clone();
        let (a, b, s) = (pick(&arrays, a), pick(&arrays, b), pick(&scalars, s));
        let (an, sn) = (format!("a{k}"), format!("s{k}"));
        let (line, new_array, new_scalar) = match kind % IDIOM_KINDS {
            0 => (format!("let {an}: Vec<f64> = {a}.iter().map(|v| (v * {s}).sin() + v).collect::<Vec<_>>();"), true, false),
            1 => (format!("let {an} = softmax(&{a});"), true, false),
            2 => (format!("let {an} = log_softmax(&{a});"), true, false),
            3 => (format!("let {an} = sigmoid(&{a});"), true, false),
            4 => (format!("let {an} = softplus(&{a});"), true, false),
            5 => (format!("let {sn} = sum(&{a}) * {s};"), false, true),
            6 => (format!("let {sn} = dot(&{a}, &{b});"), false, true),
            7 => (format!("let {sn} = logsumexp(&{a});"), false, true),
            8 => (format!("let {sn} = {a}.iter().zip(&{b}).map(|(p, q)| p * q.cos()).sum::<f64>();"), false, true),
            9 => (format!("let {sn} = {a}.iter().fold({s}, |acc, v| acc * 0.5 + v * v);"), false, true),
            10 => (format!("let {sn} = {a}.iter().map(|&v| 1.0 + 0.25 * v).product::<f64>();"), false, true),
            11 => (format!("let ({sn}, {an}) = scan({s}, &{a}, |h, v| {{ let nh = (h * 0.5 + v * {s}).tanh(); (nh, nh + v) }});"), true, true),
            12 => (format!("let {an}: Vec<f64> = (0..{a}.len()).map(|i| {a}[i] * {s} + {b}[i]).collect();"), true, false),
            13 => (format!("let mut {sn} = {s}; for v in {a}.iter() {{ {sn} = {sn} * 0.9 + v.exp() * 0.1; }}"), false, true),
            14 => (format!("let {sn} = mean(&{a}) + {s};"), false, true),
            // A helper's result, and an operand, updated in place after
            // the helpers read them (their rules read them again).
            _ => (format!("let mut {an} = sigmoid(&{a}); let {sn} = dot(&{an}, &{b}) * {s} + logsumexp(&{an}); for i in 0..{an}.len() {{ {an}[i] = {an}[i] * {s} + 0.5; }}"), true, true),
        };
        body.push_str(&line);
        body.push('\n');
        if new_array {
            arrays.push(an);
        }
        if new_scalar {
            scalars.push(sn);
        }
    }
    let last = arrays.last().cloned().unwrap_or_default();
    format!(
        "fn f(x: &[f64], t: f64) -> f64 {{\n{body}{} + sum(&{last})\n}}",
        scalars.join(" + ")
    )
}

/// The lowered function of a case's source.
fn idiom_function(steps: &[(u8, u8, u8, u8)]) -> Result<Function, TestCaseError> {
    source_function(&idiom_source(steps))
}

fn idiom_case() -> impl Strategy<Value = IdiomCase> {
    let step = (0..IDIOM_KINDS, any::<u8>(), any::<u8>(), any::<u8>());
    let len = prop_oneof![1 => Just(0usize), 2 => Just(1), 3 => 2usize..=3, 3 => 4usize..=5];
    (
        vec(step, 2..=6),
        len,
        vec(signed(0.05, 1.5), 6),
        vec(signed(0.1, 1.0), 6),
        vec(signed(0.1, 1.0), 1),
    )
        .prop_map(|(steps, n, x, v, w)| IdiomCase { steps, n, x, v, w })
}

impl Sample for IdiomCase {
    fn point(&self) -> Result<Point, TestCaseError> {
        let f = idiom_function(&self.steps)?;
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
            idiom_source(&self.steps)
        )
    }
}

#[test]
fn idioms_jvp_matches_dual_numbers_and_finite_differences() {
    check("idioms jvp", 0.5, idiom_case(), jvp_property);
}

#[test]
fn idioms_vjp_matches_dual_numbers_and_finite_differences() {
    check("idioms vjp", 0.5, idiom_case(), vjp_property);
}

#[test]
fn idioms_forward_over_reverse_matches_dual_numbers() {
    check("idioms hvp", 0.0, idiom_case(), hvp_property);
}

/// Every step kind appears in the generated cases, and lowers.
#[test]
fn idiom_generator_covers_every_step() {
    for kind in 0..IDIOM_KINDS {
        let steps = [(kind, 0, 1, 0), (kind, 1, 0, 1)];
        if let Err(e) = idiom_function(&steps) {
            panic!("kind {kind}: {e}");
        }
    }
}
