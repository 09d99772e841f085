use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let mut y = x;
    loop {
        y = y * 2.0;
        if y > 10.0 {
            break;
        }
    }
    y
}

fn main() {
    let _: f64 = f_grad(1.0);
}
