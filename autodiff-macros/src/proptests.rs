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
//! A second generator makes programs with arrays and loops (see "Random
//! programs with arrays and loops" below): one or two array params of one
//! length 0..=5 (so loops of no and of one iteration too), local arrays of
//! rank 1 and 2 written element by element, loops (reversed, nested,
//! holding `If`s) that carry floats and arrays, index arithmetic, and
//! array outputs ([`array_generator_covers_the_features`]).
//!
//! The properties, on both kinds of programs: the jvp (one direction, and
//! the Jacobian companion) and the vjp (a random cotangent, and the
//! gradient companion) against dual numbers (`num-dual`, one pass per input
//! float) and finite differences; forward over reverse (the jvp of the
//! vjp, which is what `_hvp` is) against the vjp run on dual numbers;
//! `simplify` keeps every value; no expression swell. Inputs and outputs are flat lists of floats (every
//! element of every array, in order); an array's tangent and cotangent are
//! arrays. The interpreter runs what the emitted code does, arrays updated
//! in place.
//!
//! Each property runs 1000 cases. A case is discarded when a value of the
//! program is not finite, or when a branch or kink decision (a comparison,
//! the side of an `If`, `min`/`max`/`clamp`/`abs`/`floor`/... choices, in a
//! loop at every iteration) changes within the finite-difference stencil:
//! there the derivative is not the limit finite differences measure.
//!
//! Bugs found by the properties each have a minimal `bug_*` test (ignored
//! while it fails); the array programs of the properties avoid the shapes
//! that trigger open ones ([`AVOID`]: now only a gap that lowering never
//! produces). The `arrays_unrestricted_*` properties (ignored) avoid
//! nothing but what `PROPTEST_AVOID` lists, to check one fix at a time.

// Jacobians are index-heavy: explicit index loops read best here.
#![allow(clippy::needless_range_loop, clippy::type_complexity)]

use std::cell::Cell;
use std::collections::HashSet;

use num_dual::Dual64;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestError, TestRunner};

use crate::diff::forward::jvp;
use crate::diff::reverse::vjp;
use crate::diff::Seed;
use crate::interp::{self, Val, Value};
use crate::ir::IntOp;
use crate::ir::{
    Bin, Cmp, FloatTy, Function, Graph, NodeId, Op, OutShape, Param, RegionId, Ty, Un, ROOT,
};
use crate::simplify::gather::gather;
use crate::simplify::{finish, simplify};

const F64: Ty = Ty::Float(FloatTy::F64);

/// Cases per property.
const CASES: u32 = 1000;

// ---------------------------------------------------------------------------
// Tolerances (relative + absolute: |a - b| <= atol + rtol * max(|a|, |b|)).

/// IR derivatives against `num-dual` on the same program: both are exact
/// derivatives evaluated in a different order, so only rounding differs
/// (through loops of products it reaches about 1e-9 relative).
const DUAL_RTOL: f64 = 1e-8;
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
/// the derivative rules never build a logarithm of a sum with 1 (the array
/// generator's `v * 1` copies fold to `v` exactly). So the comparison is
/// tight: equal up to a few ulps.
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

#[derive(Clone)]
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
    /// Visible arrays (programs with arrays), oldest first.
    arrays: Vec<Arr>,
    /// The enclosing loops' indices, starts, and whether they end at
    /// `n - 1`, innermost last.
    loops: Vec<(NodeId, i64, bool)>,
    /// The length of every array.
    n: usize,
    /// The first array param.
    a0: NodeId,
    /// Array versions written or carried into a loop: never read again.
    taken: HashSet<NodeId>,
    /// Loop bodies being built, innermost last.
    bodies: Vec<RegionId>,
    /// Avoid the known bugs (see [`Avoid`]).
    avoid: Avoid,
    /// Arrays `..frozen` cannot be written now.
    frozen: usize,
    /// The floats the loops at the root carried out.
    results: Vec<NodeId>,
}

impl Builder {
    fn new(n: usize) -> Builder {
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
        let n = self.g.add(self.region, Op::Int(n as i64), vec![], Ty::Int);
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

/// `jvp` with one direction whose tangents are params `n..2n` (of the
/// params' own types: an array's tangent is an array).
fn jvp_dir(f: &Function) -> Function {
    let n = f.params.len() as u32;
    let extra = f
        .params
        .iter()
        .map(|p| Param {
            name: ident(&format!("{}_dot", p.name)),
            fields: p.fields.clone(),
        })
        .collect();
    jvp(f, extra, 1, &|_, index, _| Seed::Param {
        index: n + index,
        field: None,
    })
}

/// `jvp` with one basis direction per param (the Jacobian companion). An
/// array param's `Seed::One` is no seed: its column is zero.
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

/// `vjp` with the cotangent as param `n` of the outputs' types (a tuple
/// for several outputs), as the expansion's `vjp()` builds it.
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
    let out_bar = Param {
        name: ident("out_bar"),
        fields: f.outputs.iter().map(|&o| f.graph.ty(o)).collect(),
    };
    vjp(f, vec![out_bar], &seeds, &wrt)
}

/// `vjp` with every output seeded by 1 (the gradient companion; an array
/// output's `Seed::One` is no seed).
fn vjp_ones(f: &Function) -> Function {
    let n = f.params.len() as u32;
    let seeds = vec![Seed::One; f.outputs.len()];
    let wrt: Vec<(u32, Option<u32>)> = (0..n).map(|i| (i, None)).collect();
    vjp(f, vec![], &seeds, &wrt)
}

/// The shape of a parameter or an output: a float, or an array with these
/// dimensions.
#[derive(Clone, Debug, PartialEq)]
enum Shape {
    Scalar,
    Array(Vec<usize>),
}

impl Shape {
    /// Number of floats.
    fn size(&self) -> usize {
        match self {
            Shape::Scalar => 1,
            Shape::Array(dims) => dims.iter().product(),
        }
    }
}

/// The value of shape `s` from the next floats of `flat`.
fn value_of<T: Clone>(s: &Shape, flat: &mut impl Iterator<Item = T>) -> Val<T> {
    fn dims<T: Clone>(d: &[usize], flat: &mut impl Iterator<Item = T>) -> Val<T> {
        match d.split_first() {
            None => Val::F(flat.next().expect("enough floats")),
            Some((&n, rest)) => Val::Array((0..n).map(|_| dims(rest, flat)).collect()),
        }
    }
    match s {
        Shape::Scalar => dims(&[], flat),
        Shape::Array(d) => dims(d, flat),
    }
}

/// Values of the shapes from the flat list.
fn values<T: Clone>(shapes: &[Shape], flat: impl IntoIterator<Item = T>) -> Vec<Val<T>> {
    let mut it = flat.into_iter();
    shapes.iter().map(|s| value_of(s, &mut it)).collect()
}

/// Runs `f`, failing the case on an interpreter error and giving the
/// outputs as a flat list of floats.
fn exec(f: &Function, params: &[Value], what: &str) -> Result<Vec<f64>, TestCaseError> {
    match interp::try_run(f, params) {
        Ok(v) => Ok(v.iter().flat_map(Value::floats).collect()),
        Err(e) => Err(TestCaseError::fail(format!(
            "{what}: cannot run: {}\n{f}",
            e.0
        ))),
    }
}

// ---------------------------------------------------------------------------
// The primal at a point, its kink decisions, and references.

/// The branch and kink decisions a run took, in execution order (a node in
/// a loop once per iteration; a loop's trip count too), or `None` when
/// `atan2` or `hypot` ran at the origin (no derivative: 0/0 in any rule).
fn decisions(f: &Function, t: &interp::Trace<f64>) -> Option<Vec<(u32, i64)>> {
    let g = &f.graph;
    // The latest float value of each node while replaying the run.
    let mut cur = vec![f64::NAN; g.nodes.len()];
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
    for (id, v) in &t.steps {
        let node = g.node(*id);
        let arg = |k: usize| cur[node.args[k].0 as usize];
        let d: Option<i64> = match (&node.op, v) {
            (Op::Cmp(_) | Op::If { .. }, Val::Bool(b)) => Some(*b as i64),
            (Op::Loop { .. }, Val::Int(n)) => Some(*n),
            (Op::Bin(Bin::Min), _) => Some(crate::ir::eval::min_first(arg(0), arg(1)) as i64),
            (Op::Bin(Bin::Max), _) => Some(crate::ir::eval::max_first(arg(0), arg(1)) as i64),
            (Op::Bin(Bin::Atan2 | Bin::Hypot), _) if arg(0) == 0.0 && arg(1) == 0.0 => return None,
            (Op::Bin(Bin::Atan2), _) if arg(1) < 0.0 => Some(sign(arg(0))),
            (Op::Clamp, _) => Some(if arg(0) < arg(1) {
                -1
            } else if arg(0) > arg(2) {
                1
            } else {
                0
            }),
            (Op::Un(Un::Abs | Un::Signum | Un::Sign0), _) => Some(sign(arg(0))),
            (Op::Un(Un::Floor), _) => Some(arg(0).floor() as i64),
            (Op::Un(Un::Ceil), _) => Some(arg(0).ceil() as i64),
            (Op::Un(Un::Round), _) => Some(arg(0).round() as i64),
            (Op::Un(Un::Trunc | Un::Fract), _) => Some(arg(0).trunc() as i64),
            _ => None,
        };
        if let Some(d) = d {
            out.push((id.0, d));
        }
        cur[id.0 as usize] = match v {
            Val::F(x) => *x,
            _ => f64::NAN,
        };
    }
    Some(out)
}

/// `f` at `params`: flat outputs and decisions, or `None` when a value is
/// not finite (or beyond 1e8, where finite differences lose all
/// precision), or at a point with no derivative.
fn primal(
    f: &Function,
    params: &[Value],
) -> Result<Option<(Vec<f64>, Vec<(u32, i64)>)>, TestCaseError> {
    let t = interp::trace(f, params)
        .map_err(|e| TestCaseError::fail(format!("primal: {}\n{f}", e.0)))?;
    let big = |x: &f64| x.abs().partial_cmp(&1e8).is_none_or(|o| o.is_ge());
    if t.steps.iter().any(|(_, v)| v.floats().iter().any(big)) {
        return Ok(None);
    }
    let Some(sig) = decisions(f, &t) else {
        return Ok(None);
    };
    let y = t.outputs.iter().flat_map(Value::floats).collect();
    Ok(Some((y, sig)))
}

/// Everything the properties compare against, at one point. Inputs and
/// outputs are flat: every float of every param (array elements in order),
/// of every output.
struct Point {
    f: Function,
    /// The shapes of the params and of the outputs.
    ins: Vec<Shape>,
    outs: Vec<Shape>,
    x: Vec<f64>,
    v: Vec<f64>,
    w: Vec<f64>,
    y: Vec<f64>,
    /// `jac[k][i]`: d output k / d input i, by dual numbers.
    jac: Vec<Vec<f64>>,
    /// `J v` by one dual-number pass along `v`.
    jv: Vec<f64>,
    /// `J v` by finite differences, where reliable.
    fd: Option<Vec<f64>>,
}

fn dual_pass(
    f: &Function,
    ins: &[Shape],
    x: &[f64],
    dir: &[f64],
) -> Result<Vec<f64>, TestCaseError> {
    let params = values(ins, x.iter().zip(dir).map(|(&a, &d)| Dual64::new(a, d)));
    let outs = interp::run_dual(f, &params)
        .map_err(|e| TestCaseError::fail(format!("dual: {}\n{f}", e.0)))?;
    Ok(outs
        .iter()
        .flat_map(|o| o.floats())
        .map(|d| d.eps)
        .collect())
}

/// The shapes of `f`'s params for arrays of length `n`.
fn param_shapes(f: &Function, n: usize) -> Vec<Shape> {
    f.params
        .iter()
        .map(|p| match p.fields[0] {
            Ty::Array(_, rank) => Shape::Array(vec![n; rank as usize]),
            _ => Shape::Scalar,
        })
        .collect()
}

/// The point of `f` at the first floats of `x`, `v`, `w`.
fn point_of(
    f: Function,
    ins: Vec<Shape>,
    x: &[f64],
    v: &[f64],
    w: &[f64],
) -> Result<Point, TestCaseError> {
    let n: usize = ins.iter().map(Shape::size).sum();
    let x = x[..n].to_vec();
    let v = v[..n].to_vec();
    let Some((y, sig)) = primal(&f, &values(&ins, x.iter().copied()))? else {
        return Err(TestCaseError::reject("non-finite primal"));
    };
    let m = y.len();
    // The output shapes, from the values.
    let outs: Vec<Shape> = interp::run(&f, &values(&ins, x.iter().copied()))
        .iter()
        .map(|o| match o {
            Val::Array(rows) => match rows.first() {
                Some(Val::Array(r)) => Shape::Array(vec![rows.len(), r.len()]),
                _ => Shape::Array(vec![rows.len()]),
            },
            _ => Shape::Scalar,
        })
        .collect();
    let w = w[..m].to_vec();
    // Finite differences along v, on stencils that take the same decisions.
    let mut g = Vec::new();
    for t in [FD_H, -FD_H, FD_H / 2.0, -FD_H / 2.0] {
        let xt = x.iter().zip(&v).map(|(a, d)| a + t * d);
        let Some((yt, st)) = primal(&f, &values(&ins, xt))? else {
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
        for (k, d) in dual_pass(&f, &ins, &x, &e)?.into_iter().enumerate() {
            jac[k][i] = d;
        }
    }
    let jv = dual_pass(&f, &ins, &x, &v)?;
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
        ins,
        outs,
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
    /// Number of input floats.
    fn n(&self) -> usize {
        self.x.len()
    }
    /// Number of output floats.
    fn m(&self) -> usize {
        self.y.len()
    }
    /// `Jᵀ w` by the dual-number Jacobian.
    fn jt_w(&self) -> Vec<f64> {
        (0..self.n())
            .map(|i| (0..self.m()).map(|k| self.w[k] * self.jac[k][i]).sum())
            .collect()
    }
    /// Param values from flat floats.
    fn args(&self, flat: &[f64]) -> Vec<Value> {
        values(&self.ins, flat.iter().copied())
    }
    /// The cotangent param from the flat `w`: one value, or a tuple.
    fn bar(&self) -> Value {
        let mut vals = values(&self.outs, self.w.iter().copied());
        if vals.len() == 1 {
            vals.remove(0)
        } else {
            Val::Tuple(vals)
        }
    }
    /// For each flat output: is it (part of) a scalar output?
    fn scalar_outputs(&self) -> Vec<bool> {
        self.outs
            .iter()
            .flat_map(|s| vec![*s == Shape::Scalar; s.size()])
            .collect()
    }
    /// For each param: its first flat input, if it is a scalar.
    fn scalar_inputs(&self) -> Vec<Option<usize>> {
        let mut at = 0;
        self.ins
            .iter()
            .map(|s| {
                at += s.size();
                (*s == Shape::Scalar).then(|| at - 1)
            })
            .collect()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

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
    /// Cases where the gather pass rewrote a loop.
    gathered: Cell<usize>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

/// A kind of random case: how to make its [`Point`], and how to show it.
trait Sample: Clone + std::fmt::Debug {
    fn point(&self) -> Result<Point, TestCaseError>;
    /// The program and its inputs, for a failure report.
    fn show(&self) -> String;
}

/// A runner with a fixed seed, so that CI runs the same cases every time
/// (set `PROPTEST_CASES` higher to explore more).
fn seeded_runner(config: Config) -> TestRunner {
    TestRunner::new_with_rng(
        config,
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    )
}

/// Runs one property over `CASES` random cases; on failure, panics with the
/// minimal program. Gives the counters of the run.
fn check<C: Sample>(
    name: &str,
    min_fd: f64,
    cases: impl Strategy<Value = C>,
    prop: impl Fn(&Point, &Stats) -> Result<(), TestCaseError>,
) -> Stats {
    // `PROPTEST_CASES=n` runs more (or fewer) cases.
    let n_cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let config = Config {
        cases: n_cases,
        max_global_rejects: 20 * n_cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = seeded_runner(config);
    let stats = Stats::default();
    let result = runner.run(&cases, |c| {
        bump(&stats.tried);
        let p = c.point()?;
        bump(&stats.ran);
        stats.nodes.set(stats.nodes.get() + p.f.live_count());
        prop(&p, &stats)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, c)) => panic!("{name}: {why}\nminimal case: {}", c.show()),
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
    if stats.gathered.get() > 0 {
        let gathered = stats.gathered.get() as f64 / ran as f64;
        line += &format!("; a loop gathered in {:.0}% of the cases", 100.0 * gathered);
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
    stats
}

// ---------------------------------------------------------------------------
// The properties, on any kind of case.

/// jvp along `v` (tangents as params) = J v, by dual numbers and by finite
/// differences; the Jacobian companion (basis seeds) = the dual Jacobian
/// (its columns of array params are zero: `Seed::One` seeds no array);
/// the primal outputs are the original's.
fn jvp_property(p: &Point, stats: &Stats) -> Result<(), TestCaseError> {
    let m = p.m();
    let jf = jvp_dir(&p.f);
    let mut params = p.args(&p.x);
    params.extend(p.args(&p.v));
    let out = exec(&jf, &params, "jvp")?;
    prop_assert_eq!(&out[..m], &p.y[..], "jvp primal outputs differ");
    let tan = &out[m..];
    prop_assert_eq!(tan.len(), m);
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
    let out = exec(&jb, &p.args(&p.x), "jacobian")?;
    prop_assert_eq!(&out[..m], &p.y[..], "jacobian primal outputs differ");
    prop_assert_eq!(out.len(), m + p.ins.len() * m);
    for (d, input) in p.scalar_inputs().into_iter().enumerate() {
        for k in 0..m {
            let got = out[m + d * m + k];
            let want = input.map_or(0.0, |i| p.jac[k][i]);
            prop_assert!(
                close(got, want, DUAL_RTOL, DUAL_ATOL),
                "d output {k} / d param {d}: jacobian {got} vs dual {want}\njacobian program:\n{jb}"
            );
        }
    }
    Ok(())
}

/// vjp with a random cotangent `w` = Jᵀ w by the dual Jacobian;
/// `<w, J v>` by finite differences = `<vjp(w), v>`; and jvp/vjp agree:
/// `<w, jvp(v)> = <vjp(w), v>`. The gradient companion (all seeds 1) is
/// the sum of the Jacobian's rows of the scalar outputs (`Seed::One` seeds
/// no array).
fn vjp_property(p: &Point, stats: &Stats) -> Result<(), TestCaseError> {
    let (n, m) = (p.n(), p.m());
    let vf = vjp_bar(&p.f);
    let mut params = p.args(&p.x);
    params.push(p.bar());
    let out = exec(&vf, &params, "vjp")?;
    prop_assert_eq!(&out[..m], &p.y[..], "vjp primal outputs differ");
    let grad = &out[m..];
    prop_assert_eq!(grad.len(), n);
    let want = p.jt_w();
    for i in 0..n {
        prop_assert!(
            close(grad[i], want[i], DUAL_RTOL, DUAL_ATOL),
            "d <out_bar, f> / d input {i}: vjp {} vs dual {}\nvjp program:\n{vf}",
            grad[i],
            want[i]
        );
    }
    let vjp_v = dot(grad, &p.v);
    // <w, J v> by the IR's own forward mode.
    let jf = jvp_dir(&p.f);
    let mut jparams = p.args(&p.x);
    jparams.extend(p.args(&p.v));
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
    let out = exec(&gf, &p.args(&p.x), "gradient")?;
    prop_assert_eq!(&out[..m], &p.y[..], "gradient primal outputs differ");
    prop_assert_eq!(out.len(), m + n);
    let seeded = p.scalar_outputs();
    for i in 0..n {
        let want: f64 = (0..m).filter(|&k| seeded[k]).map(|k| p.jac[k][i]).sum();
        prop_assert!(
            close(out[m + i], want, DUAL_RTOL, DUAL_ATOL),
            "d sum(f) / d input {i}: gradient {} vs dual {want}\ngradient program:\n{gf}",
            out[m + i]
        );
    }
    Ok(())
}

/// `simplify` keeps every value of the primal, the jvp, the vjp and the
/// Jacobian companion (see `SIMP_RTOL` for why the tolerance can be this
/// tight).
fn simplify_property(p: &Point, _: &Stats) -> Result<(), TestCaseError> {
    let jf = jvp_dir(&p.f);
    let vf = vjp_bar(&p.f);
    let jb = jvp_basis(&p.f);
    let xs = p.args(&p.x);
    let mut jparams = xs.clone();
    jparams.extend(p.args(&p.v));
    let mut vparams = xs.clone();
    vparams.push(p.bar());
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
}

/// Forward over reverse, which is what `_hvp` is: the jvp along `v` of the
/// (simplified) vjp program with cotangent `w` is d/dε [Jᵀw](x + εv) =
/// Σ_k w_k H_k v. The reference runs the vjp program itself on dual numbers
/// (x + εv, `w` constant): the forward transform of a reverse program
/// against num-dual.
fn hvp_property(p: &Point, _: &Stats) -> Result<(), TestCaseError> {
    let (n, m) = (p.n(), p.m());
    let vf = simplify(&vjp_bar(&p.f));
    // As the expansion emits it (its reverse loops gathered).
    let hf = finish(&forward_over_reverse(&vf, p.f.params.len()));
    let mut params = p.args(&p.x);
    params.push(p.bar());
    params.extend(p.args(&p.v));
    let out = exec(&hf, &params, "hvp")?;
    prop_assert_eq!(out.len(), 2 * (m + n));
    let mut dual = values(
        &p.ins,
        p.x.iter().zip(&p.v).map(|(&a, &d)| Dual64::new(a, d)),
    );
    let mut bar = values(&p.outs, p.w.iter().map(|&w| Dual64::from(w)));
    dual.push(if bar.len() == 1 {
        bar.remove(0)
    } else {
        Val::Tuple(bar)
    });
    let want: Vec<f64> = interp::run_dual(&vf, &dual)
        .map_err(|e| TestCaseError::fail(format!("dual vjp: {}\n{vf}", e.0)))?
        .iter()
        .flat_map(|o| o.floats())
        .map(|d| d.eps)
        .collect();
    if want.iter().any(|v| !v.is_finite()) {
        return Err(TestCaseError::reject("non-finite second derivative"));
    }
    let got = &out[m + n..];
    for (j, (a, b)) in got.iter().zip(&want).enumerate() {
        prop_assert!(
            close(*a, *b, DUAL_RTOL, DUAL_ATOL),
            "tangent {j} of the vjp: forward over reverse {a} vs dual {b}\nvjp:\n{vf}\nits jvp:\n{hf}"
        );
    }
    Ok(())
}

/// The jvp of the vjp program `vf` of a function of `k` params, along
/// tangents of those params appended after `vf`'s params (the cotangent
/// has none), as `_hvp` builds it.
fn forward_over_reverse(vf: &Function, k: usize) -> Function {
    let k = k as u32;
    let extra = vf.params[..k as usize]
        .iter()
        .map(|q| Param {
            name: ident(&format!("{}_dot", q.name)),
            fields: q.fields.clone(),
        })
        .collect();
    simplify(&jvp(vf, extra, 1, &|_, index, _| {
        if index < k {
            Seed::Param {
                index: k + 1 + index,
                field: None,
            }
        } else {
            Seed::Zero
        }
    }))
}

/// The gather pass keeps every value: the primal, the vjp, the gradient,
/// the jvp and the forward over reverse program, each simplified, against
/// the same gathered and simplified again (`finish`, what the expansion
/// emits); counts the cases where a loop was gathered. The interpreter
/// runs the in-place updates as the emitted code does and refuses a
/// `usize` subtraction below zero.
fn gather_property(p: &Point, stats: &Stats) -> Result<(), TestCaseError> {
    let xs = p.args(&p.x);
    let mut jparams = xs.clone();
    jparams.extend(p.args(&p.v));
    let mut vparams = xs.clone();
    vparams.push(p.bar());
    let mut hparams = vparams.clone();
    hparams.extend(p.args(&p.v));
    let vf = simplify(&vjp_bar(&p.f));
    let hf = forward_over_reverse(&vf, p.f.params.len());
    let mut any = false;
    for (what, f, params) in [
        ("primal", simplify(&p.f), &xs),
        ("jvp", simplify(&jvp_dir(&p.f)), &jparams),
        ("gradient", simplify(&vjp_ones(&p.f)), &xs),
        ("vjp", vf, &vparams),
        ("hvp", hf, &hparams),
    ] {
        let Some(g) = gather(&f) else {
            continue;
        };
        any = true;
        let g = simplify(&g);
        let before = exec(&f, params, what)?;
        if before.iter().any(|v| !v.is_finite()) {
            return Err(TestCaseError::reject("non-finite derivative"));
        }
        let after = exec(&g, params, &format!("gathered {what}"))?;
        prop_assert_eq!(before.len(), after.len());
        // Each element receives the same contributions in the same order:
        // equal (`-0.0 == 0.0`: a zero start is not added).
        for (k, (a, b)) in before.iter().zip(&after).enumerate() {
            prop_assert!(
                a == b,
                "{what} output {k}: {a} before gather, {b} after\nbefore:\n{f}\nafter:\n{g}"
            );
        }
    }
    if any {
        bump(&stats.gathered);
    }
    Ok(())
}

/// No expression swell: the simplified vjp and jvp stay within `limit`
/// times the size of the program.
fn swell_property(limit: f64) -> impl Fn(&Point, &Stats) -> Result<(), TestCaseError> {
    move |p, stats| {
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
                ratio <= limit,
                "{what}: {} live nodes for {} in f (ratio {ratio:.2} > {limit})\nsimplified {what}:\n{s}",
                s.live_count(),
                base
            );
        }
        Ok(())
    }
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

// ---------------------------------------------------------------------------
// Random programs with arrays and loops.
//
// A program has 1-2 float params and 1-2 array params, all arrays of one
// length `n` in 0..=5 (0 and 1 included: loops of no and of one
// iteration). It runs at least one loop over `0..n`, `1..n`, `0..n - 1` or
// `1..n - 1` (forward or reversed; the end written as `a0.len()` (`Len`),
// as the literal `n`, or as the opaque `a0.len()`; `n - 1` as `IntSub`
// nodes or as the opaque `a0.len() - 1`), carrying floats (each updated at the end of
// the body: replaced, or combined with `+`, `*`, `-`, `max`) and the local
// arrays whose elements the body writes (`=`, `+=`, `-=`, `*=`: `Store`,
// `AddAt`, `AddAt` of a negation, `Index`-`Mul`-`Store`); it reads the
// others as they are. Local arrays are made by `vec![v; a0.len()]`,
// `vec![v; n]` (`FillVec`), `[v; N]` (`FillFixed`, `N` a literal), `[a, b,
// ..]` (`ArrayLit`), a copy of a rank-1 array (`Owned`) or `[[v; N]; N]`
// (rank 2). Bodies read param and local arrays at the loop index `i`, `i -
// start`, `n - 1 - i` (as `IntSub` nodes, or the opaque `a0.len() - 1 -
// i`), a neighbour `i + 1` or `i - 1` where the range allows it (as
// `IntAdd`/`IntSub` nodes, or opaque tokens: their adjoint loops are what
// the gather pass rewrites), `(i + s) % a0.len()` or a literal (the only
// index outside loops,
// where `n = 0` skips the instruction), nest a second loop (depth 2: two
// indices, and rank-2 writes `m[i][j]`), hold `if`s (on floats, or opaque
// conditions on the index, `i > k`, `i % 2 == 0`) whose branches read and
// write arrays (the `If` then yields the arrays it changed, as lowering
// does), and use the loop index (`x * (i as f64)`, `x.powi(i)`). Every
// scalar instruction of the scalar generator can appear too. Outputs: a
// float summing the latest float, the floats every loop at the root
// carried out and the last element of every local array; maybe a second
// float; sometimes an array (a param, or a local of rank 1 or 2).
//
// The IR is built as lowering builds it (`for_loop`, `loop_body`): the
// body region's carried `RegionArg`s first, then the index, the body, its
// outputs (the carried values at its end), then the `Loop` and its
// `Proj`s; which arrays a loop carries is found as lowering finds what it
// assigns, by building the body once (on a copy of the builder). Each
// local array is a distinct node that is written only at its latest
// version (the generator never lets hash-consing merge two arrays, or
// revive a version already written).

/// An index into an array of length `n`, resolved against the enclosing
/// loops (`k` picks one, counted from the innermost).
#[derive(Clone, Copy, Debug)]
enum Idx {
    /// The loop index `i`.
    I(u8),
    /// `i - start` (`IntSub`).
    Back(u8),
    /// `n - 1 - i` as `IntSub` nodes off `Len(a0)`.
    Flip(u8),
    /// `a0.len() - 1 - i`, opaque (lowering keeps integer arithmetic as
    /// written).
    FlipOpaque(u8),
    /// `(i + s) % a0.len()`, opaque.
    Wrap(u8, u8),
    /// The literal `k % n`.
    Lit(u8),
    /// A neighbour: `i + 1` in a loop to `n - 1`, `i - 1` in one from 1
    /// (the flag picks when both are in range; `i` when neither is), as
    /// `IntAdd`/`IntSub` with a literal, or as opaque tokens (second flag).
    Shift(u8, bool, bool),
}

#[derive(Clone, Copy, Debug)]
enum Write {
    /// `a[i] = v`
    Store,
    /// `a[i] += v`
    AddAt,
    /// `a[i] -= v`
    SubAt,
    /// `a[i] *= v`
    MulAt,
}

#[derive(Clone, Debug)]
enum AIns {
    /// A scalar instruction.
    S(Ins),
    /// `a[i]` or `m[i][j]` of a visible array (counted back).
    Read(u8, Idx, Idx),
    /// An element write into a local array (counted back among them).
    Write(Write, u8, Idx, Idx, Opnd),
    /// A new local array; the `u8` picks how it is made.
    New(u8, Opnd),
    /// In a loop body, a float of the index: `x * (i as f64)`, or
    /// `x.powi(i)` of a positive `x` (`var` picks).
    OfIndex(u8, Ref),
    Loop(Box<LoopIns>),
    If(Box<AIfIns>),
}

#[derive(Clone, Debug)]
struct LoopIns {
    from_one: bool,
    /// How the end is written (see the section comment).
    end: u8,
    rev: bool,
    /// Carried floats: the initial value, the update (replace, `+`, `*`,
    /// `-`, `max`) and its operand at the end of the body.
    carry: Vec<(Ref, u8, Ref)>,
    body: Vec<AIns>,
}

#[derive(Clone, Debug)]
struct AIfIns {
    cond: Cond,
    /// Inside a loop: an opaque condition on the index instead,
    /// `i > k` (false) or `i % 2 == 0` (true).
    on_index: Option<(bool, u8)>,
    then: Vec<AIns>,
    els: Vec<AIns>,
    /// One float yielded per pair.
    outs: Vec<(Ref, Ref)>,
}

#[derive(Clone, Debug)]
struct AProg {
    scalars: usize,
    arrays: usize,
    arrays_first: bool,
    ins: Vec<AIns>,
    second: Option<Ref>,
    /// Also output a root array (counted back).
    array_out: Option<u8>,
}

/// A program, the array length, a point `x`, a direction `v` and a
/// cotangent `w` (the first floats of each are used).
#[derive(Clone, Debug)]
struct ACase {
    prog: AProg,
    n: usize,
    avoid: Avoid,
    x: Vec<f64>,
    v: Vec<f64>,
    w: Vec<f64>,
}

/// Most input floats (2 floats, 2 arrays of 5) and output floats (2
/// floats, a 5 x 5 array).
const MAX_IN: usize = 12;
const MAX_OUT: usize = 27;

fn idx() -> BoxedStrategy<Idx> {
    let k = || 0u8..2;
    prop_oneof![
        4 => k().prop_map(Idx::I),
        1 => k().prop_map(Idx::Back),
        2 => k().prop_map(Idx::Flip),
        1 => k().prop_map(Idx::FlipOpaque),
        1 => (k(), 1u8..3).prop_map(|(k, s)| Idx::Wrap(k, s)),
        1 => any::<u8>().prop_map(Idx::Lit),
        3 => (k(), any::<bool>(), any::<bool>()).prop_map(|(k, up, t)| Idx::Shift(k, up, t)),
    ]
    .boxed()
}

fn write_op() -> impl Strategy<Value = Write> {
    prop_oneof![
        3 => Just(Write::Store),
        3 => Just(Write::AddAt),
        1 => Just(Write::SubAt),
        1 => Just(Write::MulAt),
    ]
}

fn a_leaf() -> BoxedStrategy<AIns> {
    prop_oneof![
        5 => leaf().boxed().prop_map(AIns::S),
        4 => (any::<u8>(), idx(), idx()).prop_map(|(a, i, j)| AIns::Read(a, i, j)),
        3 => (write_op(), any::<u8>(), idx(), idx(), opnd())
            .prop_map(|(w, a, i, j, v)| AIns::Write(w, a, i, j, v)),
        1 => (any::<u8>(), opnd()).prop_map(|(k, v)| AIns::New(k, v)),
        1 => (any::<u8>(), a_ref()).prop_map(|(k, r)| AIns::OfIndex(k, r)),
    ]
    .boxed()
}

fn a_if() -> BoxedStrategy<AIns> {
    (
        cond().boxed(),
        prop::option::weighted(0.4, (any::<bool>(), 0u8..3)),
        vec(a_leaf(), 1..=3),
        vec(a_leaf(), 0..=3),
        vec((a_ref(), a_ref()), 0..=2),
    )
        .prop_map(|(cond, on_index, then, els, outs)| {
            AIns::If(Box::new(AIfIns {
                cond,
                on_index,
                then,
                els,
                outs,
            }))
        })
        .boxed()
}

fn a_loop(
    carried: std::ops::RangeInclusive<usize>,
    body: BoxedStrategy<AIns>,
) -> BoxedStrategy<AIns> {
    (
        prop::bool::weighted(0.25),
        0u8..5,
        any::<bool>(),
        vec((a_ref(), 0u8..5, a_ref()), carried),
        vec(body, 3..=5),
    )
        .prop_map(|(from_one, end, rev, carry, body)| {
            AIns::Loop(Box::new(LoopIns {
                from_one,
                end,
                rev,
                carry,
                body,
            }))
        })
        .boxed()
}

/// An instruction of a loop body that may hold `depth` more loops.
fn body_ins(depth: usize) -> BoxedStrategy<AIns> {
    if depth == 0 {
        prop_oneof![6 => a_leaf(), 1 => a_if()].boxed()
    } else {
        prop_oneof![
            6 => a_leaf(),
            1 => a_if(),
            2 => a_loop(0..=1, body_ins(depth - 1)),
        ]
        .boxed()
    }
}

fn aprog() -> impl Strategy<Value = AProg> {
    let root = || {
        prop_oneof![
            4 => a_leaf(),
            1 => a_if(),
            1 => a_loop(0..=1, body_ins(1)),
        ]
    };
    (
        (1usize..=2, 1usize..=2, any::<bool>()),
        vec(root(), 1..=3),
        prop::option::weighted(0.7, (any::<u8>(), opnd())),
        a_loop(1..=3, body_ins(1)),
        vec(root(), 1..=3),
        prop::option::of(a_ref()),
        prop::option::weighted(0.25, a_ref()),
    )
        .prop_map(
            |((scalars, arrays, arrays_first), mut ins, new, main, rest, second, array_out)| {
                ins.extend(new.map(|(k, v)| AIns::New(k, v)));
                ins.push(main);
                ins.extend(rest);
                AProg {
                    scalars,
                    arrays,
                    arrays_first,
                    ins,
                    second,
                    array_out,
                }
            },
        )
}

fn acase(avoid: Avoid) -> impl Strategy<Value = ACase> {
    let len = prop_oneof![2 => Just(0usize), 3 => Just(1), 3 => 2usize..=3, 2 => 4usize..=5];
    (
        aprog(),
        len,
        vec(signed(0.05, 2.0), MAX_IN),
        vec(signed(0.1, 1.0), MAX_IN),
        vec(signed(0.1, 1.0), MAX_OUT),
    )
        .prop_map(move |(prog, n, x, v, w)| ACase {
            prog,
            n,
            avoid,
            x,
            v,
            w,
        })
}

/// An array in scope.
#[derive(Clone, Copy, Debug)]
struct Arr {
    node: NodeId,
    rank: u8,
    /// A local array (params are read only).
    writable: bool,
}

impl Builder {
    /// A visible array, counted back.
    fn arr(&self, k: u8) -> Arr {
        let n = self.arrays.len();
        self.arrays[n - 1 - k as usize % n]
    }

    /// The slot of a writable array, counted back among them.
    fn writable(&self, k: u8) -> Option<usize> {
        let slots: Vec<usize> = (0..self.arrays.len())
            .filter(|&j| self.arrays[j].writable)
            .collect();
        (!slots.is_empty()).then(|| slots[slots.len() - 1 - k as usize % slots.len()])
    }

    fn int_lit(&mut self, v: i64) -> NodeId {
        self.g.add(self.region, Op::Int(v), vec![], Ty::Int)
    }

    /// An opaque expression over named bindings.
    fn opaque(&mut self, expr: &str, refs: &[(&str, NodeId)], ty: Ty) -> NodeId {
        let expr: syn::Expr = syn::parse_str(expr).expect("opaque expression parses");
        let names = refs
            .iter()
            .map(|(n, _)| syn::Ident::new(n, proc_macro2::Span::call_site()))
            .collect();
        let opaque = crate::ir::Opaque::new(expr, names);
        let args = refs.iter().map(|(_, a)| *a).collect();
        self.g.add_opaque(self.region, opaque, args, ty)
    }

    /// The index node, or `None` outside loops when `n = 0`.
    fn index(&mut self, ix: Idx) -> Option<NodeId> {
        let depth = self.loops.len();
        let k = match ix {
            Idx::I(k) | Idx::Back(k) | Idx::Flip(k) | Idx::FlipOpaque(k) | Idx::Wrap(k, _) => k,
            Idx::Lit(k) | Idx::Shift(k, ..) => k,
        };
        if depth == 0 || matches!(ix, Idx::Lit(_)) {
            if depth == 0 && self.n == 0 {
                return None;
            }
            return Some(self.int_lit((k as usize % self.n.max(1)) as i64));
        }
        let (i, start, to_last) = self.loops[depth - 1 - k as usize % depth];
        let r = self.region;
        let a0 = self.a0;
        Some(match ix {
            Idx::Back(_) => {
                let s = self.int_lit(start);
                self.g.add(r, Op::IntBin(IntOp::Sub), vec![i, s], Ty::Int)
            }
            Idx::Flip(_) => {
                let len = self.g.add(r, Op::Len, vec![a0], Ty::Other);
                let one = self.int_lit(1);
                let last = self
                    .g
                    .add(r, Op::IntBin(IntOp::Sub), vec![len, one], Ty::Int);
                self.g
                    .add(r, Op::IntBin(IntOp::Sub), vec![last, i], Ty::Int)
            }
            Idx::FlipOpaque(_) => {
                self.opaque("a0.len() - 1 - i", &[("a0", a0), ("i", i)], Ty::Other)
            }
            Idx::Wrap(_, s) => self.opaque(
                &format!("(i + {s}) % a0.len()"),
                &[("i", i), ("a0", a0)],
                Ty::Other,
            ),
            Idx::Shift(_, up, tokens) => {
                let up = match (to_last, start >= 1) {
                    (true, true) => up,
                    (true, false) => true,
                    (false, true) => false,
                    (false, false) => return Some(i),
                };
                if tokens {
                    let expr = if up { "i + 1" } else { "i - 1" };
                    self.opaque(expr, &[("i", i)], Ty::Other)
                } else {
                    let one = self.int_lit(1);
                    let op = if up {
                        Op::IntBin(IntOp::Add)
                    } else {
                        Op::IntBin(IntOp::Sub)
                    };
                    self.g.add(r, op, vec![i, one], Ty::Other)
                }
            }
            _ => i,
        })
    }

    /// The indices of an element of `a`.
    fn indices(&mut self, a: Arr, i: Idx, j: Idx) -> Option<Vec<NodeId>> {
        let mut idx = vec![self.index(i)?];
        if a.rank == 2 {
            idx.push(self.index(j)?);
        }
        Some(idx)
    }

    /// `[v; N]` with the literal length `N`: always a new node.
    fn fill_fixed(&mut self, v: NodeId, ty: Ty) -> NodeId {
        self.g
            .opaques
            .push(crate::ir::Opaque::parsed(&self.n.to_string(), &[]));
        let k = self.g.opaques.len() as u32 - 1;
        self.g.add(self.region, Op::FillFixed(k), vec![v], ty)
    }

    /// `[[v; N]; N]`, or (avoiding a known bug) `[[0.5; N]; N]`.
    fn square(&mut self, v: NodeId) -> (u8, NodeId) {
        let (rank1, rank2) = (Ty::Array(FloatTy::F64, 1), Ty::Array(FloatTy::F64, 2));
        let v = if self.avoid.rank2_active_fill {
            self.c(0.5)
        } else {
            v
        };
        let row = self.fill_fixed(v, rank1);
        (2, self.fill_fixed(row, rank2))
    }

    fn new_array(&mut self, kind: u8, v: Opnd) {
        let r = self.region;
        let rank1 = Ty::Array(FloatTy::F64, 1);
        let v = self.opnd(v);
        let (rank, node) = match kind % 8 {
            0 => {
                let len = self.g.add(r, Op::Len, vec![self.a0], Ty::Other);
                (1, self.g.add(r, Op::FillVec, vec![v, len], rank1))
            }
            1 => {
                let n = self.int_lit(self.n as i64);
                (1, self.g.add(r, Op::FillVec, vec![v, n], rank1))
            }
            2 | 3 if self.n > 0 => {
                let items = (0..self.n as u8).map(|k| self.r(k)).collect();
                (1, self.g.add(r, Op::ArrayLit, items, rank1))
            }
            4 => {
                let rank1s: Vec<Arr> = self
                    .arrays
                    .iter()
                    .copied()
                    .filter(|a| a.rank == 1)
                    .collect();
                let a = rank1s[kind as usize / 8 % rank1s.len()];
                (1, self.g.add(r, Op::Owned, vec![a.node], rank1))
            }
            5 | 7 => self.square(v),
            _ => (1, self.fill_fixed(v, rank1)),
        };
        // Never two names for one array, never a version already written
        // (hash-consing would give both): a fresh `[v; N]` instead.
        let (rank, node) =
            if self.arrays.iter().any(|a| a.node == node) || self.taken.contains(&node) {
                if rank == 2 {
                    self.square(v)
                } else {
                    (1, self.fill_fixed(v, rank1))
                }
            } else {
                (rank, node)
            };
        self.arrays.push(Arr {
            node,
            rank,
            writable: true,
        });
    }

    fn write(&mut self, w: Write, a: u8, i: Idx, j: Idx, v: Opnd) {
        let Some(slot) = self.writable(a).filter(|&j| j >= self.frozen) else {
            return;
        };
        let arr = self.arrays[slot];
        let Some(idx) = self.indices(arr, i, j) else {
            return;
        };
        let r = self.region;
        let v = self.opnd(v);
        let ty = Ty::Array(FloatTy::F64, arr.rank);
        let mut args = vec![arr.node];
        args.extend(&idx);
        let (op, v) = match w {
            Write::Store => (Op::Store, v),
            Write::AddAt => (Op::AddAt, v),
            Write::SubAt => (Op::AddAt, self.un(Un::Neg, v)),
            Write::MulAt => {
                let cur = self.g.add(r, Op::Index, args.clone(), F64);
                (Op::Store, self.bin(Bin::Mul, cur, v))
            }
        };
        args.push(v);
        let new = self.g.add(r, op, args, ty);
        self.taken.insert(arr.node);
        self.arrays[slot].node = new;
    }

    fn ains(&mut self, ins: &AIns) {
        let r = self.region;
        match ins {
            AIns::S(i) => self.ins(i),
            AIns::Read(a, i, j) => {
                let arr = self.arr(*a);
                if let Some(idx) = self.indices(arr, *i, *j) {
                    let mut args = vec![arr.node];
                    args.extend(idx);
                    let v = self.g.add(r, Op::Index, args, F64);
                    self.scope.push(v);
                }
            }
            AIns::Write(w, a, i, j, v) => self.write(*w, *a, *i, *j, *v),
            AIns::New(k, v) => self.new_array(*k, *v),
            AIns::OfIndex(var, a) => {
                let Some(&(i, ..)) = self.loops.last() else {
                    return;
                };
                let x = self.r(*a);
                let v = if var % 2 == 0 {
                    let fi = self.g.add(r, Op::IntToFloat, vec![i], F64);
                    self.bin(Bin::Mul, x, fi)
                } else {
                    let x = self.pos(x, var / 2, 0.5);
                    self.g.add(r, Op::PowI, vec![x, i], F64)
                };
                self.scope.push(v);
            }
            AIns::Loop(l) => self.a_loop(l),
            AIns::If(i) => self.a_if(i),
        }
    }

    fn a_if(&mut self, ins: &AIfIns) {
        let r = self.region;
        let c = match (ins.on_index, self.loops.last()) {
            (Some((even, k)), Some(&(i, ..))) => {
                let expr = if even {
                    "i % 2 == 0".to_string()
                } else {
                    format!("i > {k}")
                };
                self.opaque(&expr, &[("i", i)], Ty::Bool)
            }
            _ => self.cond(&ins.cond),
        };
        let saved = (
            self.scope.clone(),
            self.ints.clone(),
            self.bools.clone(),
            self.arrays.clone(),
        );
        let before: Vec<NodeId> = self.arrays.iter().map(|a| a.node).collect();
        let frozen = self.frozen;
        if self.avoid.if_writes_in_loops && !self.loops.is_empty() {
            self.frozen = before.len();
        }
        let mut yields = [Vec::new(), Vec::new()];
        let mut versions = [Vec::new(), Vec::new()];
        let mut regions = [ROOT; 2];
        for (side, body) in [&ins.then, &ins.els].into_iter().enumerate() {
            let br = self.g.new_region(r);
            regions[side] = br;
            self.region = br;
            for i in body {
                self.ains(i);
            }
            yields[side] = ins
                .outs
                .iter()
                .map(|p| self.r(if side == 0 { p.0 } else { p.1 }))
                .collect();
            versions[side] = self.arrays[..before.len()].iter().map(|a| a.node).collect();
            self.region = r;
            (self.scope, self.ints, self.bools, self.arrays) = saved.clone();
        }
        self.frozen = frozen;
        // The arrays either side wrote are yielded by both.
        let changed: Vec<usize> = (0..before.len())
            .filter(|&j| versions[0][j] != before[j] || versions[1][j] != before[j])
            .collect();
        for side in 0..2 {
            for &j in &changed {
                yields[side].push(versions[side][j]);
            }
        }
        let [t, e] = yields;
        self.g.set_outputs(regions[0], t);
        self.g.set_outputs(regions[1], e);
        let node = self.g.add(
            r,
            Op::If {
                then: regions[0],
                els: regions[1],
            },
            vec![c],
            Ty::Other,
        );
        for k in 0..ins.outs.len() {
            let p = self.g.add(r, Op::Proj(k as u32), vec![node], F64);
            self.scope.push(p);
        }
        for (k, &j) in changed.iter().enumerate() {
            let ty = Ty::Array(FloatTy::F64, self.arrays[j].rank);
            let p = self
                .g
                .add(r, Op::Proj((ins.outs.len() + k) as u32), vec![node], ty);
            self.arrays[j].node = p;
        }
    }

    /// A loop carrying the arrays its body writes, as lowering makes it
    /// (found by building the body once on a copy of the builder).
    fn a_loop(&mut self, l: &LoopIns) {
        if self.loops.len() >= 2 {
            return;
        }
        let written = self.clone().build_loop(l, None);
        self.build_loop(l, Some(&written));
    }

    /// Builds the loop carrying the writable arrays `only` (all if `None`;
    /// the others are read only in the body); gives those the body wrote.
    fn build_loop(&mut self, l: &LoopIns, only: Option<&[usize]>) -> Vec<usize> {
        let r = self.region;
        let start = i64::from(l.from_one);
        let s = self.int_lit(start);
        let to_last = l.end % 5 >= 3;
        let end = match l.end % 5 {
            0 => self.g.add(r, Op::Len, vec![self.a0], Ty::Other),
            1 => self.int_lit(self.n as i64),
            2 => self.opaque("a0.len()", &[("a0", self.a0)], Ty::Other),
            // `a0.len() - 1`, as `IntSub` nodes where that is not below
            // zero (the interpreter refuses it, as `usize` would); the
            // tokens are evaluated as `i64`: no iteration for `n = 0`.
            4 if self.n > 0 => {
                let len = self.g.add(r, Op::Len, vec![self.a0], Ty::Other);
                let one = self.int_lit(1);
                self.g
                    .add(r, Op::IntBin(IntOp::Sub), vec![len, one], Ty::Int)
            }
            _ => self.opaque("a0.len() - 1", &[("a0", self.a0)], Ty::Other),
        };
        let scalar_inits: Vec<NodeId> = l.carry.iter().map(|c| self.r(c.0)).collect();
        // The arrays the body sees (avoiding the known bugs, an inner loop
        // does not see the outer body's writable arrays, or any local one).
        let inner = !self.loops.is_empty();
        let visible: Vec<usize> = (0..self.arrays.len())
            .filter(|&j| {
                let a = self.arrays[j];
                let param = matches!(self.g.op(a.node), Op::Param { .. });
                !(inner
                    && (self.avoid.nested_reads && !param
                        || self.avoid.nested_arrays && a.writable))
            })
            .collect();
        let carried_arrays: Vec<usize> = visible
            .iter()
            .copied()
            .filter(|&j| self.arrays[j].writable && only.is_none_or(|o| o.contains(&j)))
            .collect();
        let mut inits = scalar_inits.clone();
        inits.extend(carried_arrays.iter().map(|&j| self.arrays[j].node));
        // The loop takes the arrays over (before the body is built, so
        // that nothing in it revives them by hash-consing).
        self.taken.extend(&inits[scalar_inits.len()..]);
        let saved = (
            self.scope.clone(),
            self.ints.clone(),
            self.bools.clone(),
            self.arrays.clone(),
        );
        // In the body: the visible arrays, writable if carried (the body's
        // slot of array `j` is `at(j)`).
        let at = |j: usize| visible.iter().position(|&v| v == j).unwrap_or(usize::MAX);
        self.arrays = visible
            .iter()
            .map(|&j| Arr {
                writable: carried_arrays.contains(&j),
                ..self.arrays[j]
            })
            .collect();
        let body = self.g.new_region(r);
        self.region = body;
        let mut args = Vec::new();
        for (k, &init) in inits.iter().enumerate() {
            let ty = self.g.ty(init);
            args.push(
                self.g
                    .add_local(body, Op::RegionArg(body, k as u32 + 1), vec![], ty),
            );
        }
        self.scope.extend(&args[..scalar_inits.len()]);
        for (k, &j) in carried_arrays.iter().enumerate() {
            self.arrays[at(j)].node = args[scalar_inits.len() + k];
        }
        let i = self
            .g
            .add_local(body, Op::RegionArg(body, 0), vec![], Ty::Int);
        self.ints.push(i);
        self.loops.push((i, start, to_last));
        self.bodies.push(body);
        for ins in &l.body {
            self.ains(ins);
        }
        let mut outs = Vec::new();
        for (k, &(_, op, val)) in l.carry.iter().enumerate() {
            let (acc, v) = (args[k], self.r(val));
            outs.push(match op {
                0 => v,
                1 => self.bin(Bin::Add, acc, v),
                2 => self.bin(Bin::Mul, acc, v),
                3 => self.bin(Bin::Sub, acc, v),
                _ => self.bin(Bin::Max, acc, v),
            });
        }
        outs.extend(carried_arrays.iter().map(|&j| self.arrays[at(j)].node));
        let written: Vec<usize> = carried_arrays
            .iter()
            .enumerate()
            .filter(|&(k, &j)| self.arrays[at(j)].node != args[scalar_inits.len() + k])
            .map(|(_, &j)| j)
            .collect();
        self.loops.pop();
        self.bodies.pop();
        self.region = r;
        (self.scope, self.ints, self.bools, self.arrays) = saved;
        self.g.set_outputs(body, outs);
        let mut loop_args = vec![s, end];
        loop_args.extend(&inits);
        let op = Op::Loop {
            body,
            carried: inits.len() as u32,
            rev: l.rev,
        };
        let node = self.g.add(r, op, loop_args, Ty::Other);
        for (k, &init) in inits.iter().enumerate() {
            let ty = self.g.ty(init);
            let p = self.g.add(r, Op::Proj(k as u32), vec![node], ty);
            if k < scalar_inits.len() {
                self.scope.push(p);
                if r == ROOT {
                    self.results.push(p);
                }
            } else {
                self.arrays[carried_arrays[k - scalar_inits.len()]].node = p;
            }
        }
        written
    }
}

/// Program shapes that triggered known bugs (see the `bug_*` tests); the
/// generator avoids those set. Only `rank2_active_fill`, a gap lowering
/// never produces, is still avoided.
#[derive(Clone, Copy, Debug, Default)]
struct Avoid {
    /// An inner loop reading or writing an array the outer loop writes (or
    /// makes).
    nested_arrays: bool,
    /// An inner loop reading any local (non-param) array.
    nested_reads: bool,
    /// An `If` in a loop body writing an array from outside the `If`.
    if_writes_in_loops: bool,
    /// `[[v; N]; N]` of a non-constant `v` (which lowering rejects): `v`
    /// is then a constant.
    rank2_active_fill: bool,
}

impl Avoid {
    /// The classes named in a comma-separated list of field names.
    fn named(list: &str) -> Avoid {
        let mut a = Avoid::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let flag = match name {
                "nested_arrays" => &mut a.nested_arrays,
                "nested_reads" => &mut a.nested_reads,
                "if_writes_in_loops" => &mut a.if_writes_in_loops,
                "rank2_active_fill" => &mut a.rank2_active_fill,
                other => panic!("no bug class `{other}` in `Avoid`"),
            };
            *flag = true;
        }
        a
    }
}

/// The program with arrays of length `n`.
fn abuild(p: &AProg, n: usize, avoid: Avoid) -> Function {
    let mut b = Builder::new(n);
    b.avoid = avoid;
    let mut params = Vec::new();
    let kinds: Vec<bool> = if p.arrays_first {
        [vec![true; p.arrays], vec![false; p.scalars]].concat()
    } else {
        [vec![false; p.scalars], vec![true; p.arrays]].concat()
    };
    let (mut xs, mut arrays) = (0, 0);
    for (index, &is_array) in kinds.iter().enumerate() {
        let (name, ty) = if is_array {
            arrays += 1;
            (format!("a{}", arrays - 1), Ty::Array(FloatTy::F64, 1))
        } else {
            xs += 1;
            (format!("x{}", xs - 1), F64)
        };
        let node = b.g.add(
            ROOT,
            Op::Param {
                index: index as u32,
                field: None,
            },
            vec![],
            ty,
        );
        if is_array {
            if arrays == 1 {
                b.a0 = node;
            }
            b.arrays.push(Arr {
                node,
                rank: 1,
                writable: false,
            });
        } else {
            b.scope.push(node);
        }
        params.push(Param {
            name: ident(&name),
            fields: vec![ty],
        });
    }
    for i in &p.ins {
        b.ains(i);
    }
    // The first output sums the latest float, the floats every loop at
    // the root carried out, and the last element of every local array.
    let mut out = b.r(0);
    for v in std::mem::take(&mut b.results) {
        out = b.bin(Bin::Add, out, v);
    }
    for a in b.arrays.clone() {
        if a.writable && n > 0 {
            let last = b.int_lit(n as i64 - 1);
            let mut args = vec![a.node, last];
            if a.rank == 2 {
                args.push(last);
            }
            let x = b.g.add(ROOT, Op::Index, args, F64);
            out = b.bin(Bin::Add, out, x);
        }
    }
    let mut outputs = vec![out];
    if let Some(r) = p.second {
        outputs.push(b.r(r));
    }
    if let Some(k) = p.array_out {
        outputs.push(b.arr(k).node);
    }
    let shape = if outputs.len() == 1 {
        OutShape::Leaf
    } else {
        OutShape::Tuple(vec![OutShape::Leaf; outputs.len()])
    };
    Function {
        params,
        graph: b.g,
        outputs,
        shape,
    }
}

impl Sample for ACase {
    fn point(&self) -> Result<Point, TestCaseError> {
        let f = abuild(&self.prog, self.n, self.avoid);
        let ins = param_shapes(&f, self.n);
        point_of(f, ins, &self.x, &self.v, &self.w)
    }

    fn show(&self) -> String {
        let f = abuild(&self.prog, self.n, self.avoid);
        let ins = param_shapes(&f, self.n);
        let k: usize = ins.iter().map(Shape::size).sum();
        let params = values(&ins, self.x[..k].iter().copied());
        let m =
            interp::try_run(&f, &params).map_or(0, |o| o.iter().map(|v| v.floats().len()).sum());
        format!(
            "n = {}, params = {params:?}, direction = {:?}, out_bar (flat) = {:?}\n{self:?}\nprogram:\n{f}",
            self.n,
            values(&ins, self.v[..k].iter().copied()),
            &self.w[..m],
        )
    }
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

// ---------------------------------------------------------------------------
// The properties on programs with arrays and loops.

/// The shapes the array properties avoid: none but the gap lowering
/// rejects (`[[v; N]; N]` of a differentiated `v`).
const AVOID: Avoid = Avoid {
    nested_arrays: false,
    nested_reads: false,
    if_writes_in_loops: false,
    rank2_active_fill: true,
};

/// Expression swell of the array and loop programs (see `SWELL`; live
/// nodes of `f` about 35 on average). Measured over 2.8 * 10^4 random
/// programs: the ratio is at most 4.7 for the vjp (mean 2.5) and 2.8 for
/// the jvp (mean 1.75). `ARRAY_SWELL` leaves a margin of about 1.5x over
/// the worst case seen.
const ARRAY_SWELL: f64 = 7.0;

#[test]
fn arrays_jvp_matches_dual_numbers_and_finite_differences() {
    check("arrays jvp", 0.8, acase(AVOID), jvp_property);
}

#[test]
fn arrays_vjp_matches_dual_numbers_and_finite_differences() {
    check("arrays vjp", 0.8, acase(AVOID), vjp_property);
}

#[test]
fn arrays_forward_over_reverse_matches_dual_numbers() {
    check("arrays hvp", 0.0, acase(AVOID), hvp_property);
}

#[test]
fn arrays_simplify_keeps_values() {
    check("arrays simplify", 0.0, acase(AVOID), simplify_property);
}

#[test]
fn arrays_no_expression_swell() {
    check(
        "arrays swell",
        0.0,
        acase(AVOID),
        swell_property(ARRAY_SWELL),
    );
}

/// The array generator makes what it promises: a loop in every program,
/// and each feature over the cases (counted on the live program).
#[test]
fn array_generator_covers_the_features() {
    use std::collections::BTreeMap;
    // A fixed seed: the counts are the same on every run.
    let mut runner = seeded_runner(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let mut features: BTreeMap<&str, usize> = BTreeMap::new();
    let runs = 300;
    for _ in 0..runs {
        let c = acase(AVOID).new_tree(&mut runner).unwrap().current();
        let f = abuild(&c.prog, c.n, AVOID);
        let g = &f.graph;
        let live = g.live(&f.outputs);
        let mut has = std::collections::BTreeSet::new();
        has.insert(match c.n {
            0 => "n = 0 (no iteration)",
            1 => "n = 1",
            _ => "n > 1",
        });
        let loop_bodies: Vec<RegionId> = g
            .nodes
            .iter()
            .filter_map(|n| match n.op {
                Op::Loop { body, .. } => Some(body),
                _ => None,
            })
            .collect();
        let in_loop = |r: RegionId| loop_bodies.iter().any(|&b| g.within(r, b) && r != ROOT);
        // User tokens, as written.
        let tokens = |id: NodeId| match g.op(id) {
            Op::Opaque(k) => {
                quote::ToTokens::to_token_stream(&g.opaques[*k as usize].expr).to_string()
            }
            _ => String::new(),
        };
        let index_plus = |id: NodeId, op: Op| {
            *g.op(id) == op
                && matches!(g.op(g.args(id)[0]), Op::RegionArg(_, 0))
                && *g.op(g.args(id)[1]) == Op::Int(1)
        };
        for (i, n) in g.nodes.iter().enumerate() {
            if !live[i] {
                continue;
            }
            let arg_op = |k: usize| g.op(n.args[k]);
            match &n.op {
                Op::Loop { body, carried, rev } => {
                    has.insert("Loop");
                    if *rev {
                        has.insert("reversed loop");
                    }
                    if n.region != ROOT {
                        has.insert("nested loop");
                    }
                    if matches!(arg_op(0), Op::Int(1)) {
                        has.insert("loop from 1");
                    }
                    if matches!(arg_op(1), Op::Opaque(_)) {
                        has.insert("opaque loop end");
                    }
                    if matches!(arg_op(1), Op::IntBin(IntOp::Sub))
                        || tokens(n.args[1]) == "a0 . len () - 1"
                    {
                        has.insert("loop to n - 1");
                    }
                    let outs = &g.region(*body).outputs[..*carried as usize];
                    if outs.iter().any(|&o| g.ty(o).is_array()) {
                        has.insert("carried array");
                    }
                    if outs.iter().any(|&o| g.ty(o).float().is_some()) {
                        has.insert("carried float");
                    }
                }
                Op::If { then, .. } => {
                    if in_loop(n.region) {
                        has.insert("If in a loop body");
                    }
                    if matches!(arg_op(0), Op::Opaque(_)) {
                        has.insert("If on the index");
                    }
                    if g.region(*then).outputs.iter().any(|&o| g.ty(o).is_array()) {
                        has.insert("If yielding an array");
                    }
                }
                Op::Index => {
                    has.insert(match arg_op(0) {
                        Op::Param { .. } => "read of a param array",
                        _ => "read of a local array",
                    });
                    if n.args.len() == 3 {
                        has.insert("rank-2 read");
                    }
                    if in_loop(n.region) && matches!(arg_op(1), Op::RegionArg(..)) {
                        has.insert("read at the loop index");
                    }
                    if matches!(arg_op(1), Op::Opaque(_) | Op::IntBin(IntOp::Sub)) {
                        has.insert("index arithmetic");
                    }
                    if index_plus(n.args[1], Op::IntBin(IntOp::Add)) {
                        has.insert("read at i + 1");
                    }
                    if index_plus(n.args[1], Op::IntBin(IntOp::Sub)) {
                        has.insert("read at i - 1");
                    }
                    match tokens(n.args[1]).as_str() {
                        "i + 1" => has.insert("read at `i + 1` (tokens)"),
                        "i - 1" => has.insert("read at `i - 1` (tokens)"),
                        _ => false,
                    };
                }
                Op::Store => {
                    has.insert("Store");
                    if n.args.len() == 4 {
                        has.insert("rank-2 write");
                    }
                    if matches!(g.op(n.args[n.args.len() - 1]), Op::Bin(Bin::Mul))
                        && matches!(g.op(g.args(n.args[n.args.len() - 1])[0]), Op::Index)
                    {
                        has.insert("a[i] *= v");
                    }
                }
                Op::AddAt => {
                    has.insert("AddAt");
                    if matches!(g.op(n.args[n.args.len() - 1]), Op::Un(Un::Neg)) {
                        has.insert("a[i] -= v");
                    }
                }
                Op::FillFixed(_) if n.ty == Ty::Array(FloatTy::F64, 2) => {
                    has.insert("[[v; N]; N]");
                }
                Op::IntToFloat if matches!(arg_op(0), Op::RegionArg(_, 0)) => {
                    has.insert("i as f64");
                }
                Op::PowI if matches!(arg_op(1), Op::RegionArg(_, 0)) => {
                    has.insert("powi(i)");
                }
                Op::IntBin(IntOp::Sub) => {
                    has.insert("IntSub");
                }
                other => {
                    let name = format!("{other:?}");
                    for op in ["FillVec", "FillFixed", "ArrayLit", "Owned", "Len"] {
                        if name.starts_with(op) {
                            has.insert(op);
                        }
                    }
                }
            }
        }
        match f.outputs.last().map(|&o| g.ty(o)) {
            Some(Ty::Array(_, 2)) => has.insert("rank-2 array output"),
            Some(Ty::Array(..)) => has.insert("array output"),
            _ => false,
        };
        assert!(has.contains("Loop"), "no loop:\n{f}");
        for h in has {
            *features.entry(h).or_default() += 1;
        }
    }
    // Shown with `--nocapture`.
    eprintln!("array generator: programs (of {runs}) with each feature: {features:?}");
    for f in [
        "n = 0 (no iteration)",
        "n = 1",
        "n > 1",
        "reversed loop",
        "nested loop",
        "loop from 1",
        "opaque loop end",
        "loop to n - 1",
        "carried array",
        "carried float",
        "If in a loop body",
        "If on the index",
        "If yielding an array",
        "read of a param array",
        "read of a local array",
        "rank-2 read",
        "read at the loop index",
        "index arithmetic",
        "read at i + 1",
        "read at i - 1",
        "read at `i + 1` (tokens)",
        "read at `i - 1` (tokens)",
        "Store",
        "rank-2 write",
        "a[i] *= v",
        "AddAt",
        "a[i] -= v",
        "[[v; N]; N]",
        "i as f64",
        "powi(i)",
        "FillVec",
        "FillFixed",
        "ArrayLit",
        "Owned",
        "Len",
        "IntSub",
        "array output",
        "rank-2 array output",
    ] {
        let n = features.get(f).copied().unwrap_or(0);
        assert!(n >= 3, "{f}: in only {n} of {runs} programs\n{features:?}");
    }
}

// ---------------------------------------------------------------------------
// Random stencil loops.
//
// The array programs above rarely make a loop the gather pass rewrites:
// their reverse loops carry the adjoints of the floats the bodies read.
// These programs are one loop over `lo..n - back` (`lo`, `back` in 0..=2,
// forward or reversed; the end as `Len`, `IntSub` nodes, opaque tokens or a
// literal) over one or two array params of length `n` in 0..=7 (loops of
// no iteration, of fewer than their span of offsets, and longer). The body
// reads `a[i + c]` for offsets `c` in `-lo..=back` (`i`, `IntAdd`/`IntSub`
// with a literal, or the tokens `i + c` / `i - c`), combines them all, runs
// a let-chain of mostly cheap scalar instructions on the reads and their
// combination (and the loop index, and,
// sometimes, the float param `x0`: its adjoint is then summed across
// iterations, a loop the pass must leave alone), then sums the result into
// a carried float (`s += v`, or `s *= v`, whose adjoint is carried), adds
// values into a local array (`y[i + c] += v`, a scatter the pass gathers
// in the primal), or both. Outputs: `s` and/or `y`.

/// A stencil program (see above).
#[derive(Clone, Debug)]
struct SProg {
    arrays: usize,
    reads_param: bool,
    lo: u8,
    back: u8,
    rev: bool,
    end: u8,
    /// `a[i + c]`: the array (counted), the offset (picked in range),
    /// written as tokens.
    reads: Vec<(u8, u8, bool)>,
    body: Vec<Ins>,
    /// `s += v` (true) or `s *= v` (false), if any.
    sum: Option<bool>,
    /// `y[i + c] += v`: the offset, the value, written as tokens.
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
    /// `i + c`: `i`, `IntAdd`/`IntSub` with a literal, or user tokens.
    fn shifted(&mut self, i: NodeId, c: i64, tokens: bool) -> NodeId {
        if c == 0 {
            i
        } else if tokens {
            let expr = if c > 0 {
                format!("i + {c}")
            } else {
                format!("i - {}", -c)
            };
            self.opaque(&expr, &[("i", i)], Ty::Other)
        } else {
            let m = self.int_lit(c.abs());
            let op = if c > 0 {
                Op::IntBin(IntOp::Add)
            } else {
                Op::IntBin(IntOp::Sub)
            };
            self.g.add(self.region, op, vec![i, m], Ty::Other)
        }
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
    let shape = if outputs.len() == 1 {
        OutShape::Leaf
    } else {
        OutShape::Tuple(vec![OutShape::Leaf; outputs.len()])
    };
    Function {
        params,
        graph: b.g,
        outputs,
        shape,
    }
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
            has.push("tokens");
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
        "tokens",
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

/// The bug classes the unrestricted properties avoid: those named in
/// `PROPTEST_AVOID` (comma-separated fields of [`Avoid`]), none by default.
fn unrestricted() -> Avoid {
    std::env::var("PROPTEST_AVOID")
        .map(|s| Avoid::named(&s))
        .unwrap_or_default()
}

#[test]
#[ignore = "bugs: the generator's programs trigger the known bugs (see the `bug_*` tests)"]
fn arrays_unrestricted_jvp() {
    check(
        "arrays jvp (unrestricted)",
        0.5,
        acase(unrestricted()),
        jvp_property,
    );
}

#[test]
#[ignore = "bugs: the generator's programs trigger the known bugs (see the `bug_*` tests)"]
fn arrays_unrestricted_vjp() {
    check(
        "arrays vjp (unrestricted)",
        0.5,
        acase(unrestricted()),
        vjp_property,
    );
}

#[test]
#[ignore = "bugs: the generator's programs trigger the known bugs (see the `bug_*` tests)"]
fn arrays_unrestricted_simplify() {
    check(
        "arrays simplify (unrestricted)",
        0.0,
        acase(unrestricted()),
        simplify_property,
    );
}

// ---------------------------------------------------------------------------
// Known bugs, each as a minimal program checked at one point by the
// properties above (`bug_*`: ignored until fixed; `cargo test --
// --ignored` runs them), and those fixed since (`fixed_*`). Each comment
// gives the program as Rust.

const ARR: Ty = Ty::Array(FloatTy::F64, 1);

/// Parameter `index` of type `ty`.
fn param_node(g: &mut Graph, index: u32, ty: Ty) -> NodeId {
    g.add(ROOT, Op::Param { index, field: None }, vec![], ty)
}

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

/// The simplified (and gathered) vjp, what the expansion emits = the
/// primal and Jᵀ w.
fn simplified_vjp_property(p: &Point, _: &Stats) -> Result<(), TestCaseError> {
    let vf = finish(&vjp_bar(&p.f));
    let mut params = p.args(&p.x);
    params.push(p.bar());
    let out = exec(&vf, &params, "simplified vjp")?;
    let m = p.m();
    prop_assert_eq!(&out[..m], &p.y[..], "primal outputs differ\n{}", vf);
    let want = p.jt_w();
    for i in 0..p.n() {
        prop_assert!(
            close(out[m + i], want[i], DUAL_RTOL, DUAL_ATOL),
            "input {i}: simplified vjp {} vs dual {}\n{vf}",
            out[m + i],
            want[i]
        );
    }
    Ok(())
}

/// The IR of a Rust function, as the expansion lowers it (panics if it
/// does not lower).
pub(crate) fn lowered(src: &str) -> Function {
    match source_function(src) {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
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

// ---------------------------------------------------------------------------
// Random programs from the idioms: iterator chains, array helpers, `scan`.
//
// These are Rust source, lowered as `#[differentiate]` lowers a function
// (iterator chains and `scan` become loops, helpers kernels with their
// rules, which the interpreter evaluates), then checked by the same
// properties. `fn f(x: &[f64], t: f64) -> f64` builds arrays and
// scalars step by step; every array has `x`'s length (0..=5).

/// One step: its kind and three operand picks (counted back from the
/// latest array or scalar).
#[derive(Clone, Debug)]
struct IdiomCase {
    steps: Vec<(u8, u8, u8, u8)>,
    n: usize,
    x: Vec<f64>,
    v: Vec<f64>,
    w: Vec<f64>,
}

/// The number of step kinds `idiom_source` knows.
const IDIOM_KINDS: u8 = 16;

/// The Rust source of a case's function.
fn idiom_source(steps: &[(u8, u8, u8, u8)]) -> String {
    let mut arrays = vec!["x".to_string()];
    let mut scalars = vec!["t".to_string()];
    let mut body = String::new();
    for (k, &(kind, a, b, s)) in steps.iter().enumerate() {
        let pick =
            |list: &Vec<String>, i: u8| list[list.len() - 1 - (i as usize % list.len())].clone();
        let (a, b, s) = (pick(&arrays, a), pick(&arrays, b), pick(&scalars, s));
        let (an, sn) = (format!("a{k}"), format!("s{k}"));
        let (line, new_array, new_scalar) = match kind % IDIOM_KINDS {
            0 => (format!("let {an}: Vec<f64> = {a}.iter().map(|v| (v * {s}).sin() + v).collect::<Vec<_>>();"), true, false),
            1 => (format!("let {an} = softmax(&{a});"), true, false),
            2 => (format!("let {an} = log_softmax(&{a});"), true, false),
            3 => (format!("let {an} = sigmoid(&{a});"), true, false),
            4 => (format!("let {an} = softplus(&{a});"), true, false),
            5 => (format!("let {sn} = sum(&{a}) * {s};"), false, true),
            6 => (format!("let {sn} = dot(&{a}, &{b});"), false, true),
            7 => (format!("let {sn} = logsumexp(&{a});"), false, true),
            8 => (format!("let {sn} = {a}.iter().zip(&{b}).map(|(p, q)| p * q.cos()).sum::<f64>();"), false, true),
            9 => (format!("let {sn} = {a}.iter().fold({s}, |acc, v| acc * 0.5 + v * v);"), false, true),
            10 => (format!("let {sn} = {a}.iter().map(|&v| 1.0 + 0.25 * v).product::<f64>();"), false, true),
            11 => (format!("let ({sn}, {an}) = scan({s}, &{a}, |h, v| {{ let nh = (h * 0.5 + v * {s}).tanh(); (nh, nh + v) }});"), true, true),
            12 => (format!("let {an}: Vec<f64> = (0..{a}.len()).map(|i| {a}[i] * {s} + {b}[i]).collect();"), true, false),
            13 => (format!("let mut {sn} = {s}; for v in {a}.iter() {{ {sn} = {sn} * 0.9 + v.exp() * 0.1; }}"), false, true),
            14 => (format!("let {sn} = mean(&{a}) + {s};"), false, true),
            // A helper's result, and an operand, updated in place after
            // the helpers read them (their rules read them again).
            _ => (format!("let mut {an} = sigmoid(&{a}); let {sn} = dot(&{an}, &{b}) * {s} + logsumexp(&{an}); for i in 0..{an}.len() {{ {an}[i] = {an}[i] * {s} + 0.5; }}"), true, true),
        };
        body.push_str(&line);
        body.push('\n');
        if new_array {
            arrays.push(an);
        }
        if new_scalar {
            scalars.push(sn);
        }
    }
    let last = arrays.last().cloned().unwrap_or_default();
    format!(
        "fn f(x: &[f64], t: f64) -> f64 {{\n{body}{} + sum(&{last})\n}}",
        scalars.join(" + ")
    )
}

/// The lowered function of a case's source.
fn idiom_function(steps: &[(u8, u8, u8, u8)]) -> Result<Function, TestCaseError> {
    source_function(&idiom_source(steps))
}

/// The lowered function of generated source.
fn source_function(src: &str) -> Result<Function, TestCaseError> {
    let item: syn::ItemFn = syn::parse_str(src)
        .map_err(|e| TestCaseError::fail(format!("generated source does not parse: {e}\n{src}")))?;
    let mut errors = crate::error::Errors::default();
    let sig = crate::signature::read(
        &crate::context::Cx::default(),
        &item,
        &crate::args::Args::default(),
        &mut errors,
    );
    let lowered = crate::lower::lower(
        &crate::context::Cx::default(),
        &sig,
        &item.block,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(TestCaseError::fail(format!(
            "lowering failed: {}\n{src}",
            errors.to_compile_errors()
        )));
    }
    Ok(lowered.func)
}

fn idiom_case() -> impl Strategy<Value = IdiomCase> {
    let step = (0..IDIOM_KINDS, any::<u8>(), any::<u8>(), any::<u8>());
    let len = prop_oneof![1 => Just(0usize), 2 => Just(1), 3 => 2usize..=3, 3 => 4usize..=5];
    (
        vec(step, 2..=6),
        len,
        vec(signed(0.05, 1.5), 6),
        vec(signed(0.1, 1.0), 6),
        vec(signed(0.1, 1.0), 1),
    )
        .prop_map(|(steps, n, x, v, w)| IdiomCase { steps, n, x, v, w })
}

impl Sample for IdiomCase {
    fn point(&self) -> Result<Point, TestCaseError> {
        let f = idiom_function(&self.steps)?;
        let ins = vec![Shape::Array(vec![self.n]), Shape::Scalar];
        let mut x = self.x[..self.n].to_vec();
        x.push(self.x[5]);
        let mut v = self.v[..self.n].to_vec();
        v.push(self.v[5]);
        point_of(f, ins, &x, &v, &self.w)
    }

    fn show(&self) -> String {
        format!(
            "n = {}, x = {:?}\n{}",
            self.n,
            &self.x,
            idiom_source(&self.steps)
        )
    }
}

#[test]
fn idioms_jvp_matches_dual_numbers_and_finite_differences() {
    check("idioms jvp", 0.5, idiom_case(), jvp_property);
}

#[test]
fn idioms_vjp_matches_dual_numbers_and_finite_differences() {
    check("idioms vjp", 0.5, idiom_case(), vjp_property);
}

#[test]
fn idioms_forward_over_reverse_matches_dual_numbers() {
    check("idioms hvp", 0.0, idiom_case(), hvp_property);
}

/// Every step kind appears in the generated cases, and lowers.
#[test]
fn idiom_generator_covers_every_step() {
    for kind in 0..IDIOM_KINDS {
        let steps = [(kind, 0, 1, 0), (kind, 1, 0, 1)];
        if let Err(e) = idiom_function(&steps) {
            panic!("kind {kind}: {e}");
        }
    }
}

// ---------------------------------------------------------------------------
// Random programs from the matrix helpers: `fn f(x: &[f64], t: f64, m:
// &[[f64; 3]]) -> f64` with `x` of one entry per row of `m`. Values are
// kept in pools by shape: R-vectors, 3-vectors, R×3 and 3×3 matrices.

/// One step: its kind and operand picks.
#[derive(Clone, Debug)]
struct MatrixCase {
    steps: Vec<(u8, u8, u8)>,
    rows: usize,
    x: Vec<f64>,
    v: Vec<f64>,
    w: Vec<f64>,
}

/// The number of step kinds `matrix_source` knows.
const MATRIX_KINDS: u8 = 13;

/// The Rust source of a matrix case's function.
fn matrix_source(steps: &[(u8, u8, u8)]) -> String {
    // Pools: R-vectors, 3-vectors, R×3, 3×3, scalars.
    let mut rv = vec!["x".to_string()];
    let mut cv = vec!["vecmat(&x, &m)".to_string()];
    let mut rm = vec!["m".to_string()];
    let mut cm: Vec<String> = vec!["outer(&vecmat(&x, &m), &vecmat(&x, &m))".to_string()];
    let mut sc = vec!["t".to_string()];
    let mut body = String::new();
    for (k, &(kind, a, b)) in steps.iter().enumerate() {
        let pick = |l: &Vec<String>, i: u8| l[l.len() - 1 - (i as usize % l.len())].clone();
        let name = format!("v{k}");
        let (line, pool) = match kind % MATRIX_KINDS {
            0 => (
                format!("let {name} = vecmat(&{}, &{});", pick(&rv, a), pick(&rm, b)),
                1,
            ),
            1 => (
                format!("let {name} = matvec(&{}, &{});", pick(&rm, a), pick(&cv, b)),
                0,
            ),
            2 => (
                format!("let {name} = outer(&{}, &{});", pick(&rv, a), pick(&cv, b)),
                2,
            ),
            3 => (format!("let {name} = sigmoid(&{});", pick(&rv, a)), 0),
            4 => (format!("let {name} = sigmoid(&{});", pick(&rm, a)), 2),
            5 => (format!("let {name} = softplus(&{});", pick(&rm, a)), 2),
            6 => (
                format!(
                    "let {name} = dot(&{}, &{}) * {};",
                    pick(&rv, a),
                    pick(&rv, b),
                    pick(&sc, a)
                ),
                4,
            ),
            7 => (format!("let {name} = norm(&{});", pick(&cv, a)), 4),
            8 => (format!("let {name} = sum(&{}) * 0.5;", pick(&rm, a)), 4),
            9 => (format!("let {name} = softmax(&{});", pick(&cv, a)), 1),
            10 => (
                format!("let {name} = matmul(&{}, &{});", pick(&rm, a), pick(&cm, b)),
                2,
            ),
            11 => (
                format!(
                    "let {name} = logsumexp(&{}) + mean(&{});",
                    pick(&rv, a),
                    pick(&cv, b)
                ),
                4,
            ),
            _ => (format!("let {name} = log_softmax(&{});", pick(&rv, a)), 0),
        };
        body.push_str(&line);
        body.push('\n');
        [&mut rv, &mut cv, &mut rm, &mut cm, &mut sc][pool].push(name);
    }
    format!(
        "fn f(x: &[f64], t: f64, m: &[[f64; 3]]) -> f64 {{\n{body}{} + sum(&{}) + sum(&{}) + sum(&{})\n}}",
        sc.join(" + "),
        rv.last().cloned().unwrap_or_default(),
        cv.last().cloned().unwrap_or_default(),
        rm.last().cloned().unwrap_or_default(),
    )
}

fn matrix_case() -> impl Strategy<Value = MatrixCase> {
    let step = (0..MATRIX_KINDS, any::<u8>(), any::<u8>());
    let rows = prop_oneof![1 => Just(0usize), 2 => Just(1), 4 => 2usize..=4];
    (
        vec(step, 1..=6),
        rows,
        vec(signed(0.05, 1.2), 17),
        vec(signed(0.1, 1.0), 17),
        vec(signed(0.1, 1.0), 1),
    )
        .prop_map(|(steps, rows, x, v, w)| MatrixCase {
            steps,
            rows,
            x,
            v,
            w,
        })
}

impl Sample for MatrixCase {
    fn point(&self) -> Result<Point, TestCaseError> {
        let src = matrix_source(&self.steps);
        let f = source_function(&src)?;
        let r = self.rows;
        let ins = vec![
            Shape::Array(vec![r]),
            Shape::Scalar,
            Shape::Array(vec![r, 3]),
        ];
        let n = r + 1 + 3 * r;
        point_of(f, ins, &self.x[..n], &self.v[..n], &self.w)
    }

    fn show(&self) -> String {
        format!(
            "rows = {}, x = {:?}\n{}",
            self.rows,
            &self.x,
            matrix_source(&self.steps)
        )
    }
}

#[test]
fn matrix_helpers_jvp_matches_dual_numbers_and_finite_differences() {
    check("matrix jvp", 0.5, matrix_case(), jvp_property);
}

#[test]
fn matrix_helpers_vjp_matches_dual_numbers_and_finite_differences() {
    check("matrix vjp", 0.5, matrix_case(), vjp_property);
}

#[test]
fn matrix_helpers_forward_over_reverse_matches_dual_numbers() {
    check("matrix hvp", 0.0, matrix_case(), hvp_property);
}

/// Every matrix step kind lowers.
#[test]
fn matrix_generator_covers_every_step() {
    for kind in 0..MATRIX_KINDS {
        let src = matrix_source(&[(kind, 0, 1), (kind, 1, 0)]);
        if let Err(e) = source_function(&src) {
            panic!("kind {kind}: {e}");
        }
    }
}

// ---------------------------------------------------------------------------
// The macro never panics: random bodies from snippets, valid and invalid.

/// Statements, many of them wrong on purpose (bad arities, non-closures,
/// unsupported adaptors, shapes that do not fit).
const SNIPPETS: &[&str] = &[
    "let a = x.iter().sum::<f64>();",
    "let a = x.iter().zip().sum::<f64>();",
    "let a = sum();",
    "let a = dot(&x);",
    "let a = dot(&x, &x, &x);",
    "let a = sum(&t);",
    "let a = matvec(&x, &x);",
    "let a = transpose(&x);",
    "let a = softmax(&x);",
    "let a = sigmoid(t, t);",
    "let a = sigmoid(&x);",
    "let a = scan(t, x, |h| h);",
    "let a = scan(t, x, 3);",
    "let a = scan(t, x, |h, v| (h * v, h));",
    "let a = scan_n(t, 3, |(p, q), i| ((p, q), p));",
    "let a = scan((t, t), x, |(p, q), v| ((q, p * v), p));",
    "let a = x.iter().filter(|v| **v > 0.0).sum::<f64>();",
    "let a = x.iter().fold(t, |acc| acc);",
    "let a = x.iter().fold(t, 3);",
    "let a = x.iter().map(3).sum::<f64>();",
    "let a = x.iter().map(|v| v * t).collect::<Vec<_>>();",
    "let a = (0..x.len()).map(|i| x[i] * t).collect::<Vec<f64>>();",
    "let a = x.map(|v| v * t);",
    "let a = x.iter().copied().zip(x.iter()).map(|(p, q)| p * q * t).product::<f64>();",
    "let a = *t;",
    "let a: [f64; 2] = g(t);",
    "let a: Vec<f64> = g(t);",
    "for v in x.iter() { t = t + v; }",
    "for (i, v) in x.iter().enumerate() { t = t * v; }",
    "for (p, q) in x.iter().zip(&x) { t = t + p * q; }",
    "for v in &x { t += v.sin(); }",
    "for v in t { t = v; }",
    "for (i, v) in x.iter() { }",
    "t = t + logsumexp(x) + norm(&x) + mean(&x);",
    "t = t + x.iter().rev().sum::<f64>();",
    "let a = f64::from(2.0) * t;",
    "let a = T::zero();",
];

#[test]
fn expansion_never_panics_on_idioms() {
    let config = Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(600),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = seeded_runner(config);
    let picks = (vec(0..SNIPPETS.len(), 1..6), any::<bool>(), any::<bool>());
    let result = runner.run(&picks, |(picks, generic, hessian)| {
        let body: String = picks
            .iter()
            .map(|&k| SNIPPETS[k])
            .collect::<Vec<_>>()
            .join("\n");
        let src = if generic {
            format!("fn f<T: Float>(x: &[T], mut t: T) -> T {{\n{body}\nt\n}}")
        } else {
            format!("fn f(x: &[f64], mut t: f64) -> f64 {{\n{body}\nt\n}}")
        };
        let item: proc_macro2::TokenStream = src.parse().expect("snippets tokenize");
        let args: proc_macro2::TokenStream = if hessian {
            quote::quote!(hessian)
        } else {
            quote::quote!()
        };
        let out = std::panic::catch_unwind(|| crate::expand::expand(args, item));
        prop_assert!(out.is_ok(), "the expansion panicked on:\n{src}");
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
