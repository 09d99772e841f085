//! ADBench's objectives (Srajer, Kukelova, Fitzgibbon 2018), written as
//! one natural Rust function each, differentiated by `#[differentiate]`:
//!
//! - `ba`: bundle adjustment's reprojection error of one observation
//!   (`computeReprojError`): a camera of 11 parameters (Rodrigues
//!   rotation with the small-angle branch, centre, focal length, principal
//!   point, two radial distortion coefficients), a 3-D point and a weight;
//!   2 outputs by 15 inputs. Its `_jacobian` against the objective alone,
//!   a hand-written Jacobian (the chain rule through the Rodrigues formula
//!   by hand) and num-dual's `jacobian` with the 15-wide `DualSVec64<15>`.
//! - `gmm`: the Gaussian mixture objective, d = 10, k = 5, n = 1000
//!   (ADBench's `gmm_objective`: log-diagonal plus lower-triangular
//!   inverse covariance factors, a logsumexp over components per point,
//!   the Wishart prior). Its `_grad` against the objective and a
//!   hand-written gradient; `gmm_fixed` is the same objective with its
//!   scratch vectors as fixed-size arrays, against its own objective.
//! - `lstm`: ADBench's LSTM objective, 2 layers, b = 14 (its hidden size
//!   and character width), a sequence of 16 characters. Its `_grad`
//!   against the objective.
//!
//! The figure for each is `generated / objective`. Each group's
//! variants are timed in the same run; `main` checks before any timing
//! that the variants agree (1e-10 relative).
//!
//! Run: `cargo bench -p autodiff-tests --features bench --bench adbench -- --warm-up-time 1 --measurement-time 3`.

#![allow(missing_docs)]
// Index loops are the form #[differentiate] reads.
#![allow(clippy::needless_range_loop)]

use std::hint::black_box;

use hand::{close, point};

mod hand;

use autodiff::{differentiate, logsumexp};
use criterion::Criterion;
use num_dual::{jacobian, Dual64, DualNum, DualSVec64};

// ---------------------------------------------------------------------------
// Bundle adjustment.
// ---------------------------------------------------------------------------

/// The reprojection error of `x` seen by camera `cam` at `feat`, weighted
/// by `w`. `cam` is `[r0, r1, r2, c0, c1, c2, f, u0, v0, k1, k2]`: the
/// axis-angle rotation, the centre, the focal length, the principal point
/// and the radial distortion.
#[differentiate(wrt(cam, x, w))]
fn ba(cam: &[f64; 11], x: &[f64; 3], w: f64, feat: &[f64; 2]) -> [f64; 2] {
    // The point in the camera frame, before rotation.
    let p = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let sqtheta = cam[0] * cam[0] + cam[1] * cam[1] + cam[2] * cam[2];
    // Rodrigues' rotation; near zero angle, its first-order form.
    let xc = if sqtheta != 0.0 {
        let theta = sqtheta.sqrt();
        let (s, c) = theta.sin_cos();
        let inv = 1.0 / theta;
        let k = [cam[0] * inv, cam[1] * inv, cam[2] * inv];
        let cross = [
            k[1] * p[2] - k[2] * p[1],
            k[2] * p[0] - k[0] * p[2],
            k[0] * p[1] - k[1] * p[0],
        ];
        let tmp = (k[0] * p[0] + k[1] * p[1] + k[2] * p[2]) * (1.0 - c);
        [
            p[0] * c + cross[0] * s + k[0] * tmp,
            p[1] * c + cross[1] * s + k[1] * tmp,
            p[2] * c + cross[2] * s + k[2] * tmp,
        ]
    } else {
        [
            p[0] + cam[1] * p[2] - cam[2] * p[1],
            p[1] + cam[2] * p[0] - cam[0] * p[2],
            p[2] + cam[0] * p[1] - cam[1] * p[0],
        ]
    };
    // Projection and radial distortion.
    let u = xc[0] / xc[2];
    let v = xc[1] / xc[2];
    let rsq = u * u + v * v;
    let l = 1.0 + cam[9] * rsq + cam[10] * rsq * rsq;
    [
        w * (cam[6] * l * u + cam[7] - feat[0]),
        w * (cam[6] * l * v + cam[8] - feat[1]),
    ]
}

/// The Jacobian as `_jacobian` gives it: per parameter, rows by output.
type BaJacobian = ([[f64; 11]; 2], [[f64; 3]; 2], [f64; 2]);

/// The Jacobian by hand: the forward pass keeping what the chain rule
/// needs, then ∂err/∂(u, v) · ∂(u, v)/∂xc · ∂xc/∂(rotation, point), with
/// ∂xc/∂rotation from Rodrigues' formula differentiated by hand.
#[inline(never)]
fn ba_jacobian_hand(cam: &[f64; 11], x: &[f64; 3], w: f64, feat: &[f64; 2]) -> BaJacobian {
    let p = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let r = [cam[0], cam[1], cam[2]];
    let sqtheta = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
    // xc, its Jacobian in r (dr[i][k] = ∂xc_i/∂r_k) and in p (dp[i][j]).
    let mut xc = [0.0; 3];
    let mut dr = [[0.0; 3]; 3];
    let mut dp = [[0.0; 3]; 3];
    if sqtheta != 0.0 {
        let theta = sqtheta.sqrt();
        let (s, c) = theta.sin_cos();
        let inv = 1.0 / theta;
        let k = [r[0] * inv, r[1] * inv, r[2] * inv];
        let cross = [
            k[1] * p[2] - k[2] * p[1],
            k[2] * p[0] - k[0] * p[2],
            k[0] * p[1] - k[1] * p[0],
        ];
        let a = k[0] * p[0] + k[1] * p[1] + k[2] * p[2];
        let omc = 1.0 - c;
        let tmp = a * omc;
        for i in 0..3 {
            xc[i] = p[i] * c + cross[i] * s + k[i] * tmp;
        }
        // ∂xc/∂p = c I + s [k]x + (1 - c) k kᵀ.
        for i in 0..3 {
            for j in 0..3 {
                dp[i][j] = omc * k[i] * k[j];
            }
            dp[i][i] += c;
        }
        dp[0][1] -= s * k[2];
        dp[0][2] += s * k[1];
        dp[1][0] += s * k[2];
        dp[1][2] -= s * k[0];
        dp[2][0] -= s * k[1];
        dp[2][1] += s * k[0];
        // Along r_m: ∂θ = k_m, ∂k = (e_m - k k_m) / θ, ∂c = -s k_m,
        // ∂s = c k_m.
        for m in 0..3 {
            let mut dk = [-k[0] * k[m] * inv, -k[1] * k[m] * inv, -k[2] * k[m] * inv];
            dk[m] += inv;
            let dcross = [
                dk[1] * p[2] - dk[2] * p[1],
                dk[2] * p[0] - dk[0] * p[2],
                dk[0] * p[1] - dk[1] * p[0],
            ];
            let da = dk[0] * p[0] + dk[1] * p[1] + dk[2] * p[2];
            let dtmp = da * omc + a * s * k[m];
            for i in 0..3 {
                dr[i][m] = -p[i] * s * k[m]
                    + dcross[i] * s
                    + cross[i] * c * k[m]
                    + dk[i] * tmp
                    + k[i] * dtmp;
            }
        }
    } else {
        xc = [
            p[0] + r[1] * p[2] - r[2] * p[1],
            p[1] + r[2] * p[0] - r[0] * p[2],
            p[2] + r[0] * p[1] - r[1] * p[0],
        ];
        // xc = p + r x p.
        dp = [[1.0, -r[2], r[1]], [r[2], 1.0, -r[0]], [-r[1], r[0], 1.0]];
        dr = [[0.0, p[2], -p[1]], [-p[2], 0.0, p[0]], [p[1], -p[0], 0.0]];
    }
    let iz = 1.0 / xc[2];
    let uv = [xc[0] * iz, xc[1] * iz];
    let rsq = uv[0] * uv[0] + uv[1] * uv[1];
    let l = 1.0 + cam[9] * rsq + cam[10] * rsq * rsq;
    let f = cam[6];
    // err_i = w (f l uv_i + pp_i - feat_i); ∂l/∂uv_j = 2 (k1 + 2 k2 rsq) uv_j.
    let dl = 2.0 * (cam[9] + 2.0 * cam[10] * rsq);
    let mut jc = [[0.0; 11]; 2];
    let mut jx = [[0.0; 3]; 2];
    let mut jw = [0.0; 2];
    for i in 0..2 {
        // ∂err_i/∂uv_j, then through uv = (xc0, xc1) / xc2.
        let e = [
            w * f * (if i == 0 { l } else { 0.0 } + uv[i] * dl * uv[0]),
            w * f * (if i == 1 { l } else { 0.0 } + uv[i] * dl * uv[1]),
        ];
        let exc = [e[0] * iz, e[1] * iz, -(e[0] * uv[0] + e[1] * uv[1]) * iz];
        for m in 0..3 {
            jc[i][m] = exc[0] * dr[0][m] + exc[1] * dr[1][m] + exc[2] * dr[2][m];
            let g = exc[0] * dp[0][m] + exc[1] * dp[1][m] + exc[2] * dp[2][m];
            jx[i][m] = g;
            jc[i][3 + m] = -g;
        }
        jc[i][6] = w * l * uv[i];
        jc[i][7 + i] = w;
        jc[i][9] = w * f * uv[i] * rsq;
        jc[i][10] = w * f * uv[i] * rsq * rsq;
        jw[i] = f * l * uv[i] + cam[7 + i] - feat[i];
    }
    (jc, jx, jw)
}

/// The same function over any dual number, for num-dual.
fn ba_dual<D: DualNum<f64> + Copy>(cam: &[D], x: &[D], w: D, feat: &[f64; 2]) -> [D; 2] {
    let p = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let sqtheta = cam[0] * cam[0] + cam[1] * cam[1] + cam[2] * cam[2];
    let xc = if sqtheta.re() != 0.0 {
        let theta = sqtheta.sqrt();
        let (s, c) = theta.sin_cos();
        let inv = theta.recip();
        let k = [cam[0] * inv, cam[1] * inv, cam[2] * inv];
        let cross = [
            k[1] * p[2] - k[2] * p[1],
            k[2] * p[0] - k[0] * p[2],
            k[0] * p[1] - k[1] * p[0],
        ];
        let tmp = (k[0] * p[0] + k[1] * p[1] + k[2] * p[2]) * (-c + 1.0);
        [
            p[0] * c + cross[0] * s + k[0] * tmp,
            p[1] * c + cross[1] * s + k[1] * tmp,
            p[2] * c + cross[2] * s + k[2] * tmp,
        ]
    } else {
        [
            p[0] + cam[1] * p[2] - cam[2] * p[1],
            p[1] + cam[2] * p[0] - cam[0] * p[2],
            p[2] + cam[0] * p[1] - cam[1] * p[0],
        ]
    };
    let u = xc[0] / xc[2];
    let v = xc[1] / xc[2];
    let rsq = u * u + v * v;
    let l = cam[9] * rsq + cam[10] * rsq * rsq + 1.0;
    [
        w * (cam[6] * l * u + cam[7] - feat[0]),
        w * (cam[6] * l * v + cam[8] - feat[1]),
    ]
}

/// num-dual's `jacobian`: one forward pass with 15-wide vector duals.
#[inline(never)]
fn ba_jacobian_dual(cam: &[f64; 11], x: &[f64; 3], w: f64, feat: &[f64; 2]) -> BaJacobian {
    let mut all = [0.0; 15];
    all[..11].copy_from_slice(cam);
    all[11..14].copy_from_slice(x);
    all[14] = w;
    let (_, j) = jacobian(
        |v: nalgebra::SVector<DualSVec64<15>, 15>| {
            let e = ba_dual(&v.as_slice()[..11], &v.as_slice()[11..14], v[14], feat);
            nalgebra::SVector::<DualSVec64<15>, 2>::from(e)
        },
        nalgebra::SVector::from(all),
    );
    let mut out: BaJacobian = Default::default();
    for i in 0..2 {
        for m in 0..11 {
            out.0[i][m] = j[(i, m)];
        }
        for m in 0..3 {
            out.1[i][m] = j[(i, 11 + m)];
        }
        out.2[i] = j[(i, 14)];
    }
    out
}

#[inline(never)]
fn ba_jacobian_gen(cam: &[f64; 11], x: &[f64; 3], w: f64, feat: &[f64; 2]) -> BaJacobian {
    ba_jacobian(cam, x, w, feat)
}

#[inline(never)]
fn ba_objective(cam: &[f64; 11], x: &[f64; 3], w: f64, feat: &[f64; 2]) -> [f64; 2] {
    ba(cam, x, w, feat)
}

/// ADBench-like data: a camera looking down the z axis at a point a few
/// units away, small distortion. `small` puts the rotation at exactly 0
/// (the first-order branch).
fn ba_data(seed: u64, small: bool) -> ([f64; 11], [f64; 3], f64, [f64; 2]) {
    let q = point(18, seed, 1.0);
    let mut cam = [0.0; 11];
    for m in 0..3 {
        cam[m] = if small { 0.0 } else { 0.3 * q[m] };
        cam[3 + m] = 0.5 * q[3 + m];
    }
    cam[6] = 500.0 + 50.0 * q[6];
    cam[7] = 10.0 * q[7];
    cam[8] = 10.0 * q[8];
    cam[9] = 0.01 * q[9];
    cam[10] = 0.001 * q[10];
    let x = [q[11], q[12], 5.0 + q[13]];
    let w = 1.0 + 0.1 * q[14];
    let feat = [20.0 * q[15], 20.0 * q[16]];
    (cam, x, w, feat)
}

fn flat(j: &BaJacobian) -> Vec<f64> {
    let mut v = Vec::new();
    for i in 0..2 {
        v.extend_from_slice(&j.0[i]);
        v.extend_from_slice(&j.1[i]);
        v.push(j.2[i]);
    }
    v
}

fn check_ba() {
    for seed in 0..6 {
        let (cam, x, w, feat) = ba_data(seed, seed == 5);
        let what = format!("ba seed={seed}");
        let g = flat(&ba_jacobian_gen(&cam, &x, w, &feat));
        close(
            &what,
            &g,
            &flat(&ba_jacobian_hand(&cam, &x, w, &feat)),
            "hand",
        );
        close(
            &what,
            &g,
            &flat(&ba_jacobian_dual(&cam, &x, w, &feat)),
            "num-dual",
        );
    }
}

fn bench_ba(c: &mut Criterion) {
    let mut g = c.benchmark_group("ba/jacobian");
    let (cam, x, w, feat) = ba_data(0, false);
    let args = || black_box((&cam, &x, w, &feat));
    g.bench_function("generated", |b| {
        b.iter(|| {
            let (cam, x, w, feat) = args();
            ba_jacobian_gen(cam, x, w, feat)
        })
    });
    g.bench_function("hand", |b| {
        b.iter(|| {
            let (cam, x, w, feat) = args();
            ba_jacobian_hand(cam, x, w, feat)
        })
    });
    g.bench_function("num-dual", |b| {
        b.iter(|| {
            let (cam, x, w, feat) = args();
            ba_jacobian_dual(cam, x, w, feat)
        })
    });
    g.bench_function("objective", |b| {
        b.iter(|| {
            let (cam, x, w, feat) = args();
            ba_objective(cam, x, w, feat)
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// Gaussian mixture model.
// ---------------------------------------------------------------------------

/// Dimension of the GMM's points.
const GMM_D: usize = 10;
/// Components.
const GMM_K: usize = 5;
/// Points.
const GMM_N: usize = 1000;

/// The GMM objective with its two scratch vectors (the centred point and
/// its product with the factor) made by `$scratch`, which may read the
/// dimension `$d`: `gmm` and `gmm_fixed` differ only there.
macro_rules! gmm_objective {
    ($(#[$doc:meta])* $name:ident, $d:ident, $($scratch:tt)*) => {
        $(#[$doc])*
        #[differentiate(wrt(alphas, means, icf))]
        fn $name(alphas: &[f64], means: &[f64], icf: &[f64], x: &[f64], gamma: f64, m: f64) -> f64 {
            let $d = GMM_D;
            let k = alphas.len();
            let n = x.len() / $d;
            let icf_sz = $d * ($d + 1) / 2;
            let mut qdiags = vec![0.0; $d * k];
            let mut sum_qs = vec![0.0; k];
            for ik in 0..k {
                for id in 0..$d {
                    let q = icf[ik * icf_sz + id];
                    sum_qs[ik] += q;
                    qdiags[ik * $d + id] = q.exp();
                }
            }
            let mut slse = 0.0;
            let mut main_term = vec![0.0; k];
            let mut xc = $($scratch)*;
            let mut qxc = $($scratch)*;
            for ix in 0..n {
                for ik in 0..k {
                    for id in 0..$d {
                        xc[id] = x[ix * $d + id] - means[ik * $d + id];
                    }
                    for id in 0..$d {
                        qxc[id] = qdiags[ik * $d + id] * xc[id];
                    }
                    let mut li = ik * icf_sz + $d;
                    for i in 0..$d {
                        for j in i + 1..$d {
                            qxc[j] += icf[li] * xc[i];
                            li += 1;
                        }
                    }
                    let mut sq = 0.0;
                    for id in 0..$d {
                        sq += qxc[id] * qxc[id];
                    }
                    main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sq;
                }
                slse += logsumexp(&main_term);
            }
            let lse_alphas = logsumexp(alphas);
            // The Wishart prior.
            let mut prior = 0.0;
            for ik in 0..k {
                let mut frobenius = 0.0;
                for id in 0..$d {
                    frobenius += qdiags[ik * $d + id] * qdiags[ik * $d + id];
                }
                for j in $d..icf_sz {
                    frobenius += icf[ik * icf_sz + j] * icf[ik * icf_sz + j];
                }
                prior += 0.5 * gamma * gamma * frobenius - m * sum_qs[ik];
            }
            slse - n as f64 * lse_alphas + prior
        }
    };
}

gmm_objective!(
    /// ADBench's `gmm_objective` up to its additive constants (the `ln 2π`
    /// term and the Wishart normaliser, which depend on no parameter). `icf`
    /// holds per component the `d` logs of the diagonal of the inverse
    /// covariance factor `Q`, then its `d (d - 1) / 2` entries below the
    /// diagonal, column by column; `x` is `n` points of `d` coordinates.
    gmm,
    d,
    vec![0.0; d]
);

gmm_objective!(
    /// [`gmm`] with its two scratch vectors as fixed-size arrays (`[0.0;
    /// GMM_D]`, the dimension being a constant): the form a user who knows
    /// `d` at compile time writes, which reverse mode treats as it does
    /// `vec!` scratch.
    gmm_fixed,
    d,
    [0.0; GMM_D]
);

#[inline(never)]
fn gmm_grad_gen(alphas: &[f64], means: &[f64], icf: &[f64], x: &[f64]) -> GmmGrad {
    gmm_grad(alphas, means, icf, x, 1.0, 0.0)
}

#[inline(never)]
fn gmm_fixed_grad_gen(alphas: &[f64], means: &[f64], icf: &[f64], x: &[f64]) -> GmmGrad {
    gmm_fixed_grad(alphas, means, icf, x, 1.0, 0.0)
}

#[inline(never)]
fn gmm_fixed_objective(alphas: &[f64], means: &[f64], icf: &[f64], x: &[f64]) -> f64 {
    gmm_fixed(alphas, means, icf, x, 1.0, 0.0)
}

#[inline(never)]
fn gmm_objective(alphas: &[f64], means: &[f64], icf: &[f64], x: &[f64]) -> f64 {
    gmm(alphas, means, icf, x, 1.0, 0.0)
}

type GmmGrad = (Vec<f64>, Vec<f64>, Vec<f64>);

/// The gradient of `gmm` written by hand, as ADBench's "manual" tool
/// writes it: per point, the forward pass keeps each component's centred
/// point and `Q (x - mu)` in fixed-size arrays, then the softmax weights
/// scatter into the three gradients through the triangle transposed. The
/// baseline that says what a gradient of this objective costs.
#[inline(never)]
fn gmm_grad_hand(alphas: &[f64], means: &[f64], icf: &[f64], x: &[f64]) -> GmmGrad {
    const D: usize = GMM_D;
    let (gamma, m) = (1.0, 0.0);
    let k = alphas.len();
    let n = x.len() / D;
    let icf_sz = D * (D + 1) / 2;
    let mut qdiags = vec![0.0; D * k];
    let mut sum_qs = vec![0.0; k];
    for ik in 0..k {
        for id in 0..D {
            let q = icf[ik * icf_sz + id];
            sum_qs[ik] += q;
            qdiags[ik * D + id] = q.exp();
        }
    }
    let (mut ga, mut gm, mut gi) = (vec![0.0; k], vec![0.0; k * D], vec![0.0; k * icf_sz]);
    let mut xcs = vec![[0.0; D]; k];
    let mut qxcs = vec![[0.0; D]; k];
    let mut weights = vec![0.0; k];
    for ix in 0..n {
        let xi = &x[ix * D..(ix + 1) * D];
        for ik in 0..k {
            let (xc, qxc) = (&mut xcs[ik], &mut qxcs[ik]);
            let (mu, ic) = (&means[ik * D..], &icf[ik * icf_sz..(ik + 1) * icf_sz]);
            for id in 0..D {
                xc[id] = xi[id] - mu[id];
                qxc[id] = qdiags[ik * D + id] * xc[id];
            }
            let mut li = D;
            for i in 0..D {
                for j in i + 1..D {
                    qxc[j] += ic[li] * xc[i];
                    li += 1;
                }
            }
            let sq: f64 = qxc.iter().map(|v| v * v).sum();
            weights[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sq;
        }
        // The softmax of the main terms: logsumexp's gradient.
        let mx = weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        for w in weights.iter_mut() {
            *w = (*w - mx).exp();
            total += *w;
        }
        for ik in 0..k {
            let w = weights[ik] / total;
            ga[ik] += w;
            let (xc, qxc) = (&xcs[ik], &qxcs[ik]);
            let ic = &icf[ik * icf_sz..(ik + 1) * icf_sz];
            let gic = &mut gi[ik * icf_sz..(ik + 1) * icf_sz];
            // d main / d qxc = -qxc.
            let mut qxc_bar = [0.0; D];
            let mut xc_bar = [0.0; D];
            for id in 0..D {
                qxc_bar[id] = -w * qxc[id];
                let qd = qdiags[ik * D + id];
                gic[id] += w + qxc_bar[id] * qd * xc[id];
                xc_bar[id] = qxc_bar[id] * qd;
            }
            let mut li = D;
            for i in 0..D {
                let mut acc = 0.0;
                for j in i + 1..D {
                    gic[li] += qxc_bar[j] * xc[i];
                    acc += ic[li] * qxc_bar[j];
                    li += 1;
                }
                xc_bar[i] += acc;
            }
            for id in 0..D {
                gm[ik * D + id] -= xc_bar[id];
            }
        }
    }
    // `- n logsumexp(alphas)`.
    let mx = alphas.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = alphas.iter().map(|a| (a - mx).exp()).sum();
    for ik in 0..k {
        ga[ik] -= n as f64 * (alphas[ik] - mx).exp() / total;
    }
    // The prior: `0.5 gamma^2 |Q|_F^2 - m sum_q`.
    for ik in 0..k {
        for id in 0..D {
            let qd = qdiags[ik * D + id];
            gi[ik * icf_sz + id] += gamma * gamma * qd * qd - m;
        }
        for j in D..icf_sz {
            gi[ik * icf_sz + j] += gamma * gamma * icf[ik * icf_sz + j];
        }
    }
    (ga, gm, gi)
}

/// The same objective over dual numbers, one parameter seeded at a time,
/// for the agreement check only (330 parameters: too many for forward
/// mode to be worth timing).
fn gmm_dual(alphas: &[Dual64], means: &[Dual64], icf: &[Dual64], x: &[f64]) -> Dual64 {
    let (d, k) = (GMM_D, GMM_K);
    let n = x.len() / d;
    let icf_sz = d * (d + 1) / 2;
    let lse = |v: &[Dual64]| {
        let mx = v.iter().map(|a| a.re).fold(f64::NEG_INFINITY, f64::max);
        v.iter().map(|&a| (a - mx).exp()).sum::<Dual64>().ln() + mx
    };
    let mut slse = Dual64::from(0.0);
    for ix in 0..n {
        let mut main_term = Vec::with_capacity(k);
        for ik in 0..k {
            let xc: Vec<Dual64> = (0..d)
                .map(|id| -means[ik * d + id] + x[ix * d + id])
                .collect();
            let mut qxc: Vec<Dual64> = (0..d)
                .map(|id| icf[ik * icf_sz + id].exp() * xc[id])
                .collect();
            let mut li = ik * icf_sz + d;
            for i in 0..d {
                for j in i + 1..d {
                    qxc[j] += icf[li] * xc[i];
                    li += 1;
                }
            }
            let sq: Dual64 = qxc.iter().map(|q| q * q).sum();
            let sum_q: Dual64 = (0..d).map(|id| icf[ik * icf_sz + id]).sum();
            main_term.push(alphas[ik] + sum_q - sq * 0.5);
        }
        slse += lse(&main_term);
    }
    let mut prior = Dual64::from(0.0);
    for ik in 0..k {
        let mut frob = Dual64::from(0.0);
        for id in 0..d {
            frob += (icf[ik * icf_sz + id] * 2.0).exp();
        }
        for j in d..icf_sz {
            frob += icf[ik * icf_sz + j] * icf[ik * icf_sz + j];
        }
        prior += frob * 0.5;
    }
    slse - lse(alphas) * n as f64 + prior
}

fn gmm_data(seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let icf_sz = GMM_D * (GMM_D + 1) / 2;
    (
        point(GMM_K, seed, 1.0),
        point(GMM_K * GMM_D, seed + 1, 1.0),
        point(GMM_K * icf_sz, seed + 2, 0.3),
        point(GMM_N * GMM_D, seed + 3, 1.0),
    )
}

fn check_gmm() {
    // A few points only: the check seeds one parameter per dual pass.
    let (a, mu, icf, x) = gmm_data(0);
    let x = &x[..20 * GMM_D];
    let (ga, gm, gi) = gmm_grad(&a, &mu, &icf, x, 1.0, 0.0);
    let lift = |v: &[f64]| -> Vec<Dual64> { v.iter().map(|&t| Dual64::from(t)).collect() };
    let (da, dm, di) = (lift(&a), lift(&mu), lift(&icf));
    let seeded = |v: &[Dual64], j: usize| {
        let mut v = v.to_vec();
        v[j].eps = 1.0;
        v
    };
    let want_a: Vec<f64> = (0..a.len())
        .map(|j| gmm_dual(&seeded(&da, j), &dm, &di, x).eps)
        .collect();
    let want_m: Vec<f64> = (0..mu.len())
        .map(|j| gmm_dual(&da, &seeded(&dm, j), &di, x).eps)
        .collect();
    let want_i: Vec<f64> = (0..icf.len())
        .map(|j| gmm_dual(&da, &dm, &seeded(&di, j), x).eps)
        .collect();
    close("gmm alphas", &ga, &want_a, "num-dual");
    close("gmm means", &gm, &want_m, "num-dual");
    close("gmm icf", &gi, &want_i, "num-dual");
    let (fa, fm, fi) = gmm_fixed_grad(&a, &mu, &icf, x, 1.0, 0.0);
    close("gmm_fixed alphas", &fa, &want_a, "num-dual");
    close("gmm_fixed means", &fm, &want_m, "num-dual");
    close("gmm_fixed icf", &fi, &want_i, "num-dual");
    let (ha, hm, hi) = gmm_grad_hand(&a, &mu, &icf, x);
    close("gmm alphas", &ha, &want_a, "hand-written");
    close("gmm means", &hm, &want_m, "hand-written");
    close("gmm icf", &hi, &want_i, "hand-written");
    let v = gmm(&a, &mu, &icf, x, 1.0, 0.0);
    close(
        "gmm value",
        &[v],
        &[gmm_dual(&da, &dm, &di, x).re],
        "num-dual",
    );
}

fn bench_gmm(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("gmm/d{GMM_D}_k{GMM_K}_n{GMM_N}"));
    let (a, mu, icf, x) = gmm_data(0);
    let args = || black_box((a.as_slice(), mu.as_slice(), icf.as_slice(), x.as_slice()));
    g.bench_function("generated", |b| {
        b.iter(|| {
            let (a, mu, icf, x) = args();
            gmm_grad_gen(a, mu, icf, x)
        })
    });
    g.bench_function("generated_fixed", |b| {
        b.iter(|| {
            let (a, mu, icf, x) = args();
            gmm_fixed_grad_gen(a, mu, icf, x)
        })
    });
    g.bench_function("objective_fixed", |b| {
        b.iter(|| {
            let (a, mu, icf, x) = args();
            gmm_fixed_objective(a, mu, icf, x)
        })
    });
    g.bench_function("hand", |b| {
        b.iter(|| {
            let (a, mu, icf, x) = args();
            gmm_grad_hand(a, mu, icf, x)
        })
    });
    g.bench_function("objective", |b| {
        b.iter(|| {
            let (a, mu, icf, x) = args();
            gmm_objective(a, mu, icf, x)
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// LSTM.
// ---------------------------------------------------------------------------

/// Layers.
const LSTM_L: usize = 2;
/// Hidden size and character width.
const LSTM_B: usize = 14;
/// Characters in the sequence.
const LSTM_C: usize = 16;

/// ADBench's `lstm_objective`: `layers` LSTM cells of width `b` (diagonal
/// weights: every gate is element-wise) run over the sequence `seq` of
/// `seq.len() / b` characters; the loss is the mean log-likelihood of each
/// next character under a softmax of the prediction. `main` holds per
/// layer the weights then the biases of the four gates (forget, input,
/// output, change), `4 b` each; `extra` the input scale, output scale and
/// output bias, `b` each; `state` per layer the hidden state then the cell.
#[differentiate(wrt(main, extra))]
fn lstm(main: &[f64], extra: &[f64], state: &[f64], seq: &[f64], layers: usize) -> f64 {
    let b = LSTM_B;
    let c = seq.len() / b;
    let mut s = state.to_vec();
    let mut x = vec![0.0; b];
    let mut ypred = vec![0.0; b];
    let mut total = 0.0;
    for t in 0..c - 1 {
        for i in 0..b {
            x[i] = seq[t * b + i] * extra[i];
        }
        for layer in 0..layers {
            let w = layer * 8 * b;
            let h = layer * 2 * b;
            for i in 0..b {
                let forget = 1.0 / (1.0 + (-(x[i] * main[w + i] + main[w + 4 * b + i])).exp());
                let ingate =
                    1.0 / (1.0 + (-(s[h + i] * main[w + b + i] + main[w + 5 * b + i])).exp());
                let outgate =
                    1.0 / (1.0 + (-(x[i] * main[w + 2 * b + i] + main[w + 6 * b + i])).exp());
                let change = (s[h + i] * main[w + 3 * b + i] + main[w + 7 * b + i]).tanh();
                let cell = s[h + b + i] * forget + ingate * change;
                s[h + b + i] = cell;
                s[h + i] = outgate * cell.tanh();
                x[i] = s[h + i];
            }
        }
        for i in 0..b {
            ypred[i] = x[i] * extra[b + i] + extra[2 * b + i];
        }
        let lse = logsumexp(&ypred);
        for i in 0..b {
            total += seq[(t + 1) * b + i] * (ypred[i] - lse);
        }
    }
    -total / ((c - 1) * b) as f64
}

/// The same objective over dual numbers, for the agreement check.
fn lstm_dual(
    main: &[Dual64],
    extra: &[Dual64],
    state: &[f64],
    seq: &[f64],
    layers: usize,
) -> Dual64 {
    let b = LSTM_B;
    let c = seq.len() / b;
    let sig = |z: Dual64| ((-z).exp() + 1.0).recip();
    let mut s: Vec<Dual64> = state.iter().map(|&v| Dual64::from(v)).collect();
    let mut total = Dual64::from(0.0);
    for t in 0..c - 1 {
        let mut x: Vec<Dual64> = (0..b).map(|i| extra[i] * seq[t * b + i]).collect();
        for layer in 0..layers {
            let (w, h) = (layer * 8 * b, layer * 2 * b);
            for i in 0..b {
                let forget = sig(x[i] * main[w + i] + main[w + 4 * b + i]);
                let ingate = sig(s[h + i] * main[w + b + i] + main[w + 5 * b + i]);
                let outgate = sig(x[i] * main[w + 2 * b + i] + main[w + 6 * b + i]);
                let change = (s[h + i] * main[w + 3 * b + i] + main[w + 7 * b + i]).tanh();
                let cell = s[h + b + i] * forget + ingate * change;
                s[h + b + i] = cell;
                s[h + i] = outgate * cell.tanh();
                x[i] = s[h + i];
            }
        }
        let ypred: Vec<Dual64> = (0..b)
            .map(|i| x[i] * extra[b + i] + extra[2 * b + i])
            .collect();
        let mx = ypred.iter().map(|a| a.re).fold(f64::NEG_INFINITY, f64::max);
        let lse = ypred.iter().map(|&a| (a - mx).exp()).sum::<Dual64>().ln() + mx;
        for i in 0..b {
            total += (ypred[i] - lse) * seq[(t + 1) * b + i];
        }
    }
    -total / ((c - 1) * b) as f64
}

type LstmGrad = (Vec<f64>, Vec<f64>);

#[inline(never)]
fn lstm_grad_gen(main: &[f64], extra: &[f64], state: &[f64], seq: &[f64]) -> LstmGrad {
    lstm_grad(main, extra, state, seq, LSTM_L)
}

#[inline(never)]
fn lstm_objective(main: &[f64], extra: &[f64], state: &[f64], seq: &[f64]) -> f64 {
    lstm(main, extra, state, seq, LSTM_L)
}

/// Parameters of order 1, a state in ±0.5, and a one-hot-like sequence
/// (ADBench reads text; any values in [0, 1] do here).
fn lstm_data(seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let seq = point(LSTM_C * LSTM_B, seed + 3, 0.5)
        .iter()
        .map(|v| v + 0.5)
        .collect();
    (
        point(LSTM_L * 8 * LSTM_B, seed, 1.0),
        point(3 * LSTM_B, seed + 1, 1.0),
        point(LSTM_L * 2 * LSTM_B, seed + 2, 0.5),
        seq,
    )
}

fn check_lstm() {
    let (main, extra, state, seq) = lstm_data(0);
    let (gm, ge) = lstm_grad_gen(&main, &extra, &state, &seq);
    let lift = |v: &[f64]| -> Vec<Dual64> { v.iter().map(|&t| Dual64::from(t)).collect() };
    let (dm, de) = (lift(&main), lift(&extra));
    let seeded = |v: &[Dual64], j: usize| {
        let mut v = v.to_vec();
        v[j].eps = 1.0;
        v
    };
    let want_m: Vec<f64> = (0..main.len())
        .map(|j| lstm_dual(&seeded(&dm, j), &de, &state, &seq, LSTM_L).eps)
        .collect();
    let want_e: Vec<f64> = (0..extra.len())
        .map(|j| lstm_dual(&dm, &seeded(&de, j), &state, &seq, LSTM_L).eps)
        .collect();
    close("lstm main", &gm, &want_m, "num-dual");
    close("lstm extra", &ge, &want_e, "num-dual");
    let v = lstm_objective(&main, &extra, &state, &seq);
    close(
        "lstm value",
        &[v],
        &[lstm_dual(&dm, &de, &state, &seq, LSTM_L).re],
        "num-dual",
    );
}

fn bench_lstm(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("lstm/l{LSTM_L}_b{LSTM_B}_c{LSTM_C}"));
    let (main, extra, state, seq) = lstm_data(0);
    let args = || {
        black_box((
            main.as_slice(),
            extra.as_slice(),
            state.as_slice(),
            seq.as_slice(),
        ))
    };
    g.bench_function("generated", |bn| {
        bn.iter(|| {
            let (m, e, s, q) = args();
            lstm_grad_gen(m, e, s, q)
        })
    });
    g.bench_function("objective", |bn| {
        bn.iter(|| {
            let (m, e, s, q) = args();
            lstm_objective(m, e, s, q)
        })
    });
    g.finish();
}

fn main() {
    check_ba();
    check_gmm();
    check_lstm();
    let mut c = Criterion::default().configure_from_args();
    bench_ba(&mut c);
    bench_gmm(&mut c);
    bench_lstm(&mut c);
    c.final_summary();
}
