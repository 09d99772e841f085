use autodiff::differentiate;

#[differentiate]
struct Point {
    x: f64,
    y: f64,
}

fn main() {
    let _ = Point { x: 1.0, y: 2.0 };
}
