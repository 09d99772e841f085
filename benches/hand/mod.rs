//! Hand-written derivatives shared by the benches: what a careful person
//! writes, the baseline generated code is measured against.

/// The extended Rosenbrock gradient in one pass. Term i touches g[i] and
/// g[i + 1]: the g[i + 1] part is carried to the next step in a register,
/// so each entry is written once, with no zero-fill and no
/// read-modify-write.
#[inline(never)]
pub fn rosenbrock_grad_hand(x: &[f64]) -> Vec<f64> {
    let mut g = Vec::with_capacity(x.len());
    let mut carry = 0.0;
    g.extend(x.windows(2).map(|p| {
        let (xi, xn) = (p[0], p[1]);
        let a = xn - xi * xi;
        let gi = carry - 400.0 * a * xi - 2.0 * (1.0 - xi);
        carry = 200.0 * a;
        gi
    }));
    g.push(carry);
    g
}
