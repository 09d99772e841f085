use autodiff::differentiate;

macro_rules! twice {
    ($e:expr) => {
        2.0 * $e
    };
}

#[differentiate]
fn f(x: f64) -> f64 {
    let v = twice!(x);
    v + 1.0
}

fn main() {
    let _: f64 = f_grad(1.0);
}
