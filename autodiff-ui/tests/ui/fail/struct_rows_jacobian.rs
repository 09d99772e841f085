use autodiff::{differentiate, Tangent};

#[derive(Tangent)]
struct Layer {
    w: Vec<[f64; 2]>,
}

// A field indexed twice is differentiated, but its flattened Jacobian has
// no type the macro can name.
#[differentiate(wrt(l))]
fn f(l: &Layer, x: [f64; 2]) -> f64 {
    l.w[0][0] * x[0] + l.w[0][1] * x[1]
}

fn main() {
    let l = Layer { w: vec![[1.0, 2.0]] };
    let _ = f_grad(&l, [0.5, 0.25]);
    let _ = f_jacobian(&l, [0.5, 0.25]);
}
