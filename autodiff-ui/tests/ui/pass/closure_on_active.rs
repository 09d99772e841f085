use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let g = |t: f64| t * x;
    g(2.0)
}

fn main() {
    let _: f64 = f_grad(1.0);
}
