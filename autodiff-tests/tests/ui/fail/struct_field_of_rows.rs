use autodiff::{differentiate, Tangent};

#[derive(Tangent)]
struct Layer {
    w: Vec<[f64; 2]>,
}

// A field indexed twice is not read yet.
#[differentiate(wrt(l))]
fn f(l: &Layer, x: [f64; 2]) -> f64 {
    l.w[0][0] * x[0] + l.w[0][1] * x[1]
}

fn main() {}
