//! The macro never panics: random bodies from snippets, valid and invalid.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::{cases_or, seeded_runner};

/// Statements, many of them wrong on purpose (bad arities, non-closures,
/// unsupported adaptors, shapes that do not fit).
const SNIPPETS: &[&str] = &[
    "let a = x.iter().sum::<f64>();",
    "let a = x.iter().zip().sum::<f64>();",
    "let a = sum();",
    "let a = dot(&x);",
    "let a = dot(&x, &x, &x);",
    "let a = sum(&t);",
    "let a = matvec(&x, &x);",
    "let a = transpose(&x);",
    "let a = softmax(&x);",
    "let a = sigmoid(t, t);",
    "let a = sigmoid(&x);",
    "let a = scan(t, x, |h| h);",
    "let a = scan(t, x, 3);",
    "let a = scan(t, x, |h, v| (h * v, h));",
    "let a = scan_n(t, 3, |(p, q), i| ((p, q), p));",
    "let a = scan((t, t), x, |(p, q), v| ((q, p * v), p));",
    "let a = x.iter().filter(|v| **v > 0.0).sum::<f64>();",
    "let a = x.iter().fold(t, |acc| acc);",
    "let a = x.iter().fold(t, 3);",
    "let a = x.iter().map(3).sum::<f64>();",
    "let a = x.iter().map(|v| v * t).collect::<Vec<_>>();",
    "let a = (0..x.len()).map(|i| x[i] * t).collect::<Vec<f64>>();",
    "let a = x.map(|v| v * t);",
    "let a = x.iter().copied().zip(x.iter()).map(|(p, q)| p * q * t).product::<f64>();",
    "let a = *t;",
    "let a: [f64; 2] = g(t);",
    "let a: Vec<f64> = g(t);",
    "for v in x.iter() { t = t + v; }",
    "for (i, v) in x.iter().enumerate() { t = t * v; }",
    "for (p, q) in x.iter().zip(&x) { t = t + p * q; }",
    "for v in &x { t += v.sin(); }",
    "for v in t { t = v; }",
    "for (i, v) in x.iter() { }",
    "t = t + logsumexp(x) + norm(&x) + mean(&x);",
    "t = t + x.iter().rev().sum::<f64>();",
    "let a = f64::from(2.0) * t;",
    "let a = T::zero();",
];

#[test]
fn expansion_never_panics_on_idioms() {
    let config = Config {
        cases: cases_or(250),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = seeded_runner(config);
    let picks = (vec(0..SNIPPETS.len(), 1..6), any::<bool>(), any::<bool>());
    let result = runner.run(&picks, |(picks, generic, hessian)| {
        let body: String = picks
            .iter()
            .map(|&k| SNIPPETS[k])
            .collect::<Vec<_>>()
            .join("\n");
        let src = if generic {
            format!("fn f<T: Float>(x: &[T], mut t: T) -> T {{\n{body}\nt\n}}")
        } else {
            format!("fn f(x: &[f64], mut t: f64) -> f64 {{\n{body}\nt\n}}")
        };
        let item: proc_macro2::TokenStream = src.parse().expect("snippets tokenize");
        let args: proc_macro2::TokenStream = if hessian {
            quote::quote!(hessian)
        } else {
            quote::quote!()
        };
        let out = std::panic::catch_unwind(|| crate::expand::expand(args, item));
        prop_assert!(out.is_ok(), "the expansion panicked on:\n{src}");
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
