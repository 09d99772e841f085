//! `particle`: the control w that makes a charged particle, pushed by two
//! charges (one placed by w), cross the x axis at the origin. The
//! trajectory is Euler's method on the force −∇ₓp, a gradient, and w
//! minimises the squared miss by gradient descent: the outer gradient
//! differentiates a loop that takes gradients (nested AD).
//!
//! The four functions name the mode of the descent, then of the force:
//! `rr`, `rf`, `fr`, `ff` (`r` reverse, `f` forward). The descent follows
//! the first letter; the force is reverse mode in all four (see
//! [`miss`]).

use autodiff::differentiate;
use serde::Deserialize;
use serde_json::Value;

use crate::gd::argmin;
use crate::protocol::{measure, parse_input, to_output, Evaluation, Runs};

/// The eval's input.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// The control's starting value.
    pub w: f64,
    /// How often to run.
    #[serde(flatten)]
    pub runs: Runs,
}

/// The potential at (z₀, z₁) of unit charges at (10, 10 − w) and (10, 0),
/// with w = z₂.
// macro gap: gb-hessian-array-and-scalar (`fn potential(x: [f64; 2], w: f64)` with `hessian`)
#[differentiate(hessian)]
pub fn potential(z: [f64; 3]) -> f64 {
    let d1 = ((10.0 - z[0]) * (10.0 - z[0]) + (10.0 - z[2] - z[1]) * (10.0 - z[2] - z[1])).sqrt();
    let d2 = ((10.0 - z[0]) * (10.0 - z[0]) + (0.0 - z[1]) * (0.0 - z[1])).sqrt();
    1.0 / d1 + 1.0 / d2
}

/// The square of where the particle crosses the x axis, for control `w`:
/// Euler steps of 0.1 from (0, 8) at velocity (0.75, 0) under the force
/// −∇ₓp (`potential_grad`), the last step cut where it meets the axis.
///
/// The force is always reverse mode: a differentiated function cannot
/// call `potential_jvp` (macro gap gb-tuple-call-destructure).
// macro gap: gb-tuple-call-destructure (`potential_jvp` cannot be called here)
#[differentiate]
pub fn miss(w: f64) -> f64 {
    let dt = 0.1;
    let mut x0 = 0.0;
    let mut x1 = 8.0;
    let mut v0 = 0.75;
    let mut v1 = 0.0;
    loop {
        let g: [f64; 3] = potential_grad([x0, x1, w]);
        let next0 = x0 + dt * v0;
        let next1 = x1 + dt * v1;
        if next1 > 0.0 {
            x0 = next0;
            x1 = next1;
            v0 += dt * -g[0];
            v1 += dt * -g[1];
        } else {
            break;
        }
    }
    let dt_final = -x1 / v1;
    let x_final = x0 + dt_final * v0;
    x_final * x_final
}

/// The control w, by gradient descent on `miss` from `w0`, its derivative
/// in mode `outer` (`'r'`: `miss_grad`, `'f'`: `miss_jvp`).
pub fn particle(w0: f64, outer: char) -> f64 {
    let grad = |w: [f64; 1]| {
        if outer == 'r' {
            [miss_grad(w[0])]
        } else {
            [miss_jvp(w[0], 1.0).1]
        }
    };
    argmin(|w: [f64; 1]| miss(w[0]), grad, [w0])[0]
}

/// Runs `rr`, `rf`, `fr` or `ff`.
pub fn evaluate(function: &str, input: Value) -> Result<Evaluation, String> {
    let Input { w, runs } = parse_input(input)?;
    let outer = match function {
        "rr" | "rf" => 'r',
        "fr" | "ff" => 'f',
        _ => return Err(super::unknown_function("particle", function)),
    };
    let (w_final, timings) = measure(runs, || particle(w, outer));
    Ok(Evaluation {
        output: to_output(&w_final)?,
        timings,
    })
}
