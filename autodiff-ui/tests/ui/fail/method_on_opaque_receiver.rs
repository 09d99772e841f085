use autodiff::differentiate;

struct Scale(f64);

impl Scale {
    fn apply(&self, x: f64) -> f64 {
        self.0 * x
    }
}

#[differentiate]
fn f(x: f64) -> f64 {
    let s = Scale(3.0);
    s.apply(x)
}

fn main() {
    let _: f64 = f_grad(1.0);
}
