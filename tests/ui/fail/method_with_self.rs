use autodiff::differentiate;

struct S;

impl S {
    #[differentiate]
    fn f(&self, x: f64) -> f64 {
        x * x
    }
}

fn main() {
    let _: f64 = S::f_grad(&S, 1.0);
}
