//! `ba`: bundle adjustment (ADBench's BA): reprojection errors of points
//! seen by cameras with radial distortion, and their sparse Jacobian.

use autodiff::differentiate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::{measure, parse_input, to_output, Evaluation, Runs};

/// Camera parameters: `[r(3) Rodrigues, C(3) centre, f, u0, v0, k1, k2]`.
pub const CAM_PARAMS: usize = 11;

/// The eval's input: one camera, point, weight and feature, replicated.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// Number of cameras.
    pub n: usize,
    /// Number of points.
    pub m: usize,
    /// Number of observations.
    pub p: usize,
    /// The camera every camera is a copy of.
    pub cam: [f64; CAM_PARAMS],
    /// The point every point is a copy of.
    pub x: [f64; 3],
    /// The weight of every observation.
    pub w: f64,
    /// The feature of every observation.
    pub feat: [f64; 2],
    /// How often to run.
    #[serde(flatten)]
    pub runs: Runs,
}

/// A bundle-adjustment problem, replicated as the eval asks.
#[derive(Clone, Debug)]
pub struct Problem {
    /// The cameras.
    pub cams: Vec<[f64; CAM_PARAMS]>,
    /// The points.
    pub points: Vec<[f64; 3]>,
    /// One weight per observation.
    pub weights: Vec<f64>,
    /// One feature per observation.
    pub feats: Vec<[f64; 2]>,
    /// (camera, point) per observation.
    pub obs: Vec<(usize, usize)>,
}

impl Problem {
    /// n cameras, m points and p observations, observation i seeing point
    /// i mod m from camera i mod n.
    pub fn replicate(input: &Input) -> Problem {
        Problem {
            cams: vec![input.cam; input.n],
            points: vec![input.x; input.m],
            weights: vec![input.w; input.p],
            feats: vec![input.feat; input.p],
            obs: (0..input.p).map(|i| (i % input.n, i % input.m)).collect(),
        }
    }
}

/// u × v.
#[differentiate]
pub fn cross(u: [f64; 3], v: [f64; 3]) -> [f64; 3] {
    [
        u[1] * v[2] - u[2] * v[1],
        u[2] * v[0] - u[0] * v[2],
        u[0] * v[1] - u[1] * v[0],
    ]
}

/// `pt` rotated by the angle-axis vector `rot` (Rodrigues' formula; to
/// first order at the zero rotation).
#[differentiate]
pub fn rotate(rot: [f64; 3], pt: [f64; 3]) -> [f64; 3] {
    let sq_theta = rot[0] * rot[0] + rot[1] * rot[1] + rot[2] * rot[2];
    if sq_theta != 0.0 {
        let theta = sq_theta.sqrt();
        // macro gap: gb-sin-cos (`let (sin, cos) = theta.sin_cos();`)
        let sin = theta.sin();
        let cos = theta.cos();
        let inv = 1.0 / theta;
        let w = [rot[0] * inv, rot[1] * inv, rot[2] * inv];
        let w_cross_pt = cross(w, pt);
        let tmp = (w[0] * pt[0] + w[1] * pt[1] + w[2] * pt[2]) * (1.0 - cos);
        [
            pt[0] * cos + w_cross_pt[0] * sin + w[0] * tmp,
            pt[1] * cos + w_cross_pt[1] * sin + w[1] * tmp,
            pt[2] * cos + w_cross_pt[2] * sin + w[2] * tmp,
        ]
    } else {
        let rot_cross_pt = cross(rot, pt);
        [
            pt[0] + rot_cross_pt[0],
            pt[1] + rot_cross_pt[1],
            pt[2] + rot_cross_pt[2],
        ]
    }
}

/// The weighted reprojection error of point `x` seen by camera `cam`
/// against the feature `feat`.
#[differentiate(wrt(cam, x, w))]
pub fn reproj_error(cam: &[f64; CAM_PARAMS], x: &[f64; 3], w: f64, feat: &[f64; 2]) -> [f64; 2] {
    let centred = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let xcam = rotate([cam[0], cam[1], cam[2]], centred);
    let p0 = xcam[0] / xcam[2];
    let p1 = xcam[1] / xcam[2];
    let rsq = p0 * p0 + p1 * p1;
    let distortion = 1.0 + cam[9] * rsq + cam[10] * rsq * rsq;
    let proj0 = p0 * distortion * cam[6] + cam[7];
    let proj1 = p1 * distortion * cam[6] + cam[8];
    [w * (proj0 - feat[0]), w * (proj1 - feat[1])]
}

/// The weight's error term 1 − w².
#[differentiate]
pub fn weight_error(w: f64) -> f64 {
    1.0 - w * w
}

/// Every residual: 2p reprojection errors, then p weight errors.
pub fn objective(problem: &Problem) -> (Vec<f64>, Vec<f64>) {
    let mut reproj = Vec::with_capacity(2 * problem.obs.len());
    let mut w_err = Vec::with_capacity(problem.obs.len());
    for (i, &(cam, pt)) in problem.obs.iter().enumerate() {
        let e = reproj_error(
            &problem.cams[cam],
            &problem.points[pt],
            problem.weights[i],
            &problem.feats[i],
        );
        reproj.extend_from_slice(&e);
    }
    for &w in &problem.weights {
        w_err.push(weight_error(w));
    }
    (reproj, w_err)
}

/// A sparse matrix in compressed-row form.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseRows {
    /// Row pointers: row r is `cols[rows[r]..rows[r + 1]]`.
    pub rows: Vec<usize>,
    /// Column of each nonzero.
    pub cols: Vec<usize>,
    /// Value of each nonzero.
    pub vals: Vec<f64>,
}

/// The Jacobian of every residual against (cameras, points, weights):
/// each observation's 2×15 block from `reproj_error_jacobian`, each weight
/// error's 1×1 block from `weight_error_grad`.
pub fn jacobian(problem: &Problem) -> SparseRows {
    let p = problem.obs.len();
    let cam_cols = CAM_PARAMS * problem.cams.len();
    let w_col = cam_cols + 3 * problem.points.len();
    let nnz = 2 * p * (CAM_PARAMS + 4) + p;
    let mut jac = SparseRows {
        rows: Vec::with_capacity(3 * p + 1),
        cols: Vec::with_capacity(nnz),
        vals: Vec::with_capacity(nnz),
    };
    jac.rows.push(0);
    for (i, &(cam, pt)) in problem.obs.iter().enumerate() {
        let (d_cam, d_x, d_w) = reproj_error_jacobian(
            &problem.cams[cam],
            &problem.points[pt],
            problem.weights[i],
            &problem.feats[i],
        );
        for r in 0..2 {
            jac.cols
                .extend((0..CAM_PARAMS).map(|j| CAM_PARAMS * cam + j));
            jac.vals.extend_from_slice(&d_cam[r]);
            jac.cols.extend((0..3).map(|j| cam_cols + 3 * pt + j));
            jac.vals.extend_from_slice(&d_x[r]);
            jac.cols.push(w_col + i);
            jac.vals.push(d_w[r]);
            jac.rows.push(jac.cols.len());
        }
    }
    for (i, &w) in problem.weights.iter().enumerate() {
        jac.cols.push(w_col + i);
        jac.vals.push(weight_error_grad(w));
        jac.rows.push(jac.cols.len());
    }
    jac
}

/// The objective's output: the first observation's residuals and counts.
#[derive(Debug, Serialize)]
struct ObjectiveOutput {
    reproj_error: ReprojSummary,
    w_err: WeightSummary,
}

#[derive(Debug, Serialize)]
struct ReprojSummary {
    elements: Vec<f64>,
    repeated: usize,
}

#[derive(Debug, Serialize)]
struct WeightSummary {
    element: f64,
    repeated: usize,
}

/// The Jacobian's output: the first 30 entries and the last of each array.
#[derive(Debug, Serialize)]
struct JacobianOutput {
    rows: Vec<usize>,
    cols: Vec<usize>,
    vals: Vec<f64>,
}

fn head_and_last<T: Copy>(v: &[T]) -> Vec<T> {
    let head = 2 * (CAM_PARAMS + 4);
    let mut out: Vec<T> = v.iter().take(head).copied().collect();
    out.extend(v.last().copied());
    out
}

/// Runs `objective` or `jacobian`.
pub fn evaluate(function: &str, input: Value) -> Result<Evaluation, String> {
    let input: Input = parse_input(input)?;
    if input.n == 0 || input.m == 0 || input.p == 0 {
        return Err("ba needs n, m, p ≥ 1".to_string());
    }
    let problem = Problem::replicate(&input);
    match function {
        "objective" => {
            let ((reproj, w_err), timings) = measure(input.runs, || objective(&problem));
            let output = ObjectiveOutput {
                reproj_error: ReprojSummary {
                    elements: reproj[..2].to_vec(),
                    repeated: reproj.len() / 2,
                },
                w_err: WeightSummary {
                    element: w_err[0],
                    repeated: w_err.len(),
                },
            };
            Ok(Evaluation {
                output: to_output(&output)?,
                timings,
            })
        }
        "jacobian" => {
            let (jac, timings) = measure(input.runs, || jacobian(&problem));
            let output = JacobianOutput {
                rows: head_and_last(&jac.rows),
                cols: head_and_last(&jac.cols),
                vals: head_and_last(&jac.vals),
            };
            Ok(Evaluation {
                output: to_output(&output)?,
                timings,
            })
        }
        _ => Err(super::unknown_function("ba", function)),
    }
}
