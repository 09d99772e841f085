use autodiff::differentiate;

#[differentiate(hessian)]
fn inner(x: &[f64; 2]) -> f64 {
    x[0] * x[0] * x[1]
}

// The gradient of `outer` goes through `inner_grad` (second derivatives of
// `inner`); its Hessian would need third derivatives.
#[differentiate(hessian)]
fn outer(x: &[f64; 2]) -> f64 {
    let g = inner_grad(x);
    g[0] * g[1]
}

fn main() {
    let _ = outer_grad(&[1.0, 2.0]);
}
