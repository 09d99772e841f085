use autodiff::differentiate;

#[differentiate]
fn f(x: f64, o: Option<f64>) -> f64 {
    let y = if let Some(v) = o { v * x } else { x };
    y
}

fn main() {
    let _: f64 = f_grad(1.0, None);
}
