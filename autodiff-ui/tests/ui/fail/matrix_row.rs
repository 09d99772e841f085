use autodiff::{differentiate, Tangent};

// A copy of a local matrix's row.
#[differentiate]
fn row_copy(x: f64) -> f64 {
    let mut m = [[0.0; 2]; 2];
    m[0][0] = x;
    let r = m[0];
    r[0] * 2.0
}

#[differentiate]
fn sq(p: &[f64; 2]) -> f64 {
    p[0] * p[0] + p[1]
}

// A row passed whole to a function.
#[differentiate]
fn row_passed(pts: &[[f64; 2]]) -> f64 {
    let mut s = 0.0;
    for p in pts {
        s += sq(p);
    }
    s
}

#[derive(Clone, Tangent)]
struct Rows {
    w: Vec<[f64; 2]>,
}

// A struct field's rows taken apart by the loop's pattern.
#[differentiate(wrt(r))]
fn field_rows(r: &Rows) -> f64 {
    let mut s = 0.0;
    for &[a, b] in r.w.iter() {
        s += a * b;
    }
    s
}

fn main() {
    let _ = row_copy_grad(1.0);
    let _ = row_passed_grad(&[[1.0, 2.0]]);
    let _ = field_rows_grad(&Rows { w: vec![[1.0, 2.0]] });
}

// Windows of a differentiated matrix's rows.
#[differentiate]
fn row_windows(pts: &[[f64; 2]]) -> f64 {
    let mut s = 0.0;
    for w in pts.windows(2) {
        s += w[0][0] * w[1][1];
    }
    s
}
