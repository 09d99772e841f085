//! `saddle`: a saddle point of f(x, y) = (x₀² + x₁²) − (y₀² + y₁²) as
//! argminₓ maxᵧ f(x, y), both by gradient descent, so that the outer
//! gradient differentiates through the inner solver (nested AD).
//!
//! The four functions differ in the mode of each level: `rr`, `rf`, `fr`,
//! `ff` (outer, inner; `r` reverse, `f` forward). The outer level and the
//! final argmax follow the first letter; the inner level is reverse mode in
//! all four (see [`max_y`]).

use autodiff::differentiate;
use serde::Deserialize;
use serde_json::Value;

use crate::gd::{argmax, argmin, ETA0, TOLERANCE};
use crate::protocol::{measure, parse_input, to_output, Evaluation, Runs};

/// The eval's input.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// Where every descent starts.
    pub start: [f64; 2],
    /// How often to run.
    #[serde(flatten)]
    pub runs: Runs,
}

/// The function whose saddle point is sought, of z = (x₀, x₁, y₀, y₁).
// macro gap: gb-hessian-two-arrays (`fn f(x: [f64; 2], y: [f64; 2])` with `hessian`)
#[differentiate(hessian)]
pub fn f(z: [f64; 4]) -> f64 {
    (z[0] * z[0] + z[1] * z[1]) - (z[2] * z[2] + z[3] * z[3])
}

/// maxᵧ f(x, y) by gradient ascent from `start` (the solver of
/// [`crate::gd`], written out so that it is differentiated), the inner
/// gradient from `f_grad`.
///
/// The inner level is always reverse mode: a differentiated function
/// cannot call `f_jvp` (macro gap gb-tuple-call-destructure), so the
/// `rf` and `ff` functions use this one too.
// macro gap: gb-solver-closure-call (a generic solver taking `f_grad` in a closure)
// macro gap: gb-tuple-call-destructure (`f_jvp` cannot be called here)
#[differentiate(wrt(x))]
pub fn max_y(x: [f64; 2], start: [f64; 2]) -> f64 {
    let mut y0 = start[0];
    let mut y1 = start[1];
    let mut fy = -f([x[0], x[1], y0, y1]);
    let g: [f64; 4] = f_grad([x[0], x[1], y0, y1]);
    let mut g0 = -g[2];
    let mut g1 = -g[3];
    let mut eta = ETA0;
    let mut i = 0;
    loop {
        if (g0 * g0 + g1 * g1).sqrt() <= TOLERANCE {
            break;
        }
        if i == 10 {
            eta *= 2.0;
            i = 0;
            continue;
        }
        let next0 = y0 - eta * g0;
        let next1 = y1 - eta * g1;
        if ((y0 - next0) * (y0 - next0) + (y1 - next1) * (y1 - next1)).sqrt() <= TOLERANCE {
            break;
        }
        let f_next = -f([x[0], x[1], next0, next1]);
        if f_next < fy {
            y0 = next0;
            y1 = next1;
            fy = f_next;
            let g: [f64; 4] = f_grad([x[0], x[1], next0, next1]);
            g0 = -g[2];
            g1 = -g[3];
            i += 1;
        } else {
            eta /= 2.0;
            i = 0;
        }
    }
    f([x[0], x[1], y0, y1])
}

/// ∇ᵧ f by reverse mode (`f_grad`).
fn grad_y_r(x: [f64; 2], y: [f64; 2]) -> [f64; 2] {
    let g = f_grad([x[0], x[1], y[0], y[1]]);
    [g[2], g[3]]
}

/// ∇ᵧ f by forward mode (two `f_jvp`).
fn grad_y_f(x: [f64; 2], y: [f64; 2]) -> [f64; 2] {
    let z = [x[0], x[1], y[0], y[1]];
    [
        f_jvp(z, [0.0, 0.0, 1.0, 0.0]).1,
        f_jvp(z, [0.0, 0.0, 0.0, 1.0]).1,
    ]
}

/// The saddle point (x, y) from `start`, the outer level in mode `outer`
/// and the inner one in mode `inner` (`'r'` or `'f'`).
pub fn saddle(start: [f64; 2], outer: char, inner: char) -> [f64; 4] {
    // The inner mode is reverse in every variant (see `max_y`).
    let _ = inner;
    let cost = |x: [f64; 2]| max_y(x, start);
    let grad = |x: [f64; 2]| {
        if outer == 'r' {
            max_y_grad(x, start)
        } else {
            [
                max_y_jvp(x, start, [1.0, 0.0]).1,
                max_y_jvp(x, start, [0.0, 1.0]).1,
            ]
        }
    };
    let x = argmin(cost, grad, start);
    let y = if outer == 'r' {
        argmax(|y| f([x[0], x[1], y[0], y[1]]), |y| grad_y_r(x, y), start)
    } else {
        argmax(|y| f([x[0], x[1], y[0], y[1]]), |y| grad_y_f(x, y), start)
    };
    [x[0], x[1], y[0], y[1]]
}

/// Runs `rr`, `rf`, `fr` or `ff`.
pub fn evaluate(function: &str, input: Value) -> Result<Evaluation, String> {
    let Input { start, runs } = parse_input(input)?;
    let (outer, inner) = match function {
        "rr" => ('r', 'r'),
        "rf" => ('r', 'f'),
        "fr" => ('f', 'r'),
        "ff" => ('f', 'f'),
        _ => return Err(super::unknown_function("saddle", function)),
    };
    let (point, timings) = measure(runs, || saddle(start, outer, inner));
    Ok(Evaluation {
        output: to_output(&point)?,
        timings,
    })
}
