//! `ode`: s classic Runge–Kutta steps of y' = f(y), f(y)₀ = x₀ and
//! f(y)ᵢ = xᵢ yᵢ₋₁, from y = 0 to t = 2.

use autodiff::differentiate;
use serde::Deserialize;
use serde_json::Value;

use crate::protocol::{measure, parse_input, to_output, Evaluation, Runs};

/// The eval's input.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// The coefficients of the right-hand side.
    pub x: Vec<f64>,
    /// The number of steps.
    pub s: usize,
    /// How often to run.
    #[serde(flatten)]
    pub runs: Runs,
}

/// The right-hand side f(y).
#[differentiate]
pub fn rhs(x: &[f64], y: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; x.len()];
    z[0] = x[0];
    for i in 1..x.len() {
        z[i] = x[i] * y[i - 1];
    }
    z
}

/// y(2) after `s` RK4 steps of size 2/s.
#[differentiate(wrt(x))]
pub fn primal(x: &[f64], s: usize) -> Vec<f64> {
    let n = x.len();
    let h = 2.0 / s as f64;
    let mut y = vec![0.0; n];
    for _ in 0..s {
        let k1 = rhs(x, &y);
        let y1: Vec<f64> = (0..n).map(|i| y[i] + h * k1[i] / 2.0).collect();
        let k2 = rhs(x, &y1);
        let y2: Vec<f64> = (0..n).map(|i| y[i] + h * k2[i] / 2.0).collect();
        let k3 = rhs(x, &y2);
        let y3: Vec<f64> = (0..n).map(|i| y[i] + h * k3[i]).collect();
        let k4 = rhs(x, &y3);
        for i in 0..n {
            y[i] += h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) / 6.0;
        }
    }
    y
}

/// ∂y(2)ₙ₋₁/∂x: `primal_vjp` with the last basis vector as cotangent.
pub fn gradient(x: &[f64], s: usize) -> Vec<f64> {
    let mut last = vec![0.0; x.len()];
    if let Some(e) = last.last_mut() {
        *e = 1.0;
    }
    primal_vjp(x, s, &last).1
}

/// Runs `primal` or `gradient`.
pub fn evaluate(function: &str, input: Value) -> Result<Evaluation, String> {
    let Input { x, s, runs } = parse_input(input)?;
    match function {
        "primal" => {
            let (y, timings) = measure(runs, || primal(&x, s));
            Ok(Evaluation {
                output: to_output(&y)?,
                timings,
            })
        }
        "gradient" => {
            let (g, timings) = measure(runs, || gradient(&x, s));
            Ok(Evaluation {
                output: to_output(&g)?,
                timings,
            })
        }
        _ => Err(super::unknown_function("ode", function)),
    }
}
