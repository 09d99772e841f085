// A loop carrying a tuple (an argmin's best distance and index).
use autodiff::differentiate;

#[differentiate]
fn nearest(x: &[f64], q: f64) -> f64 {
    let mut best = (f64::INFINITY, 0usize);
    for i in 0..x.len() {
        let d = (x[i] - q).abs();
        if d < best.0 {
            best = (d, i);
        }
    }
    best.0
}

fn main() {
    let _ = nearest_grad(&[1.0, 2.0], 1.5);
}
