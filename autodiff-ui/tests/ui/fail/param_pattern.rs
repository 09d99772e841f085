use autodiff::differentiate;

#[differentiate]
fn f((a, b): (f64, f64), x: f64) -> f64 {
    a * b * x
}

fn main() {
    let _: f64 = f_grad((1.0, 2.0), 1.0);
}
