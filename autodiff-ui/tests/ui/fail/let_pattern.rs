use autodiff::differentiate;

// A `ref` binding of a differentiated value.
#[differentiate]
fn by_ref(x: f64) -> f64 {
    let ref y = x;
    *y * 2.0
}

// The rows of a matrix taken apart by a pattern.
#[differentiate]
fn rows(m: &[[f64; 2]; 2]) -> f64 {
    let [r0, r1] = *m;
    r0[0] * r1[1]
}

fn main() {
    let _ = by_ref_grad(1.0);
    let _ = rows_grad(&[[1.0, 2.0], [3.0, 4.0]]);
}
