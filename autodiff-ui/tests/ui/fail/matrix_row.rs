use autodiff::differentiate;

// A copy of a local matrix's row.
#[differentiate]
fn row_copy(x: f64) -> f64 {
    let mut m = [[0.0; 2]; 2];
    m[0][0] = x;
    let r = m[0];
    r[0] * 2.0
}

// A row's length.
#[differentiate]
fn row_len(pts: &[[f64; 2]]) -> f64 {
    let mut s = 0.0;
    for p in pts {
        s += p[0] * p.len() as f64;
    }
    s
}

// A row's last element, counted from its end.
#[differentiate]
fn row_last(pts: &[[f64; 3]]) -> f64 {
    let mut s = 0.0;
    for p in pts {
        let [.., last] = *p;
        s += last;
    }
    s
}

fn main() {
    let _ = row_copy_grad(1.0);
    let _ = row_len_grad(&[[1.0, 2.0]]);
    let _ = row_last_grad(&[[1.0, 2.0, 3.0]]);
}
