// A differentiated function called from another with a vector argument.
use autodiff::differentiate;
use nalgebra::DVector;

#[differentiate]
fn inner(x: &DVector<f64>) -> f64 {
    x[0] * x[1]
}

#[differentiate]
fn outer(x: &DVector<f64>) -> f64 {
    inner(x).sin()
}

fn main() {
    let x = DVector::from_vec(vec![1.0, 2.0]);
    let _ = outer_grad(&x);
}
