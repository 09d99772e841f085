use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    x.rem_euclid(2.0) + 1.0
}

fn main() {
    let _: f64 = f_grad(1.0);
}
