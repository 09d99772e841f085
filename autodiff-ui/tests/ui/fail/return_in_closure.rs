use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let clip = |v: f64| {
        if v > 1.0 {
            return 1.0;
        }
        v
    };
    clip(x * 2.0)
}

fn main() {
    let _: f64 = f_grad(1.0);
}
