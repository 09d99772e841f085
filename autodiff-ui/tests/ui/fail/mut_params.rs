use autodiff::differentiate;

// A `&mut` parameter of integers is not an output with a derivative.
#[differentiate]
fn counts(x: f64, n: &mut usize) -> f64 {
    *n += 1;
    x * 2.0
}

// An early `return` in a function that writes an array through `&mut`.
#[differentiate]
fn early(x: &[f64], out: &mut [f64]) {
    if x.is_empty() {
        return;
    }
    out[0] = x[0] * x[0];
}

// Second derivatives of a function that writes through `&mut`.
#[differentiate(hessian)]
fn second(x: f64, out: &mut f64) {
    *out = x * x;
}

// Something other than one float returned beside a `&mut` output.
#[differentiate]
fn pair(x: f64, out: &mut f64) -> (f64, f64) {
    *out = x;
    (x, x)
}

fn main() {}
