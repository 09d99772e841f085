//! A [GradBench](https://github.com/gradbench/gradbench) tool for
//! `autodiff`.
//!
//! Every eval's functions are written as plain Rust with
//! `#[differentiate]`, and every derivative the tool reports comes from the
//! companions the attribute emits (`_grad`, `_vjp`, `_jvp`, `_jacobian`,
//! `_grad_jvp`, ...): nothing is differentiated by hand. [`protocol`] speaks
//! GradBench's JSON protocol; [`evals`] holds one module per eval, each with
//! the functions it differentiates and an `evaluate` entry that parses the
//! eval's input, times the function and shapes its output.

pub mod evals;
pub mod gd;
pub mod protocol;
