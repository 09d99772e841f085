use autodiff::differentiate;

#[differentiate]
fn f(x: &[f64]) -> f64 {
    x.iter().filter(|v| **v > 0.0).map(|v| v * v).sum::<f64>()
}

#[differentiate]
fn g(x: &[f64]) -> f64 {
    x.iter().skip(1).fold(0.0, |a, v| a * 0.5 + v)
}

// Positions counted from the end: not read.
#[differentiate]
fn h(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for (i, v) in x.iter().rev().enumerate() {
        s += v * i as f64;
    }
    s
}

// Adaptors a loop's source cannot have.
#[differentiate]
fn k(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for (i, v) in x.iter().enumerate().skip(1) {
        s += v * i as f64;
    }
    for c in x.chunks_exact(2) {
        s += c[0] * c[1];
    }
    for i in (0..x.len()).rev().step_by(2) {
        s += x[i];
    }
    s
}

fn main() {
    let _: Vec<f64> = f_grad(&[1.0, 2.0]);
    let _: Vec<f64> = g_grad(&[1.0, 2.0]);
    let _: Vec<f64> = h_grad(&[1.0, 2.0]);
}
