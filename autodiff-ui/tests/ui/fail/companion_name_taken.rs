use autodiff::differentiate;

/// A function of the user's own, named like a companion of `f`.
fn f_grad(x: f64) -> f64 {
    x
}

#[differentiate]
fn f(x: f64) -> f64 {
    x * x
}

fn main() {
    let _ = f_grad(1.0);
}
