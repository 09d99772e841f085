//! One module per GradBench eval, and the dispatch on the module's name.

// Index loops are the form #[differentiate] reads best.
#![allow(clippy::needless_range_loop)]

use serde_json::Value;

use crate::protocol::Evaluation;

pub mod ba;
pub mod det;
pub mod gmm;
pub mod hello;
pub mod ht;
pub mod kmeans;
pub mod llsq;
pub mod lse;
pub mod lstm;
pub mod ode;
pub mod particle;
pub mod saddle;

/// The modules this tool implements, by GradBench name.
pub const MODULES: &[&str] = &[
    "hello", "llsq", "lse", "ode", "det", "kmeans", "gmm", "lstm", "ba", "ht", "saddle", "particle",
];

/// Whether `module` is implemented (the answer to `define`).
pub fn defines(module: &str) -> bool {
    MODULES.contains(&module)
}

/// Runs `function` of `module` on `input` (one `evaluate` message).
pub fn evaluate(module: &str, function: &str, input: Value) -> Result<Evaluation, String> {
    match module {
        "hello" => hello::evaluate(function, input),
        "llsq" => llsq::evaluate(function, input),
        "lse" => lse::evaluate(function, input),
        "ode" => ode::evaluate(function, input),
        "det" => det::evaluate(function, input),
        "kmeans" => kmeans::evaluate(function, input),
        "gmm" => gmm::evaluate(function, input),
        "lstm" => lstm::evaluate(function, input),
        "ba" => ba::evaluate(function, input),
        "ht" => ht::evaluate(function, input),
        "saddle" => saddle::evaluate(function, input),
        "particle" => particle::evaluate(function, input),
        _ => Err(format!("module `{module}` is not implemented")),
    }
}

/// The error for a function name a module does not have.
pub(crate) fn unknown_function(module: &str, function: &str) -> String {
    format!("module `{module}` has no function `{function}`")
}
