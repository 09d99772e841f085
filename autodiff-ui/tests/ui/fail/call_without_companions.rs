use autodiff::differentiate;

fn helper(t: f64) -> f64 {
    t * t
}

#[differentiate]
fn f(x: f64) -> f64 {
    helper(x) + 1.0
}

fn main() {
    let _: f64 = f_grad(1.0);
}
