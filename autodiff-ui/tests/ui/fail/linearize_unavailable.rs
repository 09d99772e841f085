use autodiff::differentiate;

struct Model {
    w: f64,
}

impl Model {
    // A method: the closures would capture `self`.
    #[differentiate(linearize)]
    fn loss(&self, x: f64) -> f64 {
        self.w * x * x
    }
}

// An out-parameter.
#[differentiate(linearize)]
fn step(x: f64, out: &mut [f64; 2]) {
    out[0] = x.sin();
    out[1] = x.cos();
}

fn main() {
    let m = Model { w: 2.0 };
    let _ = m.loss(1.0);
    let mut out = [0.0; 2];
    step(1.0, &mut out);
}
