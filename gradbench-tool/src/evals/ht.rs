//! `ht`: hand tracking (ADBench's HT): a skinned hand model posed by 26
//! parameters, and the distances of its surface to observed points.

use autodiff::differentiate;
use serde::Deserialize;
use serde_json::Value;

use crate::protocol::{measure, parse_input, to_output, Evaluation, Runs};

/// The hand model: a skeleton of bones and a skinned mesh.
#[derive(Clone, Debug, Deserialize)]
pub struct Model {
    /// Each bone's parent, −1 for the root; parents come first.
    pub parents: Vec<i64>,
    /// Each bone's rest transform relative to its parent, row-major 4×4.
    pub base_relatives: Vec<[[f64; 4]; 4]>,
    /// Each bone's inverse absolute rest transform, row-major 4×4.
    pub inverse_base_absolutes: Vec<[[f64; 4]; 4]>,
    /// Each vertex's rest position, homogeneous.
    pub base_positions: Vec<[f64; 4]>,
    /// Each vertex's weight per bone.
    pub weights: Vec<Vec<f64>>,
    /// The mesh's triangles, as vertex indices.
    pub triangles: Vec<[usize; 3]>,
    /// Whether the model is a left hand (x mirrored).
    pub is_mirrored: bool,
}

/// The model and the observations.
#[derive(Clone, Debug, Deserialize)]
pub struct Data {
    /// The hand model.
    pub model: Model,
    /// Per observed point: a vertex (simple variant) or a triangle
    /// (complicated variant) of the model.
    pub correspondences: Vec<usize>,
    /// The observed points.
    pub points: Vec<[f64; 3]>,
}

/// The eval's input.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// The pose: global rotation, translation, then finger angles.
    pub theta: Vec<f64>,
    /// The model and the observations.
    pub data: Data,
    /// Barycentric coordinates on the corresponding triangle, one pair per
    /// point (complicated variant), or empty (simple variant).
    pub us: Vec<[f64; 2]>,
    /// How often to run.
    #[serde(flatten)]
    pub runs: Runs,
}

/// The vertex positions of the model posed by `theta`, x, y, z per vertex:
/// each bone's rotation from its Euler angles, chained from the root,
/// blended by the skinning weights, then the global rotation and
/// translation.
#[differentiate(wrt(theta))]
pub fn posed_vertices(theta: &[f64], model: &Model) -> Vec<f64> {
    let bones = model.parents.len();
    // The pose parameters, 3 per column: global rotation, scale (1),
    // translation, then one column of Euler angles per bone.
    let mut pose = vec![0.0; 3 * (bones + 3)];
    for r in 0..3 {
        pose[r] = theta[r];
        pose[3 + r] = 1.0;
        pose[6 + r] = theta[3 + r];
    }
    let mut i_theta = 6;
    let mut col = 5;
    for _finger in 0..5 {
        for joint in 2..5 {
            pose[3 * col] = theta[i_theta];
            i_theta += 1;
            if joint == 2 {
                pose[3 * col + 1] = theta[i_theta];
                i_theta += 1;
            }
            col += 1;
        }
        col += 1;
    }

    // Absolute transforms (top three rows) of the posed bones, 12 each.
    let mut absolutes = vec![0.0; 12 * bones];
    for b in 0..bones {
        let c = 3 * (b + 3);
        let (tx, tz, ty) = (pose[c], pose[c + 1], pose[c + 2]);
        let (cx, sx) = (tx.cos(), tx.sin());
        let (cy, sy) = (ty.cos(), ty.sin());
        let (cz, sz) = (tz.cos(), tz.sin());
        // R = Rz Ry Rx, row-major.
        // macro gap: gb-nested-array-literal (`[[..], [..], [..]]`)
        let rot = [
            cz * cy,
            cz * sy * sx - sz * cx,
            cz * sy * cx + sz * sx,
            sz * cy,
            sz * sy * sx + cz * cx,
            sz * sy * cx - cz * sx,
            -sy,
            cy * sx,
            cy * cx,
        ];
        let base = &model.base_relatives[b];
        let mut relative = [0.0; 12];
        for r in 0..3 {
            for k in 0..3 {
                relative[4 * r + k] =
                    base[r][0] * rot[k] + base[r][1] * rot[3 + k] + base[r][2] * rot[6 + k];
            }
            relative[4 * r + 3] = base[r][3];
        }
        let parent = model.parents[b];
        if parent < 0 {
            for e in 0..12 {
                absolutes[12 * b + e] = relative[e];
            }
        } else {
            let p = 12 * parent as usize;
            for r in 0..3 {
                for k in 0..4 {
                    let mut s = absolutes[p + 4 * r] * relative[k]
                        + absolutes[p + 4 * r + 1] * relative[4 + k]
                        + absolutes[p + 4 * r + 2] * relative[8 + k];
                    if k == 3 {
                        s += absolutes[p + 4 * r + 3];
                    }
                    absolutes[12 * b + 4 * r + k] = s;
                }
            }
        }
    }

    // Skinning transforms: absolute times inverse rest absolute.
    let mut transforms = vec![0.0; 12 * bones];
    for b in 0..bones {
        let inv = &model.inverse_base_absolutes[b];
        for r in 0..3 {
            for k in 0..4 {
                transforms[12 * b + 4 * r + k] = absolutes[12 * b + 4 * r] * inv[0][k]
                    + absolutes[12 * b + 4 * r + 1] * inv[1][k]
                    + absolutes[12 * b + 4 * r + 2] * inv[2][k]
                    + absolutes[12 * b + 4 * r + 3] * inv[3][k];
            }
        }
    }

    // The global rotation (angle-axis), identity near zero.
    let norm = (theta[0] * theta[0] + theta[1] * theta[1] + theta[2] * theta[2]).sqrt();
    let mut global = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    if norm >= 1e-4 {
        let (x, y, z) = (theta[0] / norm, theta[1] / norm, theta[2] / norm);
        let (s, c) = (norm.sin(), norm.cos());
        global = [
            x * x + (1.0 - x * x) * c,
            x * y * (1.0 - c) - z * s,
            x * z * (1.0 - c) + y * s,
            x * y * (1.0 - c) + z * s,
            y * y + (1.0 - y * y) * c,
            y * z * (1.0 - c) - x * s,
            x * z * (1.0 - c) - y * s,
            z * y * (1.0 - c) + x * s,
            z * z + (1.0 - z * z) * c,
        ];
    }

    let vertices = model.base_positions.len();
    let mut out = vec![0.0; 3 * vertices];
    for v in 0..vertices {
        let base = &model.base_positions[v];
        let mut pos = [0.0; 3];
        for b in 0..bones {
            let w = model.weights[v][b];
            for r in 0..3 {
                pos[r] += w
                    * (transforms[12 * b + 4 * r] * base[0]
                        + transforms[12 * b + 4 * r + 1] * base[1]
                        + transforms[12 * b + 4 * r + 2] * base[2]
                        + transforms[12 * b + 4 * r + 3] * base[3]);
            }
        }
        if model.is_mirrored {
            pos[0] = -pos[0];
        }
        for r in 0..3 {
            out[3 * v + r] = global[3 * r] * pos[0]
                + global[3 * r + 1] * pos[1]
                + global[3 * r + 2] * pos[2]
                + pose[6 + r];
        }
    }
    out
}

/// The residual `point − (u₀ a + u₁ b + (1 − u₀ − u₁) c)` of a point
/// against a spot on a triangle.
#[differentiate(wrt(u, a, b, c))]
pub fn residual(u: [f64; 2], point: [f64; 3], a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> [f64; 3] {
    let w = 1.0 - u[0] - u[1];
    [
        point[0] - (u[0] * a[0] + u[1] * b[0] + w * c[0]),
        point[1] - (u[0] * a[1] + u[1] * b[1] + w * c[1]),
        point[2] - (u[0] * a[2] + u[1] * b[2] + w * c[2]),
    ]
}

/// The 3N residuals: against the corresponding vertex (simple variant,
/// `us` empty) or the spot `us[i]` on the corresponding triangle.
#[differentiate(wrt(theta))]
pub fn objective(theta: &[f64], us: &[[f64; 2]], data: &Data) -> Vec<f64> {
    // macro gap: gb-field-ref-arg (`posed_vertices(theta, &data.model)`)
    let model: &Model = &data.model;
    let verts = posed_vertices(theta, model);
    let n = data.correspondences.len();
    let mut err = vec![0.0; 3 * n];
    for i in 0..n {
        let corr = data.correspondences[i];
        if us.is_empty() {
            for j in 0..3 {
                err[3 * i + j] = data.points[i][j] - verts[3 * corr + j];
            }
        } else {
            let t = data.model.triangles[corr];
            let a = [verts[3 * t[0]], verts[3 * t[0] + 1], verts[3 * t[0] + 2]];
            let b = [verts[3 * t[1]], verts[3 * t[1] + 1], verts[3 * t[1] + 2]];
            let c = [verts[3 * t[2]], verts[3 * t[2] + 1], verts[3 * t[2] + 2]];
            // macro gap: gb-row-arg (`residual(us[i], data.points[i], ..)`)
            let u = [us[i][0], us[i][1]];
            let point = [data.points[i][0], data.points[i][1], data.points[i][2]];
            let e = residual(u, point, a, b, c);
            for j in 0..3 {
                err[3 * i + j] = e[j];
            }
        }
    }
    err
}

/// The Jacobian, one row per residual: ∂/∂(u₀, u₁) of the row's own
/// correspondence (complicated variant), then ∂/∂θ. The θ columns come
/// from `objective_jvp` along each basis vector (forward mode, one pass
/// per parameter), the u columns from `residual_jacobian` per
/// correspondence.
pub fn jacobian(theta: &[f64], us: &[[f64; 2]], data: &Data) -> Vec<Vec<f64>> {
    // macro gap: gb-jacobian-slice-forward (`objective_jacobian` takes one
    // reverse pass per residual, 3N of them, instead of 26 forward passes)
    let mut basis = vec![0.0; theta.len()];
    let mut columns = Vec::with_capacity(theta.len());
    for j in 0..theta.len() {
        basis[j] = 1.0;
        columns.push(objective_jvp(theta, us, data, &basis).1);
        basis[j] = 0.0;
    }
    let n = data.correspondences.len();
    let theta_row = |r: usize| columns.iter().map(move |c| c[r]);
    let mut rows = Vec::with_capacity(3 * n);
    if us.is_empty() {
        for r in 0..3 * n {
            rows.push(theta_row(r).collect());
        }
        return rows;
    }
    let verts = posed_vertices(theta, &data.model);
    let vertex = |v: usize| [verts[3 * v], verts[3 * v + 1], verts[3 * v + 2]];
    for i in 0..n {
        let t = data.model.triangles[data.correspondences[i]];
        let (d_u, _, _, _) = residual_jacobian(
            us[i],
            data.points[i],
            vertex(t[0]),
            vertex(t[1]),
            vertex(t[2]),
        );
        for j in 0..3 {
            let mut row = Vec::with_capacity(2 + theta.len());
            row.extend_from_slice(&d_u[j]);
            row.extend(theta_row(3 * i + j));
            rows.push(row);
        }
    }
    rows
}

/// Runs `objective` or `jacobian`.
pub fn evaluate(function: &str, input: Value) -> Result<Evaluation, String> {
    let Input {
        theta,
        data,
        us,
        runs,
    } = parse_input(input)?;
    if !us.is_empty() && us.len() != data.correspondences.len() {
        return Err("us needs one pair per correspondence".to_string());
    }
    match function {
        "objective" => {
            let (err, timings) = measure(runs, || objective(&theta, &us, &data));
            Ok(Evaluation {
                output: to_output(&err)?,
                timings,
            })
        }
        "jacobian" => {
            let (jac, timings) = measure(runs, || jacobian(&theta, &us, &data));
            Ok(Evaluation {
                output: to_output(&jac)?,
                timings,
            })
        }
        _ => Err(super::unknown_function("ht", function)),
    }
}
