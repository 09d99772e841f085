//! A float cast to an integer is piecewise constant: its derivative is 0.
use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let n = x as i64;
    x * 2.0 + n as f64
}

fn main() {
    assert_eq!(f_grad(1.5), 2.0);
    assert_eq!(f(1.5), 4.0);
}
