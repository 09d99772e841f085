//! A loop over constant data of any element type.
use autodiff::differentiate;

#[differentiate]
fn f(x: f64, names: &[String]) -> f64 {
    let mut s = x;
    for name in names.iter() {
        s = s * name.len() as f64;
    }
    s
}

fn main() {
    let names = ["ab".to_string(), "cde".to_string()];
    assert_eq!(f_grad(1.0, &[]), 1.0);
    assert_eq!(f_grad(1.0, &names), 6.0);
}
