use autodiff::differentiate;

// `first`, `last` and `get` give an `Option`: the error is at them, and
// says which index to write (not at the `unwrap` that follows).
#[differentiate]
fn ends(x: &[f64]) -> f64 {
    x.first().unwrap() * x.last().copied().unwrap_or(1.0) + x.get(1).unwrap()
}

// A maximum through `max_by`: the error names the adaptor and the fold
// to write, not the `unwrap` after it.
#[differentiate]
fn largest(x: &[f64]) -> f64 {
    x.iter().map(|v| v.exp()).max_by(|a, b| a.total_cmp(b)).unwrap()
}

// An iterator kept in a variable.
#[differentiate]
fn stepped(x: &[f64]) -> f64 {
    let it = x.iter();
    it.sum::<f64>()
}

fn main() {
    let _: Vec<f64> = ends_grad(&[1.0, 2.0]);
    let _: Vec<f64> = largest_grad(&[1.0, 2.0]);
    let _: Vec<f64> = stepped_grad(&[1.0, 2.0]);
}
