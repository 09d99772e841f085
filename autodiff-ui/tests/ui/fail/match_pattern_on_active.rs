use autodiff::differentiate;

#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    match (x, y) {
        (a, b) if a > b => a,
        (_, b) => b,
    }
}

fn main() {
    let _ = f_grad(1.0, 2.0);
}
