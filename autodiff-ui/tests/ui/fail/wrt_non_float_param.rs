use autodiff::differentiate;

#[differentiate(wrt(n))]
fn f(x: f64, n: usize) -> f64 {
    x * n as f64
}

fn main() {
    let _: f64 = f_grad(1.0, 2);
}
