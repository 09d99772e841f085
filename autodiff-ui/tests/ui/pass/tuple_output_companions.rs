//! A tuple output has `_jvp`, `_vjp` and `_jacobian` companions.
use autodiff::differentiate;

#[differentiate]
fn f(x: f64, y: f64) -> (f64, f64) {
    (x * y, x.sin() + y)
}

fn main() {
    let ((a, b), (da, db)) = f_jvp(1.0, 2.0, 1.0, 0.0);
    let ((_, _), (gx, gy)) = f_vjp(1.0, 2.0, (1.0, 0.0));
    let (jx, jy): ([f64; 2], [f64; 2]) = f_jacobian(1.0, 2.0);
    let _ = (a, b, da, db, gx, gy, jx, jy);
}
