//! Property tests on random programs, built directly with the [`Graph`] API
//! (no Rust parsing) and run with the test interpreter ([`crate::interp`]).
//!
//! A program is a list of instructions in SSA style: each one reads earlier
//! values (mostly the latest one, so programs are let-chains of depth >= 6;
//! sometimes older ones, so values are shared), and pushes its result. Every
//! op of the IR appears: every [`Un`] (with a guard that keeps its operand
//! in its domain: `ln(x*x + 0.5)`, `asin(0.9 * tanh x)`, `exp(2 sin x)`,
//! ...), every [`Bin`], `powi` with integer exponents, `mul_add`, `clamp`
//! with constant `lo < hi` bounds (and runtime ones), `select` on
//! comparisons (any [`Cmp`], with `!`, `&&`, `||`), and `If` regions with
//! let-chains inside, nested `If`s, and subexpressions rebuilt inside and
//! outside branches (hash-consing then shares or duplicates them, see
//! [`Ins::Repeat`]). `If`s also yield integers (later `powi` exponents and
//! `as f64` casts) and booleans (later conditions). Each program has 2-3
//! float params, 1-2 outputs and at least one `If`
//! ([`generator_covers_the_ops`] checks all of this).
//!
//! Each property runs 1000 cases. A case is discarded when a value of the
//! program is not finite, or when a branch or kink decision (a comparison,
//! the side of an `If`, `min`/`max`/`clamp`/`abs`/`floor`/... choices)
//! changes within the finite-difference stencil: there the derivative is
//! not the limit finite differences measure.

// Jacobians are index-heavy: explicit index loops read best here.
#![allow(clippy::needless_range_loop, clippy::type_complexity)]

use std::cell::Cell;

use num_dual::Dual64;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestError, TestRunner};

use crate::diff::forward::jvp;
use crate::diff::reverse::vjp;
use crate::diff::Seed;
use crate::interp::{self, Val, Value};
use crate::ir::{
    Bin, Cmp, FloatTy, Function, Graph, NodeId, Op, OutShape, Param, RegionId, Ty, Un, ROOT,
};
use crate::simplify::simplify;

const F64: Ty = Ty::Float(FloatTy::F64);

/// Cases per property.
const CASES: u32 = 1000;

// ---------------------------------------------------------------------------
// Tolerances (relative + absolute: |a - b| <= atol + rtol * max(|a|, |b|)).

/// IR derivatives against `num-dual` on the same program: both are exact
/// derivatives evaluated in a different order, so only rounding differs.
const DUAL_RTOL: f64 = 1e-9;
const DUAL_ATOL: f64 = 1e-9;
/// Against central finite differences with step `FD_H` and Richardson
/// extrapolation (error O(h^4) + roundoff O(eps / h)); the comparison is
/// made only where the two stencils agree to `FD_RELIABLE` of the tolerance
/// (in a high-curvature spot the finite difference, not the AD, is off).
const FD_H: f64 = 1e-3;
const FD_RTOL: f64 = 1e-6;
const FD_ATOL: f64 = 1e-6;
const FD_RELIABLE: f64 = 0.1;
/// `simplify` against the unsimplified program. The simplifier's rules are
/// exact under IEEE except the stability rewrites (`ln(1 + x) -> ln_1p`,
/// `exp(x) - 1 -> exp_m1`, `ln(1 + exp x) -> softplus`). The generator never
/// produces their patterns: no literal `1.0` is ever an operand (the
/// constant pool lacks it, and every instruction has a runtime operand, so
/// no constant subexpression folds to 1), `ln`/`ln_1p` only see guarded
/// operands (`x*x + 0.5`, `|x| + 0.5`, `hypot(x, 0.5)`, `0.9 * tanh x`), and
/// the derivative rules never build a logarithm of a sum with 1. So the
/// comparison is tight: equal up to a few ulps.
const SIMP_RTOL: f64 = 1e-12;
const SIMP_ATOL: f64 = 1e-14;
/// Expression swell: live nodes of `simplify(vjp(f))` (one cotangent) and
/// of `simplify(jvp(f))` (one direction) against live nodes of `f` (about
/// 85 on average here). Measured over 3 * 10^4 random programs: the ratio
/// is at most 3.9 for the vjp (mean 2.0) and 3.2 for the jvp (mean 1.4).
/// `SWELL` leaves a margin of about 1.5x over the worst case seen.
const SWELL: f64 = 6.0;

fn close(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    (a - b).abs() <= atol + rtol * a.abs().max(b.abs())
}

// ---------------------------------------------------------------------------
// Random programs.

/// A reference to an earlier value: `k` counts back from the latest (0 is
/// the latest), modulo the number of visible values.
type Ref = u8;

/// Constants available as operands. No 1.0 (see `SIMP_RTOL`).
const POOL: [f64; 8] = [0.0, -1.0, 2.0, 0.5, -0.25, 3.0, -1.5, 0.75];

#[derive(Clone, Copy, Debug)]
enum Opnd {
    Ref(Ref),
    Const(u8),
}

#[derive(Clone, Debug)]
struct Cond {
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
enum Ins {
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
struct IfIns {
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

const UNS: [Un; 33] = [
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

const BINS: [Bin; 10] = [
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

fn a_ref() -> impl Strategy<Value = Ref> {
    prop_oneof![4 => Just(0u8), 3 => 1u8..4, 1 => 4u8..32]
}

fn opnd() -> impl Strategy<Value = Opnd> {
    prop_oneof![5 => a_ref().prop_map(Opnd::Ref), 1 => (0..POOL.len() as u8).prop_map(Opnd::Const)]
}

fn cond() -> impl Strategy<Value = Cond> {
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

fn leaf() -> impl Strategy<Value = Ins> {
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

/// A number in ±[lo, hi) on a fine grid. It shrinks towards `lo`, never to
/// 0 (proptest's float ranges shrink to 0 even outside the range): at 0
/// many programs sit on a kink or a 0/0, and the shrunk case would show
/// that instead of the failure that was found.
fn signed(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    const STEPS: u64 = 1 << 40;
    (any::<bool>(), 0..STEPS).prop_map(move |(neg, k)| {
        let m = lo + (hi - lo) * (k as f64 / STEPS as f64);
        if neg {
            -m
        } else {
            m
        }
    })
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

struct Builder {
    g: Graph,
    region: RegionId,
    /// Visible float values, oldest first.
    scope: Vec<NodeId>,
    /// Visible integers and conditions.
    ints: Vec<NodeId>,
    bools: Vec<NodeId>,
    /// The node every instruction built (for `Repeat`).
    built: Vec<NodeId>,
}

impl Builder {
    fn r(&self, r: Ref) -> NodeId {
        let n = self.scope.len();
        self.scope[n - 1 - r as usize % n]
    }

    fn c(&mut self, v: f64) -> NodeId {
        self.g.konst(self.region, FloatTy::F64, v)
    }

    fn opnd(&mut self, o: Opnd) -> NodeId {
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

    fn un(&mut self, u: Un, x: NodeId) -> NodeId {
        self.g.un(self.region, u, x)
    }

    fn bin(&mut self, b: Bin, x: NodeId, y: NodeId) -> NodeId {
        self.g.bin(self.region, b, x, y)
    }

    /// A value >= `off` > 0.
    fn pos(&mut self, x: NodeId, var: u8, off: f64) -> NodeId {
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
        let n = self
            .g
            .add(self.region, Op::Int(n as i64), vec![], Ty::Other);
        self.ints.push(n);
        n
    }

    fn cond(&mut self, c: &Cond) -> NodeId {
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

    fn ins(&mut self, ins: &Ins) {
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

fn ident(s: &str) -> syn::Ident {
    syn::Ident::new(s, proc_macro2::Span::call_site())
}

fn float_param(name: &str, fields: usize) -> Param {
    Param {
        name: ident(name),
        fields: vec![F64; fields],
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
    let mut b = Builder {
        g: Graph::default(),
        region: ROOT,
        scope: Vec::new(),
        ints: Vec::new(),
        bools: Vec::new(),
        built: Vec::new(),
    };
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
    let shape = if outputs.len() == 1 {
        OutShape::Leaf
    } else {
        OutShape::Tuple(vec![OutShape::Leaf; outputs.len()])
    };
    Function {
        params: (0..p.params)
            .map(|i| float_param(&format!("x{i}"), 1))
            .collect(),
        graph: b.g,
        outputs,
        shape,
    }
}

// ---------------------------------------------------------------------------
// The transforms as the expansion calls them.

/// `jvp` with one direction whose tangents are params `n..2n`.
fn jvp_dir(f: &Function) -> Function {
    let n = f.params.len() as u32;
    let extra = (0..n)
        .map(|i| float_param(&format!("x{i}_dot"), 1))
        .collect();
    jvp(f, extra, 1, &|_, index, _| Seed::Param {
        index: n + index,
        field: None,
    })
}

/// `jvp` with one basis direction per param (the Jacobian companion).
fn jvp_basis(f: &Function) -> Function {
    let n = f.params.len();
    jvp(f, vec![], n, &|d, index, _| {
        if d == index as usize {
            Seed::One
        } else {
            Seed::Zero
        }
    })
}

/// `vjp` with the cotangent as param `n` (a tuple for several outputs).
fn vjp_bar(f: &Function) -> Function {
    let n = f.params.len() as u32;
    let m = f.outputs.len();
    let tuple = m > 1;
    let seeds: Vec<Seed> = (0..m)
        .map(|k| Seed::Param {
            index: n,
            field: tuple.then_some(k as u32),
        })
        .collect();
    let wrt: Vec<(u32, Option<u32>)> = (0..n).map(|i| (i, None)).collect();
    vjp(f, vec![float_param("out_bar", m)], &seeds, &wrt)
}

/// `vjp` with every output seeded by 1 (the gradient companion).
fn vjp_ones(f: &Function) -> Function {
    let n = f.params.len() as u32;
    let seeds = vec![Seed::One; f.outputs.len()];
    let wrt: Vec<(u32, Option<u32>)> = (0..n).map(|i| (i, None)).collect();
    vjp(f, vec![], &seeds, &wrt)
}

fn floats(v: &[f64]) -> Vec<Value> {
    v.iter().map(|&x| Val::F(x)).collect()
}

fn bar_param(w: &[f64]) -> Value {
    if w.len() == 1 {
        Val::F(w[0])
    } else {
        Val::Tuple(floats(w))
    }
}

/// Runs `f`, failing the case on an interpreter error and giving the
/// outputs as floats.
fn exec(f: &Function, params: &[Value], what: &str) -> Result<Vec<f64>, TestCaseError> {
    match interp::try_run(f, params) {
        Ok(v) => Ok(v.iter().map(Value::f).collect()),
        Err(e) => Err(TestCaseError::fail(format!(
            "{what}: cannot run: {}\n{f}",
            e.0
        ))),
    }
}

// ---------------------------------------------------------------------------
// The primal at a point, its kink decisions, and references.

/// The branch and kink decisions a run took, per evaluated node.
fn decisions(f: &Function, t: &interp::Trace<f64>) -> Vec<(u32, i64)> {
    let g = &f.graph;
    let val = |id: NodeId| match &t.values[id.0 as usize] {
        Some(Val::F(x)) => *x,
        _ => f64::NAN,
    };
    let sign = |x: f64| {
        if x > 0.0 {
            1
        } else if x < 0.0 {
            -1
        } else {
            0
        }
    };
    let mut out = Vec::new();
    for (i, node) in g.nodes.iter().enumerate() {
        let Some(v) = &t.values[i] else { continue };
        let arg = |k: usize| val(node.args[k]);
        let d: i64 = match (&node.op, v) {
            (Op::Cmp(_) | Op::If { .. }, Val::Bool(b)) => *b as i64,
            (Op::Bin(Bin::Min), _) => crate::ir::eval::min_first(arg(0), arg(1)) as i64,
            (Op::Bin(Bin::Max), _) => crate::ir::eval::max_first(arg(0), arg(1)) as i64,
            (Op::Bin(Bin::Atan2), _) if arg(1) < 0.0 => sign(arg(0)),
            (Op::Clamp, _) => {
                if arg(0) < arg(1) {
                    -1
                } else if arg(0) > arg(2) {
                    1
                } else {
                    0
                }
            }
            (Op::Un(Un::Abs | Un::Signum | Un::Sign0), _) => sign(arg(0)),
            (Op::Un(Un::Floor), _) => arg(0).floor() as i64,
            (Op::Un(Un::Ceil), _) => arg(0).ceil() as i64,
            (Op::Un(Un::Round), _) => arg(0).round() as i64,
            (Op::Un(Un::Trunc | Un::Fract), _) => arg(0).trunc() as i64,
            _ => continue,
        };
        out.push((i as u32, d));
    }
    out
}

/// `f` at `x`: outputs and decisions, or `None` when a value is not finite
/// (or beyond 1e8, where finite differences lose all precision).
fn primal(f: &Function, x: &[f64]) -> Result<Option<(Vec<f64>, Vec<(u32, i64)>)>, TestCaseError> {
    let t = interp::trace(f, &floats(x))
        .map_err(|e| TestCaseError::fail(format!("primal: {}\n{f}", e.0)))?;
    let bad = t.values.iter().any(
        |v| matches!(v, Some(Val::F(x)) if x.abs().partial_cmp(&1e8).is_none_or(|o| o.is_ge())),
    );
    // atan2 and hypot at the origin: no derivative (0/0 in any rule).
    let origin = f.graph.nodes.iter().enumerate().any(|(i, n)| {
        matches!(n.op, Op::Bin(Bin::Atan2 | Bin::Hypot))
            && t.values[i].is_some()
            && n.args
                .iter()
                .all(|a| matches!(t.values[a.0 as usize], Some(Val::F(v)) if v == 0.0))
    });
    if bad || origin {
        return Ok(None);
    }
    let y = t.outputs.iter().map(Value::f).collect();
    Ok(Some((y, decisions(f, &t))))
}

/// Everything the properties compare against, at one point.
struct Point {
    f: Function,
    x: Vec<f64>,
    v: Vec<f64>,
    w: Vec<f64>,
    y: Vec<f64>,
    /// `jac[k][i]`: d output k / d param i, by dual numbers.
    jac: Vec<Vec<f64>>,
    /// `J v` by one dual-number pass along `v`.
    jv: Vec<f64>,
    /// `J v` by finite differences, where reliable.
    fd: Option<Vec<f64>>,
}

fn dual_pass(f: &Function, x: &[f64], dir: &[f64]) -> Result<Vec<f64>, TestCaseError> {
    let params: Vec<Val<Dual64>> = x
        .iter()
        .zip(dir)
        .map(|(&a, &d)| Val::F(Dual64::new(a, d)))
        .collect();
    let outs = interp::run_dual(f, &params)
        .map_err(|e| TestCaseError::fail(format!("dual: {}\n{f}", e.0)))?;
    Ok(outs
        .iter()
        .map(|o| match o {
            Val::F(d) => d.eps,
            other => panic!("dual output {other:?}"),
        })
        .collect())
}

fn point(c: &Case) -> Result<Point, TestCaseError> {
    let f = build(&c.prog);
    let n = f.params.len();
    let m = f.outputs.len();
    let x = c.x[..n].to_vec();
    let v = c.v[..n].to_vec();
    let w = c.w[..m].to_vec();
    let Some((y, sig)) = primal(&f, &x)? else {
        return Err(TestCaseError::reject("non-finite primal"));
    };
    // Finite differences along v, on stencils that take the same decisions.
    let mut g = Vec::new();
    for t in [FD_H, -FD_H, FD_H / 2.0, -FD_H / 2.0] {
        let xt: Vec<f64> = x.iter().zip(&v).map(|(a, d)| a + t * d).collect();
        let Some((yt, st)) = primal(&f, &xt)? else {
            return Err(TestCaseError::reject("non-finite primal near x"));
        };
        if st != sig {
            return Err(TestCaseError::reject("a decision changes near x"));
        }
        g.push(yt);
    }
    let mut jac = vec![vec![0.0; n]; m];
    for i in 0..n {
        let e: Vec<f64> = (0..n).map(|j| (i == j) as u8 as f64).collect();
        for (k, d) in dual_pass(&f, &x, &e)?.into_iter().enumerate() {
            jac[k][i] = d;
        }
    }
    let jv = dual_pass(&f, &x, &v)?;
    if jac.iter().flatten().chain(&jv).any(|d| !d.is_finite()) {
        return Err(TestCaseError::reject("non-finite derivative"));
    }
    let mut fd = Some(Vec::new());
    for k in 0..m {
        let d1 = (g[0][k] - g[1][k]) / (2.0 * FD_H);
        let d2 = (g[2][k] - g[3][k]) / FD_H;
        let rich = (4.0 * d2 - d1) / 3.0;
        let tol = FD_ATOL + FD_RTOL * rich.abs();
        // Even the plain O(h^2) stencil agrees: the extrapolated value is
        // then far more accurate than the tolerance.
        match &mut fd {
            Some(list) if (rich - d2).abs() <= FD_RELIABLE * tol => list.push(rich),
            _ => fd = None,
        }
    }
    Ok(Point {
        f,
        x,
        v,
        w,
        y,
        jac,
        jv,
        fd,
    })
}

impl Point {
    fn n(&self) -> usize {
        self.x.len()
    }
    fn m(&self) -> usize {
        self.y.len()
    }
    /// `Jᵀ w` by the dual-number Jacobian.
    fn jt_w(&self) -> Vec<f64> {
        (0..self.n())
            .map(|i| (0..self.m()).map(|k| self.w[k] * self.jac[k][i]).sum())
            .collect()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Runs one property over `CASES` random cases; on failure, panics with the
/// minimal program.
/// Counters over one property's run.
#[derive(Default)]
struct Stats {
    tried: Cell<usize>,
    ran: Cell<usize>,
    nodes: Cell<usize>,
    fd_checked: Cell<usize>,
    /// Swell ratios of the vjp and the jvp.
    max_ratio: [Cell<f64>; 2],
    sum_ratio: [Cell<f64>; 2],
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

fn check(name: &str, min_fd: f64, prop: impl Fn(&Point, &Stats) -> Result<(), TestCaseError>) {
    // `PROPTEST_CASES=n` runs more (or fewer) cases.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let config = Config {
        cases,
        max_global_rejects: 20 * cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let stats = Stats::default();
    let result = runner.run(&case(), |c| {
        bump(&stats.tried);
        let p = point(&c)?;
        bump(&stats.ran);
        stats.nodes.set(stats.nodes.get() + p.f.live_count());
        prop(&p, &stats)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, c)) => {
            let f = build(&c.prog);
            let n = f.params.len();
            panic!(
                "{name}: {why}\nminimal case: x = {:?}, v = {:?}, out_bar = {:?}\n{c:?}\nprogram:\n{f}",
                &c.x[..n],
                &c.v[..n],
                &c.w[..f.outputs.len()]
            );
        }
        Err(TestError::Abort(why)) => panic!("{name}: aborted: {why}"),
    }
    // The finite-difference comparison must not be vacuous.
    let ran = stats.ran.get().max(1);
    let share = stats.fd_checked.get() as f64 / ran as f64;
    // Shown with `--nocapture`.
    let mut line = format!(
        "{name}: {} cases run of {} generated; mean live nodes {:.1}",
        stats.ran.get(),
        stats.tried.get(),
        stats.nodes.get() as f64 / ran as f64,
    );
    if stats.fd_checked.get() > 0 {
        line += &format!("; finite differences in {:.0}% of the cases", 100.0 * share);
    }
    for (j, what) in ["vjp", "jvp"].iter().enumerate() {
        if stats.max_ratio[j].get() > 0.0 {
            line += &format!(
                "; {what} swell ratio max {:.2} mean {:.2}",
                stats.max_ratio[j].get(),
                stats.sum_ratio[j].get() / ran as f64
            );
        }
    }
    eprintln!("{line}");
    assert!(
        share >= min_fd,
        "{name}: finite differences checked in only {share:.2} of the cases"
    );
}

// ---------------------------------------------------------------------------
// The properties.

/// jvp along `v` (tangents as params) = J v, by dual numbers and by finite
/// differences; the Jacobian companion (basis seeds) = the dual Jacobian;
/// the primal outputs are the original's.
#[test]
fn jvp_matches_dual_numbers_and_finite_differences() {
    check("jvp", 0.8, |p, stats| {
        let (n, m) = (p.n(), p.m());
        let jf = jvp_dir(&p.f);
        let mut params = floats(&p.x);
        params.extend(floats(&p.v));
        let out = exec(&jf, &params, "jvp")?;
        prop_assert_eq!(&out[..m], &p.y[..], "jvp primal outputs differ");
        let tan = &out[m..];
        for k in 0..m {
            prop_assert!(
                close(tan[k], p.jv[k], DUAL_RTOL, DUAL_ATOL),
                "output {k}: jvp {} vs dual {}\njvp program:\n{jf}",
                tan[k],
                p.jv[k]
            );
        }
        if let Some(fd) = &p.fd {
            bump(&stats.fd_checked);
            for k in 0..m {
                prop_assert!(
                    close(tan[k], fd[k], FD_RTOL, FD_ATOL),
                    "output {k}: jvp {} vs finite differences {}",
                    tan[k],
                    fd[k]
                );
            }
        }
        let jb = jvp_basis(&p.f);
        let out = exec(&jb, &floats(&p.x), "jacobian")?;
        prop_assert_eq!(&out[..m], &p.y[..], "jacobian primal outputs differ");
        for d in 0..n {
            for k in 0..m {
                let got = out[m + d * m + k];
                prop_assert!(
                    close(got, p.jac[k][d], DUAL_RTOL, DUAL_ATOL),
                    "d output {k} / d x{d}: jacobian {got} vs dual {}",
                    p.jac[k][d]
                );
            }
        }
        Ok(())
    });
}

/// vjp with a random cotangent `w` = Jᵀ w by the dual Jacobian;
/// `<w, J v>` by finite differences = `<vjp(w), v>`; and jvp/vjp agree:
/// `<w, jvp(v)> = <vjp(w), v>`. The gradient companion (all seeds 1) is
/// the sum of the Jacobian's rows.
#[test]
fn vjp_matches_dual_numbers_and_finite_differences() {
    check("vjp", 0.8, |p, stats| {
        let (n, m) = (p.n(), p.m());
        let vf = vjp_bar(&p.f);
        let mut params = floats(&p.x);
        params.push(bar_param(&p.w));
        let out = exec(&vf, &params, "vjp")?;
        prop_assert_eq!(&out[..m], &p.y[..], "vjp primal outputs differ");
        let grad = &out[m..];
        prop_assert_eq!(grad.len(), n);
        let want = p.jt_w();
        for i in 0..n {
            prop_assert!(
                close(grad[i], want[i], DUAL_RTOL, DUAL_ATOL),
                "d <out_bar, f> / d x{i}: vjp {} vs dual {}\nvjp program:\n{vf}",
                grad[i],
                want[i]
            );
        }
        let vjp_v = dot(grad, &p.v);
        // <w, J v> by the IR's own forward mode.
        let jf = jvp_dir(&p.f);
        let mut jparams = floats(&p.x);
        jparams.extend(floats(&p.v));
        let tan = exec(&jf, &jparams, "jvp")?;
        let w_jv = dot(&p.w, &tan[m..]);
        let scale: f64 = grad.iter().zip(&p.v).map(|(g, v)| (g * v).abs()).sum();
        prop_assert!(
            close(vjp_v, w_jv, DUAL_RTOL, DUAL_ATOL * (1.0 + scale)),
            "<vjp(w), v> = {vjp_v} vs <w, jvp(v)> = {w_jv}"
        );
        if let Some(fd) = &p.fd {
            bump(&stats.fd_checked);
            let w_fd = dot(&p.w, fd);
            let fd_scale: f64 = p.w.iter().zip(fd).map(|(w, d)| (w * d).abs()).sum();
            prop_assert!(
                close(vjp_v, w_fd, FD_RTOL, FD_ATOL * (1.0 + fd_scale)),
                "<vjp(w), v> = {vjp_v} vs <w, finite differences> = {w_fd}"
            );
        }
        let gf = vjp_ones(&p.f);
        let out = exec(&gf, &floats(&p.x), "gradient")?;
        prop_assert_eq!(&out[..m], &p.y[..], "gradient primal outputs differ");
        for i in 0..n {
            let want: f64 = (0..m).map(|k| p.jac[k][i]).sum();
            prop_assert!(
                close(out[m + i], want, DUAL_RTOL, DUAL_ATOL),
                "d sum(f) / d x{i}: gradient {} vs dual {want}",
                out[m + i]
            );
        }
        Ok(())
    });
}

/// `simplify` keeps every value of the primal, the jvp and the vjp (see
/// `SIMP_RTOL` for why the tolerance can be this tight).
#[test]
fn simplify_keeps_values() {
    check("simplify", 0.0, |p, _| {
        let jf = jvp_dir(&p.f);
        let vf = vjp_bar(&p.f);
        let jb = jvp_basis(&p.f);
        let xs = floats(&p.x);
        let mut jparams = xs.clone();
        jparams.extend(floats(&p.v));
        let mut vparams = xs.clone();
        vparams.push(bar_param(&p.w));
        for (what, f, params) in [
            ("primal", &p.f, &xs),
            ("jvp", &jf, &jparams),
            ("vjp", &vf, &vparams),
            ("jacobian", &jb, &xs),
        ] {
            let before = exec(f, params, what)?;
            if before.iter().any(|v| !v.is_finite()) {
                return Err(TestCaseError::reject("non-finite derivative"));
            }
            let s = simplify(f);
            let after = exec(&s, params, &format!("simplified {what}"))?;
            prop_assert_eq!(before.len(), after.len());
            for (k, (a, b)) in before.iter().zip(&after).enumerate() {
                prop_assert!(
                    close(*a, *b, SIMP_RTOL, SIMP_ATOL),
                    "{what} output {k}: {a} before simplify, {b} after\nbefore:\n{f}\nafter:\n{s}"
                );
            }
        }
        Ok(())
    });
}

/// No expression swell: the simplified vjp and jvp stay within `SWELL`
/// times the size of the program.
#[test]
fn no_expression_swell() {
    check("swell", 0.0, |p, stats| {
        let base = p.f.live_count() as f64;
        for (j, (what, d)) in [("vjp", vjp_bar(&p.f)), ("jvp", jvp_dir(&p.f))]
            .into_iter()
            .enumerate()
        {
            let s = simplify(&d);
            let ratio = s.live_count() as f64 / base;
            stats.max_ratio[j].set(stats.max_ratio[j].get().max(ratio));
            stats.sum_ratio[j].set(stats.sum_ratio[j].get() + ratio);
            prop_assert!(
                ratio <= SWELL,
                "{what}: {} live nodes for {} in f (ratio {ratio:.2} > {SWELL})\nsimplified {what}:\n{s}",
                s.live_count(),
                base
            );
        }
        Ok(())
    });
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
    let zero = g.add(ROOT, Op::Int(0), vec![], Ty::Other);
    let a = g.add(ROOT, Op::PowI, vec![x, n], F64);
    let b = g.add(ROOT, Op::PowI, vec![x, zero], F64);
    let f = Function {
        params: vec![
            float_param("x", 1),
            Param {
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
