use autodiff::differentiate;

#[differentiate(wrt(z))]
fn f(x: f64, y: f64) -> f64 {
    x * y
}

fn main() {
    let _: (f64, f64) = f_grad(1.0, 2.0);
}
