//! `lse`: log-sum-exp, max-shifted, from primitive operations.

use autodiff::differentiate;
use serde::Deserialize;
use serde_json::Value;

use crate::protocol::{measure, parse_input, to_output, Evaluation, Runs};

/// The eval's input.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// The vector.
    pub x: Vec<f64>,
    /// How often to run.
    #[serde(flatten)]
    pub runs: Runs,
}

/// a + ln Σ exp(xᵢ − a), with a = max x.
#[differentiate]
pub fn primal(x: &[f64]) -> f64 {
    // macro gap: gb-fold-fn-path (`fold(f64::NEG_INFINITY, f64::max)`)
    // macro gap: gb-stop-gradient (the shift `a` could be a constant)
    let a = x.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
    let s: f64 = x.iter().map(|v| (v - a).exp()).sum();
    s.ln() + a
}

/// Runs `primal` or `gradient` (`primal_grad`: the softmax).
pub fn evaluate(function: &str, input: Value) -> Result<Evaluation, String> {
    let Input { x, runs } = parse_input(input)?;
    match function {
        "primal" => {
            let (y, timings) = measure(runs, || primal(&x));
            Ok(Evaluation {
                output: to_output(&y)?,
                timings,
            })
        }
        "gradient" => {
            let (g, timings) = measure(runs, || primal_grad(&x));
            Ok(Evaluation {
                output: to_output(&g)?,
                timings,
            })
        }
        _ => Err(super::unknown_function("lse", function)),
    }
}
