use autodiff::differentiate;

#[differentiate]
fn parts(x: f64) -> (f64, [f64; 2]) {
    (x, [x, x])
}

// A call's tuple result is read destructured into floats only.
#[differentiate]
fn f(x: f64) -> f64 {
    let (a, [b, c]) = parts(x);
    a * b * c
}

fn main() {}
