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

fn main() {
    let _: Vec<f64> = arity_grad(&[1.0]);
    let _: f64 = not_an_array_grad(1.0);
}
