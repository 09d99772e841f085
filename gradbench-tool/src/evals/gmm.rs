//! `gmm`: the log-posterior of a Gaussian mixture model with a Wishart
//! prior on the inverse covariances (ADBench's GMM).

use autodiff::{differentiate, logsumexp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::{measure, parse_input, to_output, Evaluation, Runs};

/// The eval's input.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// The n data points of dimension d.
    pub x: Vec<Vec<f64>>,
    /// The Wishart prior's degrees of freedom, beyond d + 1.
    pub m: usize,
    /// The Wishart prior's scale.
    pub gamma: f64,
    /// The k mixture weights, as logits.
    pub alpha: Vec<f64>,
    /// The k means.
    pub mu: Vec<Vec<f64>>,
    /// The k log-diagonals of the inverse covariance factors.
    pub q: Vec<Vec<f64>>,
    /// The k strictly lower triangles of the factors, column by column.
    pub l: Vec<Vec<f64>>,
    /// How often to run.
    #[serde(flatten)]
    pub runs: Runs,
}

/// The gradient, shaped like the parameters (the eval's `jacobian`).
#[derive(Debug, Serialize)]
pub struct Gradient {
    /// ∂/∂alpha.
    pub alpha: Vec<f64>,
    /// ∂/∂mu, k rows of d.
    pub mu: Vec<Vec<f64>>,
    /// ∂/∂q, k rows of d.
    pub q: Vec<Vec<f64>>,
    /// ∂/∂l, k rows of d(d − 1)/2.
    pub l: Vec<Vec<f64>>,
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms; about 1e-15 relative).
/// Only the prior's constant uses it, so it is never differentiated.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = COEF[0];
    let t = x + G + 0.5;
    for (i, c) in COEF.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// ln Γ_p(a), the multivariate gamma function.
pub fn ln_multigamma(a: f64, p: usize) -> f64 {
    let mut out = 0.25 * (p * (p - 1)) as f64 * std::f64::consts::PI.ln();
    for j in 1..=p {
        out += ln_gamma(a + 0.5 * (1.0 - j as f64));
    }
    out
}

/// The log-posterior. `mu` and `q` hold k rows of d, `l` k rows of
/// d(d − 1)/2, each flattened row-major; `x` holds the data points.
// macro gap: gb-vec-rows-wrt (`mu: &[Vec<f64>]` etc. cannot be differentiated)
// macro gap: gb-tangent-derive (the parameters as one `#[derive(Tangent)]` struct)
#[differentiate(wrt(alpha, mu, q, l))]
pub fn objective(
    alpha: &[f64],
    mu: &[f64],
    q: &[f64],
    l: &[f64],
    x: &[Vec<f64>],
    gamma: f64,
    m: usize,
) -> f64 {
    let k = alpha.len();
    let n = x.len();
    let d = q.len() / k;
    let tri = d * (d - 1) / 2;
    let q_diag: Vec<f64> = q.iter().map(|v| v.exp()).collect();
    let mut sum_q = vec![0.0; k];
    for c in 0..k {
        for j in 0..d {
            sum_q[c] += q[c * d + j];
        }
    }

    let mut slse = 0.0;
    for i in 0..n {
        let mut main_term = vec![0.0; k];
        for c in 0..k {
            // Q_c (x_i − mu_c), Q_c lower triangular.
            let mut qx = vec![0.0; d];
            for j in 0..d {
                qx[j] = q_diag[c * d + j] * (x[i][j] - mu[c * d + j]);
            }
            let mut idx = 0;
            for a in 0..d {
                for b in a + 1..d {
                    qx[b] += l[c * tri + idx] * (x[i][a] - mu[c * d + a]);
                    idx += 1;
                }
            }
            let mut sq = 0.0;
            for j in 0..d {
                sq += qx[j] * qx[j];
            }
            main_term[c] = alpha[c] + sum_q[c] - 0.5 * sq;
        }
        slse += logsumexp(&main_term);
    }

    let constant = -((n * d) as f64) * 0.5 * (2.0 * std::f64::consts::PI).ln();
    let lse_alpha = logsumexp(alpha);

    let dof = d + m + 1;
    let prior_constant =
        (dof * d) as f64 * (gamma.ln() - 0.5 * 2f64.ln()) - ln_multigamma(0.5 * dof as f64, d);
    let mut prior = 0.0;
    for c in 0..k {
        let mut frobenius = 0.0;
        for j in 0..d {
            frobenius += q_diag[c * d + j] * q_diag[c * d + j];
        }
        for j in 0..tri {
            frobenius += l[c * tri + j] * l[c * tri + j];
        }
        prior += 0.5 * gamma * gamma * frobenius - m as f64 * sum_q[c];
    }

    constant + slse - n as f64 * lse_alpha - prior + k as f64 * prior_constant
}

/// The flattened parameters of an input.
struct Flat {
    mu: Vec<f64>,
    q: Vec<f64>,
    l: Vec<f64>,
}

fn rows(flat: &[f64], width: usize) -> Vec<Vec<f64>> {
    if width == 0 {
        return Vec::new();
    }
    flat.chunks(width).map(<[f64]>::to_vec).collect()
}

/// Runs `objective` or `jacobian` (`objective_grad`).
pub fn evaluate(function: &str, input: Value) -> Result<Evaluation, String> {
    let input: Input = parse_input(input)?;
    let k = input.alpha.len();
    let d = input.x.first().map_or(0, Vec::len);
    if k == 0 || d == 0 {
        return Err("gmm needs k ≥ 1 and d ≥ 1".to_string());
    }
    let flat = Flat {
        mu: input.mu.concat(),
        q: input.q.concat(),
        l: input.l.concat(),
    };
    let (alpha, x, gamma, m) = (&input.alpha, &input.x, input.gamma, input.m);
    match function {
        "objective" => {
            let (y, timings) = measure(input.runs, || {
                objective(alpha, &flat.mu, &flat.q, &flat.l, x, gamma, m)
            });
            Ok(Evaluation {
                output: to_output(&y)?,
                timings,
            })
        }
        "jacobian" => {
            let ((g_alpha, g_mu, g_q, g_l), timings) = measure(input.runs, || {
                objective_grad(alpha, &flat.mu, &flat.q, &flat.l, x, gamma, m)
            });
            let gradient = Gradient {
                alpha: g_alpha,
                mu: rows(&g_mu, d),
                q: rows(&g_q, d),
                l: if d > 1 {
                    rows(&g_l, d * (d - 1) / 2)
                } else {
                    vec![Vec::new(); k]
                },
            };
            Ok(Evaluation {
                output: to_output(&gradient)?,
                timings,
            })
        }
        _ => Err(super::unknown_function("gmm", function)),
    }
}
