use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let m = [[x; 2]; 2];
    m[0][0] + x
}

fn main() {
    let _: f64 = f_grad(1.0);
}
