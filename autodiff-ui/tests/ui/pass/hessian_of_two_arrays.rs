//! A Hessian over two array parameters: a `Matrix` over both, flattened.
use autodiff::differentiate;

#[differentiate(hessian)]
fn f(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[1]
}

fn main() {
    let _: ([f64; 2], [f64; 2]) = f_grad([1.0; 2], [2.0; 2]);
    let h = f_hessian([1.0; 2], [2.0; 2]);
    assert_eq!((h.nrows(), h.ncols()), (4, 4));
    assert_eq!(h[(0, 3)], 1.0);
    assert_eq!(h[(3, 0)], 1.0);
    assert_eq!(h[(1, 2)], 0.0);
}
