//! Struct parameters (SPEC §4): `#[derive(autodiff::Tangent)]`, a struct
//! named in `wrt` differentiated field by field, its gradient and tangent
//! the struct's own type, nested structs, array and `Vec` fields, and
//! `#[tangent(skip)]` data; against num-dual (each function written again
//! over dual numbers).
#![deny(warnings)]
#![allow(clippy::needless_range_loop)]

use crate::common;

use autodiff::{differentiate, Tangent};
use common::{close, dual_grad, Dual64, DualNum};

#[derive(Clone, Debug, PartialEq, Tangent)]
struct Layer {
    w: Vec<f64>,
    b: f64,
}

#[derive(Clone, Debug, PartialEq, Tangent)]
struct Model {
    hidden: Layer,
    scale: [f64; 2],
    gain: f64,
    /// Data: not differentiated, `Default` in a gradient.
    #[tangent(skip)]
    offsets: Vec<f64>,
    #[tangent(skip)]
    steps: usize,
}

/// A struct by reference, with a nested struct, an array field, a skipped
/// vector read as floats and a skipped integer read as a loop bound.
#[differentiate(wrt(m, x))]
fn predict(m: &Model, x: &[f64]) -> f64 {
    let mut z = m.hidden.b;
    for i in 0..x.len() {
        z += m.hidden.w[i] * x[i] + m.offsets[i];
    }
    let mut y = z.tanh() * m.scale[0] + m.scale[1];
    for _ in 0..m.steps {
        y *= m.gain;
    }
    y
}

/// The same over dual numbers, its parameters flattened as
/// [w0, w1, w2, b, scale0, scale1, gain, x0, x1, x2].
fn predict_dual<D: DualNum<f64> + Copy>(z: &[D], offsets: &[f64], steps: usize) -> D {
    let mut s = z[3];
    for i in 0..3 {
        s += z[i] * z[7 + i] + D::from(offsets[i]);
    }
    let mut y = s.tanh() * z[4] + z[5];
    for _ in 0..steps {
        y *= z[6];
    }
    y
}

fn model() -> Model {
    Model {
        hidden: Layer {
            w: vec![0.3, -0.7, 1.1],
            b: 0.05,
        },
        scale: [1.5, -0.25],
        gain: 0.9,
        offsets: vec![0.1, 0.2, -0.3],
        steps: 2,
    }
}

#[test]
fn a_struct_gradient_is_the_struct() {
    let (m, x) = (model(), [0.4, -1.2, 0.8]);
    let z = [
        m.hidden.w[0],
        m.hidden.w[1],
        m.hidden.w[2],
        m.hidden.b,
        m.scale[0],
        m.scale[1],
        m.gain,
        x[0],
        x[1],
        x[2],
    ];
    let want = dual_grad(|z| predict_dual(z, &m.offsets, m.steps), &z);
    let (g, gx): (Model, Vec<f64>) = predict_grad(&m, &x);
    let got = [
        g.hidden.w[0],
        g.hidden.w[1],
        g.hidden.w[2],
        g.hidden.b,
        g.scale[0],
        g.scale[1],
        g.gain,
        gx[0],
        gx[1],
        gx[2],
    ];
    for k in 0..10 {
        assert!(
            close(got[k], want[k], 1e-13),
            "{k}: {} vs {}",
            got[k],
            want[k]
        );
    }
    // Skipped fields hold `Default::default()`.
    assert!(g.offsets.is_empty());
    assert_eq!(g.steps, 0);
    // value_and_grad and vjp agree; jvp along a struct tangent.
    let (v, (g2, _)) = predict_value_and_grad(&m, &x);
    assert_eq!(v, predict(&m, &x));
    assert_eq!(g2, g);
    let mut dm = model().zero_tangent();
    dm.hidden.w = vec![1.0, 0.0, -1.0];
    dm.gain = 2.0;
    // Tangents of skipped fields are ignored, whatever they hold.
    dm.offsets = vec![5.0, 5.0, 5.0];
    dm.steps = 7;
    let dx = [0.0, 0.5, 0.0];
    let (v3, t) = predict_jvp(&m, &x, &dm, &dx);
    assert_eq!(v3, v);
    let dir = [1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.5, 0.0];
    let want_t: f64 = (0..10).map(|k| want[k] * dir[k]).sum();
    assert!(close(t, want_t, 1e-13), "{t} vs {want_t}");
    let (_, (gv, _)) = predict_vjp(&m, &x, 2.0);
    assert!(close(gv.gain, 2.0 * g.gain, 1e-15));
}

/// A struct by value, generic over the float type.
#[derive(Clone, Copy, Tangent)]
struct Point<T> {
    x: T,
    y: T,
}

#[differentiate(wrt(p))]
fn radius<T: autodiff::Float>(p: Point<T>) -> T {
    (p.x * p.x + p.y * p.y).sqrt()
}

#[test]
fn a_generic_struct_by_value() {
    let g = radius_grad(Point { x: 3.0_f64, y: 4.0 });
    assert!(close(g.x, 0.6, 1e-15) && close(g.y, 0.8, 1e-15));
    let g = radius_grad(Point { x: 3.0_f32, y: 4.0 });
    assert!((g.x - 0.6).abs() < 1e-6 && (g.y - 0.8).abs() < 1e-6);
    let _ = Dual64::from(0.0);
}

/// `&self` methods with `wrt(self)` (SPEC §4).
#[derive(Clone, Tangent)]
struct Quadratic {
    a: [f64; 2],
    c: f64,
    #[tangent(skip)]
    terms: usize,
}

impl Quadratic {
    #[differentiate(wrt(self, x))]
    fn eval(&self, x: f64) -> f64 {
        let mut s = self.c;
        for k in 0..self.terms {
            s += self.a[k] * x.powi(k as i32 + 1);
        }
        s
    }
}

#[test]
fn a_method_differentiated_in_self() {
    let q = Quadratic {
        a: [2.0, -0.5],
        c: 1.0,
        terms: 2,
    };
    let x = 1.5;
    let (g, gx): (Quadratic, f64) = q.eval_grad(x);
    assert!(close(g.a[0], x, 1e-15) && close(g.a[1], x * x, 1e-15));
    assert_eq!((g.c, g.terms), (1.0, 0));
    assert!(close(gx, 2.0 - 0.5 * 2.0 * x, 1e-15));
    let (v, t) = q.eval_jvp(x, &q.zero_tangent(), 1.0);
    assert_eq!(v, q.eval(x));
    assert!(close(t, gx, 1e-15));
}

/// A struct that is not `Copy`, passed by value (the companions take it
/// by value too, and read its fields beside it).
#[differentiate(wrt(layer, x))]
fn owned_layer(layer: Layer, x: f64) -> f64 {
    layer.w.iter().map(|w| w * x).sum::<f64>() + layer.b * x * x
}

#[test]
fn a_struct_passed_by_value() {
    let layer = Layer {
        w: vec![0.5, -2.0, 1.25],
        b: 0.75,
    };
    let x = 1.5;
    let (g, gx): (Layer, f64) = owned_layer_grad(layer.clone(), x);
    assert_eq!(g.w, vec![x; 3]);
    assert!(close(g.b, x * x, 1e-15));
    assert!(close(gx, -0.25 + 2.0 * 0.75 * x, 1e-15));
    let dot = Layer {
        w: vec![1.0, 0.0, 2.0],
        b: -1.0,
    };
    let (v, t) = owned_layer_jvp(layer.clone(), x, dot, 0.5);
    assert_eq!(v, owned_layer(layer, x));
    assert!(close(t, 3.0 * x - x * x + 0.5 * gx, 1e-15));
}

/// Integer fields read through integer methods and in range bounds stay
/// data; `powi(2)` of a float field is a float (the fuzzer's struct case).
#[derive(Clone, Tangent)]
struct Steps {
    w: [f64; 3],
    b: f64,
    #[tangent(skip)]
    n: usize,
}

#[differentiate(wrt(p, rate))]
fn stepped(p: &Steps, rate: f64) -> f64 {
    let mut s = p.b.powi(2);
    for k in 0..p.n.min(3) {
        s += p.w[k] * rate;
    }
    s.sin()
}

#[test]
fn integer_fields_in_bounds_are_data() {
    let p = Steps {
        w: [0.5, -1.0, 2.0],
        b: 0.3,
        n: 2,
    };
    let (g, gr) = stepped_grad(&p, 0.7);
    let s = 0.09 + (0.5 - 1.0) * 0.7;
    let c = f64::cos(s);
    assert!(close(g.b, c * 0.6, 1e-15) && close(gr, c * -0.5, 1e-15));
    assert!(close(g.w[0], c * 0.7, 1e-15) && close(g.w[1], c * 0.7, 1e-15));
    assert_eq!((g.w[2], g.n), (0.0, 0));
}

// ---------------------------------------------------------------------------
// A field indexed twice (`p.w[i][j]`): a weight matrix as rows of a fixed
// length, in an array field and in a `Vec` field.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Tangent)]
struct Dense {
    w: [[f64; 3]; 2],
    b: [f64; 2],
}

#[derive(Clone, Debug, PartialEq, Tangent)]
struct Rows {
    w: Vec<[f64; 2]>,
    scale: f64,
}

#[differentiate(wrt(p, x))]
fn dense(p: &Dense, x: &[f64; 3]) -> f64 {
    let mut s = 0.0;
    for i in 0..2 {
        let mut z = p.b[i];
        for j in 0..3 {
            z += p.w[i][j] * x[j];
        }
        s += z.tanh();
    }
    s
}

fn dense_dual<D: DualNum<f64> + Copy>(z: &[D]) -> D {
    // [w00, w01, w02, w10, w11, w12, b0, b1, x0, x1, x2]
    let mut s = D::from(0.0);
    for i in 0..2 {
        let mut a = z[6 + i];
        for j in 0..3 {
            a += z[3 * i + j] * z[8 + j];
        }
        s += a.tanh();
    }
    s
}

#[differentiate(wrt(r))]
fn rows(r: &Rows, x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..r.w.len() {
        s += r.w[i][0] * x[i] + (r.w[i][1] * r.scale).sin();
    }
    s * s
}

/// [`dense`] with the field's rows iterated, as slices and taken apart.
#[differentiate(wrt(p, x))]
fn dense_rows(p: &Dense, x: &[f64; 3]) -> f64 {
    let mut s = 0.0;
    for (i, row) in p.w.iter().enumerate() {
        let z = row.iter().zip(x).map(|(w, xi)| w * xi).sum::<f64>() + p.b[i];
        s += z.tanh();
    }
    s
}

/// [`dense`] with the field's rows zipped with the biases, the pair
/// zipped again (the rows are read as rows through the nesting).
#[differentiate(wrt(p, x))]
fn dense_zipped(p: &Dense, x: &[f64; 3]) -> f64 {
    let mut s = 0.0;
    for (row, (bi, _)) in p.w.iter().zip(p.b.iter().zip(x)) {
        let z = row.iter().zip(x).map(|(w, xi)| w * xi).sum::<f64>() + bi;
        s += z.tanh();
    }
    s
}

#[test]
fn a_field_indexed_twice_or_iterated_by_rows_is_differentiated() {
    let p = Dense {
        w: [[0.3, -0.2, 0.8], [1.1, 0.4, -0.6]],
        b: [0.05, -0.1],
    };
    let x = [0.7, -1.3, 0.25];
    let mut z: Vec<f64> = p.w.iter().flatten().copied().collect();
    z.extend(p.b);
    z.extend(x);
    let want = dual_grad(dense_dual, &z);
    // Indexed twice, and iterated by rows.
    for (gp, gx) in [
        dense_grad(&p, &x),
        dense_rows_grad(&p, &x),
        dense_zipped_grad(&p, &x),
    ] {
        for i in 0..2 {
            for j in 0..3 {
                assert!(close(gp.w[i][j], want[3 * i + j], 1e-14), "w[{i}][{j}]");
            }
            assert!(close(gp.b[i], want[6 + i], 1e-14), "b[{i}]");
        }
        for j in 0..3 {
            assert!(close(gx[j], want[8 + j], 1e-14), "x[{j}]");
        }
    }
    // The tangent is the struct too: J·v along every leaf at once.
    let dot = Dense {
        w: [[1.0, 0.5, -0.5], [0.25, -1.0, 2.0]],
        b: [0.5, 1.5],
    };
    let (_, t) = dense_jvp(&p, &x, &dot, &[0.0; 3]);
    let mut v: Vec<f64> = dot.w.iter().flatten().copied().collect();
    v.extend(dot.b);
    v.extend([0.0; 3]);
    assert!(
        close(
            t,
            want.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>(),
            1e-14
        ),
        "the tangent"
    );

    let r = Rows {
        w: vec![[0.5, -0.3], [1.2, 0.9], [-0.4, 0.2]],
        scale: 1.7,
    };
    let xs = [0.3, -0.8, 1.1];
    let g = rows_grad(&r, &xs);
    let f = |w: &[[f64; 2]], scale: f64| {
        let s: f64 = (0..3)
            .map(|i| w[i][0] * xs[i] + (w[i][1] * scale).sin())
            .sum();
        s * s
    };
    let h = 1e-6;
    for i in 0..3 {
        for j in 0..2 {
            let (mut up, mut down) = (r.w.clone(), r.w.clone());
            up[i][j] += h;
            down[i][j] -= h;
            let fd = (f(&up, r.scale) - f(&down, r.scale)) / (2.0 * h);
            assert!(
                close(g.w[i][j], fd, 1e-7),
                "w[{i}][{j}]: {} vs {fd}",
                g.w[i][j]
            );
        }
    }
    let fd = (f(&r.w, r.scale + h) - f(&r.w, r.scale - h)) / (2.0 * h);
    assert!(close(g.scale, fd, 1e-7), "scale");
}

/// Rows read in a `&self` method differentiated in `self`, with a field
/// marked data as the loop bound; and rows of a generic float in a free
/// function.
#[derive(Clone, Debug, PartialEq, Tangent)]
struct Affine<T> {
    a: [[T; 2]; 2],
    b: [T; 2],
    #[tangent(skip)]
    n: usize,
}

impl Affine<f64> {
    #[differentiate(wrt(self, x))]
    fn energy(&self, x: [f64; 2]) -> f64 {
        let mut s = 0.0;
        for i in 0..self.n {
            let mut z = self.b[i];
            for j in 0..2 {
                z += self.a[i][j] * x[j];
            }
            s += z * z;
        }
        s
    }
}

#[differentiate(wrt(p))]
fn generic_energy<T: autodiff::Float + autodiff::Tangent>(p: &Affine<T>, x: [T; 2]) -> T {
    let mut s = T::zero();
    for i in 0..2 {
        s = s + p.a[i][0] * x[0] + p.a[i][1] * x[1] * p.b[i];
    }
    s
}

#[test]
fn rows_in_a_method_and_in_a_generic_function() {
    let p = Affine {
        a: [[0.5, -1.0], [2.0, 0.25]],
        b: [0.1, -0.3],
        n: 2,
    };
    let x = [1.5, -0.5];
    let (gp, gx) = p.energy_grad(x);
    let z = |i: usize| p.b[i] + p.a[i][0] * x[0] + p.a[i][1] * x[1];
    for i in 0..2 {
        assert!(close(gp.b[i], 2.0 * z(i), 1e-14), "b[{i}]");
        for j in 0..2 {
            assert!(close(gp.a[i][j], 2.0 * z(i) * x[j], 1e-14), "a[{i}][{j}]");
        }
    }
    let want_x: Vec<f64> = (0..2)
        .map(|j| 2.0 * z(0) * p.a[0][j] + 2.0 * z(1) * p.a[1][j])
        .collect();
    assert!(close(gx[0], want_x[0], 1e-14) && close(gx[1], want_x[1], 1e-14));
    assert_eq!(gp.n, 0);
    // f32 through the generic function.
    let p32 = Affine {
        a: [[0.5_f32, -1.0], [2.0, 0.25]],
        b: [0.1, -0.3],
        n: 2,
    };
    let g = generic_energy_grad(&p32, [1.5, -0.5]);
    for i in 0..2 {
        let (a1, b) = (p32.a[i][1] as f64, p32.b[i] as f64);
        assert!(close(g.a[i][0] as f64, x[0], 1e-6), "a[{i}][0]");
        assert!(close(g.a[i][1] as f64, x[1] * b, 1e-6), "a[{i}][1]");
        assert!(close(g.b[i] as f64, a1 * x[1], 1e-6), "b[{i}]");
    }
}

// ---- a constant struct taken apart by `let` ----

#[derive(Clone, Copy)]
struct Pair {
    a: f64,
    b: f64,
}

struct Table {
    w: Vec<f64>,
    k: f64,
}

/// `let Pair { a, b } = c;` of constant parameters, by value (`Copy` or
/// not) and by reference (it was refused by a message saying that any
/// pattern on constant data is read).
#[differentiate(wrt(x))]
fn taken_apart(x: f64, c: Pair, d: &Table, e: Table) -> f64 {
    let Pair { a, b } = c;
    let Table { w, k } = d;
    let Table { w: w2, .. } = e;
    a * x + b + w[0] * x * x + k + w2[1] * x
}

#[test]
fn constant_structs_taken_apart_by_let() {
    let d = Table {
        w: vec![2.0, 3.0],
        k: 1.0,
    };
    let e = || Table {
        w: vec![2.0, 5.0],
        k: 0.0,
    };
    let c = Pair { a: 3.0, b: 1.0 };
    let (value, g) = taken_apart_value_and_grad(1.5, c, &d, e());
    assert_eq!(value, taken_apart(1.5, c, &d, e()));
    // a + 2 w0 x + w2[1] at x = 1.5.
    assert_eq!(g, 3.0 + 2.0 * 2.0 * 1.5 + 5.0);
}
