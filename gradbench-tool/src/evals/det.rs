//! `det`: the determinant by expansion by minors along the first row.

use autodiff::differentiate;
use serde::Deserialize;
use serde_json::Value;

use crate::protocol::{measure, parse_input, to_output, Evaluation, Runs};

/// The eval's input.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// The matrix, row-major.
    #[serde(rename = "A")]
    pub a: Vec<f64>,
    /// Its order.
    pub ell: usize,
    /// How often to run.
    #[serde(flatten)]
    pub runs: Runs,
}

/// The determinant of the minor of the `n`×`n` row-major matrix `a` made
/// of `rows` and `cols`, expanded along its first row.
#[differentiate(wrt(a))]
pub fn det_of_minor(a: &[f64], n: usize, rows: &[usize], cols: &[usize]) -> f64 {
    let m = rows.len();
    if m == 1 {
        return a[rows[0] * n + cols[0]];
    }
    // macro gap: gb-subslice-arg-recursion (`&rows[1..]` as the argument)
    let sub_rows: &[usize] = &rows[1..];
    let mut det = 0.0;
    let mut sign = 1.0;
    for j in 0..m {
        let sub_cols: Vec<usize> = cols
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != j)
            .map(|(_, &c)| c)
            .collect();
        let minor = det_of_minor(a, n, sub_rows, &sub_cols);
        det += sign * a[rows[0] * n + cols[j]] * minor;
        sign = -sign;
    }
    det
}

/// det A for the `ell`×`ell` row-major `a`.
#[differentiate(wrt(a))]
pub fn primal(a: &[f64], ell: usize) -> f64 {
    let all: Vec<usize> = (0..ell).collect();
    det_of_minor(a, ell, &all, &all)
}

/// Runs `primal` or `gradient` (`primal_grad`: the cofactor matrix).
pub fn evaluate(function: &str, input: Value) -> Result<Evaluation, String> {
    let Input { a, ell, runs } = parse_input(input)?;
    if a.len() != ell * ell {
        return Err(format!(
            "A has {} entries, not ell² = {}",
            a.len(),
            ell * ell
        ));
    }
    match function {
        "primal" => {
            let (y, timings) = measure(runs, || primal(&a, ell));
            Ok(Evaluation {
                output: to_output(&y)?,
                timings,
            })
        }
        "gradient" => {
            let (g, timings) = measure(runs, || primal_grad(&a, ell));
            Ok(Evaluation {
                output: to_output(&g)?,
                timings,
            })
        }
        _ => Err(super::unknown_function("det", function)),
    }
}
