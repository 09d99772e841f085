use autodiff::differentiate;

#[differentiate]
fn f(x: f64, names: &[String]) -> f64 {
    let mut s = x;
    for name in names.iter() {
        s = s * name.len() as f64;
    }
    s
}

fn main() {
    let _: f64 = f_grad(1.0, &[]);
}
