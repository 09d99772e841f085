//! Random scalar programs (see the [module docs](super)): the instructions,
//! their strategies, and the [`Builder`] that turns them into a graph (the
//! array and stencil programs extend it); the properties on them.

use std::collections::HashSet;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

use super::arrays::{Arr, Avoid};
use super::point::{point_of, Point, Shape};
use super::properties::{
    hvp_property, jvp_property, simplify_property, swell_property, vjp_property,
};
use super::{check, float_param, function_of, ident, signed, Sample, F64, SWELL};
use crate::diff::forward::jvp;
use crate::diff::reverse::vjp;
use crate::diff::Seed;
use crate::interp::{self, Val};
use crate::ir::{
    Bin, Cmp, FloatTy, Function, Graph, NodeId, Op, OutShape, Param, RegionId, Ty, Un, ROOT,
};
use crate::simplify::simplify;

/// A reference to an earlier value: `k` counts back from the latest (0 is
/// the latest), modulo the number of visible values.
pub(super) type Ref = u8;

/// Constants available as operands. No 1.0 (see `SIMP_RTOL`).
const POOL: [f64; 8] = [0.0, -1.0, 2.0, 0.5, -0.25, 3.0, -1.5, 0.75];

#[derive(Clone, Copy, Debug)]
pub(super) enum Opnd {
    Ref(Ref),
    Const(u8),
}

#[derive(Clone, Debug)]
pub(super) struct Cond {
    /// Reuse an earlier condition (a comparison, or a `bool` an `If`
    /// yielded) instead of comparing `a` and `b`.
    prev: Option<u8>,
    cmp: Cmp,
    a: Ref,
    b: Opnd,
    /// `&&` (true) or `||` (false) with a second comparison.
    more: Option<(bool, Cmp, Ref, Opnd)>,
    not: bool,
}

#[derive(Clone, Debug)]
pub(super) enum Ins {
    /// A unary op on a guarded operand; `var` picks the guard.
    Un(Un, Ref, u8),
    Bin(Bin, Opnd, Opnd, u8),
    /// `x.powi(n)` (on a positive guard for negative `n`); with `Some(k)`,
    /// `n` is an earlier integer (a literal or one an `If` yielded).
    PowI(Ref, i8, u8, Option<u8>),
    /// `x * (n as f64)` for an earlier integer `n`.
    Cast(Ref, u8),
    MulAdd(Ref, Opnd, Opnd),
    /// `x.clamp(lo, lo + width)` from the tables, or (`var` odd) with
    /// runtime bounds `y - 0.5`, `y + 0.75`.
    Clamp(Ref, u8, u8, u8),
    Select(Cond, Opnd, Opnd),
    /// `if cond { then } else { els }`.
    If(Box<IfIns>),
    /// Rebuilds an earlier instruction's node (op and operands) in the
    /// current region: the same node when it is visible (hash-consing),
    /// a duplicate when it was built in a branch that is now closed, a
    /// shared outer node when it is rebuilt inside a branch.
    Repeat(u16),
}

#[derive(Clone, Debug)]
pub(super) struct IfIns {
    cond: Cond,
    then: Vec<Ins>,
    els: Vec<Ins>,
    /// One float yielded per pair (counted back from the end of each
    /// branch).
    outs: Vec<(Ref, Ref)>,
    /// Also yield an integer literal per side.
    int: Option<(i8, i8)>,
    /// Also yield a comparison computed at the end of each side.
    boolean: Option<(Cmp, Ref, Ref)>,
}

#[derive(Clone, Debug)]
struct Prog {
    params: usize,
    ins: Vec<Ins>,
    /// A second output, if any.
    second: Option<Ref>,
}

pub(super) const UNS: [Un; 33] = [
    Un::Neg,
    Un::Sin,
    Un::Cos,
    Un::Tan,
    Un::Asin,
    Un::Acos,
    Un::Atan,
    Un::Sinh,
    Un::Cosh,
    Un::Tanh,
    Un::Asinh,
    Un::Acosh,
    Un::Atanh,
    Un::Exp,
    Un::Exp2,
    Un::ExpM1,
    Un::Ln,
    Un::Log2,
    Un::Log10,
    Un::Ln1p,
    Un::Sqrt,
    Un::Cbrt,
    Un::Recip,
    Un::Abs,
    Un::Signum,
    Un::Floor,
    Un::Ceil,
    Un::Round,
    Un::Trunc,
    Un::Fract,
    Un::Sign0,
    Un::Softplus,
    Un::Sigmoid,
];

pub(super) const BINS: [Bin; 10] = [
    Bin::Add,
    Bin::Sub,
    Bin::Mul,
    Bin::Div,
    Bin::Powf,
    Bin::Atan2,
    Bin::Hypot,
    Bin::Log,
    Bin::Min,
    Bin::Max,
];

const CMPS: [Cmp; 8] = [
    Cmp::Lt,
    Cmp::Le,
    Cmp::Gt,
    Cmp::Ge,
    Cmp::Eq,
    Cmp::Ne,
    Cmp::MaxFirst,
    Cmp::MinFirst,
];

pub(super) fn a_ref() -> impl Strategy<Value = Ref> {
    prop_oneof![4 => Just(0u8), 3 => 1u8..4, 1 => 4u8..32]
}

pub(super) fn opnd() -> impl Strategy<Value = Opnd> {
    prop_oneof![5 => a_ref().prop_map(Opnd::Ref), 1 => (0..POOL.len() as u8).prop_map(Opnd::Const)]
}

pub(super) fn cond() -> impl Strategy<Value = Cond> {
    let cmp = || prop::sample::select(CMPS.to_vec());
    (
        cmp(),
        a_ref(),
        opnd(),
        prop::option::weighted(0.25, (any::<bool>(), cmp(), a_ref(), opnd())),
        prop::bool::weighted(0.2),
        prop::option::weighted(0.25, any::<u8>()),
    )
        .prop_map(|(cmp, a, b, more, not, prev)| Cond {
            prev,
            cmp,
            a,
            b,
            more,
            not,
        })
}

pub(super) fn leaf() -> impl Strategy<Value = Ins> {
    prop_oneof![
        6 => (prop::sample::select(UNS.to_vec()), a_ref(), any::<u8>()).prop_map(|(u, a, v)| Ins::Un(u, a, v)),
        5 => (prop::sample::select(BINS.to_vec()), opnd(), opnd(), any::<u8>()).prop_map(|(b, x, y, v)| Ins::Bin(b, x, y, v)),
        1 => (a_ref(), -3i8..=5, any::<u8>(), prop::option::weighted(0.3, any::<u8>())).prop_map(|(a, n, v, k)| Ins::PowI(a, n, v, k)),
        1 => (a_ref(), any::<u8>()).prop_map(|(a, k)| Ins::Cast(a, k)),
        1 => (a_ref(), opnd(), opnd()).prop_map(|(a, b, c)| Ins::MulAdd(a, b, c)),
        1 => (a_ref(), any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, l, w, v)| Ins::Clamp(a, l, w, v)),
        1 => (cond(), opnd(), opnd()).prop_map(|(c, a, b)| Ins::Select(c, a, b)),
        1 => any::<u16>().prop_map(Ins::Repeat),
    ]
}

fn if_ins(inner: impl Strategy<Value = Ins> + Clone) -> impl Strategy<Value = Ins> {
    (
        cond(),
        vec(inner.clone(), 0..=3),
        vec(inner, 0..=3),
        vec((a_ref(), a_ref()), 1..=2),
        prop::option::weighted(0.3, (-2i8..=3, -2i8..=3)),
        prop::option::weighted(0.3, (prop::sample::select(CMPS.to_vec()), a_ref(), a_ref())),
    )
        .prop_map(|(cond, then, els, outs, int, boolean)| {
            Ins::If(Box::new(IfIns {
                cond,
                then,
                els,
                outs,
                int,
                boolean,
            }))
        })
}

fn ins() -> BoxedStrategy<Ins> {
    leaf().prop_recursive(1, 8, 3, if_ins).boxed()
}

fn prog() -> impl Strategy<Value = Prog> {
    (
        2usize..=3,
        vec(ins(), 2..=4),
        if_ins(ins()),
        vec(ins(), 2..=4),
        prop::option::of(a_ref()),
    )
        .prop_map(|(params, mut a, i, b, second)| {
            a.push(i);
            a.extend(b);
            Prog {
                params,
                ins: a,
                second,
            }
        })
}

/// A program with a point `x`, a direction `v` and a cotangent `w`.
#[derive(Clone, Debug)]
struct Case {
    prog: Prog,
    x: [f64; 3],
    v: [f64; 3],
    w: [f64; 2],
}

fn case() -> impl Strategy<Value = Case> {
    let x = || signed(0.05, 2.0);
    let d = || signed(0.1, 1.0);
    (prog(), [x(), x(), x()], [d(), d(), d()], [d(), d()]).prop_map(|(prog, x, v, w)| Case {
        prog,
        x,
        v,
        w,
    })
}

#[derive(Clone)]
pub(super) struct Builder {
    pub(super) g: Graph,
    pub(super) region: RegionId,
    /// Visible float values, oldest first.
    pub(super) scope: Vec<NodeId>,
    /// Visible integers and conditions.
    pub(super) ints: Vec<NodeId>,
    pub(super) bools: Vec<NodeId>,
    /// The node every instruction built (for `Repeat`).
    built: Vec<NodeId>,
    /// Visible arrays (programs with arrays), oldest first.
    pub(super) arrays: Vec<Arr>,
    /// The enclosing loops' indices, starts, and whether they end at
    /// `n - 1`, innermost last.
    pub(super) loops: Vec<(NodeId, i64, bool)>,
    /// The length of every array.
    pub(super) n: usize,
    /// The first array param.
    pub(super) a0: NodeId,
    /// Array versions written or carried into a loop: never read again.
    pub(super) taken: HashSet<NodeId>,
    /// Loop bodies being built, innermost last.
    pub(super) bodies: Vec<RegionId>,
    /// Avoid the known bugs (see [`Avoid`]).
    pub(super) avoid: Avoid,
    /// Arrays `..frozen` cannot be written now.
    pub(super) frozen: usize,
    /// The floats the loops at the root carried out.
    pub(super) results: Vec<NodeId>,
}

impl Builder {
    pub(super) fn new(n: usize) -> Builder {
        Builder {
            g: Graph::default(),
            region: ROOT,
            scope: Vec::new(),
            ints: Vec::new(),
            bools: Vec::new(),
            built: Vec::new(),
            arrays: Vec::new(),
            loops: Vec::new(),
            n,
            a0: NodeId(u32::MAX),
            taken: HashSet::new(),
            bodies: Vec::new(),
            avoid: Avoid::default(),
            frozen: 0,
            results: Vec::new(),
        }
    }

    pub(super) fn r(&self, r: Ref) -> NodeId {
        let n = self.scope.len();
        self.scope[n - 1 - r as usize % n]
    }

    pub(super) fn c(&mut self, v: f64) -> NodeId {
        self.g.konst(self.region, FloatTy::F64, v)
    }

    pub(super) fn opnd(&mut self, o: Opnd) -> NodeId {
        match o {
            Opnd::Ref(r) => self.r(r),
            Opnd::Const(i) => self.c(POOL[i as usize % POOL.len()]),
        }
    }

    /// Two operands, at least one of them a runtime value.
    fn opnds(&mut self, a: Opnd, b: Opnd) -> (NodeId, NodeId) {
        let b = match (a, b) {
            (Opnd::Const(_), Opnd::Const(_)) => Opnd::Ref(0),
            _ => b,
        };
        (self.opnd(a), self.opnd(b))
    }

    pub(super) fn un(&mut self, u: Un, x: NodeId) -> NodeId {
        self.g.un(self.region, u, x)
    }

    pub(super) fn bin(&mut self, b: Bin, x: NodeId, y: NodeId) -> NodeId {
        self.g.bin(self.region, b, x, y)
    }

    /// A value >= `off` > 0.
    pub(super) fn pos(&mut self, x: NodeId, var: u8, off: f64) -> NodeId {
        let o = self.c(off);
        match var % 3 {
            0 => {
                let sq = self.bin(Bin::Mul, x, x);
                self.bin(Bin::Add, sq, o)
            }
            1 => {
                let a = self.un(Un::Abs, x);
                self.bin(Bin::Add, a, o)
            }
            _ => self.bin(Bin::Hypot, x, o),
        }
    }

    /// A value in [-k, k].
    fn bounded(&mut self, x: NodeId, var: u8, k: f64) -> NodeId {
        let u = [Un::Tanh, Un::Sin, Un::Cos][var as usize % 3];
        let b = self.un(u, x);
        let k = self.c(k);
        self.bin(Bin::Mul, k, b)
    }

    fn int(&mut self, n: i8) -> NodeId {
        let n = self.g.add(self.region, Op::Int(n as i64), vec![], Ty::Int);
        self.ints.push(n);
        n
    }

    pub(super) fn cond(&mut self, c: &Cond) -> NodeId {
        let mut n = match c.prev {
            Some(k) if !self.bools.is_empty() => self.bools[k as usize % self.bools.len()],
            _ => {
                let a = self.r(c.a);
                let b = self.opnd(c.b);
                self.g.cmp(self.region, c.cmp, a, b)
            }
        };
        if let Some((and, k, x, y)) = c.more {
            let x = self.r(x);
            let y = self.opnd(y);
            let m = self.g.cmp(self.region, k, x, y);
            let op = if and { Op::And } else { Op::Or };
            n = self.g.add(self.region, op, vec![n, m], Ty::Bool);
        }
        if c.not {
            n = self.g.add(self.region, Op::Not, vec![n], Ty::Bool);
        }
        self.bools.push(n);
        n
    }

    fn unary(&mut self, u: Un, x: NodeId, var: u8) -> NodeId {
        use Un::*;
        let arg = match u {
            Neg | Sin | Cos | Atan | Tanh | Asinh | Sigmoid | Softplus | Abs | Signum | Sign0
            | Floor | Ceil | Round | Trunc | Fract => x,
            Tan => self.bounded(x, var, 1.2),
            Asin | Acos | Atanh => self.bounded(x, var, 0.9),
            Sinh | Cosh | Exp | Exp2 | ExpM1 => self.bounded(x, var, 2.0),
            Ln | Log2 | Log10 | Sqrt | Recip => self.pos(x, var, 0.5),
            Cbrt => {
                let p = self.pos(x, var, 0.5);
                if var & 4 != 0 {
                    self.un(Neg, p)
                } else {
                    p
                }
            }
            Acosh => self.pos(x, var, 1.25),
            Ln1p => {
                if var & 4 != 0 {
                    self.bounded(x, var, 0.9)
                } else {
                    self.bin(Bin::Mul, x, x)
                }
            }
        };
        self.un(u, arg)
    }

    fn binary(&mut self, b: Bin, x: Opnd, y: Opnd, var: u8) -> NodeId {
        let (x, y) = self.opnds(x, y);
        let (x, y) = match b {
            Bin::Add | Bin::Sub | Bin::Mul | Bin::Min | Bin::Max | Bin::Hypot | Bin::Atan2 => {
                (x, y)
            }
            Bin::Div => (x, self.pos(y, var, 0.5)),
            Bin::Powf => (self.pos(x, var, 0.5), self.bounded(y, var / 3, 2.0)),
            Bin::Log => (self.pos(x, var, 0.5), self.pos(y, var / 3, 1.5)),
        };
        self.bin(b, x, y)
    }

    pub(super) fn ins(&mut self, ins: &Ins) {
        let r = self.region;
        let v = match ins {
            Ins::Un(u, a, var) => {
                let x = self.r(*a);
                self.unary(*u, x, *var)
            }
            Ins::Bin(b, x, y, var) => self.binary(*b, *x, *y, *var),
            Ins::PowI(a, n, var, from) => {
                let x = self.r(*a);
                let (x, n) = match from {
                    Some(k) if !self.ints.is_empty() => {
                        // Any sign: keep the base positive.
                        let n = self.ints[*k as usize % self.ints.len()];
                        (self.pos(x, *var, 0.5), n)
                    }
                    _ => {
                        let x = if *n < 0 { self.pos(x, *var, 0.5) } else { x };
                        (x, self.int(*n))
                    }
                };
                self.g.add(r, Op::PowI, vec![x, n], F64)
            }
            Ins::Cast(a, k) => {
                let x = self.r(*a);
                let n = if self.ints.is_empty() {
                    self.int(3)
                } else {
                    self.ints[*k as usize % self.ints.len()]
                };
                let nf = self.g.add(r, Op::IntToFloat, vec![n], F64);
                self.bin(Bin::Mul, x, nf)
            }
            Ins::MulAdd(a, b, c) => {
                let a = self.r(*a);
                let (b, c) = (self.opnd(*b), self.opnd(*c));
                self.g.add(r, Op::MulAdd, vec![a, b, c], F64)
            }
            Ins::Clamp(a, lo, width, var) => {
                let x = self.r(*a);
                let (lo, hi) = if var % 2 == 0 {
                    let lo = [-1.5, -0.5, 0.0, 0.25][*lo as usize % 4];
                    let hi = lo + [0.5, 1.0, 2.0][*width as usize % 3];
                    (self.c(lo), self.c(hi))
                } else {
                    let y = self.r(*lo);
                    let (a, b) = (self.c(0.5), self.c(0.75));
                    (self.bin(Bin::Sub, y, a), self.bin(Bin::Add, y, b))
                };
                self.g.add(r, Op::Clamp, vec![x, lo, hi], F64)
            }
            Ins::Select(c, a, b) => {
                let c = self.cond(c);
                let (a, b) = self.opnds(*a, *b);
                self.g.select(r, c, a, b)
            }
            Ins::If(i) => {
                let IfIns {
                    cond,
                    then,
                    els,
                    outs,
                    int,
                    boolean,
                } = &**i;
                let c = self.cond(cond);
                let saved = (self.scope.clone(), self.ints.clone(), self.bools.clone());
                let mut yields = [Vec::new(), Vec::new()];
                let mut regions = [ROOT; 2];
                for (side, body) in [then, els].into_iter().enumerate() {
                    let br = self.g.new_region(r);
                    regions[side] = br;
                    self.region = br;
                    for i in body {
                        self.ins(i);
                    }
                    yields[side] = outs
                        .iter()
                        .map(|p| self.r(if side == 0 { p.0 } else { p.1 }))
                        .collect();
                    if let Some((a, b)) = int {
                        let n = self.int(if side == 0 { *a } else { *b });
                        yields[side].push(n);
                    }
                    if let Some((k, a, b)) = boolean {
                        let (a, b) = (self.r(*a), self.r(*b));
                        let c = self.g.cmp(br, *k, a, b);
                        yields[side].push(c);
                    }
                    self.region = r;
                    (self.scope, self.ints, self.bools) = saved.clone();
                }
                let [t, e] = yields;
                self.g.set_outputs(regions[0], t);
                self.g.set_outputs(regions[1], e);
                let i = self.g.add(
                    r,
                    Op::If {
                        then: regions[0],
                        els: regions[1],
                    },
                    vec![c],
                    Ty::Other,
                );
                for k in 0..outs.len() {
                    let p = self.g.add(r, Op::Proj(k as u32), vec![i], F64);
                    self.scope.push(p);
                }
                let mut k = outs.len() as u32;
                if int.is_some() {
                    let p = self.g.add(r, Op::Proj(k), vec![i], Ty::Other);
                    self.ints.push(p);
                    k += 1;
                }
                if boolean.is_some() {
                    let p = self.g.add(r, Op::Proj(k), vec![i], Ty::Bool);
                    self.bools.push(p);
                }
                return;
            }
            Ins::Repeat(k) => {
                // Earlier nodes whose operands are all visible here.
                let candidates: Vec<NodeId> = self
                    .built
                    .iter()
                    .copied()
                    .filter(|&n| {
                        self.g
                            .args(n)
                            .iter()
                            .all(|&a| self.g.within(r, self.g.node(a).region))
                            && !matches!(self.g.op(n), Op::If { .. } | Op::Proj(_))
                    })
                    .collect();
                if candidates.is_empty() {
                    return;
                }
                let n = candidates[*k as usize % candidates.len()];
                let node = self.g.node(n).clone();
                self.g.add(r, node.op, node.args, node.ty)
            }
        };
        self.built.push(v);
        self.scope.push(v);
    }
}

/// Longest chain of operands under `id` (a `Proj` through its `If`'s
/// yields, an `If` through its condition).
fn depth(g: &Graph, id: NodeId, memo: &mut Vec<Option<usize>>) -> usize {
    if let Some(d) = memo[id.0 as usize] {
        return d;
    }
    let node = g.node(id);
    let mut below: Vec<NodeId> = node.args.clone();
    if let Op::Proj(k) = node.op {
        if let Op::If { then, els } = *g.op(node.args[0]) {
            below.push(g.region(then).outputs[k as usize]);
            below.push(g.region(els).outputs[k as usize]);
        }
    }
    let d = 1 + below
        .into_iter()
        .map(|a| depth(g, a, memo))
        .max()
        .unwrap_or(0);
    memo[id.0 as usize] = Some(d);
    d
}

/// Minimum depth of the first output.
const MIN_DEPTH: usize = 6;

fn build(p: &Prog) -> Function {
    let mut b = Builder::new(0);
    for i in 0..p.params {
        let n = b.g.add(
            ROOT,
            Op::Param {
                index: i as u32,
                field: None,
            },
            vec![],
            F64,
        );
        b.scope.push(n);
    }
    for i in &p.ins {
        b.ins(i);
    }
    let mut out = b.r(0);
    loop {
        let mut memo = vec![None; b.g.nodes.len()];
        if depth(&b.g, out, &mut memo) >= MIN_DEPTH {
            break;
        }
        out = b.un(Un::Sin, out);
    }
    let mut outputs = vec![out];
    if let Some(r) = p.second {
        outputs.push(b.r(r));
    }
    let params = (0..p.params)
        .map(|i| float_param(&format!("x{i}"), 1))
        .collect();
    function_of(params, b.g, outputs)
}

// ---------------------------------------------------------------------------
// The properties on scalar programs.

impl Sample for Case {
    fn point(&self) -> Result<Point, TestCaseError> {
        let f = build(&self.prog);
        let ins = vec![Shape::Scalar; f.params.len()];
        point_of(f, ins, &self.x, &self.v, &self.w)
    }

    fn show(&self) -> String {
        let f = build(&self.prog);
        let n = f.params.len();
        format!(
            "x = {:?}, v = {:?}, out_bar = {:?}\n{self:?}\nprogram:\n{f}",
            &self.x[..n],
            &self.v[..n],
            &self.w[..f.outputs.len()]
        )
    }
}

#[test]
fn jvp_matches_dual_numbers_and_finite_differences() {
    check("jvp", 0.8, case(), jvp_property);
}

#[test]
fn vjp_matches_dual_numbers_and_finite_differences() {
    check("vjp", 0.8, case(), vjp_property);
}

#[test]
fn simplify_keeps_values() {
    check("simplify", 0.0, case(), simplify_property);
}

#[test]
fn forward_over_reverse_matches_dual_numbers() {
    check("hvp", 0.0, case(), hvp_property);
}

#[test]
fn no_expression_swell() {
    check("swell", 0.0, case(), swell_property(SWELL));
}

/// The generator makes what it promises: depth >= 6 and an `If` in every
/// program; every op, and each structural feature, over the cases.
#[test]
fn generator_covers_the_ops() {
    use std::collections::{BTreeMap, HashMap, HashSet};
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let mut ops = HashSet::new();
    let mut features: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..300 {
        let c = case().new_tree(&mut runner).unwrap().current();
        let f = build(&c.prog);
        let g = &f.graph;
        let mut memo = vec![None; g.nodes.len()];
        assert!(depth(g, f.outputs[0], &mut memo) >= MIN_DEPTH);
        let mut has = HashSet::new();
        // The same op and operands built in two regions.
        let mut homes: HashMap<(String, Vec<NodeId>), RegionId> = HashMap::new();
        for n in &g.nodes {
            let name = match &n.op {
                Op::Un(u) => format!("{u:?}"),
                Op::Bin(b) => format!("{b:?}"),
                Op::Cmp(k) => format!("{k:?}"),
                Op::If { .. } => "If".into(),
                Op::Proj(_) => match n.ty {
                    Ty::Other => "int yield".into(),
                    Ty::Bool => "bool yield".into(),
                    _ => "Proj".into(),
                },
                Op::PowI if !matches!(g.op(n.args[1]), Op::Int(_)) => "runtime exponent".into(),
                other => format!("{other:?}")
                    .split(['(', ' '])
                    .next()
                    .unwrap_or("")
                    .to_string(),
            };
            if n.region != ROOT && g.region(n.region).parent != Some(ROOT) {
                has.insert("nested If".to_string());
            }
            if n.args.iter().any(|a| g.node(*a).region != n.region) && n.region != ROOT {
                has.insert("outer value used in a branch".to_string());
            }
            let key = (format!("{:?}", n.op), n.args.clone());
            if !n.args.is_empty() && homes.insert(key, n.region).is_some_and(|r| r != n.region) {
                has.insert("node rebuilt in another region".to_string());
            }
            ops.insert(name.clone());
            has.insert(name);
        }
        assert!(has.contains("If"));
        for h in has {
            *features.entry(Box::leak(h.into_boxed_str())).or_default() += 1;
        }
    }
    // Shown with `--nocapture`.
    eprintln!("generator: programs (of 300) with each feature: {features:?}");
    let mut want: Vec<String> = UNS.iter().map(|u| format!("{u:?}")).collect();
    want.extend(BINS.iter().map(|b| format!("{b:?}")));
    want.extend(CMPS.iter().map(|k| format!("{k:?}")));
    for w in want {
        assert!(ops.contains(&w), "{w} never generated");
    }
    for f in [
        "nested If",
        "outer value used in a branch",
        "node rebuilt in another region",
        "int yield",
        "bool yield",
        "runtime exponent",
        "IntToFloat",
        "MulAdd",
        "Clamp",
        "Select",
        "And",
        "Or",
        "Not",
    ] {
        let n = features.get(f).copied().unwrap_or(0);
        assert!(n >= 10, "{f}: in only {n} of 300 programs\n{features:?}");
    }
}

/// `x.powi(0)` is 1 everywhere, so its derivative is 0 at x = 0 too, for a
/// literal and for a runtime exponent (a case the random programs found:
/// the rule's `n * x^(n-1)` is `0 * inf` there).
#[test]
fn powi_zero_exponent_at_zero() {
    let mut g = Graph::default();
    let x = g.add(
        ROOT,
        Op::Param {
            index: 0,
            field: None,
        },
        vec![],
        F64,
    );
    let n = g.add(
        ROOT,
        Op::Param {
            index: 1,
            field: None,
        },
        vec![],
        Ty::Other,
    );
    let zero = g.add(ROOT, Op::Int(0), vec![], Ty::Int);
    let a = g.add(ROOT, Op::PowI, vec![x, n], F64);
    let b = g.add(ROOT, Op::PowI, vec![x, zero], F64);
    let f = Function {
        params: vec![
            float_param("x", 1),
            Param {
                usize: false,
                tape: false,
                name: ident("n"),
                fields: vec![Ty::Other],
            },
        ],
        graph: g,
        outputs: vec![a, b],
        shape: OutShape::Tuple(vec![OutShape::Leaf; 2]),
    };
    let jf = jvp(&f, vec![float_param("x_dot", 1)], 1, &|_, index, _| {
        if index == 0 {
            Seed::Param {
                index: 2,
                field: None,
            }
        } else {
            Seed::Zero
        }
    });
    let vf = vjp(
        &f,
        vec![float_param("out_bar", 2)],
        &[0, 1].map(|k| Seed::Param {
            index: 2,
            field: Some(k),
        }),
        &[(0, None)],
    );
    let (x, n) = (Val::F(0.0), Val::Int(0));
    for t in [jf.clone(), simplify(&jf)] {
        let out = interp::run(&t, &[x.clone(), n.clone(), Val::F(1.0)]);
        assert_eq!(out, [1.0, 1.0, 0.0, 0.0].map(Val::F), "\n{t}");
    }
    for t in [vf.clone(), simplify(&vf)] {
        let out = interp::run(
            &t,
            &[
                x.clone(),
                n.clone(),
                Val::Tuple(vec![Val::F(1.0), Val::F(1.0)]),
            ],
        );
        assert_eq!(out, [1.0, 1.0, 0.0].map(Val::F), "\n{t}");
    }
}
