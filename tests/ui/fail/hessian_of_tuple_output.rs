use autodiff::differentiate;

#[differentiate(hessian)]
fn f(x: f64) -> (f64, f64) {
    (x * x, x.sin())
}

fn main() {
    let _: [f64; 2] = f_jacobian(1.0);
}
