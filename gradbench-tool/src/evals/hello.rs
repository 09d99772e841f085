//! `hello`: the square of a number, and its derivative.

use autodiff::differentiate;
use serde_json::Value;

use crate::protocol::{measure, parse_input, to_output, Evaluation, Runs};

/// x².
#[differentiate]
pub fn square(x: f64) -> f64 {
    x * x
}

/// Runs `square` (the primal) or `double` (its derivative, `square_grad`).
pub fn evaluate(function: &str, input: Value) -> Result<Evaluation, String> {
    let x: f64 = parse_input(input)?;
    // hello's input has no Runs: one run each.
    let once = Runs {
        min_runs: 1,
        min_seconds: 0.0,
    };
    let (y, timings) = match function {
        "square" => measure(once, || square(x)),
        "double" => measure(once, || square_grad(x)),
        _ => return Err(super::unknown_function("hello", function)),
    };
    Ok(Evaluation {
        output: to_output(&y)?,
        timings,
    })
}
