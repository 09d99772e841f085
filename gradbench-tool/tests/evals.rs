//! Every eval's functions on small inputs built here: derivatives against
//! num-dual (forward mode on a re-implementation of each function, generic
//! over the number type) and against central finite differences of the
//! tool's own primal.

#![allow(clippy::needless_range_loop)]

use autodiff::check_grad;
use gradbench_tool::evals::{ba, det, gmm, ht, kmeans, llsq, lse, lstm, ode, particle, saddle};
use num_dual::{Dual64, DualNum};

/// |a − b| ≤ tol · max(1, |b|).
fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

fn assert_all_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(close(*g, *w, tol), "{what}[{i}]: {g} vs {w}");
    }
}

/// `x` as duals seeded along `j`.
fn seeded(x: &[f64], j: usize) -> Vec<Dual64> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| Dual64::new(v, if i == j { 1.0 } else { 0.0 }))
        .collect()
}

fn dual_grad(f: impl Fn(&[Dual64]) -> Dual64, x: &[f64]) -> Vec<f64> {
    (0..x.len()).map(|j| f(&seeded(x, j)).eps).collect()
}

/// A deterministic pseudo-random sequence in [−1, 1).
fn numbers(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

// ---- hello ----

#[test]
fn hello_square_and_double() {
    use gradbench_tool::evals::hello::{square, square_grad};
    for x in [-2.5, 0.0, 3.0] {
        assert_eq!(square(x), x * x);
        assert_eq!(square_grad(x), 2.0 * x);
    }
}

// ---- llsq ----

fn llsq_ref<D: DualNum<f64> + Copy>(x: &[D], n: usize) -> D {
    let mut sum = D::from(0.0);
    for i in 0..n {
        let t = -1.0 + i as f64 * 2.0 / (n as f64 - 1.0);
        let s = if t > 0.0 {
            1.0
        } else if t < 0.0 {
            -1.0
        } else {
            0.0
        };
        let mut r = D::from(s);
        for (j, &xj) in x.iter().enumerate() {
            r -= xj * t.powi(j as i32);
        }
        sum += r * r;
    }
    sum * 0.5
}

#[test]
fn llsq_gradient() {
    let x = numbers(6, 1);
    for n in [2, 7, 16] {
        assert!(close(
            llsq::primal(&x, n),
            llsq_ref(&x.iter().map(|&v| Dual64::from(v)).collect::<Vec<_>>(), n).re,
            1e-12
        ));
        let g = llsq::primal_grad(&x, n);
        assert_all_close(&g, &dual_grad(|x| llsq_ref(x, n), &x), 1e-10, "llsq");
        assert!(
            check_grad(|x| llsq::primal(x, n), |x| llsq::primal_grad(x, n), &x).passed_default()
        );
    }
}

// ---- lse ----

fn lse_ref<D: DualNum<f64> + Copy>(x: &[D]) -> D {
    let a = x.iter().map(|v| v.re()).fold(f64::NEG_INFINITY, f64::max);
    let s = x.iter().fold(D::from(0.0), |s, &v| s + (v - a).exp());
    s.ln() + a
}

#[test]
fn lse_gradient_is_the_softmax() {
    let x: Vec<f64> = numbers(9, 2).iter().map(|v| 5.0 * v).collect();
    assert!(close(
        lse::primal(&x),
        lse_ref(&x.iter().map(|&v| Dual64::from(v)).collect::<Vec<_>>()).re,
        1e-14
    ));
    let g = lse::primal_grad(&x);
    assert_all_close(&g, &dual_grad(lse_ref, &x), 1e-12, "lse");
    assert!(close(g.iter().sum(), 1.0, 1e-12));
    assert!(check_grad(lse::primal, lse::primal_grad, &x).passed_default());
}

// ---- ode ----

fn ode_ref<D: DualNum<f64> + Copy>(x: &[D], s: usize) -> Vec<D> {
    let n = x.len();
    let h = 2.0 / s as f64;
    let f = |y: &[D]| -> Vec<D> {
        (0..n)
            .map(|i| if i == 0 { x[0] } else { x[i] * y[i - 1] })
            .collect()
    };
    let mut y = vec![D::from(0.0); n];
    for _ in 0..s {
        let k1 = f(&y);
        let y1: Vec<D> = (0..n).map(|i| y[i] + k1[i] * h / 2.0).collect();
        let k2 = f(&y1);
        let y2: Vec<D> = (0..n).map(|i| y[i] + k2[i] * h / 2.0).collect();
        let k3 = f(&y2);
        let y3: Vec<D> = (0..n).map(|i| y[i] + k3[i] * h).collect();
        let k4 = f(&y3);
        for i in 0..n {
            y[i] += (k1[i] + k2[i] * 2.0 + k3[i] * 2.0 + k4[i]) * h / 6.0;
        }
    }
    y
}

#[test]
fn ode_primal_and_gradient_of_the_last_component() {
    let x: Vec<f64> = numbers(5, 3).iter().map(|v| 1.0 + 0.5 * v).collect();
    for s in [1, 3, 10] {
        let y = ode::primal(&x, s);
        let want: Vec<f64> = ode_ref(&x.iter().map(|&v| Dual64::from(v)).collect::<Vec<_>>(), s)
            .iter()
            .map(|d| d.re)
            .collect();
        assert_all_close(&y, &want, 1e-12, "ode primal");
        let g = ode::gradient(&x, s);
        let want = dual_grad(|x| *ode_ref(x, s).last().unwrap(), &x);
        assert_all_close(&g, &want, 1e-10, "ode gradient");
        assert!(check_grad(
            |x| *ode::primal(x, s).last().unwrap(),
            |x| ode::gradient(x, s),
            &x
        )
        .passed_default());
    }
}

// ---- det ----

fn det_ref<D: DualNum<f64> + Copy>(a: &[D], n: usize) -> D {
    // Gaussian elimination with partial pivoting on the real parts.
    let mut m = a.to_vec();
    let mut det = D::from(1.0);
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| m[i * n + c].re().abs().total_cmp(&m[j * n + c].re().abs()))
            .unwrap();
        if p != c {
            for k in 0..n {
                m.swap(c * n + k, p * n + k);
            }
            det = -det;
        }
        let pivot = m[c * n + c];
        det *= pivot;
        for r in c + 1..n {
            let factor = m[r * n + c] / pivot;
            for k in c..n {
                let v = m[c * n + k];
                m[r * n + k] -= factor * v;
            }
        }
    }
    det
}

#[test]
fn det_gradient_is_the_cofactor_matrix() {
    for ell in 1..=5 {
        let a = numbers(ell * ell, 4 + ell as u64);
        let d = det::primal(&a, ell);
        let want = det_ref(&a.iter().map(|&v| Dual64::from(v)).collect::<Vec<_>>(), ell).re;
        assert!(close(d, want, 1e-12), "{ell}: {d} vs {want}");
        let g = det::primal_grad(&a, ell);
        assert_all_close(&g, &dual_grad(|a| det_ref(a, ell), &a), 1e-10, "det");
        assert!(
            check_grad(|a| det::primal(a, ell), |a| det::primal_grad(a, ell), &a).passed_default()
        );
    }
}

// ---- kmeans ----

#[test]
fn kmeans_direction_is_centroid_minus_cluster_mean() {
    let (n, k, d) = (40, 3, 2);
    let raw = numbers(n * d, 5);
    let points: Vec<Vec<f64>> = raw.chunks(d).map(<[f64]>::to_vec).collect();
    // One centroid per cluster, each near some points so no cluster is empty.
    let centroids: Vec<f64> = [0, 1, 2]
        .iter()
        .flat_map(|&i| points[i].iter().map(|v| v + 0.01))
        .collect();
    let dir = kmeans::dir(&points, &centroids, d);
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0.0; k];
    for p in &points {
        let dist = |j: usize| {
            (0..d)
                .map(|l| (p[l] - centroids[j * d + l]).powi(2))
                .sum::<f64>()
        };
        let j = (0..k).min_by(|&a, &b| dist(a).total_cmp(&dist(b))).unwrap();
        counts[j] += 1.0;
        for l in 0..d {
            sums[j * d + l] += p[l];
        }
    }
    for j in 0..k {
        for l in 0..d {
            let want = centroids[j * d + l] - sums[j * d + l] / counts[j];
            assert!(close(dir[j * d + l], want, 1e-12), "dir[{j}][{l}]");
        }
    }
    let report = check_grad(
        |c| kmeans::cost(&points, c, d),
        |c| kmeans::cost_grad(&points, c, d),
        &centroids,
    );
    assert!(report.passed_default(), "{report}");
}

// ---- gmm ----

struct GmmCase {
    alpha: Vec<f64>,
    mu: Vec<f64>,
    q: Vec<f64>,
    l: Vec<f64>,
    x: Vec<Vec<f64>>,
    gamma: f64,
    m: usize,
}

fn gmm_case(d: usize, k: usize, n: usize) -> GmmCase {
    let tri = d * (d - 1) / 2;
    GmmCase {
        alpha: numbers(k, 10),
        mu: numbers(k * d, 11),
        q: numbers(k * d, 12).iter().map(|v| 0.3 * v).collect(),
        l: numbers(k * tri, 13),
        x: numbers(n * d, 14).chunks(d).map(<[f64]>::to_vec).collect(),
        gamma: 1.5,
        m: 2,
    }
}

/// The objective straight from the eval's formula, with Q_c as a matrix.
fn gmm_ref<D: DualNum<f64> + Copy>(alpha: &[D], mu: &[D], q: &[D], l: &[D], c: &GmmCase) -> D {
    let (k, n, d) = (alpha.len(), c.x.len(), c.x[0].len());
    let lse = |v: &[D]| {
        let a = v.iter().map(|t| t.re()).fold(f64::NEG_INFINITY, f64::max);
        v.iter().fold(D::from(0.0), |s, &t| s + (t - a).exp()).ln() + a
    };
    let tri = d * (d - 1) / 2;
    let mut total = D::from(-((n * d) as f64) * 0.5 * (2.0 * std::f64::consts::PI).ln());
    for xi in &c.x {
        let mut beta = Vec::new();
        for cc in 0..k {
            // Q: diag exp(q), strict lower part column by column from l.
            let mut qm = vec![vec![D::from(0.0); d]; d];
            let mut idx = 0;
            for col in 0..d {
                qm[col][col] = q[cc * d + col].exp();
                for row in col + 1..d {
                    qm[row][col] = l[cc * tri + idx];
                    idx += 1;
                }
            }
            let mut sq = D::from(0.0);
            for row in 0..d {
                let mut s = D::from(0.0);
                for col in 0..d {
                    s += qm[row][col] * (mu[cc * d + col] * -1.0 + xi[col]);
                }
                sq += s * s;
            }
            let sum_q = (0..d).fold(D::from(0.0), |s, j| s + q[cc * d + j]);
            beta.push(alpha[cc] + sum_q - sq * 0.5);
        }
        total += lse(&beta);
    }
    total -= lse(alpha) * n as f64;
    let dof = (d + c.m + 1) as f64;
    let constant =
        dof * d as f64 * (c.gamma.ln() - 0.5 * 2f64.ln()) - gmm::ln_multigamma(0.5 * dof, d);
    for cc in 0..k {
        let mut frob = D::from(0.0);
        for j in 0..d {
            frob += q[cc * d + j].exp() * q[cc * d + j].exp();
        }
        for j in 0..tri {
            frob += l[cc * tri + j] * l[cc * tri + j];
        }
        let sum_q = (0..d).fold(D::from(0.0), |s, j| s + q[cc * d + j]);
        total -= frob * (0.5 * c.gamma * c.gamma) - sum_q * c.m as f64;
        total += constant;
    }
    total
}

#[test]
fn ln_gamma_matches_known_values() {
    assert!(close(gmm::ln_gamma(1.0), 0.0, 1e-14));
    assert!(close(
        gmm::ln_gamma(0.5),
        std::f64::consts::PI.sqrt().ln(),
        1e-14
    ));
    assert!(close(gmm::ln_gamma(10.0), 362880f64.ln(), 1e-13));
    assert!(close(
        gmm::ln_gamma(2.5),
        (0.75 * std::f64::consts::PI.sqrt()).ln(),
        1e-14
    ));
}

#[test]
fn gmm_objective_and_gradient() {
    let c = gmm_case(3, 2, 6);
    let consts = |v: &[f64]| v.iter().map(|&t| Dual64::from(t)).collect::<Vec<_>>();
    let value = gmm::objective(&c.alpha, &c.mu, &c.q, &c.l, &c.x, c.gamma, c.m);
    let want = gmm_ref(
        &consts(&c.alpha),
        &consts(&c.mu),
        &consts(&c.q),
        &consts(&c.l),
        &c,
    )
    .re;
    assert!(close(value, want, 1e-12), "{value} vs {want}");
    let (ga, gm, gq, gl) = gmm::objective_grad(&c.alpha, &c.mu, &c.q, &c.l, &c.x, c.gamma, c.m);
    let dual = |which: usize, v: &[f64]| {
        (0..v.len())
            .map(|j| {
                let s = seeded(v, j);
                let (a, m, q, l) = (consts(&c.alpha), consts(&c.mu), consts(&c.q), consts(&c.l));
                match which {
                    0 => gmm_ref(&s, &m, &q, &l, &c),
                    1 => gmm_ref(&a, &s, &q, &l, &c),
                    2 => gmm_ref(&a, &m, &s, &l, &c),
                    _ => gmm_ref(&a, &m, &q, &s, &c),
                }
                .eps
            })
            .collect::<Vec<f64>>()
    };
    assert_all_close(&ga, &dual(0, &c.alpha), 1e-10, "d/dalpha");
    assert_all_close(&gm, &dual(1, &c.mu), 1e-10, "d/dmu");
    assert_all_close(&gq, &dual(2, &c.q), 1e-10, "d/dq");
    assert_all_close(&gl, &dual(3, &c.l), 1e-10, "d/dl");
    let report = check_grad(
        |q| gmm::objective(&c.alpha, &c.mu, q, &c.l, &c.x, c.gamma, c.m),
        |q| gmm::objective_grad(&c.alpha, &c.mu, q, &c.l, &c.x, c.gamma, c.m).2,
        &c.q,
    );
    assert!(report.passed_default(), "{report}");
}

// ---- lstm ----

fn lstm_ref<D: DualNum<f64> + Copy>(main: &[D], extra: &[D], state: &[f64], seq: &[Vec<f64>]) -> D {
    let b = extra.len() / 3;
    let layers = state.len() / (2 * b);
    let sigmoid = |x: D| (D::from(1.0) + (-x).exp()).recip();
    let mut hidden: Vec<Vec<D>> = (0..layers)
        .map(|l| {
            state[2 * l * b..(2 * l + 1) * b]
                .iter()
                .map(|&v| D::from(v))
                .collect()
        })
        .collect();
    let mut cell: Vec<Vec<D>> = (0..layers)
        .map(|l| {
            state[(2 * l + 1) * b..(2 * l + 2) * b]
                .iter()
                .map(|&v| D::from(v))
                .collect()
        })
        .collect();
    let mut total = D::from(0.0);
    for t in 0..seq.len() - 1 {
        let mut x: Vec<D> = (0..b).map(|i| extra[i] * seq[t][i]).collect();
        for l in 0..layers {
            let p = |block: usize, i: usize| main[8 * b * l + block * b + i];
            for i in 0..b {
                let forget = sigmoid(x[i] * p(0, i) + p(4, i));
                let ingate = sigmoid(hidden[l][i] * p(1, i) + p(5, i));
                let outgate = sigmoid(x[i] * p(2, i) + p(6, i));
                let change = (hidden[l][i] * p(3, i) + p(7, i)).tanh();
                cell[l][i] = cell[l][i] * forget + ingate * change;
                hidden[l][i] = outgate * cell[l][i].tanh();
            }
            x = hidden[l].clone();
        }
        let y: Vec<D> = (0..b)
            .map(|i| x[i] * extra[b + i] + extra[2 * b + i])
            .collect();
        let lse = (y.iter().fold(D::from(0.0), |s, &v| s + v.exp()) + 2.0).ln();
        for i in 0..b {
            total += (y[i] - lse) * seq[t + 1][i];
        }
    }
    -total / ((seq.len() - 1) * b) as f64
}

#[test]
fn lstm_objective_and_gradient() {
    let (layers, b, c) = (2, 3, 5);
    let main = numbers(2 * layers * 4 * b, 20);
    let extra = numbers(3 * b, 21);
    let state = numbers(2 * layers * b, 22);
    let seq: Vec<Vec<f64>> = (0..c)
        .map(|t| {
            (0..b)
                .map(|i| if (t + i) % b == 0 { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    let consts = |v: &[f64]| v.iter().map(|&t| Dual64::from(t)).collect::<Vec<_>>();
    let value = lstm::objective(&main, &extra, &state, &seq);
    assert!(close(
        value,
        lstm_ref(&consts(&main), &consts(&extra), &state, &seq).re,
        1e-12
    ));
    let (g_main, g_extra) = lstm::objective_grad(&main, &extra, &state, &seq);
    let want_main = dual_grad(|m| lstm_ref(m, &consts(&extra), &state, &seq), &main);
    let want_extra = dual_grad(|e| lstm_ref(&consts(&main), e, &state, &seq), &extra);
    assert_all_close(&g_main, &want_main, 1e-10, "d/dmain");
    assert_all_close(&g_extra, &want_extra, 1e-10, "d/dextra");
    let report = check_grad(
        |e| lstm::objective(&main, e, &state, &seq),
        |e| lstm::objective_grad(&main, e, &state, &seq).1,
        &extra,
    );
    assert!(report.passed_default(), "{report}");
}

// ---- ba ----

fn reproj_ref<D: DualNum<f64> + Copy>(cam: &[D], x: &[D], w: D, feat: [f64; 2]) -> [D; 2] {
    let r = [cam[0], cam[1], cam[2]];
    let p = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let theta2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
    // Rodrigues: R p = p cos θ + (k × p) sin θ + k (k·p)(1 − cos θ).
    let theta = theta2.sqrt();
    let k = [r[0] / theta, r[1] / theta, r[2] / theta];
    let kxp = [
        k[1] * p[2] - k[2] * p[1],
        k[2] * p[0] - k[0] * p[2],
        k[0] * p[1] - k[1] * p[0],
    ];
    let kp = k[0] * p[0] + k[1] * p[1] + k[2] * p[2];
    let xc: Vec<D> = (0..3)
        .map(|i| p[i] * theta.cos() + kxp[i] * theta.sin() + k[i] * kp * (-theta.cos() + 1.0))
        .collect();
    let (u, v) = (xc[0] / xc[2], xc[1] / xc[2]);
    let r2 = u * u + v * v;
    let dist = r2 * cam[9] + r2 * r2 * cam[10] + 1.0;
    [
        w * (u * dist * cam[6] + cam[7] - feat[0]),
        w * (v * dist * cam[6] + cam[8] - feat[1]),
    ]
}

#[test]
fn ba_block_jacobian() {
    let cam: [f64; 11] = [
        0.3, -0.2, 0.1, 0.5, -0.4, -6.0, 400.0, 10.0, -20.0, 1e-3, -2e-4,
    ];
    let x = [1.0, -0.5, 2.0];
    let (w, feat) = (0.8, [150.0, -90.0]);
    let e = ba::reproj_error(&cam, &x, w, &feat);
    let (d_cam, d_x, d_w) = ba::reproj_error_jacobian(&cam, &x, w, &feat);
    let mut all = cam.to_vec();
    all.extend_from_slice(&x);
    all.push(w);
    for r in 0..2 {
        let f = |v: &[Dual64]| reproj_ref(&v[..11], &v[11..14], v[14], feat)[r];
        let want = dual_grad(f, &all);
        assert!(close(
            e[r],
            f(&all.iter().map(|&v| Dual64::from(v)).collect::<Vec<_>>()).re,
            1e-12
        ));
        let mut got = d_cam[r].to_vec();
        got.extend_from_slice(&d_x[r]);
        got.push(d_w[r]);
        assert_all_close(&got, &want, 1e-9, "ba row");
    }
    assert_eq!(ba::weight_error_grad(w), -2.0 * w);
}

#[test]
fn ba_sparse_layout() {
    let input = ba::Input {
        n: 2,
        m: 3,
        p: 5,
        cam: [
            0.3, -0.2, 0.1, 0.5, -0.4, -6.0, 400.0, 10.0, -20.0, 1e-3, -2e-4,
        ],
        x: [1.0, -0.5, 2.0],
        w: 0.8,
        feat: [150.0, -90.0],
        runs: gradbench_tool::protocol::Runs {
            min_runs: 1,
            min_seconds: 0.0,
        },
    };
    let problem = ba::Problem::replicate(&input);
    let jac = ba::jacobian(&problem);
    assert_eq!(jac.rows.len(), 3 * 5 + 1);
    assert_eq!(*jac.rows.last().unwrap(), 31 * 5);
    assert_eq!(jac.cols.len(), 31 * 5);
    // Observation 3: camera 1, point 0, weight column 11·2 + 3·3 + 3.
    let start = jac.rows[6];
    assert_eq!(jac.cols[start], 11);
    assert_eq!(jac.cols[start + 11], 22);
    assert_eq!(jac.cols[start + 14], 34);
    assert_eq!(jac.cols[*jac.rows.last().unwrap() - 1], 22 + 9 + 4);
    let (reproj, w_err) = ba::objective(&problem);
    assert_eq!((reproj.len(), w_err.len()), (10, 5));
}

// ---- ht ----

/// A small hand: the 22 bones of the real model (a binary tree here),
/// 6 vertices, 4 triangles.
fn small_hand() -> ht::Data {
    let mut base_relatives = Vec::new();
    let mut inverse_base_absolutes = Vec::new();
    let bones = 22;
    for b in 0..bones {
        let m = numbers(12, 30 + b as u64);
        let mut rel = [[0.0; 4]; 4];
        let mut inv = [[0.0; 4]; 4];
        for r in 0..3 {
            for c in 0..4 {
                rel[r][c] = if r == c { 1.0 } else { 0.0 } + 0.2 * m[4 * r + c];
                inv[r][c] = if r == c { 1.0 } else { 0.0 } - 0.1 * m[4 * r + c];
            }
        }
        rel[3][3] = 1.0;
        inv[3][3] = 1.0;
        base_relatives.push(rel);
        inverse_base_absolutes.push(inv);
    }
    let v = 6;
    let pos = numbers(3 * v, 40);
    let wts = numbers(bones * v, 41);
    ht::Data {
        model: ht::Model {
            parents: (0..bones as i64)
                .map(|b| if b == 0 { -1 } else { (b - 1) / 2 })
                .collect(),
            base_relatives,
            inverse_base_absolutes,
            base_positions: (0..v)
                .map(|i| [pos[3 * i], pos[3 * i + 1], pos[3 * i + 2], 1.0])
                .collect(),
            weights: (0..v)
                .map(|i| {
                    (0..bones)
                        .map(|b| (0.5 + 0.4 * wts[bones * i + b]) / 11.0)
                        .collect()
                })
                .collect(),
            triangles: vec![[0, 1, 2], [2, 3, 4], [4, 5, 0], [1, 3, 5]],
            is_mirrored: true,
        },
        correspondences: vec![0, 3, 1, 2, 1],
        points: numbers(15, 42)
            .chunks(3)
            .map(|p| [p[0], p[1], p[2]])
            .collect(),
    }
}

fn ht_theta() -> Vec<f64> {
    numbers(26, 50).iter().map(|v| 0.4 * v).collect()
}

#[test]
fn ht_jacobian_against_finite_differences() {
    let mut data = small_hand();
    let theta = ht_theta();
    for complicated in [false, true] {
        if !complicated {
            data.correspondences = vec![0, 5, 2, 3, 1];
        } else {
            data.correspondences = vec![0, 3, 1, 2, 1];
        }
        let us: Vec<[f64; 2]> = if complicated {
            numbers(10, 60)
                .chunks(2)
                .map(|u| [0.3 + 0.2 * u[0], 0.3 + 0.2 * u[1]])
                .collect()
        } else {
            Vec::new()
        };
        let jac = ht::jacobian(&theta, &us, &data);
        let off = if complicated { 2 } else { 0 };
        assert_eq!(jac.len(), 15);
        assert!(jac.iter().all(|row| row.len() == off + 26));
        let h = 1e-6;
        for j in 0..26 {
            let mut up = theta.clone();
            let mut down = theta.clone();
            up[j] += h;
            down[j] -= h;
            let (eu, ed) = (
                ht::objective(&up, &us, &data),
                ht::objective(&down, &us, &data),
            );
            for r in 0..15 {
                let fd = (eu[r] - ed[r]) / (2.0 * h);
                assert!(
                    close(jac[r][off + j], fd, 1e-6),
                    "row {r} theta {j}: {} vs {fd}",
                    jac[r][off + j]
                );
            }
        }
        if complicated {
            for i in 0..5 {
                for k in 0..2 {
                    let mut up = us.clone();
                    let mut down = us.clone();
                    up[i][k] += h;
                    down[i][k] -= h;
                    let (eu, ed) = (
                        ht::objective(&theta, &up, &data),
                        ht::objective(&theta, &down, &data),
                    );
                    for j in 0..3 {
                        let fd = (eu[3 * i + j] - ed[3 * i + j]) / (2.0 * h);
                        assert!(close(jac[3 * i + j][k], fd, 1e-6), "row {} u{k}", 3 * i + j);
                    }
                }
            }
        }
    }
}

#[test]
fn ht_residual_against_num_dual() {
    let u = [0.2, 0.5];
    let (p, a, b, c) = (
        [1.0, 2.0, 3.0],
        [0.5, -1.0, 2.0],
        [1.5, 0.0, -2.0],
        [-0.5, 1.0, 0.25],
    );
    let (d_u, d_a, _, _) = ht::residual_jacobian(u, p, a, b, c);
    for j in 0..3 {
        let f = |v: &[Dual64]| -(v[0] * a[j] + v[1] * b[j] + (-v[0] - v[1] + 1.0) * c[j]) + p[j];
        assert_all_close(&d_u[j], &dual_grad(f, &u), 1e-14, "d/du");
        assert_eq!(d_a[j][j], -u[0]);
    }
}

// ---- particle ----

/// The eval's expected control (GradBench's `particle` eval checks it).
const PARTICLE_W: f64 = 0.2071918746486116;

#[test]
fn particle_derivative_through_the_trajectory() {
    for w in [0.0, 0.1, 0.3] {
        let h = 1e-6;
        let fd = (particle::miss(w + h) - particle::miss(w - h)) / (2.0 * h);
        let g = particle::miss_grad(w);
        assert!(close(g, fd, 1e-5), "{w}: {g} vs {fd}");
        assert!(close(particle::miss_jvp(w, 1.0).1, g, 1e-12));
    }
    let report = check_grad(
        |z: &[f64]| particle::potential([z[0], z[1], z[2]]),
        |z: &[f64]| particle::potential_grad([z[0], z[1], z[2]]).to_vec(),
        &[1.0, 5.0, 0.2],
    );
    assert!(report.passed_default(), "{report}");
}

#[test]
fn particle_finds_the_control() {
    for outer in ['r', 'f'] {
        assert!(close(particle::particle(0.0, outer), PARTICLE_W, 1e-8));
    }
}

// ---- saddle ----

#[test]
fn saddle_inner_maximum_and_its_gradient() {
    let start = [1.0, 1.0];
    for x in [[0.5, -0.3], [1.0, 2.0]] {
        // max over y of |x|² − |y|² is |x|² (reached at y ≈ 0).
        assert!(close(
            saddle::max_y(x, start),
            x[0] * x[0] + x[1] * x[1],
            1e-6
        ));
        let g = saddle::max_y_grad(x, start);
        let report = check_grad(
            |x: &[f64]| saddle::max_y([x[0], x[1]], start),
            |x: &[f64]| saddle::max_y_grad([x[0], x[1]], start).to_vec(),
            &x,
        );
        assert!(report.passed(1e-4), "{report}");
        let (_, t) = saddle::max_y_jvp(x, start, [1.0, 0.0]);
        assert!(close(t, g[0], 1e-12));
    }
}

#[test]
fn saddle_finds_the_saddle_point() {
    // GradBench's `saddle` eval expects this value in each coordinate.
    let want = 8.246324826140356e-06;
    for (outer, inner) in [('r', 'r'), ('r', 'f'), ('f', 'r'), ('f', 'f')] {
        for v in saddle::saddle([1.0, 1.0], outer, inner) {
            assert!((v - want).abs() < 1e-10, "{outer}{inner}: {v}");
        }
    }
}
