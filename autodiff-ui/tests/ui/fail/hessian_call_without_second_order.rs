use autodiff::differentiate;

// `g` has first-order companions only: a caller's Hessian needs `g_vjp_jvp`,
// which `#[differentiate(hessian)]` on `g` would emit.
#[differentiate]
fn g(t: f64) -> f64 {
    t.sin()
}

#[differentiate(hessian)]
fn f(x: f64) -> f64 {
    g(x) * x
}

fn main() {
    let _: [[f64; 1]; 1] = f_hessian(1.0);
}
