use autodiff::differentiate;

#[differentiate]
fn f(x: f64, steps: Vec<f64>) -> f64 {
    let mut y = x;
    let mut it = steps.into_iter();
    while let Some(h) = it.next() {
        y = y * h;
    }
    y
}

fn main() {
    let _: f64 = f_grad(1.0, vec![2.0]);
}
