// A loop over a binding whose type the attribute cannot see.
use autodiff::differentiate;

const T: [f64; 3] = [1.0, 2.0, 3.0];

#[differentiate]
fn f(x: f64) -> f64 {
    let t = T;
    let mut s = 0.0;
    for c in t.iter() {
        s += c * x;
    }
    s
}

fn main() {
    let _ = f_grad(1.0);
}
