//! Statement macros (`assert!`, `println!`, `debug_assert!`) run in the
//! original function only; companions compute values, not effects.
use autodiff::differentiate;

#[differentiate]
fn f(x: f64, n: usize) -> f64 {
    assert!(n > 0);
    debug_assert!(x.is_finite());
    println!("x = {x}");
    x * x * n as f64
}

fn main() {
    let g: f64 = f_grad(3.0, 2);
    let _ = (g, f(3.0, 2), f_pp());
}
