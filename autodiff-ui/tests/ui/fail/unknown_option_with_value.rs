use autodiff::differentiate;

#[differentiate(foo = 1, wrt(z))]
fn f(x: f64) -> f64 {
    x * x
}

fn main() {
    let _: f64 = f_grad(1.0);
}
