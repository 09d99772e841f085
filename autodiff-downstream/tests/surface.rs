//! The companions through the renamed facade, against central differences.
#![allow(clippy::needless_range_loop)]

use autodiff_downstream::*;

fn fd(f: impl Fn(&[f64]) -> f64, x: &[f64], k: usize) -> f64 {
    let h = 1e-6 * x[k].abs().max(1.0);
    let (mut up, mut down) = (x.to_vec(), x.to_vec());
    up[k] += h;
    down[k] -= h;
    (f(&up) - f(&down)) / (2.0 * h)
}

#[test]
fn a_struct_gradient_through_the_renamed_facade() {
    let xs = [0.0, 1.0, 2.0, 3.0];
    let ys = [1.1, 2.9, 5.2, 7.1];
    let line = Line {
        slope: 1.5,
        intercept: 0.5,
        w: [[0.3, -0.2], [1.0, 0.4]],
    };
    let g = loss_grad(&line, &xs, &ys);
    let flat = |l: &Line| {
        vec![
            l.slope,
            l.intercept,
            l.w[0][0],
            l.w[0][1],
            l.w[1][0],
            l.w[1][1],
        ]
    };
    let unflat = |z: &[f64]| Line {
        slope: z[0],
        intercept: z[1],
        w: [[z[2], z[3]], [z[4], z[5]]],
    };
    let z = flat(&line);
    let got = flat(&g);
    for k in 0..z.len() {
        let want = fd(|z| loss(&unflat(z), &xs, &ys), &z, k);
        assert!((got[k] - want).abs() < 1e-6, "{k}: {} vs {want}", got[k]);
    }
}

#[test]
fn generic_hessian_and_check_grad() {
    let x = [-1.2, 1.0, 0.5];
    let g = rosenbrock_grad(&x);
    for k in 0..3 {
        let want = fd(rosenbrock, &x, k);
        assert!((g[k] - want).abs() < 1e-4 * (1.0 + want.abs()), "{k}");
    }
    let h = rosenbrock_hessian(&x);
    for i in 0..3 {
        for k in 0..3 {
            let want = fd(|z| rosenbrock_grad(z)[i], &x, k);
            assert!(
                (h[(i, k)] - want).abs() < 1e-4 * (1.0 + want.abs()),
                "({i}, {k})"
            );
        }
    }
    // f32, with the library's own checker.
    let x32 = [-1.2_f32, 1.0, 0.5];
    let check = ad::check_grad(
        |x: &[f32]| rosenbrock(x),
        |x: &[f32]| rosenbrock_grad(x),
        &x32,
    );
    assert!(check.passed_default(), "{check}");
}

#[test]
fn an_out_parameter_jacobian() {
    let (r, t) = (2.0, 0.3);
    let mut out = [0.0; 2];
    // One Jacobian per parameter: ∂out/∂r and ∂out/∂θ.
    let (jr, jt) = polar_jacobian(r, t, &mut out);
    assert_eq!(out, [r * t.cos(), r * t.sin()]);
    assert_eq!(jr, [t.cos(), t.sin()]);
    assert_eq!(jt, [-r * t.sin(), r * t.cos()]);
}
