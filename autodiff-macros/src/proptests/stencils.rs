//! Random stencil loops.
//!
//! The array programs ([`super::arrays`]) rarely make a loop the gather
//! pass rewrites: their reverse loops carry the adjoints of the floats the
//! bodies read.
//! These programs are one loop over `lo..n - back` (`lo`, `back` in 0..=2,
//! forward or reversed; the end as `Len`, `IntSub` nodes, opaque tokens or a
//! literal) over one or two array params of length `n` in 0..=7 (loops of
//! no iteration, of fewer than their span of offsets, and longer). The body
//! reads `a[i + c]` for offsets `c` in `-lo..=back` (`i`, `IntAdd`/`IntSub`
//! with a literal, or the literal first `c + i`), combines them all, runs
//! a let-chain of mostly cheap scalar instructions on the reads and their
//! combination (and the loop index, and,
//! sometimes, the float param `x0`: its adjoint is then summed across
//! iterations, a loop the pass must leave alone), then sums the result into
//! a carried float (`s += v`, or `s *= v`, whose adjoint is carried), adds
//! values into a local array (`y[i + c] += v`, a scatter the pass gathers
//! in the primal), or both. Outputs: `s` and/or `y`.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;

use super::point::{param_shapes, point_of, values, Point, Shape};
use super::properties::{
    gather_property, hvp_property, simplified_vjp_property, vjp_bar, vjp_property,
};
use super::scalar::{a_ref, cond, opnd, Builder, Ins, Ref, BINS, UNS};
use super::{
    check, float_param, function_of, ident, param_node, seeded_runner, signed, Sample, F64,
};
use crate::ir::IntOp;
use crate::ir::{Bin, FloatTy, Function, NodeId, Op, Param, Ty, ROOT};
use crate::simplify::gather::gather;
use crate::simplify::{finish, simplify};

/// A stencil program (see the module docs).
#[derive(Clone, Debug)]
struct SProg {
    arrays: usize,
    reads_param: bool,
    lo: u8,
    back: u8,
    rev: bool,
    end: u8,
    /// `a[i + c]`: the array (counted), the offset (picked in range),
    /// written with the literal first.
    reads: Vec<(u8, u8, bool)>,
    body: Vec<Ins>,
    /// `s += v` (true) or `s *= v` (false), if any.
    sum: Option<bool>,
    /// `y[i + c] += v`: the offset, the value, written with the literal
    /// first.
    writes: Vec<(u8, Ref, bool)>,
}

/// A stencil program, the array length, and a point, a direction and a
/// cotangent (the first floats of each are used).
#[derive(Clone, Debug)]
struct SCase {
    prog: SProg,
    n: usize,
    x: Vec<f64>,
    v: Vec<f64>,
    w: Vec<f64>,
}

/// Most input floats (a float, 2 arrays of 7) and output floats.
const S_MAX_IN: usize = 15;
const S_MAX_OUT: usize = 8;

/// Mostly cheap scalar instructions: a costly one (`sin`, `exp`, ...) the
/// contributions of two offsets need keeps the loop from being gathered.
fn s_leaf() -> impl Strategy<Value = Ins> {
    let cheap = [Bin::Add, Bin::Sub, Bin::Mul, Bin::Div, Bin::Min, Bin::Max];
    prop_oneof![
        8 => (prop::sample::select(cheap.to_vec()), opnd(), opnd(), any::<u8>()).prop_map(|(b, x, y, v)| Ins::Bin(b, x, y, v)),
        2 => (prop::sample::select(UNS.to_vec()), a_ref(), any::<u8>()).prop_map(|(u, a, v)| Ins::Un(u, a, v)),
        1 => (prop::sample::select(BINS.to_vec()), opnd(), opnd(), any::<u8>()).prop_map(|(b, x, y, v)| Ins::Bin(b, x, y, v)),
        1 => (a_ref(), -2i8..=3, any::<u8>(), prop::option::weighted(0.3, any::<u8>())).prop_map(|(a, n, v, k)| Ins::PowI(a, n, v, k)),
        1 => (a_ref(), any::<u8>()).prop_map(|(a, k)| Ins::Cast(a, k)),
        1 => (a_ref(), opnd(), opnd()).prop_map(|(a, b, c)| Ins::MulAdd(a, b, c)),
        1 => (a_ref(), any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, l, w, v)| Ins::Clamp(a, l, w, v)),
        1 => (cond(), opnd(), opnd()).prop_map(|(c, a, b)| Ins::Select(c, a, b)),
        1 => any::<u16>().prop_map(Ins::Repeat),
    ]
}

fn sprog() -> impl Strategy<Value = SProg> {
    (
        (1usize..=2, prop::bool::weighted(0.15), 0u8..=2, 0u8..=2),
        (any::<bool>(), any::<u8>()),
        vec((any::<u8>(), any::<u8>(), any::<bool>()), 2..=4),
        vec(s_leaf(), 1..=4),
        prop::option::weighted(0.75, prop::bool::weighted(0.85)),
        prop_oneof![2 => Just(Vec::new()), 1 => vec((any::<u8>(), a_ref(), any::<bool>()), 1..=3)],
    )
        .prop_map(
            |((arrays, reads_param, lo, back), (rev, end), reads, body, sum, writes)| SProg {
                arrays,
                reads_param,
                lo,
                back,
                rev,
                end,
                reads,
                body,
                sum: if writes.is_empty() {
                    sum.or(Some(true))
                } else {
                    sum
                },
                writes,
            },
        )
}

fn scase() -> impl Strategy<Value = SCase> {
    let len = prop_oneof![1 => 0usize..=2, 1 => 3usize..=4, 2 => 5usize..=7];
    (
        sprog(),
        len,
        vec(signed(0.05, 2.0), S_MAX_IN),
        vec(signed(0.1, 1.0), S_MAX_IN),
        vec(signed(0.1, 1.0), S_MAX_OUT),
    )
        .prop_map(|(prog, n, x, v, w)| SCase { prog, n, x, v, w })
}

impl Builder {
    /// `i + c`: `i`, or integer arithmetic with a literal: `i + c`,
    /// `i - c`, or (second flag) the literal first, `c + i` (as lowering
    /// reads what a user writes).
    fn shifted(&mut self, i: NodeId, c: i64, literal_first: bool) -> NodeId {
        if c == 0 {
            return i;
        }
        let m = self.int_lit(c.abs());
        let (op, args) = match (c > 0, literal_first) {
            (true, true) => (IntOp::Add, vec![m, i]),
            (true, false) => (IntOp::Add, vec![i, m]),
            (false, _) => (IntOp::Sub, vec![i, m]),
        };
        self.g.add(self.region, Op::IntBin(op), args, Ty::Int)
    }
}

/// The stencil program with arrays of length `n`.
fn sbuild(p: &SProg, n: usize) -> Function {
    let mut b = Builder::new(n);
    let arr = Ty::Array(FloatTy::F64, 1);
    let mut params = Vec::new();
    let mut arrays = Vec::new();
    for k in 0..p.arrays {
        let node = param_node(&mut b.g, k as u32, arr);
        arrays.push(node);
        params.push(Param {
            usize: false,
            tape: false,
            name: ident(&format!("a{k}")),
            fields: vec![arr],
        });
    }
    let x0 = param_node(&mut b.g, p.arrays as u32, F64);
    params.push(float_param("x0", 1));
    let a0 = arrays[0];
    b.a0 = a0;
    let (lo, back) = (i64::from(p.lo), i64::from(p.back));
    let offset = |pick: u8| i64::from(pick) % (lo + back + 1) - lo;
    let start = b.int_lit(lo);
    let end = match (p.end % 4, back) {
        (0, 0) => b.g.add(ROOT, Op::Len, vec![a0], Ty::Other),
        (0, _) if n as i64 >= back => {
            let len = b.g.add(ROOT, Op::Len, vec![a0], Ty::Other);
            let k = b.int_lit(back);
            b.g.add(ROOT, Op::IntBin(IntOp::Sub), vec![len, k], Ty::Int)
        }
        (1, _) => b.int_lit((n as i64 - back).max(0)),
        _ => b.opaque(&format!("a0.len() - {back}"), &[("a0", a0)], Ty::Other),
    };
    // `s` starts at `x0`; `y` as `vec![0.5; a0.len()]`.
    let mut inits = Vec::new();
    if p.sum.is_some() {
        inits.push(x0);
    }
    if !p.writes.is_empty() {
        let half = b.c(0.5);
        let len = b.g.add(ROOT, Op::Len, vec![a0], Ty::Other);
        inits.push(b.g.add(ROOT, Op::FillVec, vec![half, len], arr));
    }
    let body = b.g.new_region(ROOT);
    let args: Vec<NodeId> = inits
        .iter()
        .enumerate()
        .map(|(k, &init)| {
            let ty = b.g.ty(init);
            b.g.add_local(body, Op::RegionArg(body, k as u32 + 1), vec![], ty)
        })
        .collect();
    let i = b.g.add_local(body, Op::RegionArg(body, 0), vec![], Ty::Int);
    b.region = body;
    b.ints.push(i);
    if p.reads_param {
        b.scope.push(x0);
    }
    // The reads, and a value of them all (so that every read is live).
    let mut all = None;
    for (k, &(a, pick, tokens)) in p.reads.iter().enumerate() {
        let idx = b.shifted(i, offset(pick), tokens);
        let v = b.g.add(
            body,
            Op::Index,
            vec![arrays[a as usize % p.arrays], idx],
            F64,
        );
        b.scope.push(v);
        let op = [Bin::Mul, Bin::Sub, Bin::Add][k % 3];
        all = Some(all.map_or(v, |acc| b.bin(op, acc, v)));
    }
    if let Some(v) = all {
        b.scope.push(v);
    }
    for ins in &p.body {
        b.ins(ins);
    }
    let mut outs = Vec::new();
    if let Some(add) = p.sum {
        let v = b.r(0);
        let op = if add { Bin::Add } else { Bin::Mul };
        outs.push(b.bin(op, args[0], v));
    }
    if !p.writes.is_empty() {
        let mut y = args[args.len() - 1];
        for &(pick, r, tokens) in &p.writes {
            let idx = b.shifted(i, offset(pick), tokens);
            let v = b.r(r);
            y = b.g.add(body, Op::AddAt, vec![y, idx, v], arr);
        }
        outs.push(y);
    }
    b.region = ROOT;
    b.g.set_outputs(body, outs);
    let mut loop_args = vec![start, end];
    loop_args.extend(&inits);
    let op = Op::Loop {
        body,
        carried: inits.len() as u32,
        rev: p.rev,
        exit: None,
    };
    let l = b.g.add(ROOT, op, loop_args, Ty::Other);
    let outputs: Vec<NodeId> = inits
        .iter()
        .enumerate()
        .map(|(k, &init)| {
            let ty = b.g.ty(init);
            b.g.add(ROOT, Op::Proj(k as u32), vec![l], ty)
        })
        .collect();
    function_of(params, b.g, outputs)
}

impl Sample for SCase {
    fn point(&self) -> Result<Point, TestCaseError> {
        let f = sbuild(&self.prog, self.n);
        let ins = param_shapes(&f, self.n);
        point_of(f, ins, &self.x, &self.v, &self.w)
    }

    fn show(&self) -> String {
        let f = sbuild(&self.prog, self.n);
        let ins = param_shapes(&f, self.n);
        let k: usize = ins.iter().map(Shape::size).sum();
        let params = values(&ins, self.x[..k].iter().copied());
        format!(
            "n = {}, params = {params:?}, direction = {:?}\n{self:?}\nprogram:\n{f}",
            self.n,
            values(&ins, self.v[..k].iter().copied()),
        )
    }
}

#[test]
fn stencils_vjp_matches_dual_numbers_and_finite_differences() {
    check("stencils vjp", 0.5, scase(), vjp_property);
}

/// What the expansion emits: the vjp simplified and gathered.
#[test]
fn stencils_emitted_vjp_matches_dual_numbers() {
    check(
        "stencils emitted vjp",
        0.0,
        scase(),
        simplified_vjp_property,
    );
}

#[test]
fn stencils_forward_over_reverse_matches_dual_numbers() {
    check("stencils hvp", 0.0, scase(), hvp_property);
}

#[test]
fn stencils_gather_keeps_values() {
    let stats = check("stencils gather", 0.0, scase(), gather_property);
    let share = stats.gathered.get() as f64 / stats.ran.get().max(1) as f64;
    assert!(
        share >= 0.3,
        "a loop gathered in only {share:.2} of the cases"
    );
}

/// The stencil generator makes what it promises (counted on the
/// programs, and on their simplified vjps for what the pass sees).
#[test]
fn stencil_generator_covers_the_shapes() {
    use std::collections::BTreeMap;
    let mut runner = seeded_runner(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let mut features: BTreeMap<&str, usize> = BTreeMap::new();
    let runs = 300;
    for _ in 0..runs {
        let c = scase().new_tree(&mut runner).unwrap().current();
        let f = sbuild(&c.prog, c.n);
        let (lo, back) = (c.prog.lo as usize, c.prog.back as usize);
        let trips = c.n.saturating_sub(back).saturating_sub(lo);
        let mut has = vec![match trips {
            0 => "no iteration",
            1 => "one iteration",
            _ => "more iterations",
        }];
        if lo + back >= 2 && (1..lo + back).contains(&trips) {
            has.push("fewer iterations than the span");
        }
        if c.prog.rev {
            has.push("reversed");
        }
        if c.prog.reads.iter().any(|r| r.2) {
            has.push("literal first");
        }
        if !c.prog.writes.is_empty() {
            has.push("scatter");
        }
        if c.prog.sum == Some(false) {
            has.push("carried product");
        }
        if c.prog.reads_param {
            has.push("reads x0");
        }
        if gather(&simplify(&vjp_bar(&f))).is_some() {
            has.push("vjp gathered");
        }
        let emitted = finish(&vjp_bar(&f));
        if emitted.graph.nodes.iter().any(|n| n.op == Op::FillLike) {
            has.push("vjp fills a buffer");
        }
        if gather(&simplify(&f)).is_some() {
            has.push("primal gathered");
        }
        for h in has {
            *features.entry(h).or_default() += 1;
        }
    }
    eprintln!("stencil generator: programs (of {runs}) with each feature: {features:?}");
    for f in [
        "no iteration",
        "one iteration",
        "more iterations",
        "fewer iterations than the span",
        "reversed",
        "literal first",
        "scatter",
        "carried product",
        "reads x0",
        "vjp gathered",
        "vjp fills a buffer",
        "primal gathered",
    ] {
        let n = features.get(f).copied().unwrap_or(0);
        assert!(n >= 5, "{f}: in only {n} of {runs} programs\n{features:?}");
    }
}
