use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> bool {
    x > 0.0
}

fn main() {
    let _: f64 = f_grad(1.0);
}
