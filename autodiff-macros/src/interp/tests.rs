use num_dual::Dual64;

use super::{run, run_dual, try_run, try_run_ir, Val, Value};
use crate::ir::IntOp;
use crate::ir::{
    Bin, Cmp, FloatTy, Function, Graph, NodeId, Op, OutShape, Param, RegionId, Ty, Un, ROOT,
};

fn param(name: &str) -> Param {
    Param {
        usize: false,
        tape: false,
        name: syn::Ident::new(name, proc_macro2::Span::call_site()),
        fields: vec![Ty::Float(FloatTy::F64)],
    }
}

/// `if x < y { let s = x * y; (s.sin(), s) } else { (y, x.max(y)) }`
fn sample() -> Function {
    let mut g = Graph::default();
    let f64t = Ty::Float(FloatTy::F64);
    let x = g.add(
        ROOT,
        Op::Param {
            index: 0,
            field: None,
        },
        vec![],
        f64t,
    );
    let y = g.add(
        ROOT,
        Op::Param {
            index: 1,
            field: None,
        },
        vec![],
        f64t,
    );
    let c = g.cmp(ROOT, Cmp::Lt, x, y);
    let t = g.new_region(ROOT);
    let e = g.new_region(ROOT);
    let s = g.bin(t, Bin::Mul, x, y);
    let ss = g.un(t, Un::Sin, s);
    g.set_outputs(t, vec![ss, s]);
    let m = g.bin(e, Bin::Max, x, y);
    g.set_outputs(e, vec![y, m]);
    let i = g.add(ROOT, Op::If { then: t, els: e }, vec![c], Ty::Other);
    let p0 = g.add(ROOT, Op::Proj(0), vec![i], f64t);
    let p1 = g.add(ROOT, Op::Proj(1), vec![i], f64t);
    let n = g.add(ROOT, Op::Int(3), vec![], Ty::Int);
    let q = g.add(ROOT, Op::PowI, vec![p1, n], f64t);
    let out = g.bin(ROOT, Bin::Add, p0, q);
    Function {
        params: vec![param("x"), param("y")],
        graph: g,
        outputs: vec![out],
        shape: OutShape::Leaf,
    }
}

#[test]
fn runs_the_taken_branch() {
    let f = sample();
    let (x, y) = (0.5f64, 2.0f64);
    let v = run(&f, &[Val::F(x), Val::F(y)]);
    assert_eq!(v, vec![Val::F((x * y).sin() + (x * y).powi(3))]);
    let (x, y) = (3.0f64, 2.0f64);
    let v = run(&f, &[Val::F(x), Val::F(y)]);
    assert_eq!(v, vec![Val::F(y + x.max(y).powi(3))]);
}

#[test]
fn dual_carries_the_derivative() {
    let f = sample();
    let (x, y) = (0.5f64, 2.0f64);
    let v = run_dual(
        &f,
        &[Val::F(Dual64::new(x, 1.0)), Val::F(Dual64::new(y, 0.0))],
    )
    .unwrap();
    let Val::F(d) = &v[0] else { panic!() };
    let s = x * y;
    assert_eq!(d.re, s.sin() + s.powi(3));
    let want = s.cos() * y + 3.0 * s * s * y;
    assert!((d.eps - want).abs() < 1e-12, "{} vs {want}", d.eps);
}

#[test]
fn out_of_scope_use_is_an_error() {
    let mut f = sample();
    // Read the branch-local product from the root.
    let s = f
        .graph
        .nodes
        .iter()
        .position(|n| n.op == Op::Bin(Bin::Mul))
        .unwrap();
    let g = &mut f.graph;
    let bad = g.un(ROOT, Un::Neg, NodeId(s as u32));
    f.outputs = vec![bad];
    assert!(try_run(&f, &[Val::F(0.5), Val::F(2.0)]).is_err());
}

#[test]
fn tuple_params_and_fields() {
    let mut g = Graph::default();
    let f64t = Ty::Float(FloatTy::F64);
    let a = g.add(
        ROOT,
        Op::Param {
            index: 0,
            field: Some(1),
        },
        vec![],
        f64t,
    );
    let b = g.add(
        ROOT,
        Op::Param {
            index: 0,
            field: Some(0),
        },
        vec![],
        f64t,
    );
    let d = g.bin(ROOT, Bin::Sub, a, b);
    let f = Function {
        params: vec![Param {
            usize: false,
            tape: false,
            name: syn::Ident::new("t", proc_macro2::Span::call_site()),
            fields: vec![f64t, f64t],
        }],
        graph: g,
        outputs: vec![d],
        shape: OutShape::Leaf,
    };
    assert_eq!(
        run(&f, &[Val::Tuple(vec![Val::F(1.0), Val::F(5.0)])]),
        vec![Val::F(4.0)]
    );
}

const F64: Ty = Ty::Float(FloatTy::F64);
const ARR: Ty = Ty::Array(FloatTy::F64, 1);

fn typed(name: &str, ty: Ty) -> Param {
    Param {
        usize: false,
        tape: false,
        name: syn::Ident::new(name, proc_macro2::Span::call_site()),
        fields: vec![ty],
    }
}

fn function(params: &[(&str, Ty)], g: Graph, outputs: Vec<NodeId>) -> Function {
    let shape = if outputs.len() == 1 {
        OutShape::Leaf
    } else {
        OutShape::Tuple(vec![OutShape::Leaf; outputs.len()])
    };
    Function {
        params: params.iter().map(|(n, t)| typed(n, *t)).collect(),
        graph: g,
        outputs,
        shape,
    }
}

fn p(g: &mut Graph, index: u32, ty: Ty) -> NodeId {
    g.add(ROOT, Op::Param { index, field: None }, vec![], ty)
}

fn int(g: &mut Graph, r: RegionId, n: i64) -> NodeId {
    g.add(r, Op::Int(n), vec![], Ty::Int)
}

fn floats(xs: &[f64]) -> Value {
    Val::Array(xs.iter().map(|&x| Val::F(x)).collect())
}

/// `for i in (1..4).rev() { s = s * x + i; tape.push(s) }`: carried
/// values, the index, and a stacked output in execution order.
#[test]
fn loops_carry_and_stack() {
    let mut g = Graph::default();
    let x = p(&mut g, 0, F64);
    let (one, four) = (int(&mut g, ROOT, 1), int(&mut g, ROOT, 4));
    let body = g.new_region(ROOT);
    let s = g.add_local(body, Op::RegionArg(body, 1), vec![], F64);
    let i = g.add_local(body, Op::RegionArg(body, 0), vec![], Ty::Int);
    let fi = g.add(body, Op::IntToFloat, vec![i], F64);
    let sx = g.bin(body, Bin::Mul, s, x);
    let next = g.bin(body, Bin::Add, sx, fi);
    g.set_outputs(body, vec![next, next]);
    let op = Op::Loop {
        body,
        carried: 1,
        rev: true,
        exit: None,
    };
    let l = g.add(ROOT, op, vec![one, four, x], Ty::Other);
    let fin = g.add(ROOT, Op::Proj(0), vec![l], F64);
    let tape = g.add(ROOT, Op::Proj(1), vec![l], ARR);
    let f = function(&[("x", F64)], g, vec![fin, tape]);
    let x = 2.0;
    let (s3, s2) = (x * x + 3.0, (x * x + 3.0) * x + 2.0);
    let s1 = s2 * x + 1.0;
    assert_eq!(
        run(&f, &[Val::F(x)]),
        vec![Val::F(s1), floats(&[s3, s2, s1])]
    );
    // A loop of no iteration yields its initial values, empty tapes.
    let mut f0 = f.clone();
    f0.graph.nodes[four.0 as usize].op = Op::Int(1);
    assert_eq!(run(&f0, &[Val::F(x)]), vec![Val::F(x), Val::Array(vec![])]);
    // The body's values and arguments are gone after the loop.
    let mut out = f.clone();
    out.outputs = vec![s];
    assert!(try_run(&out, &[Val::F(x)]).is_err());
    out.outputs = vec![next];
    assert!(try_run(&out, &[Val::F(x)]).is_err());
}

/// Element reads and writes of rank 1 and 2, fills, literals, copies,
/// sums and lengths, with `[v; N]`'s literal length and index
/// arithmetic as opaque expressions.
#[test]
fn array_ops() {
    let mut g = Graph::default();
    let x = p(&mut g, 0, F64);
    let a = p(&mut g, 1, ARR);
    let zero = g.konst(ROOT, FloatTy::F64, 0.0);
    let (i0, i1) = (int(&mut g, ROOT, 0), int(&mut g, ROOT, 1));
    let lit = |g: &mut Graph, n: &str| {
        g.opaques.push(crate::ir::Opaque::parsed(n, &[]));
        g.opaques.len() as u32 - 1
    };
    let (k2, k3) = (lit(&mut g, "2"), lit(&mut g, "3"));
    let row = g.add(ROOT, Op::FillFixed(k2), vec![zero], ARR);
    let m = g.add(
        ROOT,
        Op::FillFixed(k3),
        vec![row],
        Ty::Array(FloatTy::F64, 2),
    );
    let m = g.add(
        ROOT,
        Op::Store,
        vec![m, i1, i0, x],
        Ty::Array(FloatTy::F64, 2),
    );
    let m = g.add(
        ROOT,
        Op::AddAt,
        vec![m, i1, i0, x],
        Ty::Array(FloatTy::F64, 2),
    );
    let m10 = g.add(ROOT, Op::Index, vec![m, i1, i0], F64);
    let sum_m = g.add(ROOT, Op::SumAll, vec![m], F64);
    // `a[a.len() - 1]` and `a[(0 + 1) % a.len()]`.
    let last = g.add_opaque(
        ROOT,
        crate::ir::Opaque::parsed("a.len() - 1", &["a"]),
        vec![a],
        Ty::Other,
    );
    let wrap = g.add_opaque(
        ROOT,
        crate::ir::Opaque::parsed("(i + 1) % a.len()", &["i", "a"]),
        vec![i0, a],
        Ty::Other,
    );
    let a_last = g.add(ROOT, Op::Index, vec![a, last], F64);
    let a_wrap = g.add(ROOT, Op::Index, vec![a, wrap], F64);
    let len = g.add(ROOT, Op::Len, vec![a], Ty::Other);
    let v = g.add(ROOT, Op::FillVec, vec![x, len], ARR);
    let lit_arr = g.add(ROOT, Op::ArrayLit, vec![x, a_last, a_wrap], ARR);
    let copy = g.add(ROOT, Op::Owned, vec![a], ARR);
    let both = g.add(ROOT, Op::AddArray, vec![copy, v], ARR);
    let z = g.add(ROOT, Op::ZerosLike, vec![lit_arr], ARR);
    let back = g.add(ROOT, Op::IntBin(IntOp::Sub), vec![len, i1], Ty::Int);
    let b_last = g.add(ROOT, Op::Index, vec![both, back], F64);
    let f = function(
        &[("x", F64), ("a", ARR)],
        g,
        vec![m10, sum_m, lit_arr, both, z, b_last],
    );
    let out = run(&f, &[Val::F(1.5), floats(&[1.0, 2.0, 4.0])]);
    assert_eq!(
        out,
        vec![
            Val::F(3.0),
            Val::F(3.0),
            floats(&[1.5, 4.0, 2.0]),
            floats(&[2.5, 3.5, 5.5]),
            floats(&[0.0; 3]),
            Val::F(5.5),
        ]
    );
    // Out of range: `a[(0 + 1) % a.len()]` of one element is a[0], but
    // `a[a.len() - 1]` of none is a[-1].
    assert!(try_run(&f, &[Val::F(1.5), floats(&[1.0])]).is_ok());
    let e = try_run(&f, &[Val::F(1.5), floats(&[])]).unwrap_err();
    assert!(
        e.0.contains("out of range") || e.0.contains("cannot be"),
        "{e:?}"
    );
}

/// An in-place update is emitted as one: a version read after it was
/// updated reads the update (the IR semantics keeps it), and a loop
/// takes its initial array's variable over.
#[test]
fn in_place_updates_share_a_variable() {
    let mut g = Graph::default();
    let x = p(&mut g, 0, F64);
    let (i0, two) = (int(&mut g, ROOT, 0), int(&mut g, ROOT, 2));
    let y = g.add(ROOT, Op::FillVec, vec![x, two], ARR);
    let y1 = g.add(ROOT, Op::AddAt, vec![y, i0, x], ARR);
    // Reads the old version `y` after the update: 2x in place.
    let old = g.add(ROOT, Op::Index, vec![y, i0], F64);
    let body = g.new_region(ROOT);
    let arg = g.add_local(body, Op::RegionArg(body, 1), vec![], ARR);
    let i = g.add_local(body, Op::RegionArg(body, 0), vec![], Ty::Int);
    let w = g.add(body, Op::Store, vec![arg, i, x], ARR);
    let w = g.add(body, Op::AddAt, vec![w, i, x], ARR);
    g.set_outputs(body, vec![w]);
    let op = Op::Loop {
        body,
        carried: 1,
        rev: false,
        exit: None,
    };
    let l = g.add(ROOT, op, vec![i0, two, y1], Ty::Other);
    let fin = g.add(ROOT, Op::Proj(0), vec![l], ARR);
    // `y1` after the loop holds the loop's result.
    let f = function(&[("x", F64)], g, vec![old, y1, fin]);
    let x = 3.0;
    assert_eq!(
        try_run(&f, &[Val::F(x)]).unwrap(),
        vec![
            Val::F(2.0 * x),
            floats(&[2.0 * x; 2]),
            floats(&[2.0 * x; 2])
        ]
    );
    assert_eq!(
        try_run_ir(&f, &[Val::F(x)]).unwrap(),
        vec![Val::F(x), floats(&[2.0 * x, x]), floats(&[2.0 * x; 2])]
    );
}

#[test]
fn array_misuse_is_an_error() {
    // A parameter updated in place.
    let mut g = Graph::default();
    let x = p(&mut g, 0, F64);
    let a = p(&mut g, 1, ARR);
    let i0 = int(&mut g, ROOT, 0);
    let w = g.add(ROOT, Op::AddAt, vec![a, i0, x], ARR);
    let f = function(&[("x", F64), ("a", ARR)], g, vec![w]);
    let e = try_run(&f, &[Val::F(1.0), floats(&[1.0])]).unwrap_err();
    assert!(e.0.contains("parameter"), "{e:?}");
    // One array carried twice by a loop.
    let mut g = Graph::default();
    let x = p(&mut g, 0, F64);
    let (i0, i1) = (int(&mut g, ROOT, 0), int(&mut g, ROOT, 1));
    let y = g.add(ROOT, Op::FillVec, vec![x, i1], ARR);
    let body = g.new_region(ROOT);
    let a1 = g.add_local(body, Op::RegionArg(body, 1), vec![], ARR);
    let a2 = g.add_local(body, Op::RegionArg(body, 2), vec![], ARR);
    g.set_outputs(body, vec![a1, a2]);
    let op = Op::Loop {
        body,
        carried: 2,
        rev: false,
        exit: None,
    };
    let l = g.add(ROOT, op, vec![i0, i1, y, y], Ty::Other);
    let fin = g.add(ROOT, Op::Proj(0), vec![l], ARR);
    let f = function(&[("x", F64)], g, vec![fin]);
    let e = try_run(&f, &[Val::F(1.0)]).unwrap_err();
    assert!(e.0.contains("carried twice"), "{e:?}");
}

/// Dual numbers through element reads and writes in a loop:
/// `y = [0; n]; for i { y[i] = a[i] * x } sum(y)`.
#[test]
fn dual_numbers_through_arrays() {
    let mut g = Graph::default();
    let x = p(&mut g, 0, F64);
    let a = p(&mut g, 1, ARR);
    let zero = g.konst(ROOT, FloatTy::F64, 0.0);
    let i0 = int(&mut g, ROOT, 0);
    let len = g.add(ROOT, Op::Len, vec![a], Ty::Other);
    let y = g.add(ROOT, Op::FillVec, vec![zero, len], ARR);
    let body = g.new_region(ROOT);
    let arg = g.add_local(body, Op::RegionArg(body, 1), vec![], ARR);
    let i = g.add_local(body, Op::RegionArg(body, 0), vec![], Ty::Int);
    let ai = g.add(body, Op::Index, vec![a, i], F64);
    let v = g.bin(body, Bin::Mul, ai, x);
    let w = g.add(body, Op::Store, vec![arg, i, v], ARR);
    g.set_outputs(body, vec![w]);
    let op = Op::Loop {
        body,
        carried: 1,
        rev: false,
        exit: None,
    };
    let l = g.add(ROOT, op, vec![i0, len, y], Ty::Other);
    let fin = g.add(ROOT, Op::Proj(0), vec![l], ARR);
    let s = g.add(ROOT, Op::SumAll, vec![fin], F64);
    let f = function(&[("x", F64), ("a", ARR)], g, vec![s]);
    let d = |re: f64, eps: f64| Val::F(Dual64::new(re, eps));
    let out = run_dual(
        &f,
        &[d(2.0, 1.0), Val::Array(vec![d(1.0, 0.5), d(3.0, 0.0)])],
    )
    .unwrap();
    let Val::F(s) = &out[0] else { panic!() };
    // s = x (a0 + a1): ds = (a0 + a1) dx + x da0.
    assert_eq!((s.re, s.eps), (8.0, 4.0 + 2.0 * 0.5));
}

/// `m[i].len()` (`Len [m, i]`): the length of row `i`; a row out of range
/// is an error, not a panic.
#[test]
fn the_length_of_a_row() {
    const MAT: Ty = Ty::Array(FloatTy::F64, 2);
    let mut g = Graph::default();
    let m = p(&mut g, 0, MAT);
    let (i0, i2) = (int(&mut g, ROOT, 0), int(&mut g, ROOT, 2));
    let rows = g.add(ROOT, Op::Len, vec![m], Ty::Int);
    let cols = g.add(ROOT, Op::Len, vec![m, i0], Ty::Int);
    let f = function(&[("m", MAT)], g.clone(), vec![rows, cols]);
    let mat = Val::Array(vec![floats(&[1.0, 2.0, 3.0]), floats(&[4.0, 5.0, 6.0])]);
    assert_eq!(
        run(&f, std::slice::from_ref(&mat)),
        vec![Val::Int(2), Val::Int(3)]
    );
    let beyond = g.add(ROOT, Op::Len, vec![m, i2], Ty::Int);
    let f = function(&[("m", MAT)], g, vec![beyond]);
    assert!(try_run(&f, &[mat]).is_err());
}
