use autodiff::{differentiate, Float};

// Two float type parameters: the companions need one element type.
#[differentiate]
fn f<T: Float, U: Float>(x: T, y: U) -> T {
    x * T::from(y).unwrap()
}

fn main() {}
