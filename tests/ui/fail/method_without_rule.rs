use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    x.to_degrees() + 1.0
}

fn main() {
    let _: f64 = f_grad(1.0);
}
