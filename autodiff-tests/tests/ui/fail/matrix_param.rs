// A matrix of nalgebra (or ndarray) is not differentiated yet: the error
// says what to pass instead, on the parameter's type.
use autodiff::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn trace_times(a: &DMatrix<f64>, x: f64) -> f64 {
    (a[(0, 0)] + a[(1, 1)]) * x
}

fn main() {
    let a = DMatrix::<f64>::identity(2, 2);
    let _ = trace_times_grad(&a, 1.0);
}
