// A vector parameter of nalgebra's types in a method with `self` is not
// read yet: the error is on the parameter's type and says what to do.
use autodiff::differentiate;
use nalgebra::DVector;

struct Model {
    scale: f64,
}

impl Model {
    #[differentiate(wrt(x))]
    fn energy(&self, x: &DVector<f64>) -> f64 {
        self.scale * x[0] * x[0]
    }
}

fn main() {
    let m = Model { scale: 2.0 };
    let _ = m.energy(&DVector::from_vec(vec![1.0]));
}
