use autodiff::differentiate;

/// The L1 norm, named like autodiff's `norm` helper (the L2 norm).
fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v.abs()).sum()
}

// A bare `norm(..)` is read as the helper: this one is another function,
// so the call is an error (it would have been differentiated as the L2
// norm). `self::norm(x)` reads it through its own companions.
#[differentiate]
fn scaled(x: &[f64]) -> f64 {
    norm(x) * 2.0
}

fn main() {
    let _: Vec<f64> = scaled_grad(&[1.0, 2.0]);
}
