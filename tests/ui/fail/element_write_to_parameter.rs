use autodiff::differentiate;

#[differentiate]
fn f(x: [f64; 2]) -> f64 {
    let mut y = x;
    y[0] = 2.0 * y[1];
    y[0]
}

fn main() {
    let _: [f64; 2] = f_grad([1.0, 2.0]);
}
