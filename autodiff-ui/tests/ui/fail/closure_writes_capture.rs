use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let mut acc = 0.0;
    let mut add = |v: f64| acc += v * x;
    add(1.0);
    add(2.0);
    acc
}

fn main() {
    let _: f64 = f_grad(1.0);
}
