//! `kmeans`: the k-means cost and one Newton step of it.

use autodiff::differentiate;
use serde::Deserialize;
use serde_json::Value;

use crate::protocol::{measure, parse_input, to_output, Evaluation, Runs};

/// The eval's input.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// n points of dimension d.
    pub points: Vec<Vec<f64>>,
    /// k centroids of dimension d.
    pub centroids: Vec<Vec<f64>>,
    /// How often to run.
    #[serde(flatten)]
    pub runs: Runs,
}

/// Σᵢ minⱼ ‖cⱼ − pᵢ‖², the k centroids of dimension `d` flattened
/// row-major in `centroids`.
// macro gap: gb-vec-rows-wrt (`centroids: &[Vec<f64>]` cannot be differentiated)
#[differentiate(hessian, wrt(centroids))]
pub fn cost(points: &[Vec<f64>], centroids: &[f64], d: usize) -> f64 {
    let k = centroids.len() / d;
    let mut total = 0.0;
    for p in points {
        let mut closest = f64::INFINITY;
        for j in 0..k {
            let mut dist = 0.0;
            for l in 0..d {
                dist += (p[l] - centroids[j * d + l]) * (p[l] - centroids[j * d + l]);
            }
            closest = closest.min(dist);
        }
        total += closest;
    }
    total
}

/// The Newton direction J ⊘ diag(H) of `cost`. The cost is a sum of
/// squares per coordinate of each centroid, so its Hessian is diagonal and
/// H·1 (one Hessian-vector product, `cost_grad_jvp`, which returns the
/// gradient too) is that diagonal.
pub fn dir(points: &[Vec<f64>], centroids: &[f64], d: usize) -> Vec<f64> {
    let ones = vec![1.0; centroids.len()];
    let (grad, hess_diag) = cost_grad_jvp(points, centroids, d, &ones);
    grad.iter().zip(&hess_diag).map(|(g, h)| g / h).collect()
}

/// Runs `cost` or `dir`.
pub fn evaluate(function: &str, input: Value) -> Result<Evaluation, String> {
    let Input {
        points,
        centroids,
        runs,
    } = parse_input(input)?;
    let d = centroids.first().map_or(0, Vec::len);
    if d == 0 || points.iter().chain(&centroids).any(|r| r.len() != d) {
        return Err("points and centroids need one nonzero dimension".to_string());
    }
    let flat: Vec<f64> = centroids.concat();
    match function {
        "cost" => {
            let (y, timings) = measure(runs, || cost(&points, &flat, d));
            Ok(Evaluation {
                output: to_output(&y)?,
                timings,
            })
        }
        "dir" => {
            let (dir, timings) = measure(runs, || dir(&points, &flat, d));
            let rows: Vec<&[f64]> = dir.chunks(d).collect();
            Ok(Evaluation {
                output: to_output(&rows)?,
                timings,
            })
        }
        _ => Err(super::unknown_function("kmeans", function)),
    }
}
