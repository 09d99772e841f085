use autodiff::differentiate;

#[differentiate(hessian)]
fn f(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[1]
}

fn main() {
    let _: ([f64; 2], [f64; 2]) = f_grad([1.0; 2], [2.0; 2]);
}
