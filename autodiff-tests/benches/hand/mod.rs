//! What the benches share: hand-written derivatives (what a careful person
//! writes, the baseline generated code is measured against), deterministic
//! inputs, and the agreement check run before any timing.

// Each bench uses a part of this module.
#![allow(dead_code)]

/// A deterministic point in [-scale, scale]^n.
pub fn point(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 * scale - scale
        })
        .collect()
}

/// Features of the logistic regressions (the length of `w`).
pub const LOGREG_FEATURES: usize = 100;
/// Rows of the logistic-regression data.
pub const LOGREG_ROWS: usize = 500;

/// Logistic-regression data: weights, a row-major `LOGREG_ROWS ×
/// LOGREG_FEATURES` design matrix, labels in {-1, 1}.
pub fn logreg_data(seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let w = point(LOGREG_FEATURES, seed, 0.3);
    let x = point(LOGREG_ROWS * LOGREG_FEATURES, seed + 1, 1.0);
    let y = point(LOGREG_ROWS, seed + 2, 1.0)
        .into_iter()
        .map(|v| if v >= 0.0 { 1.0 } else { -1.0 })
        .collect();
    (w, x, y)
}

/// Relative agreement required of every variant before timing.
pub const TOL: f64 = 1e-10;

/// Panics unless `gen` and `other` agree to [`TOL`] (relative), component
/// by component.
pub fn close(what: &str, gen: &[f64], other: &[f64], other_name: &str) {
    assert_eq!(gen.len(), other.len(), "{what}: lengths");
    for (i, (&a, &b)) in gen.iter().zip(other).enumerate() {
        let scale = a.abs().max(b.abs()).max(f64::MIN_POSITIVE);
        let rel = (a - b).abs() / scale;
        assert!(
            rel <= TOL || a == b,
            "{what}: component {i}: generated {a:e} vs {other_name} {b:e} (rel {rel:e})"
        );
    }
}

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
