use autodiff::differentiate;

trait Energy {
    fn energy(&self, x: f64) -> f64;
}

struct Spring;

impl Energy for Spring {
    // Companions cannot live in a trait impl: put the differentiated
    // function in an inherent impl and call it from the trait method.
    #[differentiate]
    fn energy(&self, x: f64) -> f64 {
        x * x
    }
}

fn main() {}
