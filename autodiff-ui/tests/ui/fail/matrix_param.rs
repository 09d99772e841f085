// A matrix of run-time shape is read by its elements, shape, sum, norm
// and product with a vector: another method on it is an error that says
// so, at the method.
use autodiff::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn trace_times(a: &DMatrix<f64>, x: f64) -> f64 {
    a.trace() * x
}

fn main() {
    let a = DMatrix::<f64>::identity(2, 2);
    let _ = trace_times_grad(&a, 1.0);
}
