//! `wrt` on a subset of the float parameters: the others are constants.
use autodiff::differentiate;

#[differentiate(wrt(x))]
fn f(x: f64, y: f64) -> f64 {
    x * y + y.sin()
}

#[differentiate(wrt(x, z))]
fn h(x: f64, y: f64, z: f64) -> f64 {
    x * y * z
}

fn main() {
    let gx: f64 = f_grad(1.0, 2.0);
    let (v, g): (f64, f64) = f_value_and_grad(1.0, 2.0);
    let (_, t): (f64, f64) = f_jvp(1.0, 2.0, 1.0);
    let (gx2, gz): (f64, f64) = h_grad(1.0, 2.0, 3.0);
    let _ = (gx, v, g, t, gx2, gz);
}
