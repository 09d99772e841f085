//! `lstm`: the loss of a multi-layer LSTM with diagonal weights predicting
//! the next character of a sequence (ADBench's LSTM).

use autodiff::{differentiate, sigmoid};
use serde::Deserialize;
use serde_json::Value;

use crate::protocol::{measure, parse_input, to_output, Evaluation, Runs};

/// The eval's input.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// 2l rows of 4b: each layer's weights, then its biases, each split in
    /// forget, input, output and change blocks.
    pub main_params: Vec<Vec<f64>>,
    /// 3 rows of b: input weights, output weights, output biases.
    pub extra_params: Vec<Vec<f64>>,
    /// 2l rows of b: each layer's hidden state, then its cell state.
    pub state: Vec<Vec<f64>>,
    /// c rows of b: the one-hot characters.
    pub sequence: Vec<Vec<f64>>,
    /// How often to run.
    #[serde(flatten)]
    pub runs: Runs,
}

/// The loss: −(1/((c − 1) b)) Σₜ Σᵢ seq[t+1]ᵢ (yᵢ − ln(Σ exp y + 2)).
/// `main_params`, `extra_params` and `state` are the input's rows
/// flattened row-major.
// macro gap: gb-vec-rows-wrt (`main_params: &[Vec<f64>]` cannot be differentiated)
#[differentiate(wrt(main_params, extra_params))]
#[allow(clippy::manual_memcpy)]
pub fn objective(
    main_params: &[f64],
    extra_params: &[f64],
    state: &[f64],
    sequence: &[Vec<f64>],
) -> f64 {
    let b = extra_params.len() / 3;
    let layers = state.len() / (2 * b);
    // macro gap: gb-to-vec-written (`let mut st = state.to_vec();`), and
    // gb-copy-from-slice-wrong (`st.copy_from_slice(state)` gives a zero
    // gradient)
    let mut st = vec![0.0; state.len()];
    for i in 0..state.len() {
        st[i] = state[i];
    }
    let mut total = 0.0;
    let mut count = 0;
    for t in 0..sequence.len() - 1 {
        let mut input = vec![0.0; b];
        for i in 0..b {
            input[i] = sequence[t][i] * extra_params[i];
        }
        for layer in 0..layers {
            let w = 8 * b * layer;
            let bias = w + 4 * b;
            let h = 2 * b * layer;
            let c = h + b;
            for i in 0..b {
                let forget = sigmoid(input[i] * main_params[w + i] + main_params[bias + i]);
                let ingate =
                    sigmoid(st[h + i] * main_params[w + b + i] + main_params[bias + b + i]);
                let outgate =
                    sigmoid(input[i] * main_params[w + 2 * b + i] + main_params[bias + 2 * b + i]);
                let change =
                    (st[h + i] * main_params[w + 3 * b + i] + main_params[bias + 3 * b + i]).tanh();
                st[c + i] = st[c + i] * forget + ingate * change;
                st[h + i] = outgate * st[c + i].tanh();
            }
            // macro gap: gb-copy-from-subslice (`input.copy_from_slice(&st[h..h + b])`)
            for i in 0..b {
                input[i] = st[h + i];
            }
        }
        let mut sum = 0.0;
        let mut y = vec![0.0; b];
        for i in 0..b {
            y[i] = input[i] * extra_params[b + i] + extra_params[2 * b + i];
            sum += y[i].exp();
        }
        let lse = (sum + 2.0).ln();
        for i in 0..b {
            total += sequence[t + 1][i] * (y[i] - lse);
        }
        count += b;
    }
    -total / count as f64
}

/// Runs `objective` or `jacobian` (`objective_grad`, main parameters then
/// extra parameters, flattened).
pub fn evaluate(function: &str, input: Value) -> Result<Evaluation, String> {
    let input: Input = parse_input(input)?;
    let main = input.main_params.concat();
    let extra = input.extra_params.concat();
    let state = input.state.concat();
    let sequence = &input.sequence;
    if sequence.len() < 2 || extra.len() % 3 != 0 || extra.is_empty() {
        return Err("lstm needs c ≥ 2 and 3 rows of extra parameters".to_string());
    }
    match function {
        "objective" => {
            let (y, timings) = measure(input.runs, || objective(&main, &extra, &state, sequence));
            Ok(Evaluation {
                output: to_output(&y)?,
                timings,
            })
        }
        "jacobian" => {
            let ((g_main, g_extra), timings) = measure(input.runs, || {
                objective_grad(&main, &extra, &state, sequence)
            });
            let flat: Vec<f64> = g_main.into_iter().chain(g_extra).collect();
            Ok(Evaluation {
                output: to_output(&flat)?,
                timings,
            })
        }
        _ => Err(super::unknown_function("lstm", function)),
    }
}
