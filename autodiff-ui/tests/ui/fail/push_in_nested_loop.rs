use autodiff::differentiate;

// Pushed by a loop nested in the loop beside the `let`: once per inner
// iteration of each outer one, a length the attribute does not read.
#[differentiate]
fn nested(x: &[f64]) -> f64 {
    let mut h = Vec::new();
    for i in 0..2 {
        for j in 0..x.len() {
            h.push(x[j] * (i + 1) as f64);
        }
    }
    h[0]
}

fn main() {
    let _: Vec<f64> = nested_grad(&[1.0, 2.0]);
}
