//! `if let` on data that is not differentiated.
use autodiff::differentiate;

#[differentiate]
fn f(x: f64, o: Option<f64>) -> f64 {
    let y = if let Some(v) = o { v * x } else { x };
    y
}

fn main() {
    assert_eq!(f_grad(1.0, None), 1.0);
    assert_eq!(f_grad(1.0, Some(3.0)), 3.0);
}
