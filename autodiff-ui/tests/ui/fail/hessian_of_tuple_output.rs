use autodiff::differentiate;

// A function with a tuple output has second-order companions for its
// callers (`f_vjp_jvp`), but no Hessian of its own.
#[differentiate(hessian)]
fn f(x: f64) -> (f64, f64) {
    (x * x, x.sin())
}

fn main() {
    let _: [f64; 2] = f_jacobian(1.0);
    let _ = f_hessian(1.0);
}
