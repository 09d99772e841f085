use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let n = x as i64;
    x * 2.0 + n as f64
}

fn main() {
    let _: f64 = f_grad(1.0);
}
