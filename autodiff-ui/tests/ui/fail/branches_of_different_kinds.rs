use autodiff::differentiate;

// A sub-slice from one branch and a whole array from the other: Rust
// takes both as `&[f64]`, the attribute reads them differently.
#[differentiate]
fn tail_or_all(x: &[f64], skip: bool) -> f64 {
    let v: &[f64] = if skip { &x[1..] } else { x };
    v.iter().map(|a| a * a).sum()
}

fn main() {}
