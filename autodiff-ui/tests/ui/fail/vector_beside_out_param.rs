// A vector of nalgebra's beside a `&mut` out-parameter is not read yet:
// the error is on the vector's type and says what to do.
use autodiff::differentiate;
use nalgebra::DVector;

#[differentiate]
fn scale_into(x: &DVector<f64>, out: &mut [f64]) {
    for i in 0..x.len() {
        out[i] = x[i] * x[i].sin();
    }
}

fn main() {
    let x = DVector::from_vec(vec![1.0, 2.0]);
    let mut out = [0.0; 2];
    scale_into(&x, &mut out);
    let _ = scale_into_jacobian(&x, &mut out);
}
