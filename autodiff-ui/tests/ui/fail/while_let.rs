use autodiff::differentiate;

#[differentiate(wrt(x))]
fn f(x: f64, steps: &[f64]) -> f64 {
    let mut y = x;
    let mut it = steps.iter();
    while let Some(h) = it.next() {
        y = y * *h;
    }
    y
}

fn main() {
    let _: f64 = f_grad(1.0, &[2.0]);
}
