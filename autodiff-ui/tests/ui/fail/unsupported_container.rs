// A container the attribute does not differentiate, named in `wrt`: the
// error is on its type and says what to pass instead.
use autodiff::differentiate;
use std::collections::HashMap;

#[differentiate(wrt(rows))]
fn nested(rows: &[&[f64]], x: f64) -> f64 {
    rows[0][0] * x
}

#[differentiate(wrt(table))]
fn keyed(table: &HashMap<usize, f64>, x: f64) -> f64 {
    table[&0] * x
}

fn main() {}
