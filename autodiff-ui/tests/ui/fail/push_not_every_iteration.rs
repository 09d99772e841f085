use autodiff::differentiate;

// A `push` under an `if` fills a `Vec` of a length the data decides: not
// read (one error, at the push; none at the loop over the `Vec` after).
#[differentiate]
fn positives(x: &[f64]) -> f64 {
    let mut h = Vec::new();
    for i in 0..x.len() {
        if x[i] > 0.0 {
            h.push(x[i].ln());
        }
    }
    let mut s = 0.0;
    for v in &h {
        s += v;
    }
    s
}

fn main() {
    let _: Vec<f64> = positives_grad(&[1.0, 2.0]);
}
