// A `Vec` the body collects from constant data is kept as written: writing
// a differentiated value into it is refused where it is written (not an
// E0596 inside the expansion).
use autodiff::differentiate;

#[differentiate(wrt(x))]
fn f(x: f64, d: &[f64]) -> f64 {
    let mut v: Vec<f64> = d.iter().map(|t| t.sin()).collect();
    v[0] = x * 2.0;
    v[0] + v[1]
}

fn main() {
    let _ = f_grad(1.0, &[0.5, 1.0]);
}
