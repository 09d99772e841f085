// A method of a generic `impl` over the impl's float parameter: the
// attribute sees the method alone, so the error names the parameter and
// says what to write instead (it used to panic).
use autodiff::{differentiate, Tangent};

#[derive(Clone, Tangent)]
struct Affine<T> {
    b: [T; 2],
}

impl<T: autodiff::Float + autodiff::Tangent> Affine<T> {
    #[differentiate(wrt(self, x))]
    fn energy(&self, x: [T; 2]) -> T {
        self.b[0] * x[0] + self.b[1] * x[1]
    }
}

fn main() {}
