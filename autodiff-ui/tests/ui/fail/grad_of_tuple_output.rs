use autodiff::differentiate;

#[differentiate]
fn f(x: f64, y: f64) -> (f64, f64) {
    (x * y, x + y)
}

fn main() {
    // Fine: the Jacobian and the VJP work for tuple outputs.
    let _: ([f64; 2], [f64; 2]) = f_jacobian(1.0, 2.0);
    let _: ((f64, f64), (f64, f64)) = f_vjp(1.0, 2.0, (1.0, 0.0));
    // Not fine: a gradient needs a scalar output.
    let _ = f_grad(1.0, 2.0);
}
