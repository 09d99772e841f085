//! Tests of `autodiff_runtime::__private::rules`: the values against the helpers they
//! mirror (bit for bit), every accumulator against an independent formula
//! (it adds) and against central finite differences of the value functions
//! (the derivative it stands for), and the call forms generated code uses.

// The call-form tests write `f(&x)` for every form of `x`, references
// included, exactly as generated code does.
#![allow(clippy::needless_borrow, clippy::needless_borrows_for_generic_args)]

use autodiff_runtime as h;
use autodiff_runtime::__private::rules as r;
use std::panic::{catch_unwind, AssertUnwindSafe};

// ---------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------

/// A small deterministic generator (a 64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Self {
        Lcg(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Uniform in `[-1, 1)`.
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1_u64 << 52) as f64 - 1.0
    }

    /// Uniform in `[-2, 2)`: the moderate scale of the derivative checks.
    fn moderate(&mut self) -> f64 {
        2.0 * self.unit()
    }

    /// Mostly uniform in `[-3, 3)`, sometimes ±700, ±800 or `-inf`.
    fn wild(&mut self) -> f64 {
        let pick = self.unit();
        let v = 3.0 * self.unit();
        match ((pick + 1.0) * 8.0) as usize {
            0 => 700.0,
            1 => -700.0,
            2 => 800.0,
            3 => -800.0,
            4 => f64::NEG_INFINITY,
            _ => v,
        }
    }

    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.moderate()).collect()
    }

    fn wild_vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.wild()).collect()
    }

    fn array<const N: usize>(&mut self) -> [f64; N] {
        std::array::from_fn(|_| self.moderate())
    }

    fn wild_array<const N: usize>(&mut self) -> [f64; N] {
        std::array::from_fn(|_| self.wild())
    }

    fn rows<const C: usize>(&mut self, n: usize) -> Vec<[f64; C]> {
        (0..n).map(|_| self.array()).collect()
    }

    fn wild_rows<const C: usize>(&mut self, n: usize) -> Vec<[f64; C]> {
        (0..n).map(|_| self.wild_array()).collect()
    }
}

/// The same bits.
#[track_caller]
fn same(got: f64, want: f64) {
    assert!(got.to_bits() == want.to_bits(), "{got:e} != {want:e}");
}

/// The same length and the same bits everywhere.
#[track_caller]
fn same_all(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(g.to_bits() == w.to_bits(), "element {i}: {g:e} != {w:e}");
    }
}

/// `|got - want| <= tol * max(1, |got|, |want|)` everywhere.
#[track_caller]
fn close_all(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let scale = 1.0_f64.max(g.abs()).max(w.abs());
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}: element {i}: {g:e} vs {w:e} (tolerance {tol:e})"
        );
    }
}

/// The finite-difference step and the tolerance of the derivative checks
/// (central differences at inputs of moderate scale).
const H: f64 = 1e-6;
const TOL: f64 = 1e-6;

/// The tolerance of the "it adds" checks against independent formulas
/// (same math, different rounding).
const ADD_TOL: f64 = 1e-12;

fn dotp(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn shifted(x: &[f64], v: &[f64], t: f64) -> Vec<f64> {
    x.iter().zip(v).map(|(a, b)| a + t * b).collect()
}

/// `(f(x + h v) - f(x - h v)) / 2h`.
fn fd_jvp(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], v: &[f64]) -> Vec<f64> {
    let p = f(&shifted(x, v, H));
    let m = f(&shifted(x, v, -H));
    p.iter().zip(&m).map(|(p, m)| (p - m) / (2.0 * H)).collect()
}

/// `ybarᵀ J`, one central difference per input.
fn fd_vjp(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], ybar: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let mut e = vec![0.0; x.len()];
            e[i] = 1.0;
            dotp(ybar, &fd_jvp(&f, x, &e))
        })
        .collect()
}

/// The gradient of a scalar function.
fn fd_grad(f: impl Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    fd_vjp(|x| vec![f(x)], x, &[1.0])
}

/// `u vᵀ`, row after row, written out (the finite-difference reference
/// for the rules of `outer`).
fn outer_flat(u: &[f64], v: &[f64]) -> Vec<f64> {
    u.iter()
        .flat_map(|a| v.iter().map(move |b| a * b))
        .collect()
}

fn flat<const C: usize>(m: &[[f64; C]]) -> Vec<f64> {
    m.as_flattened().to_vec()
}

fn unflat<const C: usize>(v: &[f64]) -> Vec<[f64; C]> {
    assert!(C > 0 && v.len() % C == 0);
    v.chunks_exact(C)
        .map(|c| c.try_into().expect("a row"))
        .collect()
}

fn naive_sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `σ'(x) = e^{-x} / (1 + e^{-x})²`.
fn naive_sigmoid_prime(x: f64) -> f64 {
    let e = (-x).exp();
    e / ((1.0 + e) * (1.0 + e))
}

fn naive_softmax(x: &[f64]) -> Vec<f64> {
    let z: f64 = x.iter().map(|v| v.exp()).sum();
    x.iter().map(|v| v.exp() / z).collect()
}

fn delta(i: usize, j: usize) -> f64 {
    if i == j {
        1.0
    } else {
        0.0
    }
}

/// Runs `run` from `acc0` and from zeros: the first must be `acc0 + term`
/// (to `ADD_TOL`), and exactly `acc0 + ` the second (the term is computed,
/// then added once).
#[track_caller]
fn check_adds(acc0: &[f64], term: &[f64], what: &str, run: impl Fn(&mut Vec<f64>)) {
    let mut acc = acc0.to_vec();
    run(&mut acc);
    let want: Vec<f64> = acc0.iter().zip(term).map(|(a, t)| a + t).collect();
    close_all(&acc, &want, ADD_TOL, what);
    let mut from_zero = vec![0.0; acc0.len()];
    run(&mut from_zero);
    let sum: Vec<f64> = acc0.iter().zip(&from_zero).map(|(a, t)| a + t).collect();
    same_all(&acc, &sum);
}

/// [`check_adds`] for matrix accumulators.
#[track_caller]
fn check_adds2<const C: usize>(
    acc0: &[[f64; C]],
    term: &[[f64; C]],
    what: &str,
    run: impl Fn(&mut Vec<[f64; C]>),
) {
    assert_eq!(acc0.len(), term.len());
    let mut acc = acc0.to_vec();
    run(&mut acc);
    let want: Vec<f64> = flat(acc0)
        .iter()
        .zip(flat(term))
        .map(|(a, t)| a + t)
        .collect();
    close_all(&flat(&acc), &want, ADD_TOL, what);
    let mut from_zero = vec![[0.0; C]; acc0.len()];
    run(&mut from_zero);
    let sum: Vec<f64> = flat(acc0)
        .iter()
        .zip(flat(&from_zero))
        .map(|(a, t)| a + t)
        .collect();
    same_all(&flat(&acc), &sum);
}

/// Rank-1 accumulator from zeros.
fn from_zero(n: usize, run: impl FnOnce(&mut Vec<f64>)) -> Vec<f64> {
    let mut acc = vec![0.0; n];
    run(&mut acc);
    acc
}

/// Rank-2 accumulator from zeros, flattened.
fn from_zero2<const C: usize>(rows: usize, run: impl FnOnce(&mut Vec<[f64; C]>)) -> Vec<f64> {
    let mut acc = vec![[0.0; C]; rows];
    run(&mut acc);
    flat(&acc)
}

// ---------------------------------------------------------------------
// Values: bit for bit the helpers (the kernels with bodies of their own;
// `dot`, `softmax`, `matvec`, ... are the helpers, re-exported)
// ---------------------------------------------------------------------

fn vector_values_match(x: &[f64]) {
    same(r::sum(&x), h::sum(x));
    same_all(&r::sigmoid(&x), &h::sigmoid(x));
    same_all(&r::softplus(&x), &h::softplus(x));
}

fn fixed_vector_values_match<const N: usize>(rng: &mut Lcg) {
    let x: [f64; N] = rng.wild_array();
    same(r::sum(&x), h::sum(&x));
    let s: [f64; N] = r::sigmoid(&x);
    same_all(&s, &h::sigmoid(x));
    let p: [f64; N] = r::softplus(&x);
    same_all(&p, &h::softplus(x));
}

fn matrix_values_match<const R: usize, const C: usize>(rng: &mut Lcg) {
    let a: [[f64; C]; R] = std::array::from_fn(|_| rng.array());
    let wild: [[f64; C]; R] = std::array::from_fn(|_| rng.wild_array());

    same(r::sum2(&a), h::sum(&a));
    same(r::sum2(&a.to_vec()), h::sum(&a));
    same(r::sum2(&a[..]), h::sum(&a));

    let s: [[f64; C]; R] = r::sigmoid2(&wild);
    same_all(s.as_flattened(), h::sigmoid(wild).as_flattened());
    let s: Vec<[f64; C]> = r::sigmoid2(&wild[..]);
    same_all(s.as_flattened(), h::sigmoid(wild).as_flattened());
    let p: [[f64; C]; R] = r::softplus2(&wild);
    same_all(p.as_flattened(), h::softplus(wild).as_flattened());
    let p: Vec<[f64; C]> = r::softplus2(&wild.to_vec());
    same_all(p.as_flattened(), h::softplus(wild).as_flattened());
}

/// The matrix values on a `Vec` of `rows` rows (a run-time row count).
fn rows_values_match<const C: usize>(rng: &mut Lcg, rows: usize) {
    let a: Vec<[f64; C]> = rng.wild_rows(rows);
    let each = |f: fn(f64) -> f64| -> Vec<f64> { a.as_flattened().iter().map(|&v| f(v)).collect() };
    same(r::sum2(&a), a.iter().fold(0.0, |s, row| s + h::sum(row)));
    same_all(r::sigmoid2(&a).as_flattened(), &each(h::sigmoid));
    same_all(r::softplus2(&a[..]).as_flattened(), &each(h::softplus));
}

#[test]
fn vector_values_are_the_helpers_bit_for_bit() {
    let mut rng = Lcg::new(1);
    for _ in 0..20 {
        for n in 0..=6 {
            let x = rng.wild_vec(n);
            vector_values_match(&x);
        }
        fixed_vector_values_match::<0>(&mut rng);
        fixed_vector_values_match::<1>(&mut rng);
        fixed_vector_values_match::<2>(&mut rng);
        fixed_vector_values_match::<3>(&mut rng);
        fixed_vector_values_match::<4>(&mut rng);
        fixed_vector_values_match::<5>(&mut rng);
        fixed_vector_values_match::<6>(&mut rng);
    }
}

#[test]
fn matrix_values_are_the_helpers_bit_for_bit() {
    let mut rng = Lcg::new(2);
    for _ in 0..10 {
        matrix_values_match::<0, 0>(&mut rng);
        matrix_values_match::<0, 3>(&mut rng);
        matrix_values_match::<3, 0>(&mut rng);
        matrix_values_match::<1, 1>(&mut rng);
        matrix_values_match::<1, 6>(&mut rng);
        matrix_values_match::<2, 3>(&mut rng);
        matrix_values_match::<3, 2>(&mut rng);
        matrix_values_match::<4, 5>(&mut rng);
        matrix_values_match::<6, 1>(&mut rng);
        matrix_values_match::<6, 6>(&mut rng);
        for rows in 0..=6 {
            rows_values_match::<0>(&mut rng, rows);
            rows_values_match::<1>(&mut rng, rows);
            rows_values_match::<4>(&mut rng, rows);
        }
    }
}

#[test]
fn values_at_the_edges_are_the_helpers_bit_for_bit() {
    let inf = f64::INFINITY;
    let edges: [&[f64]; 12] = [
        &[],
        &[700.0, 700.0],
        &[-700.0, -700.0],
        &[800.0, 800.0],
        &[800.0, -800.0],
        &[-800.0, -800.0, -800.0],
        &[-inf, -inf],
        &[-inf],
        &[-inf, 1.0, -inf],
        &[inf, 1.0],
        &[700.0, -inf, 800.0, -700.0],
        &[f64::NAN, 1.0],
    ];
    for x in edges {
        vector_values_match(x);
    }
    let m = [[700.0, -700.0], [800.0, -800.0], [-inf, 0.0]];
    same_all(r::sigmoid2(&m).as_flattened(), h::sigmoid(m).as_flattened());
    same_all(
        r::softplus2(&m[..]).as_flattened(),
        h::softplus(m).as_flattened(),
    );
    // All -inf: the helpers' NaNs, and a logsumexp of -inf.
    assert!(r::softmax(&[-inf, -inf]).iter().all(|v| v.is_nan()));
    assert_eq!(r::logsumexp(&[-inf, -inf]), -inf);
}

#[test]
fn logsumexp_dot_is_zero_when_lse_is_not_finite() {
    let inf = f64::INFINITY;
    for x in [&[][..], &[-inf, -inf][..], &[inf, 1.0][..]] {
        let lse = r::logsumexp(&x);
        assert!(!lse.is_finite());
        let xdot = vec![1.5; x.len()];
        same(r::logsumexp_dot(&x, lse, &xdot), 0.0);
    }
    same(r::logsumexp_dot(&[1.0, 2.0], f64::NAN, &[1.0, 1.0]), 0.0);
    // A -inf element contributes nothing; the rest is the softmax weight.
    let d = r::logsumexp_dot(
        &[-inf, 0.0, 0.0],
        r::logsumexp(&[0.0, 0.0]),
        &[5.0, 1.0, 3.0],
    );
    close_all(&[d], &[2.0], ADD_TOL, "logsumexp_dot with -inf");
}

#[test]
fn logsumexp_bar_adds_nothing_when_lse_is_not_finite() {
    let inf = f64::INFINITY;
    // Short and past the kept length (two paths), NaN among them.
    let (long_low, mut long_nan) = (vec![-inf; 20], vec![1.0; 20]);
    long_nan[7] = f64::NAN;
    let short: [&[f64]; 4] = [&[], &[-inf, -inf], &[inf, 1.0], &[2.0, f64::NAN]];
    for x in short.into_iter().chain([&long_low[..], &long_nan[..]]) {
        assert!(!r::logsumexp(&x).is_finite(), "{x:?}");
        let acc0 = vec![0.25; x.len()];
        let mut acc = acc0.clone();
        r::acc_logsumexp_bar(&mut acc, 2.0, &x);
        same_all(&acc, &acc0);
        let xdot = vec![1.0; x.len()];
        r::acc_logsumexp_bar_dot(&mut acc, 2.0, &x, &xdot);
        same_all(&acc, &acc0);
    }
    // A -inf element gets 0 and no NaN.
    let x = [-inf, 0.0];
    let mut acc = [1.0, 1.0];
    r::acc_logsumexp_bar(&mut acc, 3.0, &x);
    assert_eq!(acc, [1.0, 4.0]);
}

// ---------------------------------------------------------------------
// Accumulators add their term (independent formulas)
// ---------------------------------------------------------------------

#[test]
fn rank1_accumulators_add_their_term() {
    let mut rng = Lcg::new(3);
    for n in 0..=6 {
        let acc0 = rng.vec(n);
        let x = rng.vec(n);
        let ybar = rng.vec(n);
        let xdot = rng.vec(n);
        let sdot = rng.vec(n);
        let c = rng.moderate();
        let yb = rng.moderate();
        let sig: Vec<f64> = x.iter().map(|&v| naive_sigmoid(v)).collect();
        let sm = naive_softmax(&x);
        let lse = x.iter().map(|v| v.exp()).sum::<f64>().ln();
        let ls: Vec<f64> = x.iter().map(|v| v - lse).collect();
        let idx = || 0..n;

        let term: Vec<f64> = vec![c; n];
        check_adds(&acc0, &term, "acc_fill", |acc| r::acc_fill(acc, c));

        let term: Vec<f64> = x.iter().map(|v| c * v).collect();
        check_adds(&acc0, &term, "acc_scaled", |acc| r::acc_scaled(acc, c, &x));

        let term: Vec<f64> = idx().map(|i| ybar[i] * naive_sigmoid_prime(x[i])).collect();
        check_adds(&acc0, &term, "acc_sigmoid_bar", |acc| {
            r::acc_sigmoid_bar(acc, &ybar, &sig)
        });

        let term: Vec<f64> = idx().map(|i| ybar[i] / (1.0 + (-x[i]).exp())).collect();
        check_adds(&acc0, &term, "acc_softplus_bar", |acc| {
            r::acc_softplus_bar(acc, &ybar, &x)
        });

        // Jᵀ ybar with J[j][i] = s_j (δ_ji - s_i).
        let term: Vec<f64> = idx()
            .map(|i| idx().map(|j| ybar[j] * sm[j] * (delta(i, j) - sm[i])).sum())
            .collect();
        check_adds(&acc0, &term, "acc_softmax_bar", |acc| {
            r::acc_softmax_bar(acc, &ybar, &sm)
        });

        // Jᵀ ybar with J[j][i] = δ_ji - s_i.
        let term: Vec<f64> = idx()
            .map(|i| idx().map(|j| ybar[j] * (delta(i, j) - sm[i])).sum())
            .collect();
        check_adds(&acc0, &term, "acc_log_softmax_bar", |acc| {
            r::acc_log_softmax_bar(acc, &ybar, &ls)
        });

        // J xdot.
        let term: Vec<f64> = idx()
            .map(|i| idx().map(|j| (delta(i, j) - sm[j]) * xdot[j]).sum())
            .collect();
        check_adds(&acc0, &term, "acc_log_softmax_dot", |acc| {
            r::acc_log_softmax_dot(acc, &xdot, &ls)
        });

        let term: Vec<f64> = sm.iter().map(|s| yb * s).collect();
        check_adds(&acc0, &term, "acc_logsumexp_bar", |acc| {
            r::acc_logsumexp_bar(acc, yb, &x)
        });

        let term: Vec<f64> = idx()
            .map(|i| ybar[i] * sdot[i] - 2.0 * ybar[i] * sig[i] * sdot[i])
            .collect();
        check_adds(&acc0, &term, "acc_sigmoid_bar_dot", |acc| {
            r::acc_sigmoid_bar_dot(acc, &ybar, &sig, &sdot)
        });

        let term: Vec<f64> = idx()
            .map(|i| ybar[i] * naive_sigmoid_prime(x[i]) * xdot[i])
            .collect();
        check_adds(&acc0, &term, "acc_softplus_bar_dot", |acc| {
            r::acc_softplus_bar_dot(acc, &ybar, &x, &xdot)
        });

        // d/ds of Σ_j ybar_j s_j (δ_ij - s_i) along sdot.
        let term: Vec<f64> = idx()
            .map(|i| {
                idx()
                    .map(|j| ybar[j] * (sdot[j] * (delta(i, j) - sm[i]) - sm[j] * sdot[i]))
                    .sum()
            })
            .collect();
        check_adds(&acc0, &term, "acc_softmax_bar_dot", |acc| {
            r::acc_softmax_bar_dot(acc, &ybar, &sm, &sdot)
        });

        let term: Vec<f64> = idx()
            .map(|i| idx().map(|j| -ybar[j] * sm[i] * sdot[i]).sum())
            .collect();
        check_adds(&acc0, &term, "acc_log_softmax_bar_dot", |acc| {
            r::acc_log_softmax_bar_dot(acc, &ybar, &ls, &sdot)
        });

        let sx: f64 = idx().map(|j| sm[j] * xdot[j]).sum();
        let term: Vec<f64> = idx().map(|i| yb * sm[i] * (xdot[i] - sx)).collect();
        check_adds(&acc0, &term, "acc_logsumexp_bar_dot", |acc| {
            r::acc_logsumexp_bar_dot(acc, yb, &x, &xdot)
        });
    }
}

/// The rank-2 accumulators, with `rows` rows of width `C` and an inner
/// size `K`.
fn rank2_accumulators_add<const C: usize, const K: usize>(rng: &mut Lcg, rows: usize) {
    let acc0: Vec<[f64; C]> = rng.rows(rows);
    let a: Vec<[f64; C]> = rng.rows(rows);
    let x: [f64; C] = rng.array();
    let u = rng.vec(rows);
    let c = rng.moderate();

    let term = vec![[c; C]; rows];
    check_adds2(&acc0, &term, "acc_fill2", |acc| r::acc_fill2(acc, c));

    let term: Vec<[f64; C]> = (0..rows)
        .map(|i| std::array::from_fn(|j| u[i] * x[j]))
        .collect();
    check_adds2(&acc0, &term, "acc_outer", |acc| r::acc_outer(acc, &u, &x));

    // acc_matvec: acc[i] += Σ_j a[i][j] x[j].
    let acc1 = rng.vec(rows);
    let term: Vec<f64> = (0..rows)
        .map(|i| (0..C).map(|j| a[i][j] * x[j]).sum())
        .collect();
    check_adds(&acc1, &term, "acc_matvec", |acc| r::acc_matvec(acc, &a, &x));

    // acc_vecmat: acc[j] += Σ_i u[i] a[i][j].
    let acc1 = rng.vec(C);
    let term: Vec<f64> = (0..C)
        .map(|j| (0..rows).map(|i| u[i] * a[i][j]).sum())
        .collect();
    check_adds(&acc1, &term, "acc_vecmat", |acc| r::acc_vecmat(acc, &u, &a));

    // acc_matmul: [rows × C] += [rows × K] [K × C].
    let p: Vec<[f64; K]> = rng.rows(rows);
    let q: Vec<[f64; C]> = rng.rows(K);
    let term: Vec<[f64; C]> = (0..rows)
        .map(|i| std::array::from_fn(|j| (0..K).map(|k| p[i][k] * q[k][j]).sum()))
        .collect();
    check_adds2(&acc0, &term, "acc_matmul", |acc| r::acc_matmul(acc, &p, &q));

    // acc_matmul_nt: [rows × K] += [rows × C] [K × C]ᵀ.
    let acc_k: Vec<[f64; K]> = rng.rows(rows);
    let term: Vec<[f64; K]> = (0..rows)
        .map(|i| std::array::from_fn(|j| (0..C).map(|k| a[i][k] * q[j][k]).sum()))
        .collect();
    check_adds2(&acc_k, &term, "acc_matmul_nt", |acc| {
        r::acc_matmul_nt(acc, &a, &q)
    });

    // acc_matmul_tn: [K × C] += [rows × K]ᵀ [rows × C].
    let acc_kc: Vec<[f64; C]> = rng.rows(K);
    let term: Vec<[f64; C]> = (0..K)
        .map(|i| std::array::from_fn(|j| (0..rows).map(|k| p[k][i] * a[k][j]).sum()))
        .collect();
    check_adds2(&acc_kc, &term, "acc_matmul_tn", |acc| {
        r::acc_matmul_tn(acc, &p, &a)
    });

    // acc_transpose: [K × C] += ([C × K])ᵀ.
    let t: Vec<[f64; K]> = rng.rows(C);
    let term: Vec<[f64; C]> = (0..K).map(|i| std::array::from_fn(|j| t[j][i])).collect();
    check_adds2(&acc_kc, &term, "acc_transpose", |acc| {
        r::acc_transpose(acc, &t)
    });

    // The elementwise ones.
    let ybar: Vec<[f64; C]> = rng.rows(rows);
    let xdot: Vec<[f64; C]> = rng.rows(rows);
    let sig: Vec<[f64; C]> = a.iter().map(|row| row.map(naive_sigmoid)).collect();
    let term: Vec<[f64; C]> = (0..rows)
        .map(|i| std::array::from_fn(|j| ybar[i][j] * naive_sigmoid_prime(a[i][j])))
        .collect();
    check_adds2(&acc0, &term, "acc_sigmoid_bar2", |acc| {
        r::acc_sigmoid_bar2(acc, &ybar, &sig)
    });
    let term: Vec<[f64; C]> = (0..rows)
        .map(|i| std::array::from_fn(|j| ybar[i][j] / (1.0 + (-a[i][j]).exp())))
        .collect();
    check_adds2(&acc0, &term, "acc_softplus_bar2", |acc| {
        r::acc_softplus_bar2(acc, &ybar, &a)
    });
    let term: Vec<[f64; C]> = (0..rows)
        .map(|i| {
            std::array::from_fn(|j| {
                ybar[i][j] * xdot[i][j] - 2.0 * ybar[i][j] * sig[i][j] * xdot[i][j]
            })
        })
        .collect();
    check_adds2(&acc0, &term, "acc_sigmoid_bar_dot2", |acc| {
        r::acc_sigmoid_bar_dot2(acc, &ybar, &sig, &xdot)
    });
    let term: Vec<[f64; C]> = (0..rows)
        .map(|i| std::array::from_fn(|j| ybar[i][j] * naive_sigmoid_prime(a[i][j]) * xdot[i][j]))
        .collect();
    check_adds2(&acc0, &term, "acc_softplus_bar_dot2", |acc| {
        r::acc_softplus_bar_dot2(acc, &ybar, &a, &xdot)
    });
}

fn products_from_zero<const K: usize, const C: usize>(rng: &mut Lcg, rows: usize) {
    let a: Vec<[f64; K]> = rng.rows(rows);
    let b: Vec<[f64; C]> = rng.rows(K);
    let x: [f64; K] = rng.array();
    let w = rng.vec(rows);
    let got = from_zero(rows, |acc| r::acc_matvec(acc, &a, &x));
    same_all(&got, &h::matvec(&a, &x));
    let got = from_zero(K, |acc| r::acc_vecmat(acc, &w, &a));
    same_all(&got, &h::vecmat(&w, &a));
    let got = from_zero2::<C>(rows, |acc| r::acc_matmul(acc, &a, &b));
    same_all(&got, h::matmul(&a, &b).as_flattened());
    let got = from_zero2::<K>(rows, |acc| r::acc_outer(acc, &w, &x));
    same_all(&got, h::outer(&w, &x).as_flattened());
}

#[test]
fn product_accumulators_from_zero_are_the_helpers_bit_for_bit() {
    let mut rng = Lcg::new(15);
    for rows in 0..=6 {
        products_from_zero::<0, 2>(&mut rng, rows);
        products_from_zero::<1, 1>(&mut rng, rows);
        products_from_zero::<3, 4>(&mut rng, rows);
        products_from_zero::<6, 5>(&mut rng, rows);
    }
}

#[test]
fn rank2_accumulators_add_their_term() {
    let mut rng = Lcg::new(4);
    for rows in 0..=6 {
        rank2_accumulators_add::<0, 2>(&mut rng, rows);
        rank2_accumulators_add::<1, 3>(&mut rng, rows);
        rank2_accumulators_add::<3, 0>(&mut rng, rows);
        rank2_accumulators_add::<3, 4>(&mut rng, rows);
        rank2_accumulators_add::<6, 1>(&mut rng, rows);
    }
}

// ---------------------------------------------------------------------
// Accumulators are the derivatives (finite differences)
// ---------------------------------------------------------------------

#[test]
fn reductions_vjps_match_finite_differences() {
    let mut rng = Lcg::new(5);
    for n in 1..=6 {
        let x = rng.vec(n);
        let y = rng.vec(n);
        let yb = rng.moderate();

        let got = from_zero(n, |acc| r::acc_fill(acc, yb));
        close_all(&got, &fd_grad(|x| yb * r::sum(&x), &x), TOL, "sum");

        let got = from_zero(n, |acc| r::acc_fill(acc, yb / n as f64));
        close_all(&got, &fd_grad(|x| yb * r::mean(&x), &x), TOL, "mean");

        let got = from_zero(n, |acc| r::acc_scaled(acc, yb, &y));
        close_all(&got, &fd_grad(|x| yb * r::dot(&x, &y), &x), TOL, "dot");

        let got = from_zero(n, |acc| r::acc_scaled(acc, yb / r::norm(&x), &x));
        close_all(&got, &fd_grad(|x| yb * r::norm(&x), &x), TOL, "norm");

        let lse = r::logsumexp(&x);
        let got = from_zero(n, |acc| r::acc_logsumexp_bar(acc, yb, &x));
        close_all(
            &got,
            &fd_grad(|x| yb * r::logsumexp(&x), &x),
            TOL,
            "logsumexp vjp",
        );

        let xdot = rng.vec(n);
        let got = r::logsumexp_dot(&x, lse, &xdot);
        let want = fd_jvp(|x| vec![r::logsumexp(&x)], &x, &xdot);
        close_all(&[got], &want, TOL, "logsumexp jvp");
    }
}

#[test]
fn logsumexp_rules_hold_at_large_inputs() {
    // exp would overflow without the shift; the rules use exp(x - lse).
    let x = [800.0, 799.0, 801.5];
    let ybar = 1.5;
    let lse = r::logsumexp(&x);
    let mut acc = [0.0; 3];
    r::acc_logsumexp_bar(&mut acc, ybar, &x);
    let shifted: Vec<f64> = x.iter().map(|v| v - 800.0).collect();
    let want = fd_grad(|x| ybar * r::logsumexp(&x), &shifted);
    close_all(&acc, &want, TOL, "logsumexp vjp at 800");
    let xdot = [1.0, -2.0, 0.5];
    let want = fd_jvp(|x| vec![r::logsumexp(&x)], &shifted, &xdot);
    close_all(
        &[r::logsumexp_dot(&x, lse, &xdot)],
        &want,
        TOL,
        "logsumexp jvp at 800",
    );
}

/// The logsumexp rules' softmax weights are `exp(x[i] - max) / sum`, bit
/// for bit, whether the exponentials are kept (up to 16 elements) or
/// computed again (beyond).
#[test]
fn logsumexp_weights_are_the_max_shifted_softmax_at_every_length() {
    let mut rng = Lcg::new(11);
    for n in [1, 2, 5, 15, 16, 17, 40] {
        let x: Vec<f64> = rng.vec(n).iter().map(|v| 30.0 * v).collect();
        let xdot = rng.vec(n);
        let ybar = rng.moderate();
        let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum = x.iter().fold(0.0, |s, v| s + (v - m).exp());
        let w: Vec<f64> = x.iter().map(|v| (v - m).exp() / sum).collect();
        let lse = r::logsumexp(&x);
        let bar = from_zero(n, |acc| r::acc_logsumexp_bar(acc, ybar, &x));
        let want: Vec<f64> = w.iter().map(|wi| 0.0 + ybar * wi).collect();
        same_all(&bar, &want);
        let d = w.iter().zip(&xdot).fold(0.0, |s, (wi, xd)| s + wi * xd);
        same(r::logsumexp_dot(&x, lse, &xdot), d);
        let bar_dot = from_zero(n, |acc| r::acc_logsumexp_bar_dot(acc, ybar, &x, &xdot));
        let want: Vec<f64> = (0..n).map(|i| 0.0 + ybar * w[i] * (xdot[i] - d)).collect();
        same_all(&bar_dot, &want);
    }
}

#[test]
fn softmax_family_rules_match_finite_differences() {
    let mut rng = Lcg::new(6);
    for n in 1..=6 {
        let x = rng.vec(n);
        let ybar = rng.vec(n);
        let xdot = rng.vec(n);
        let s = r::softmax(&x);
        let l = r::log_softmax(&x);
        let softmax = |x: &[f64]| r::softmax(&x);
        let log_softmax = |x: &[f64]| r::log_softmax(&x);

        let got = from_zero(n, |acc| r::acc_softmax_bar(acc, &ybar, &s));
        close_all(&got, &fd_vjp(softmax, &x, &ybar), TOL, "softmax vjp");
        let got = from_zero(n, |acc| r::acc_softmax_bar(acc, &xdot, &s));
        close_all(&got, &fd_jvp(softmax, &x, &xdot), TOL, "softmax jvp");

        let got = from_zero(n, |acc| r::acc_log_softmax_bar(acc, &ybar, &l));
        close_all(
            &got,
            &fd_vjp(log_softmax, &x, &ybar),
            TOL,
            "log_softmax vjp",
        );
        let got = from_zero(n, |acc| r::acc_log_softmax_dot(acc, &xdot, &l));
        close_all(
            &got,
            &fd_jvp(log_softmax, &x, &xdot),
            TOL,
            "log_softmax jvp",
        );
    }
}

#[test]
fn sigmoid_and_softplus_rules_match_finite_differences() {
    let mut rng = Lcg::new(7);
    for n in 1..=6 {
        let x = rng.vec(n);
        let ybar = rng.vec(n);
        let xdot = rng.vec(n);
        let s = r::sigmoid(&x);
        let sigmoid = |x: &[f64]| r::sigmoid(&x);
        let softplus = |x: &[f64]| r::softplus(&x);

        let got = from_zero(n, |acc| r::acc_sigmoid_bar(acc, &ybar, &s));
        close_all(&got, &fd_vjp(sigmoid, &x, &ybar), TOL, "sigmoid vjp");
        let got = from_zero(n, |acc| r::acc_sigmoid_bar(acc, &xdot, &s));
        close_all(&got, &fd_jvp(sigmoid, &x, &xdot), TOL, "sigmoid jvp");

        let got = from_zero(n, |acc| r::acc_softplus_bar(acc, &ybar, &x));
        close_all(&got, &fd_vjp(softplus, &x, &ybar), TOL, "softplus vjp");
        let got = from_zero(n, |acc| r::acc_softplus_bar(acc, &xdot, &x));
        close_all(&got, &fd_jvp(softplus, &x, &xdot), TOL, "softplus jvp");
    }
}

fn elementwise2_rules<const C: usize>(rng: &mut Lcg, rows: usize) {
    let a: Vec<[f64; C]> = rng.rows(rows);
    let ybar: Vec<[f64; C]> = rng.rows(rows);
    let s = r::sigmoid2(&a);
    let af = flat(&a);
    let yf = flat(&ybar);

    let want = fd_vjp(|a| flat(&r::sigmoid2(&unflat::<C>(a))), &af, &yf);
    let got = from_zero2::<C>(rows, |acc| r::acc_sigmoid_bar2(acc, &ybar, &s));
    close_all(&got, &want, TOL, "sigmoid2 vjp");

    let want = fd_vjp(|a| flat(&r::softplus2(&unflat::<C>(a))), &af, &yf);
    let got = from_zero2::<C>(rows, |acc| r::acc_softplus_bar2(acc, &ybar, &a));
    close_all(&got, &want, TOL, "softplus2 vjp");

    let yb = rng.moderate();
    let want = fd_grad(|a| yb * r::sum2(&unflat::<C>(a)), &af);
    let got = from_zero2::<C>(rows, |acc| r::acc_fill2(acc, yb));
    close_all(&got, &want, TOL, "sum2 vjp");
}

#[test]
fn matrix_elementwise_rules_match_finite_differences() {
    let mut rng = Lcg::new(8);
    for rows in 1..=4 {
        elementwise2_rules::<1>(&mut rng, rows);
        elementwise2_rules::<3>(&mut rng, rows);
    }
}

fn matvec_vecmat_outer_rules<const C: usize>(rng: &mut Lcg, rows: usize) {
    let a: Vec<[f64; C]> = rng.rows(rows);
    let adot: Vec<[f64; C]> = rng.rows(rows);
    let af = flat(&a);
    let x: [f64; C] = rng.array();
    let xdot: [f64; C] = rng.array();
    let w = rng.vec(rows);
    let wdot = rng.vec(rows);
    let ybar_rows = rng.vec(rows);
    let ybar_cols: [f64; C] = rng.array();

    // matvec(a, x): VJPs and JVPs.
    let mv_x = |x: &[f64]| r::matvec(&a, &x);
    let mv_a = |af: &[f64]| r::matvec(&unflat::<C>(af), &x);
    let got = from_zero(C, |acc| r::acc_vecmat(acc, &ybar_rows, &a));
    close_all(&got, &fd_vjp(mv_x, &x, &ybar_rows), TOL, "matvec vjp x");
    let got = from_zero2::<C>(rows, |acc| r::acc_outer(acc, &ybar_rows, &x));
    close_all(&got, &fd_vjp(mv_a, &af, &ybar_rows), TOL, "matvec vjp a");
    let got = from_zero(rows, |acc| r::acc_matvec(acc, &a, &xdot));
    close_all(&got, &fd_jvp(mv_x, &x, &xdot), TOL, "matvec jvp x");
    let got = from_zero(rows, |acc| r::acc_matvec(acc, &adot, &x));
    close_all(&got, &fd_jvp(mv_a, &af, &flat(&adot)), TOL, "matvec jvp a");

    // vecmat(w, a): VJPs and JVPs.
    let vm_w = |w: &[f64]| r::vecmat(&w, &a).to_vec();
    let vm_a = |af: &[f64]| r::vecmat(&w, &unflat::<C>(af)).to_vec();
    let got = from_zero(rows, |acc| r::acc_matvec(acc, &a, &ybar_cols));
    close_all(&got, &fd_vjp(vm_w, &w, &ybar_cols), TOL, "vecmat vjp x");
    let got = from_zero2::<C>(rows, |acc| r::acc_outer(acc, &w, &ybar_cols));
    close_all(&got, &fd_vjp(vm_a, &af, &ybar_cols), TOL, "vecmat vjp a");
    let got = from_zero(C, |acc| r::acc_vecmat(acc, &wdot, &a));
    close_all(&got, &fd_jvp(vm_w, &w, &wdot), TOL, "vecmat jvp x");
    let got = from_zero(C, |acc| r::acc_vecmat(acc, &w, &adot));
    close_all(&got, &fd_jvp(vm_a, &af, &flat(&adot)), TOL, "vecmat jvp a");

    // outer(w, x), shaped like a: VJPs and the JVP.
    let obar: Vec<[f64; C]> = rng.rows(rows);
    let of = flat(&obar);
    let outer_w = |w: &[f64]| outer_flat(w, &x);
    let outer_x = |x: &[f64]| outer_flat(&w, x);
    let got = from_zero(rows, |acc| r::acc_matvec(acc, &obar, &x));
    close_all(&got, &fd_vjp(outer_w, &w, &of), TOL, "outer vjp x");
    let got = from_zero(C, |acc| r::acc_vecmat(acc, &w, &obar));
    close_all(&got, &fd_vjp(outer_x, &x, &of), TOL, "outer vjp y");
    let got = from_zero2::<C>(rows, |acc| {
        r::acc_outer(acc, &wdot, &x);
        r::acc_outer(acc, &w, &xdot);
    });
    let both = |wx: &[f64]| outer_flat(&wx[..rows], &wx[rows..]);
    let wx: Vec<f64> = w.iter().chain(&x).copied().collect();
    let wxdot: Vec<f64> = wdot.iter().chain(&xdot).copied().collect();
    close_all(&got, &fd_jvp(both, &wx, &wxdot), TOL, "outer jvp");
}

#[test]
fn matvec_vecmat_outer_rules_match_finite_differences() {
    let mut rng = Lcg::new(9);
    for rows in 1..=5 {
        matvec_vecmat_outer_rules::<1>(&mut rng, rows);
        matvec_vecmat_outer_rules::<2>(&mut rng, rows);
        matvec_vecmat_outer_rules::<4>(&mut rng, rows);
    }
}

fn matmul_rules<const K: usize, const C: usize>(rng: &mut Lcg, rows: usize) {
    let a: Vec<[f64; K]> = rng.rows(rows);
    let b: Vec<[f64; C]> = rng.rows(K);
    let adot: Vec<[f64; K]> = rng.rows(rows);
    let bdot: Vec<[f64; C]> = rng.rows(K);
    let cbar: Vec<[f64; C]> = rng.rows(rows);
    let (af, bf, cf) = (flat(&a), flat(&b), flat(&cbar));
    let mm_a = |af: &[f64]| flat(&r::matmul(&unflat::<K>(af), &b));
    let mm_b = |bf: &[f64]| flat(&r::matmul(&a, &unflat::<C>(bf)));

    let got = from_zero2::<K>(rows, |acc| r::acc_matmul_nt(acc, &cbar, &b));
    close_all(&got, &fd_vjp(mm_a, &af, &cf), TOL, "matmul vjp a");
    let got = from_zero2::<C>(K, |acc| r::acc_matmul_tn(acc, &a, &cbar));
    close_all(&got, &fd_vjp(mm_b, &bf, &cf), TOL, "matmul vjp b");
    let got = from_zero2::<C>(rows, |acc| r::acc_matmul(acc, &adot, &b));
    close_all(&got, &fd_jvp(mm_a, &af, &flat(&adot)), TOL, "matmul jvp a");
    let got = from_zero2::<C>(rows, |acc| r::acc_matmul(acc, &a, &bdot));
    close_all(&got, &fd_jvp(mm_b, &bf, &flat(&bdot)), TOL, "matmul jvp b");
}

#[test]
fn matmul_rules_match_finite_differences() {
    let mut rng = Lcg::new(10);
    for rows in 1..=4 {
        matmul_rules::<1, 1>(&mut rng, rows);
        matmul_rules::<2, 3>(&mut rng, rows);
        matmul_rules::<3, 2>(&mut rng, rows);
        matmul_rules::<4, 4>(&mut rng, rows);
    }
}

fn transpose_rule<const C: usize, const R: usize>(rng: &mut Lcg) {
    let a: [[f64; C]; R] = std::array::from_fn(|_| rng.array());
    let ybar: [[f64; R]; C] = std::array::from_fn(|_| rng.array());
    let tr = |af: &[f64]| {
        let a: [[f64; C]; R] = unflat::<C>(af).try_into().expect("R rows");
        flat(&r::transpose(&a))
    };
    let want = fd_vjp(tr, &flat(&a), &flat(&ybar));
    let mut abar = [[0.0; C]; R];
    r::acc_transpose(&mut abar, &ybar);
    close_all(&flat(&abar), &want, TOL, "transpose vjp");
}

#[test]
fn transpose_rule_matches_finite_differences() {
    let mut rng = Lcg::new(11);
    transpose_rule::<1, 1>(&mut rng);
    transpose_rule::<2, 3>(&mut rng);
    transpose_rule::<4, 1>(&mut rng);
    transpose_rule::<3, 5>(&mut rng);
}

// ---------------------------------------------------------------------
// Second order: each `_dot` is the tangent of its accumulator
// ---------------------------------------------------------------------

#[test]
fn bar_dots_are_the_tangents_of_their_accumulators() {
    let mut rng = Lcg::new(12);
    for n in 1..=6 {
        let x = rng.vec(n);
        let ybar = rng.vec(n);
        let xdot = rng.vec(n);
        let sdot = rng.vec(n);
        let yb = rng.moderate();

        // In the nonlinear operand alone.
        let s = r::sigmoid(&x);
        let f = |s: &[f64]| from_zero(n, |acc| r::acc_sigmoid_bar(acc, &ybar, &s));
        let got = from_zero(n, |acc| r::acc_sigmoid_bar_dot(acc, &ybar, &s, &sdot));
        close_all(&got, &fd_jvp(f, &s, &sdot), TOL, "acc_sigmoid_bar_dot");

        let f = |x: &[f64]| from_zero(n, |acc| r::acc_softplus_bar(acc, &ybar, &x));
        let got = from_zero(n, |acc| r::acc_softplus_bar_dot(acc, &ybar, &x, &xdot));
        close_all(&got, &fd_jvp(f, &x, &xdot), TOL, "acc_softplus_bar_dot");

        let s = r::softmax(&x);
        let f = |s: &[f64]| from_zero(n, |acc| r::acc_softmax_bar(acc, &ybar, &s));
        let got = from_zero(n, |acc| r::acc_softmax_bar_dot(acc, &ybar, &s, &sdot));
        close_all(&got, &fd_jvp(f, &s, &sdot), TOL, "acc_softmax_bar_dot");

        let l = r::log_softmax(&x);
        let f = |l: &[f64]| from_zero(n, |acc| r::acc_log_softmax_bar(acc, &ybar, &l));
        let got = from_zero(n, |acc| r::acc_log_softmax_bar_dot(acc, &ybar, &l, &sdot));
        close_all(&got, &fd_jvp(f, &l, &sdot), TOL, "acc_log_softmax_bar_dot");

        // In x.
        let f = |x: &[f64]| from_zero(n, |acc| r::acc_logsumexp_bar(acc, yb, &x));
        let got = from_zero(n, |acc| r::acc_logsumexp_bar_dot(acc, yb, &x, &xdot));
        close_all(&got, &fd_jvp(f, &x, &xdot), TOL, "acc_logsumexp_bar_dot");
    }
}

#[test]
fn bar_dots_compose_into_hessian_vector_products() {
    // H v of x ↦ ybar·f(x), as generated code chains them: the tangent of
    // the VJP, with the nonlinear operand's tangent from the JVP rule.
    let mut rng = Lcg::new(13);
    for n in 1..=6 {
        let x = rng.vec(n);
        let ybar = rng.vec(n);
        let xdot = rng.vec(n);
        let yb = rng.moderate();

        let s = r::sigmoid(&x);
        let sdot = from_zero(n, |acc| r::acc_sigmoid_bar(acc, &xdot, &s));
        let got = from_zero(n, |acc| r::acc_sigmoid_bar_dot(acc, &ybar, &s, &sdot));
        let vjp = |x: &[f64]| from_zero(n, |acc| r::acc_sigmoid_bar(acc, &ybar, &r::sigmoid(&x)));
        close_all(&got, &fd_jvp(vjp, &x, &xdot), TOL, "sigmoid hvp");

        let s = r::softmax(&x);
        let sdot = from_zero(n, |acc| r::acc_softmax_bar(acc, &xdot, &s));
        let got = from_zero(n, |acc| r::acc_softmax_bar_dot(acc, &ybar, &s, &sdot));
        let vjp = |x: &[f64]| from_zero(n, |acc| r::acc_softmax_bar(acc, &ybar, &r::softmax(&x)));
        close_all(&got, &fd_jvp(vjp, &x, &xdot), TOL, "softmax hvp");

        let l = r::log_softmax(&x);
        let ldot = from_zero(n, |acc| r::acc_log_softmax_dot(acc, &xdot, &l));
        let got = from_zero(n, |acc| r::acc_log_softmax_bar_dot(acc, &ybar, &l, &ldot));
        let vjp = |x: &[f64]| {
            from_zero(n, |acc| {
                r::acc_log_softmax_bar(acc, &ybar, &r::log_softmax(&x))
            })
        };
        close_all(&got, &fd_jvp(vjp, &x, &xdot), TOL, "log_softmax hvp");

        let got = from_zero(n, |acc| r::acc_logsumexp_bar_dot(acc, yb, &x, &xdot));
        let vjp = |x: &[f64]| from_zero(n, |acc| r::acc_logsumexp_bar(acc, yb, &x));
        close_all(&got, &fd_jvp(vjp, &x, &xdot), TOL, "logsumexp hvp");
    }
}

fn bar_dots2<const C: usize>(rng: &mut Lcg, rows: usize) {
    let a: Vec<[f64; C]> = rng.rows(rows);
    let ybar: Vec<[f64; C]> = rng.rows(rows);
    let adot: Vec<[f64; C]> = rng.rows(rows);
    let s = r::sigmoid2(&a);
    let (sf, af, df) = (flat(&s), flat(&a), flat(&adot));

    let f = |sf: &[f64]| {
        from_zero2::<C>(rows, |acc| {
            r::acc_sigmoid_bar2(acc, &ybar, &unflat::<C>(sf))
        })
    };
    let got = from_zero2::<C>(rows, |acc| r::acc_sigmoid_bar_dot2(acc, &ybar, &s, &adot));
    close_all(&got, &fd_jvp(f, &sf, &df), TOL, "acc_sigmoid_bar_dot2");

    let f = |af: &[f64]| {
        from_zero2::<C>(rows, |acc| {
            r::acc_softplus_bar2(acc, &ybar, &unflat::<C>(af))
        })
    };
    let got = from_zero2::<C>(rows, |acc| r::acc_softplus_bar_dot2(acc, &ybar, &a, &adot));
    close_all(&got, &fd_jvp(f, &af, &df), TOL, "acc_softplus_bar_dot2");
}

#[test]
fn matrix_bar_dots_are_the_tangents_of_their_accumulators() {
    let mut rng = Lcg::new(14);
    for rows in 1..=4 {
        bar_dots2::<1>(&mut rng, rows);
        bar_dots2::<3>(&mut rng, rows);
    }
}

// ---------------------------------------------------------------------
// f32
// ---------------------------------------------------------------------

#[test]
fn f32_rules_match_finite_differences() {
    const H32: f32 = 1e-3;
    const TOL32: f32 = 1e-3;
    let fd = |f: &dyn Fn(&[f32]) -> Vec<f32>, x: &[f32], v: &[f32]| -> Vec<f32> {
        let p: Vec<f32> = x.iter().zip(v).map(|(a, b)| a + H32 * b).collect();
        let m: Vec<f32> = x.iter().zip(v).map(|(a, b)| a - H32 * b).collect();
        f(&p)
            .iter()
            .zip(f(&m))
            .map(|(p, m)| (p - m) / (2.0 * H32))
            .collect()
    };
    let close = |got: &[f32], want: &[f32], what: &str| {
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= TOL32 * 1.0_f32.max(w.abs()),
                "{what}: {g} vs {w}"
            );
        }
    };
    let x = [0.5_f32, -1.0, 1.5, 0.25];
    let xdot = [1.0_f32, -0.5, 0.25, 2.0];

    let s: [f32; 4] = r::softmax(&x);
    let mut got = [0.0_f32; 4];
    r::acc_softmax_bar(&mut got, &xdot, &s);
    close(&got, &fd(&|x| r::softmax(&x), &x, &xdot), "f32 softmax jvp");

    let s: [f32; 4] = r::sigmoid(&x);
    let mut got = [0.0_f32; 4];
    r::acc_sigmoid_bar(&mut got, &xdot, &s);
    close(&got, &fd(&|x| r::sigmoid(&x), &x, &xdot), "f32 sigmoid jvp");

    let a = [[1.0_f32, -2.0, 0.5, 0.25], [0.5, 1.5, -1.0, 2.0]];
    let mut got = vec![0.0_f32; 2];
    r::acc_matvec(&mut got, &a, &xdot);
    close(
        &got,
        &fd(&|x| r::matvec(&a, &x).to_vec(), &x, &xdot),
        "f32 matvec jvp",
    );

    let lse = r::logsumexp(&x);
    let got = r::logsumexp_dot(&x, lse, &xdot);
    close(
        &[got],
        &fd(&|x| vec![r::logsumexp(&x)], &x, &xdot),
        "f32 logsumexp jvp",
    );
}

// ---------------------------------------------------------------------
// Lengths are checked, and the message names the function
// ---------------------------------------------------------------------

#[test]
fn mismatched_lengths_panic_naming_the_function() {
    fn panics_naming(name: &str, f: impl FnOnce()) {
        let err = catch_unwind(AssertUnwindSafe(f)).expect_err(name);
        let msg = err
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        // `assert_eq!` (in the helpers) puts its own words first.
        let pre = format!("{name}:");
        assert!(
            msg.starts_with(&pre) || msg.contains(&format!("failed: {pre}")),
            "{name}: got {msg:?}"
        );
    }
    let v2 = [1.0_f64, 2.0];
    let v3 = [1.0_f64, 2.0, 3.0];
    let m23 = [[1.0_f64; 3]; 2];
    let m32 = [[1.0_f64; 2]; 3];
    let m22 = [[1.0_f64; 2]; 2];
    let m33 = [[1.0_f64; 3]; 3];
    let mut a2 = [0.0_f64; 2];
    let mut a3 = [0.0_f64; 3];
    let mut acc23 = [[0.0_f64; 3]; 2];
    let mut acc22 = [[0.0_f64; 2]; 2];

    panics_naming("dot", || {
        r::dot(&v2, &v3);
    });
    panics_naming("matvec", || {
        r::matvec(&m23, &v2);
    });
    panics_naming("vecmat", || {
        r::vecmat(&v3, &m23);
    });
    panics_naming("matmul", || {
        r::matmul(&m23, &m23);
    });
    panics_naming("logsumexp_dot", || {
        r::logsumexp_dot(&v2, 1.0, &v3);
    });
    panics_naming("acc_scaled", || r::acc_scaled(&mut a2, 1.0, &v3));
    panics_naming("acc_matvec", || r::acc_matvec(&mut a3, &m23, &v3));
    panics_naming("acc_matvec", || r::acc_matvec(&mut a2, &m23, &v2));
    panics_naming("acc_vecmat", || r::acc_vecmat(&mut a2, &v2, &m23));
    panics_naming("acc_vecmat", || r::acc_vecmat(&mut a3, &v3, &m23));
    panics_naming("acc_outer", || r::acc_outer(&mut acc23, &v3, &v3));
    panics_naming("acc_outer", || r::acc_outer(&mut acc23, &v2, &v2));
    panics_naming("acc_matmul", || r::acc_matmul(&mut acc23, &m32, &m23));
    panics_naming("acc_matmul", || r::acc_matmul(&mut acc23, &m22, &m33));
    panics_naming("acc_matmul_nt", || r::acc_matmul_nt(&mut acc23, &m32, &m32));
    panics_naming("acc_matmul_nt", || r::acc_matmul_nt(&mut acc23, &m22, &m22));
    panics_naming("acc_matmul_tn", || r::acc_matmul_tn(&mut acc23, &m32, &m23));
    panics_naming("acc_matmul_tn", || r::acc_matmul_tn(&mut acc22, &m23, &m22));
    panics_naming("acc_transpose", || r::acc_transpose(&mut acc23, &m23));
    panics_naming("acc_transpose", || r::acc_transpose(&mut acc22, &m32));
    panics_naming("acc_sigmoid_bar", || r::acc_sigmoid_bar(&mut a2, &v3, &v2));
    panics_naming("acc_sigmoid_bar", || r::acc_sigmoid_bar(&mut a2, &v2, &v3));
    panics_naming("acc_sigmoid_bar2", || {
        r::acc_sigmoid_bar2(&mut acc23, &m23, &[[0.5; 3]])
    });
    panics_naming("acc_softplus_bar", || {
        r::acc_softplus_bar(&mut a3, &v2, &v3)
    });
    panics_naming("acc_softplus_bar2", || {
        r::acc_softplus_bar2(&mut acc23, &[[0.5; 3]], &m23)
    });
    panics_naming("acc_softmax_bar", || r::acc_softmax_bar(&mut a2, &v2, &v3));
    panics_naming("acc_log_softmax_bar", || {
        r::acc_log_softmax_bar(&mut a2, &v3, &v2)
    });
    panics_naming("acc_log_softmax_dot", || {
        r::acc_log_softmax_dot(&mut a2, &v2, &v3)
    });
    panics_naming("acc_logsumexp_bar", || {
        r::acc_logsumexp_bar(&mut a2, 1.0, &v3)
    });
    panics_naming("acc_sigmoid_bar_dot", || {
        r::acc_sigmoid_bar_dot(&mut a2, &v2, &v2, &v3)
    });
    panics_naming("acc_sigmoid_bar_dot2", || {
        r::acc_sigmoid_bar_dot2(&mut acc23, &m23, &m23, &[[0.5; 3]])
    });
    panics_naming("acc_softplus_bar_dot", || {
        r::acc_softplus_bar_dot(&mut a2, &v2, &v3, &v2)
    });
    panics_naming("acc_softplus_bar_dot2", || {
        r::acc_softplus_bar_dot2(&mut acc23, &m23, &[[0.5; 3]], &m23)
    });
    panics_naming("acc_softmax_bar_dot", || {
        r::acc_softmax_bar_dot(&mut a2, &v2, &v3, &v2)
    });
    panics_naming("acc_log_softmax_bar_dot", || {
        r::acc_log_softmax_bar_dot(&mut a2, &v2, &v2, &v3)
    });
    panics_naming("acc_logsumexp_bar_dot", || {
        r::acc_logsumexp_bar_dot(&mut a2, 1.0, &v2, &v3)
    });
    // A zero-width matrix still has its rows counted.
    let mut z2 = [[0.0_f64; 0]; 2];
    panics_naming("acc_sigmoid_bar2", || {
        r::acc_sigmoid_bar2(&mut z2, &[[0.0; 0]; 3], &[[0.0; 0]; 2])
    });
}

// ---------------------------------------------------------------------
// Call forms: `f(&x)` for every form of `x` generated code may hold
// ---------------------------------------------------------------------

const FIXED: &str = "fixed";
const VEC: &str = "Vec";

/// The kind of an array result.
trait Kind {
    const KIND: &'static str;
}

impl<const N: usize> Kind for [f64; N] {
    const KIND: &'static str = FIXED;
}

impl<const C: usize, const R: usize> Kind for [[f64; C]; R] {
    const KIND: &'static str = FIXED;
}

impl Kind for Vec<f64> {
    const KIND: &'static str = VEC;
}

impl<const C: usize> Kind for Vec<[f64; C]> {
    const KIND: &'static str = VEC;
}

fn kind<K: Kind>(_: &K) -> &'static str {
    K::KIND
}

/// The elements of any vector, for comparisons.
fn el<V: AsRef<[f64]> + ?Sized>(v: &V) -> &[f64] {
    v.as_ref()
}

/// The elements of any matrix, flattened, for comparisons.
fn el2<const C: usize, M: AsRef<[[f64; C]]> + ?Sized>(m: &M) -> &[f64] {
    m.as_ref().as_flattened()
}

/// Runs `$body` once per vector form, with every `$x` bound to that form
/// of the fixed array `$v` and `$kind` to the kind of result a shape source
/// of that form gives: `[f64; N]`, `&[f64; N]`, `&[f64]`, `Vec<f64>`,
/// `&Vec<f64>`.
macro_rules! vec_forms {
    ($kind:ident; $($x:ident = $v:ident),+; $body:block) => {{
        { let $kind = FIXED; let _ = $kind; $(let $x = $v;)+ $body }
        { let $kind = FIXED; let _ = $kind; $(let $x = &$v;)+ $body }
        { let $kind = VEC; let _ = $kind; $(let $x: &[f64] = &$v[..];)+ $body }
        { let $kind = VEC; let _ = $kind; $(let $x: Vec<f64> = $v.to_vec();)+ $body }
        { let $kind = VEC; let _ = $kind; $(let $x: &Vec<f64> = &$v.to_vec();)+ $body }
    }};
}

/// [`vec_forms`] for matrices: `[[f64; C]; R]`, `&[[f64; C]; R]`,
/// `&[[f64; C]]`, `Vec<[f64; C]>`, `&Vec<[f64; C]>`.
macro_rules! mat_forms {
    ($kind:ident; $($a:ident = $v:ident),+; $body:block) => {{
        { let $kind = FIXED; let _ = $kind; $(let $a = $v;)+ $body }
        { let $kind = FIXED; let _ = $kind; $(let $a = &$v;)+ $body }
        { let $kind = VEC; let _ = $kind; $(let $a = &$v[..];)+ $body }
        { let $kind = VEC; let _ = $kind; $(let $a = $v.to_vec();)+ $body }
        { let $kind = VEC; let _ = $kind; $(let $a = &$v.to_vec();)+ $body }
    }};
}

/// Runs `$body` once per accumulator form, `$acc` a fresh mutable copy of
/// the fixed array `$v`: `[f64; N]`, `Vec<f64>`, `&mut [f64]` (rank 2
/// alike).
macro_rules! acc_forms {
    ($acc:ident = $v:ident; $body:block) => {{
        {
            #[allow(unused_mut)]
            let mut $acc = $v;
            $body
        }
        {
            #[allow(unused_mut)]
            let mut $acc = $v.to_vec();
            $body
        }
        {
            let mut buf = $v;
            #[allow(unused_mut)]
            let mut $acc = &mut buf[..];
            $body
        }
    }};
}

#[test]
fn call_forms_of_vector_values() {
    let x0 = [0.5, -1.0, 2.0, 0.25];
    let y0 = [1.5, 0.5, -0.5, 2.0];
    vec_forms!(k; x = x0, y = y0; {
        same(r::sum(&x), h::sum(&x0));
        same(r::mean(&x), h::mean(&x0));
        same(r::dot(&x, &y), h::dot(&x0, &y0));
        same(r::norm(&x), h::norm(&x0));
        same(r::logsumexp(&x), h::logsumexp(&x0));
        let lse = h::logsumexp(&x0);
        same(r::logsumexp_dot(&x, lse, &y), r::logsumexp_dot(&x0, lse, &y0));
        let out = r::softmax(&x);
        assert_eq!(kind(&out), k);
        same_all(el(&out), &h::softmax(&x0));
        let out = r::log_softmax(&x);
        assert_eq!(kind(&out), k);
        same_all(el(&out), &h::log_softmax(&x0));
        let out = r::sigmoid(&x);
        assert_eq!(kind(&out), k);
        same_all(el(&out), &h::sigmoid(x0));
        let out = r::softplus(&x);
        assert_eq!(kind(&out), k);
        same_all(el(&out), &h::softplus(x0));
    });
    // Arguments of different forms in one call.
    vec_forms!(_k1; x = x0; {
        vec_forms!(_k2; y = y0; {
            same(r::dot(&x, &y), h::dot(&x0, &y0));
            let lse = h::logsumexp(&x0);
            same(r::logsumexp_dot(&x, lse, &y), r::logsumexp_dot(&x0, lse, &y0));
        });
    });
}

#[test]
fn call_forms_of_outer() {
    let x0 = [2.0, -1.0];
    let y0 = [1.0, 0.5, 3.0];
    let want = h::outer(&x0, &y0);
    vec_forms!(k; x = x0; {
        // `y` a fixed array, or a reference to one (`&&[T; C]` coerces).
        let o = r::outer(&x, &y0);
        assert_eq!(kind(&o), k);
        same_all(el2(&o), want.as_flattened());
        let y_ref = &y0;
        same_all(el2(&r::outer(&x, &y_ref)), want.as_flattened());
    });
}

#[test]
fn call_forms_of_matrix_values() {
    let a0 = [[1.0, 2.0, -3.0], [4.0, -5.0, 6.0]];
    let x0 = [0.5, -1.0, 2.0];
    let w0 = [2.0, -0.5];
    let b0 = [[1.0, -1.0], [0.5, 2.0], [-2.0, 0.25]];
    mat_forms!(k; a = a0; {
        same(r::sum2(&a), h::sum(&a0));
        let s = r::sigmoid2(&a);
        assert_eq!(kind(&s), k);
        same_all(el2(&s), h::sigmoid(a0).as_flattened());
        let p = r::softplus2(&a);
        assert_eq!(kind(&p), k);
        same_all(el2(&p), h::softplus(a0).as_flattened());
        vec_forms!(_k2; x = x0, w = w0; {
            let y = r::matvec(&a, &x);
            assert_eq!(kind(&y), k);
            same_all(el(&y), &h::matvec(&a0, &x0));
            let v: [f64; 3] = r::vecmat(&w, &a);
            same_all(&v, &h::vecmat(&w0, &a0));
        });
        mat_forms!(_k2; b = b0; {
            let c = r::matmul(&a, &b);
            assert_eq!(kind(&c), k);
            same_all(el2(&c), h::matmul(&a0, &b0).as_flattened());
        });
    });
    // transpose: fixed matrices only, by value or by reference.
    let t: [[f64; 2]; 3] = r::transpose(&a0);
    same_all(t.as_flattened(), h::transpose(&a0).as_flattened());
    let a_ref = &a0;
    let t: [[f64; 2]; 3] = r::transpose(&a_ref);
    same_all(t.as_flattened(), h::transpose(&a0).as_flattened());
}

#[test]
fn call_forms_of_rank1_accumulators() {
    let acc0 = [0.25, -0.5, 1.0];
    let x0 = [0.5, -1.0, 2.0];
    let y0 = [1.5, 0.5, -0.5];
    let z0 = [0.3, 0.2, -0.1];
    let s0 = h::softmax(&x0);
    let l0 = h::log_softmax(&x0);
    // The results from fixed arrays, to compare every form with.
    let want = |f: &dyn Fn(&mut [f64; 3])| {
        let mut acc = acc0;
        f(&mut acc);
        acc
    };
    let fill = want(&|acc| r::acc_fill(acc, 1.5));
    let scaled = want(&|acc| r::acc_scaled(acc, 1.5, &x0));
    let sig = want(&|acc| r::acc_sigmoid_bar(acc, &y0, &z0));
    let sp = want(&|acc| r::acc_softplus_bar(acc, &y0, &x0));
    let sm = want(&|acc| r::acc_softmax_bar(acc, &y0, &s0));
    let lsm = want(&|acc| r::acc_log_softmax_bar(acc, &y0, &l0));
    let lsm_dot = want(&|acc| r::acc_log_softmax_dot(acc, &y0, &l0));
    let lse_bar = want(&|acc| r::acc_logsumexp_bar(acc, 1.5, &x0));
    let sig_dot = want(&|acc| r::acc_sigmoid_bar_dot(acc, &y0, &z0, &x0));
    let sp_dot = want(&|acc| r::acc_softplus_bar_dot(acc, &y0, &x0, &z0));
    let sm_dot = want(&|acc| r::acc_softmax_bar_dot(acc, &y0, &s0, &z0));
    let lsm_bar_dot = want(&|acc| r::acc_log_softmax_bar_dot(acc, &y0, &l0, &z0));
    let lse_dot = want(&|acc| r::acc_logsumexp_bar_dot(acc, 1.5, &x0, &z0));

    vec_forms!(_k; x = x0, y = y0, z = z0, s = s0, l = l0; {
        acc_forms!(acc = acc0; {
            r::acc_fill(&mut acc, 1.5);
            same_all(el(&acc), &fill);
        });
        acc_forms!(acc = acc0; {
            r::acc_scaled(&mut acc, 1.5, &x);
            same_all(el(&acc), &scaled);
        });
        acc_forms!(acc = acc0; {
            r::acc_sigmoid_bar(&mut acc, &y, &z);
            same_all(el(&acc), &sig);
        });
        acc_forms!(acc = acc0; {
            r::acc_softplus_bar(&mut acc, &y, &x);
            same_all(el(&acc), &sp);
        });
        acc_forms!(acc = acc0; {
            r::acc_softmax_bar(&mut acc, &y, &s);
            same_all(el(&acc), &sm);
        });
        acc_forms!(acc = acc0; {
            r::acc_log_softmax_bar(&mut acc, &y, &l);
            same_all(el(&acc), &lsm);
        });
        acc_forms!(acc = acc0; {
            r::acc_log_softmax_dot(&mut acc, &y, &l);
            same_all(el(&acc), &lsm_dot);
        });
        acc_forms!(acc = acc0; {
            r::acc_logsumexp_bar(&mut acc, 1.5, &x);
            same_all(el(&acc), &lse_bar);
        });
        acc_forms!(acc = acc0; {
            r::acc_sigmoid_bar_dot(&mut acc, &y, &z, &x);
            same_all(el(&acc), &sig_dot);
        });
        acc_forms!(acc = acc0; {
            r::acc_softplus_bar_dot(&mut acc, &y, &x, &z);
            same_all(el(&acc), &sp_dot);
        });
        acc_forms!(acc = acc0; {
            r::acc_softmax_bar_dot(&mut acc, &y, &s, &z);
            same_all(el(&acc), &sm_dot);
        });
        acc_forms!(acc = acc0; {
            r::acc_log_softmax_bar_dot(&mut acc, &y, &l, &z);
            same_all(el(&acc), &lsm_bar_dot);
        });
        acc_forms!(acc = acc0; {
            r::acc_logsumexp_bar_dot(&mut acc, 1.5, &x, &z);
            same_all(el(&acc), &lse_dot);
        });
    });
}

#[test]
fn call_forms_of_matrix_accumulators() {
    let a0 = [[1.0, 2.0, -3.0], [4.0, -5.0, 6.0]];
    let b0 = [[0.5, -1.0, 0.25], [2.0, 1.0, -0.5]];
    let c0 = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]];
    let x0 = [0.5, -1.0, 2.0];
    let w0 = [2.0, -0.5];
    let r0 = [0.25, -0.5];
    let q0 = [1.0, 0.5, -0.25];
    let acc23 = [[0.25, -0.5, 1.0], [1.5, 0.0, -2.0]];
    let acc22 = [[0.25, -0.5], [1.0, 1.5]];
    let acc32 = [[0.25, -0.5], [1.0, 1.5], [2.0, -1.0]];
    let acc33 = [[0.25, -0.5, 1.0], [1.0, 1.5, 0.0], [2.0, -1.0, 0.5]];

    let fixed23 = |f: &dyn Fn(&mut [[f64; 3]; 2])| {
        let mut acc = acc23;
        f(&mut acc);
        acc
    };
    let fill = fixed23(&|acc| r::acc_fill2(acc, 1.5));
    let outer = fixed23(&|acc| r::acc_outer(acc, &w0, &x0));
    let matmul = fixed23(&|acc| r::acc_matmul(acc, &acc22, &b0));
    let sig = fixed23(&|acc| r::acc_sigmoid_bar2(acc, &a0, &c0));
    let sp = fixed23(&|acc| r::acc_softplus_bar2(acc, &a0, &b0));
    let sig_dot = fixed23(&|acc| r::acc_sigmoid_bar_dot2(acc, &a0, &c0, &b0));
    let sp_dot = fixed23(&|acc| r::acc_softplus_bar_dot2(acc, &a0, &b0, &c0));
    let mut nt = acc22;
    r::acc_matmul_nt(&mut nt, &a0, &b0);
    let mut tn = acc33;
    r::acc_matmul_tn(&mut tn, &a0, &b0);
    let mut tr = acc32;
    r::acc_transpose(&mut tr, &a0);
    let mut mv = r0;
    r::acc_matvec(&mut mv, &a0, &x0);
    let mut vm = q0;
    r::acc_vecmat(&mut vm, &w0, &a0);

    mat_forms!(_k; a = a0, b = b0, c = c0, m = acc22; {
        acc_forms!(acc = acc23; {
            r::acc_fill2(&mut acc, 1.5);
            same_all(el2(&acc), fill.as_flattened());
        });
        acc_forms!(acc = acc23; {
            r::acc_matmul(&mut acc, &m, &b);
            same_all(el2(&acc), matmul.as_flattened());
        });
        acc_forms!(acc = acc22; {
            r::acc_matmul_nt(&mut acc, &a, &b);
            same_all(el2(&acc), nt.as_flattened());
        });
        acc_forms!(acc = acc33; {
            r::acc_matmul_tn(&mut acc, &a, &b);
            same_all(el2(&acc), tn.as_flattened());
        });
        acc_forms!(acc = acc32; {
            r::acc_transpose(&mut acc, &a);
            same_all(el2(&acc), tr.as_flattened());
        });
        acc_forms!(acc = acc23; {
            r::acc_sigmoid_bar2(&mut acc, &a, &c);
            same_all(el2(&acc), sig.as_flattened());
        });
        acc_forms!(acc = acc23; {
            r::acc_softplus_bar2(&mut acc, &a, &b);
            same_all(el2(&acc), sp.as_flattened());
        });
        acc_forms!(acc = acc23; {
            r::acc_sigmoid_bar_dot2(&mut acc, &a, &c, &b);
            same_all(el2(&acc), sig_dot.as_flattened());
        });
        acc_forms!(acc = acc23; {
            r::acc_softplus_bar_dot2(&mut acc, &a, &b, &c);
            same_all(el2(&acc), sp_dot.as_flattened());
        });
        vec_forms!(_k2; x = x0, w = w0; {
            acc_forms!(acc = acc23; {
                r::acc_outer(&mut acc, &w, &x);
                same_all(el2(&acc), outer.as_flattened());
            });
            acc_forms!(acc = r0; {
                r::acc_matvec(&mut acc, &a, &x);
                same_all(el(&acc), &mv);
            });
            acc_forms!(acc = q0; {
                r::acc_vecmat(&mut acc, &w, &a);
                same_all(el(&acc), &vm);
            });
        });
    });
}

#[test]
fn accumulators_accept_borrowed_buffers() {
    // `&mut acc` with `acc: &mut [T]` (a borrowed buffer) works too; and a
    // rank-2 accumulator may be a borrowed slice of rows.
    let mut buf = [1.0_f64, 2.0];
    let acc: &mut [f64] = &mut buf;
    r::acc_fill(acc, 1.0);
    assert_eq!(buf, [2.0, 3.0]);
    let mut rows = [[1.0_f64, 2.0]];
    let acc: &mut [[f64; 2]] = &mut rows;
    r::acc_fill2(acc, 1.0);
    assert_eq!(rows, [[2.0, 3.0]]);
}
