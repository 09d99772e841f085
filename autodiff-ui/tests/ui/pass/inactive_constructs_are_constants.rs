//! `match`, closures, macros, iterator chains and casts on values that do not depend
//! on a differentiated parameter are opaque constants, kept as written.
use autodiff::differentiate;

macro_rules! double {
    ($e:expr) => {
        2.0 * $e
    };
}

#[differentiate]
fn f(x: f64, n: usize) -> f64 {
    let k = match n {
        0 => 1.0,
        _ => 2.0,
    };
    let c = (|m: usize| m as f64 + 0.5)(n);
    let d = double!(n as f64);
    let e = (0..n).map(|i| i as f64).sum::<f64>();
    x * k + x.sin() * c + d * x + e
}

fn main() {
    let g = f_grad(0.5, 3);
    let (v, dv) = f_jvp(0.5, 3, 1.0);
    let _ = (g, v, dv);
}
