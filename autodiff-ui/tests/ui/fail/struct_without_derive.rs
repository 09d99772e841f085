use autodiff::differentiate;

struct Params {
    a: f64,
    b: f64,
}

// A struct named in `wrt` must derive `autodiff::Tangent`.
#[differentiate(wrt(p))]
fn loss(p: &Params, x: f64) -> f64 {
    p.a * x + p.b
}

fn main() {
    let p = Params { a: 1.0, b: 2.0 };
    let _ = loss_grad(&p, 1.0);
}
