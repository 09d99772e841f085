use autodiff::{differentiate, dot, matvec, softmax, sum};

// Each helper call is checked where it stands: its arity, and the rank of
// each array argument. (The function itself is kept as written, so rustc
// reports the same calls too.)

#[differentiate]
fn arity(x: &[f64]) -> f64 {
    dot(&x)
}

#[differentiate]
fn second_rank(m: &[[f64; 2]]) -> f64 {
    sum(&matvec(&m, &m))
}

#[differentiate]
fn not_an_array(t: f64) -> f64 {
    sum(&softmax(&t))
}

pub struct Net {
    pub w1: [[f64; 3]; 2],
}

// A matrix held in a field: its type is not seen.
#[differentiate(wrt(x))]
fn field_matrix(net: &Net, x: [f64; 3]) -> f64 {
    let h = matvec(&net.w1, &x);
    h[0] + h[1]
}

fn main() {
    let _: Vec<f64> = arity_grad(&[1.0]);
    let _: f64 = not_an_array_grad(1.0);
}
