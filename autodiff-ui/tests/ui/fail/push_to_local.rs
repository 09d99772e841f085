use autodiff::differentiate;

// Companions keep `idx` as it was declared: the push would be lost, so it
// is an error rather than a silently wrong derivative.
#[differentiate]
fn f(x: &[f64]) -> f64 {
    let mut idx = Vec::new();
    idx.push(1);
    x[idx[0]] * 2.0
}

fn main() {
    let _ = f_grad(&[1.0, 2.0]);
}
