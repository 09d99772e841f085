//! Known bugs, each as a minimal program checked at one point by the
//! properties (`bug_*`: ignored until fixed; `cargo test -- --ignored`
//! runs them), and those fixed since (`fixed_*`). Each comment gives the
//! program as Rust.

use proptest::prelude::*;

use super::arrays::MAX_OUT;
use super::point::{param_shapes, point_of, Point, Shape};
use super::properties::{jvp_property, simplified_vjp_property, simplify_property, vjp_property};
use super::{ident, lowered, param_node, Stats, F64};
use crate::ir::{
    Bin, Cmp, FloatTy, Function, Graph, NodeId, Op, OutShape, Param, RegionId, Ty, Un, ROOT,
};

const ARR: Ty = Ty::Array(FloatTy::F64, 1);

fn int_node(g: &mut Graph, r: RegionId, n: i64) -> NodeId {
    g.add(r, Op::Int(n), vec![], Ty::Int)
}

/// `for i in start..end` in region `r`, carrying `inits`, as lowering
/// builds it: `body(g, body region, carried values, i)` gives the carried
/// values at the end of the body; the result is the loop's `Proj`s.
fn for_loop(
    g: &mut Graph,
    r: RegionId,
    (start, end): (NodeId, NodeId),
    inits: &[NodeId],
    body: impl FnOnce(&mut Graph, RegionId, &[NodeId], NodeId) -> Vec<NodeId>,
) -> Vec<NodeId> {
    let b = g.new_region(r);
    let args: Vec<NodeId> = inits
        .iter()
        .enumerate()
        .map(|(k, &init)| {
            let ty = g.ty(init);
            g.add_local(b, Op::RegionArg(b, k as u32 + 1), vec![], ty)
        })
        .collect();
    let i = g.add_local(b, Op::RegionArg(b, 0), vec![], Ty::Int);
    let outs = body(g, b, &args, i);
    g.set_outputs(b, outs);
    let mut loop_args = vec![start, end];
    loop_args.extend(inits);
    let op = Op::Loop {
        body: b,
        carried: inits.len() as u32,
        rev: false,
        exit: None,
    };
    let l = g.add(r, op, loop_args, Ty::Other);
    (0..inits.len())
        .map(|k| {
            let ty = g.ty(inits[k]);
            g.add(r, Op::Proj(k as u32), vec![l], ty)
        })
        .collect()
}

/// `if c { then } else { els }` in region `r`; each side gives its yields.
fn if_node(
    g: &mut Graph,
    r: RegionId,
    c: NodeId,
    then: impl FnOnce(&mut Graph, RegionId) -> Vec<NodeId>,
    els: impl FnOnce(&mut Graph, RegionId) -> Vec<NodeId>,
) -> Vec<NodeId> {
    let (t, e) = (g.new_region(r), g.new_region(r));
    let to = then(g, t);
    let eo = els(g, e);
    let tys: Vec<Ty> = to.iter().map(|&o| g.ty(o)).collect();
    g.set_outputs(t, to);
    g.set_outputs(e, eo);
    let node = g.add(r, Op::If { then: t, els: e }, vec![c], Ty::Other);
    tys.iter()
        .enumerate()
        .map(|(k, &ty)| g.add(r, Op::Proj(k as u32), vec![node], ty))
        .collect()
}

/// A function of params `x` (a float) and `a` (an array), or of the given
/// params, with one output.
fn function(
    params: &[(&str, Ty)],
    build: impl FnOnce(&mut Graph, &[NodeId]) -> NodeId,
) -> Function {
    let mut g = Graph::default();
    let nodes: Vec<NodeId> = params
        .iter()
        .enumerate()
        .map(|(k, (_, ty))| param_node(&mut g, k as u32, *ty))
        .collect();
    let out = build(&mut g, &nodes);
    Function {
        params: params
            .iter()
            .map(|(name, ty)| Param {
                usize: false,
                tape: false,
                name: ident(name),
                fields: vec![*ty],
            })
            .collect(),
        graph: g,
        outputs: vec![out],
        shape: OutShape::Leaf,
    }
}

/// The jvp, vjp and simplify properties on `f` at the point `x` (flat;
/// arrays of length `n`).
fn check_at(f: Function, n: usize, x: &[f64]) {
    let ins = param_shapes(&f, n);
    let k: usize = ins.iter().map(Shape::size).sum();
    assert_eq!(k, x.len(), "one float per input");
    let v: Vec<f64> = (0..k).map(|i| 0.5 - 0.2 * i as f64).collect();
    let w: Vec<f64> = (0..MAX_OUT).map(|i| 1.0 - 0.1 * i as f64).collect();
    let shown = format!("{f}");
    let p = match point_of(f, ins, x, &v, &w) {
        Ok(p) => p,
        Err(e) => panic!("no point: {e}\n{shown}"),
    };
    let stats = Stats::default();
    for (what, prop) in [
        (
            "jvp",
            &jvp_property as &dyn Fn(&Point, &Stats) -> Result<(), TestCaseError>,
        ),
        ("vjp", &vjp_property),
        ("simplify", &simplify_property),
        ("simplified vjp", &simplified_vjp_property),
    ] {
        if let Err(e) = prop(&p, &stats) {
            panic!("{what}: {e}\nprogram:\n{shown}\nat x = {x:?}");
        }
    }
}

/// Fixed (bf284b1), found by these tests: a value from outside a loop
/// yielded directly by an `If` in the loop's body: the vjp's recomputation
/// of the body leaves that yield unmapped (`NodeId(u32::MAX)`), so the vjp
/// is malformed and `simplify` or the emitter panic (reverse.rs
/// `push_body_ctx` presets only the outer values used as operands, not
/// those used as region outputs).
///
/// `let mut c = x.sin(); for i in 0..a.len() { let t = if i < 2 { c } else
/// { x }; c = t * c; } c`
#[test]
fn fixed_loop_if_yields_outer_value() {
    let f = function(&[("x", F64), ("a", ARR)], |g, p| {
        let (x, a) = (p[0], p[1]);
        let c0 = g.un(ROOT, Un::Sin, x);
        let range = (
            int_node(g, ROOT, 0),
            g.add(ROOT, Op::Len, vec![a], Ty::Other),
        );
        for_loop(g, ROOT, range, &[c0], |g, b, c, i| {
            let two = int_node(g, b, 2);
            let lt = g.add(b, Op::Cmp(Cmp::Lt), vec![i, two], Ty::Bool);
            let t = if_node(g, b, lt, |_, _| vec![c[0]], |_, _| vec![x])[0];
            vec![g.bin(b, Bin::Mul, t, c[0])]
        })[0]
    });
    check_at(f, 3, &[0.7, 0.5, -1.0, 2.0]);
}

/// Fixed (bf284b1), found by these tests: a loop's initial carried value
/// that the body also reads loses the adjoint through the initial value
/// (reverse.rs `loop_`: the outer accumulator of the value, `bars.insert`,
/// overwrites the adjoint `seed_bar` gave it as the initial value).
///
/// `let mut s = x; for _ in 0..a.len() { s = s * x; } s` (x^4 for 3
/// elements: the vjp gives 3x^3 instead of 4x^3).
#[test]
fn fixed_loop_init_read_in_body() {
    let f = function(&[("x", F64), ("a", ARR)], |g, p| {
        let (x, a) = (p[0], p[1]);
        let range = (
            int_node(g, ROOT, 0),
            g.add(ROOT, Op::Len, vec![a], Ty::Other),
        );
        for_loop(g, ROOT, range, &[x], |g, b, s, _| {
            vec![g.bin(b, Bin::Mul, s[0], x)]
        })[0]
    });
    check_at(f, 3, &[0.7, 0.5, -1.0, 2.0]);
}

/// Fixed (bf284b1), found by these tests: an `If` that writes an array in
/// one branch and yields it unchanged from the other: the reversed
/// unchanged branch sums two array adjoints with a float `Add` (emitted
/// `acc + bar` on arrays, which does not compile; the interpreter refuses
/// it).
///
/// `let mut y = [x, x]; if x > 0.0 { y[0] = y[0] * x; } y[0]` at x < 0.
#[test]
fn fixed_if_writes_array_in_one_branch() {
    let f = function(&[("x", F64)], |g, p| {
        let x = p[0];
        let y = g.add(ROOT, Op::ArrayLit, vec![x, x], ARR);
        let zero = g.konst(ROOT, FloatTy::F64, 0.0);
        let c = g.cmp(ROOT, Cmp::Gt, x, zero);
        let y = if_node(
            g,
            ROOT,
            c,
            |g, t| {
                let i0 = int_node(g, t, 0);
                let y0 = g.add(t, Op::Index, vec![y, i0], F64);
                let m = g.bin(t, Bin::Mul, y0, x);
                vec![g.add(t, Op::Store, vec![y, i0, m], ARR)]
            },
            |_, _| vec![y],
        )[0];
        let i0 = int_node(g, ROOT, 0);
        g.add(ROOT, Op::Index, vec![y, i0], F64)
    });
    check_at(f, 0, &[-0.5]);
}

/// Was a bug: a loop nested in a loop body reading an array the outer
/// loop writes. The reverse pass recomputed the inner loop from the outer
/// loop's *final* array instead of the array at that iteration; the outer
/// loop now tapes a copy of such an array per iteration.
///
/// `let mut y = a.to_owned(); for i in 0..a.len() { let mut s = 0.0; for j
/// in 0..a.len() { s += y[j] * y[j]; } y[i] = a[i] + s; } y[2]`
#[test]
fn bug_nested_loop_reads_written_array() {
    let f = function(&[("a", ARR)], |g, p| {
        let a = p[0];
        let y = g.add(ROOT, Op::Owned, vec![a], ARR);
        let range = (
            int_node(g, ROOT, 0),
            g.add(ROOT, Op::Len, vec![a], Ty::Other),
        );
        let zero = g.konst(ROOT, FloatTy::F64, 0.0);
        let y = for_loop(g, ROOT, range, &[y], |g, b, y, i| {
            let s = for_loop(g, b, range, &[zero], |g, b2, s, j| {
                let yj = g.add(b2, Op::Index, vec![y[0], j], F64);
                let sq = g.bin(b2, Bin::Mul, yj, yj);
                vec![g.bin(b2, Bin::Add, s[0], sq)]
            })[0];
            let ai = g.add(b, Op::Index, vec![a, i], F64);
            let v = g.bin(b, Bin::Add, ai, s);
            vec![g.add(b, Op::Store, vec![y[0], i, v], ARR)]
        })[0];
        let two = int_node(g, ROOT, 2);
        g.add(ROOT, Op::Index, vec![y, two], F64)
    });
    check_at(f, 3, &[0.3, -0.2, 0.1]);
}

/// Was a bug: an `If` in a loop body writing the carried array: the
/// reverse pass recomputed the body on the loop's final array (the stand-in for
/// the carried one), and the recomputed `If` (kept live when another
/// reversed `If` takes the shape of its result, `zeros_like`) writes into
/// that array in place: the forward result is overwritten, and the
/// emitted `f_vjp` returns a wrong value (here [0.3125, 1.5] instead of
/// [0.0625, 0.75]; the gradient is right).
///
/// `fn f(a: [f64; 2]) -> [f64; 2] { let mut y = [0.0; 2]; for i in 0..2 {
/// if a[i] > 0.0 { y[i] += a[i]; } if a[i] < 0.5 { y[i] = a[i] * a[i]; } }
/// y }` at a = [0.25, 0.75].
///
/// Fixed: the stand-in is now a copy made before the reverse loop.
#[test]
fn bug_loop_if_writes_carried_array() {
    let f = lowered(
        "fn f(a: [f64; 2]) -> [f64; 2] { let mut y = [0.0; 2]; for i in 0..2 { \
         if a[i] > 0.0 { y[i] += a[i]; } if a[i] < 0.5 { y[i] = a[i] * a[i]; } } y }",
    );
    check_at(f, 2, &[0.25, 0.75]);
}

/// Was a bug (since 117a3ca, which tapes the results of nested loops): a
/// loop nested in a loop body whose result the body uses, and which reads
/// a local array (not a parameter; written by no loop): the vjp transform
/// panicked (index out of bounds in reverse.rs `tape_read`), so the macro
/// panicked. Reads with no forward copy to tape from are now recomputed.
///
/// `fn f(a: [f64; 2]) -> f64 { let y = [a[0] * a[0], a[1]]; let mut t =
/// 0.0; for _ in 0..2 { let mut s = 0.0; for j in 0..2 { s += y[j]; } t +=
/// s * s; } t }`
#[test]
fn bug_nested_loop_reads_local_array() {
    let f = lowered(
        "fn f(a: [f64; 2]) -> f64 { let y = [a[0] * a[0], a[1]]; let mut t = 0.0; \
         for _i in 0..2 { let mut s = 0.0; for j in 0..2 { s += y[j]; } t += s * s; } t }",
    );
    check_at(f, 2, &[0.3, -0.2]);
}

/// Fixed (61a5cfa: array allocations are never interned), found by these
/// tests: the jvp of several directions (the Jacobian companion) gave the zero
/// tangent of an array the same `ZerosLike` node in every direction
/// (hash-consing), and each direction's write updated it in place: the
/// directions overwrote each other's tangents (also a loop's initial
/// tangent array: "array carried twice").
///
/// `let mut y = [0.0; 1]; y[0] = x0 * x1; y[0]`
#[test]
fn fixed_jacobian_shares_zero_tangent_arrays() {
    let f = function(&[("x0", F64), ("x1", F64)], |g, p| {
        let zero = g.konst(ROOT, FloatTy::F64, 0.0);
        let y = g.add(ROOT, Op::ArrayLit, vec![zero], ARR);
        let i0 = int_node(g, ROOT, 0);
        let m = g.bin(ROOT, Bin::Mul, p[0], p[1]);
        let y = g.add(ROOT, Op::Store, vec![y, i0, m], ARR);
        g.add(ROOT, Op::Index, vec![y, i0], F64)
    });
    check_at(f, 0, &[0.7, -1.3]);
}

/// Gap (lowering rejects this program since 4b29b4e): `[[x; N]; N]` of a
/// differentiated `x`: the reverse pass gives `x` no adjoint (reverse.rs
/// `array_op` handles `FillFixed` only of a float; a row's adjoint is
/// dropped).
///
/// `let m = [[x; 2]; 2]; m[0][0] + x` (the vjp gives 1 instead of 2).
#[test]
#[ignore = "gap: `[[x; N]; N]` -> x gets no adjoint (lowering rejects it)"]
fn bug_rank2_fill_of_active_value() {
    let f = function(&[("x", F64)], |g, p| {
        let x = p[0];
        let lit = |g: &mut Graph| {
            g.opaques.push(crate::ir::Opaque::parsed("2", &[]));
            g.opaques.len() as u32 - 1
        };
        let (k0, k1) = (lit(g), lit(g));
        let row = g.add(ROOT, Op::FillFixed(k0), vec![x], ARR);
        let m = g.add(
            ROOT,
            Op::FillFixed(k1),
            vec![row],
            Ty::Array(FloatTy::F64, 2),
        );
        let i0 = int_node(g, ROOT, 0);
        let m00 = g.add(ROOT, Op::Index, vec![m, i0, i0], F64);
        g.bin(ROOT, Bin::Add, m00, x)
    });
    check_at(f, 0, &[0.7]);
}

/// Fixed (bf284b1), found by these tests: the jvp of an `If` in which only
/// one branch gives an array a tangent: the other branch yields
/// `Default::default()` as the tangent (forward.rs `branch`: `filler`
/// instead of `zero_like` for arrays). For a `Vec` that is an empty vector,
/// and reading the tangent panics (index out of bounds); only fixed-size
/// arrays default to zeros.
///
/// `let mut y = vec![0.5; a.len()]; if x > 0.0 { y[0] = x; } else { y[0] =
/// 0.25; } y[0]` at x < 0.
#[test]
fn fixed_branch_array_tangent_is_default() {
    let f = function(&[("x", F64), ("a", ARR)], |g, p| {
        let (x, a) = (p[0], p[1]);
        let half = g.konst(ROOT, FloatTy::F64, 0.5);
        let n = g.add(ROOT, Op::Len, vec![a], Ty::Other);
        let y = g.add(ROOT, Op::FillVec, vec![half, n], ARR);
        let zero = g.konst(ROOT, FloatTy::F64, 0.0);
        let c = g.cmp(ROOT, Cmp::Gt, x, zero);
        let y = if_node(
            g,
            ROOT,
            c,
            |g, t| {
                let i0 = int_node(g, t, 0);
                vec![g.add(t, Op::Store, vec![y, i0, x], ARR)]
            },
            |g, e| {
                let i0 = int_node(g, e, 0);
                let q = g.konst(e, FloatTy::F64, 0.25);
                vec![g.add(e, Op::Store, vec![y, i0, q], ARR)]
            },
        )[0];
        let i0 = int_node(g, ROOT, 0);
        let y0 = g.add(ROOT, Op::Index, vec![y, i0], F64);
        g.bin(ROOT, Bin::Mul, y0, x)
    });
    check_at(f, 2, &[-0.5, 1.0, 2.0]);
}

/// Fixed (bf284b1), found by these tests: the activity analysis
/// (diff/mod.rs `activity`) makes a loop's `Proj(k)` active only when the
/// body's output `k` is, not when the initial value `k` is: a loop of no
/// iteration yields its initial value, whose adjoint the vjp then drops.
///
/// `let mut c = x.sin(); for _ in 0..a.len() { c = 0.5; } c + c` with `a`
/// empty (the vjp gives 0 instead of 2 cos x).
#[test]
fn fixed_zero_trip_loop_init_inactive() {
    let f = function(&[("x", F64), ("a", ARR)], |g, p| {
        let (x, a) = (p[0], p[1]);
        let c0 = g.un(ROOT, Un::Sin, x);
        let range = (
            int_node(g, ROOT, 0),
            g.add(ROOT, Op::Len, vec![a], Ty::Other),
        );
        let c = for_loop(g, ROOT, range, &[c0], |g, b, _, _| {
            vec![g.konst(b, FloatTy::F64, 0.5)]
        })[0];
        g.bin(ROOT, Bin::Add, c, c)
    });
    check_at(f, 0, &[0.7]);
}

/// Gap (lowering never builds it today): `SumAll` in a source program has
/// no reverse rule; the vjp drops the adjoint of its array.
///
/// `a.iter().sum::<f64>() * x` as `SumAll`.
#[test]
#[ignore = "gap: no reverse rule for `SumAll` (only the transforms build it)"]
fn bug_sum_all_has_no_reverse_rule() {
    let f = function(&[("x", F64), ("a", ARR)], |g, p| {
        let s = g.add(ROOT, Op::SumAll, vec![p[1]], F64);
        g.bin(ROOT, Bin::Mul, s, p[0])
    });
    check_at(f, 2, &[0.7, 1.0, -2.0]);
}
