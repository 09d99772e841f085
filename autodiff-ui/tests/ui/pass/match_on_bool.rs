//! A `match` on a comparison of a differentiated value.
use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let y = match x > 0.0 {
        true => x,
        false => -x,
    };
    y * 2.0
}

fn main() {
    assert_eq!(f_grad(1.0), 2.0);
    assert_eq!(f_grad(-1.0), -2.0);
}
