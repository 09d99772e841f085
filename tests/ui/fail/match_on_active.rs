use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let y = match x > 0.0 {
        true => x,
        false => -x,
    };
    y * 2.0
}

fn main() {
    let _: f64 = f_grad(1.0);
}
