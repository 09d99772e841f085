use autodiff::{differentiate, Tangent};

#[derive(Clone, Default, Tangent)]
pub struct Layer {
    pub w: [[f64; 3]; 2],
    pub b: [f64; 2],
}

impl Layer {
    // The error points at the loop over the field, and it is the only
    // one: the method's companions keep their signatures, so the call
    // below sees nothing else, whatever the field's rows look like.
    #[differentiate(wrt(self))]
    pub fn loss(&self, x: &[f64; 3]) -> f64 {
        let mut l = 0.0;
        for row in self.w.iter().skip(1) {
            l += row[0] * x[0];
        }
        l + self.b[0]
    }
}

fn main() {
    let g: Layer = Layer::default().loss_grad(&[1.0, 2.0, 3.0]);
    let _ = g.b;
}
