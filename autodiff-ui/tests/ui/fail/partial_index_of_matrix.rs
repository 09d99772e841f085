use autodiff::differentiate;

#[differentiate]
fn f(m: [[f64; 2]; 2]) -> f64 {
    let row = m[0];
    row[1]
}

fn main() {
    let _: [[f64; 2]; 2] = f_grad([[1.0, 2.0], [3.0, 4.0]]);
}
