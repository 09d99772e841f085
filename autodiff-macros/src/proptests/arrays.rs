//! Random programs with arrays and loops.
//!
//! A program has 1-2 float params and 1-2 array params, all arrays of one
//! length `n` in 0..=5 (0 and 1 included: loops of no and of one
//! iteration). It runs at least one loop over `0..n`, `1..n`, `0..n - 1` or
//! `1..n - 1` (forward or reversed; the end written as `a0.len()` (`Len`),
//! as the literal `n`, or as the opaque `a0.len()`; `n - 1` as `IntSub`
//! nodes or as the opaque `a0.len() - 1`), carrying floats (each updated at the end of
//! the body: replaced, or combined with `+`, `*`, `-`, `max`) and the local
//! arrays whose elements the body writes (`=`, `+=`, `-=`, `*=`: `Store`,
//! `AddAt`, `AddAt` of a negation, `Index`-`Mul`-`Store`); it reads the
//! others as they are. Local arrays are made by `vec![v; a0.len()]`,
//! `vec![v; n]` (`FillVec`), `[v; N]` (`FillFixed`, `N` a literal), `[a, b,
//! ..]` (`ArrayLit`), a copy of a rank-1 array (`Owned`) or `[[v; N]; N]`
//! (rank 2). Bodies read param and local arrays at the loop index `i`, `i -
//! start`, `n - 1 - i` (as `IntSub` nodes, or the opaque `a0.len() - 1 -
//! i`), a neighbour `i + 1` or `i - 1` where the range allows it (as
//! `IntAdd`/`IntSub` nodes, or opaque tokens: their adjoint loops are what
//! the gather pass rewrites), `(i + s) % a0.len()` or a literal (the only
//! index outside loops,
//! where `n = 0` skips the instruction), nest a second loop (depth 2: two
//! indices, and rank-2 writes `m[i][j]`), hold `if`s (on floats, or opaque
//! conditions on the index, `i > k`, `i % 2 == 0`) whose branches read and
//! write arrays (the `If` then yields the arrays it changed, as lowering
//! does), and use the loop index (`x * (i as f64)`, `x.powi(i)`). Every
//! scalar instruction of the scalar generator can appear too. Outputs: a
//! float summing the latest float, the floats every loop at the root
//! carried out and the last element of every local array; maybe a second
//! float; sometimes an array (a param, or a local of rank 1 or 2).
//!
//! The IR is built as lowering builds it (`for_loop`, `loop_body`): the
//! body region's carried `RegionArg`s first, then the index, the body, its
//! outputs (the carried values at its end), then the `Loop` and its
//! `Proj`s; which arrays a loop carries is found as lowering finds what it
//! assigns, by building the body once (on a copy of the builder). Each
//! local array is a distinct node that is written only at its latest
//! version (the generator never lets hash-consing merge two arrays, or
//! revive a version already written).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;

use super::point::{param_shapes, point_of, values, Point, Shape};
use super::properties::{
    hvp_property, jvp_property, simplify_property, swell_property, vjp_property,
};
use super::scalar::{a_ref, cond, leaf, opnd, Builder, Cond, Ins, Opnd, Ref};
use super::{check, function_of, ident, seeded_runner, signed, Sample, F64};
use crate::interp;
use crate::ir::IntOp;
use crate::ir::{Bin, FloatTy, Function, NodeId, Op, Param, RegionId, Ty, Un, ROOT};

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
pub(super) const MAX_OUT: usize = 27;

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
pub(super) struct Arr {
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

    pub(super) fn int_lit(&mut self, v: i64) -> NodeId {
        self.g.add(self.region, Op::Int(v), vec![], Ty::Int)
    }

    /// An opaque expression over named bindings.
    pub(super) fn opaque(&mut self, expr: &str, refs: &[(&str, NodeId)], ty: Ty) -> NodeId {
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
            exit: None,
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
pub(super) struct Avoid {
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
            usize: false,
            tape: false,
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
    function_of(params, b.g, outputs)
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
                Op::Loop {
                    body, carried, rev, ..
                } => {
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
