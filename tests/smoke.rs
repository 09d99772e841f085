use autodiff::differentiate;

#[differentiate]
fn sq(x: f64) -> f64 {
    x * x
}

#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    let a = x * y;
    a.sin() + x.powi(2)
}

#[differentiate]
fn br(x: f64, n: usize) -> f64 {
    let mut s = x;
    if x > 0.0 {
        s *= x.exp();
    } else {
        s = s - (n as f64) * x.sin();
    }
    s
}

#[differentiate]
fn tup(x: f64, y: f64) -> (f64, f64, f64) {
    (x * y, x.sin(), y.hypot(x))
}

#[test]
fn smoke() {
    assert_eq!(sq_grad(4.0), 8.0);
    println!("{}", sq_pp());
    println!("{}", f_pp());
    println!("{}", br_pp());
    println!("{}", tup_pp());
    let (x, y) = (0.3, 0.7);
    let g = f_grad(x, y);
    assert!((g.0 - ((x * y).cos() * y + 2.0 * x)).abs() < 1e-12);
    let _ = br_grad(0.5, 3);
    let _ = tup_jacobian(0.5, 3.0);
}
