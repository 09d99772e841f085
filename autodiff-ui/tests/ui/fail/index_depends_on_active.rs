use autodiff::differentiate;

#[differentiate]
fn f(x: &[f64], y: f64) -> f64 {
    x[y as usize] * y
}

fn main() {
    let _: (Vec<f64>, f64) = f_grad(&[1.0, 2.0], 1.0);
}
