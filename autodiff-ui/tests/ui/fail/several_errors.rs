use autodiff::differentiate;

#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    let g = x.rem_euclid(2.0);
    let m = match (y, y) {
        (a, b) if a > b => a,
        _ => -y,
    };
    g + m
}

fn main() {
    // Both errors above are reported, and nothing else: the stub
    // companions have the right signatures, so these calls type-check.
    let _: (f64, f64) = f_grad(1.0, 2.0);
    let _: (f64, f64) = f_jvp(1.0, 2.0, 1.0, 0.0);
    let _: (f64, (f64, f64)) = f_value_and_grad(1.0, 2.0);
    let _: (f64, (f64, f64)) = f_vjp(1.0, 2.0, 1.0);
    let _: (f64, f64) = f_jacobian(1.0, 2.0);
    let _: autodiff::Pretty = f_pp();
}
