//! `llsq`: a linear least-squares objective, ½ Σᵢ (sᵢ − Σⱼ xⱼ tᵢʲ)² with
//! tᵢ on an even grid of [−1, 1] and sᵢ its sign.

use autodiff::differentiate;
use serde::Deserialize;
use serde_json::Value;

use crate::protocol::{measure, parse_input, to_output, Evaluation, Runs};

/// The eval's input.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// The coefficients.
    pub x: Vec<f64>,
    /// The number of sample points.
    pub n: usize,
    /// How often to run.
    #[serde(flatten)]
    pub runs: Runs,
}

/// ½ Σᵢ (sᵢ − Σⱼ xⱼ tᵢʲ)² over `n` points tᵢ = −1 + 2i/(n − 1).
#[differentiate]
pub fn primal(x: &[f64], n: usize) -> f64 {
    let mut sum = 0.0;
    for i in 0..n {
        let t = -1.0 + i as f64 * 2.0 / (n as f64 - 1.0);
        let s = if t > 0.0 {
            1.0
        } else if t < 0.0 {
            -1.0
        } else {
            0.0
        };
        // Σⱼ xⱼ tʲ by Horner's rule.
        let mut poly = 0.0;
        for j in (0..x.len()).rev() {
            poly = poly * t + x[j];
        }
        let r = s - poly;
        sum += r * r;
    }
    sum / 2.0
}

/// Runs `primal` or `gradient` (`primal_grad`).
pub fn evaluate(function: &str, input: Value) -> Result<Evaluation, String> {
    let Input { x, n, runs } = parse_input(input)?;
    match function {
        "primal" => {
            let (y, timings) = measure(runs, || primal(&x, n));
            Ok(Evaluation {
                output: to_output(&y)?,
                timings,
            })
        }
        "gradient" => {
            let (g, timings) = measure(runs, || primal_grad(&x, n));
            Ok(Evaluation {
                output: to_output(&g)?,
                timings,
            })
        }
        _ => Err(super::unknown_function("llsq", function)),
    }
}
