use autodiff::{differentiate, Tangent};

#[derive(Tangent)]
struct Params {
    a: f64,
}

fn helper(p: &Params) -> f64 {
    p.a
}

// A differentiated struct is read through its fields.
#[differentiate(wrt(p))]
fn loss(p: &Params, x: f64) -> f64 {
    helper(p) * x
}

fn main() {}
