use autodiff::differentiate;

#[differentiate]
fn f(x: f64, n: usize) -> f64 {
    let mut k = 0;
    while k < n {
        k += 1;
    }
    x * (k as f64)
}

fn main() {
    let _: f64 = f_grad(1.0, 3);
}
