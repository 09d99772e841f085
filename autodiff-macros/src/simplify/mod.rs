//! The simplifier: rebuilds a function through smart constructors that
//! apply one-way rewrite rules, repeated to a fixed point (bounded by a
//! pass counter). Rebuilding also drops dead nodes and dead `If` outputs,
//! and re-interning merges what the rewrites made equal (CSE).
//!
//! Every rule is exact under IEEE arithmetic (up to the sign of a zero)
//! except the stability rewrites, which trade a value for a more accurate
//! one: `ln(1 + x) -> ln_1p(x)`, `exp(x) - 1 -> exp_m1(x)`,
//! `ln(1 + exp(x)) -> softplus(x)`. There is no reassociation and no
//! `x * 0 -> 0` on a runtime `x`. The loop passes [`finish`] runs after
//! the rules ([`fuse`], [`sums`]) do reorder the terms of a sum, as a
//! gradient written by hand does; each says how under "Rounding".

mod copy;
mod fuse;
pub mod gather;
mod rules;
mod sums;

use std::collections::HashMap;

use crate::ir::{Function, Graph, NodeId, Op, RegionId, Ty, ROOT};

/// Most rebuild passes before giving up on a fixed point.
const MAX_PASSES: usize = 12;

/// Simplifies `f` to a fixed point.
pub fn simplify(f: &Function) -> Function {
    let mut cur = pass(f);
    for _ in 1..MAX_PASSES {
        let next = pass(&cur);
        let done = next.graph.nodes.len() == cur.graph.nodes.len();
        cur = next;
        if done {
            break;
        }
    }
    cur
}

/// The program as the emitter gets it: simplified, its adjoint stencil
/// loops gathered ([`gather`]), its accumulating reversals fused with their
/// forward loops ([`fuse`]), the elements its loops add into at one index
/// summed in floats ([`sums`]), and simplified again after each.
///
/// The pass runs last, on each companion's own program: the transforms
/// (`jvp` over `vjp` for `_hvp`) never see a gathered loop, and the
/// reverse loops of a forward-over-reverse program are gathered there
/// too.
pub fn finish(f: &Function) -> Function {
    let s = simplify(f);
    let s = match gather::gather(&s) {
        Some(g) => simplify(&g),
        None => s,
    };
    let s = match fuse::fuse(&s) {
        Some(g) => simplify(&g),
        None => s,
    };
    match sums::sums(&s) {
        Some(g) => simplify(&g),
        None => s,
    }
}

/// One rebuild of the live part of `f`.
fn pass(f: &Function) -> Function {
    let live = f.graph.live(&f.outputs);
    let uses = f.graph.use_counts(&f.outputs);
    let mut b = Rebuild {
        src: &f.graph,
        dst: Graph::default(),
        live,
        uses,
        shared: Vec::new(),
        map: vec![None; f.graph.nodes.len()],
        if_outputs: HashMap::new(),
        loops: HashMap::new(),
        loop_outputs: HashMap::new(),
        loop_values: HashMap::new(),
    };
    b.dst.opaques = f.graph.opaques.clone();
    b.dst.calls = f.graph.calls.clone();
    // Which outputs of each `If` are read.
    for (i, node) in f.graph.nodes.iter().enumerate() {
        if let Op::Proj(k) = node.op {
            if b.live[i] {
                b.if_outputs.entry(node.args[0]).or_default().push(k);
            }
        }
    }
    for ks in b.if_outputs.values_mut() {
        ks.sort();
        ks.dedup();
    }
    b.region(ROOT, ROOT);
    let outputs = f.outputs.iter().map(|o| b.get(*o)).collect();
    Function {
        params: f.params.clone(),
        graph: b.dst,
        outputs,
        shape: f.shape.clone(),
    }
}

struct Rebuild<'a> {
    src: &'a Graph,
    dst: Graph,
    live: Vec<bool>,
    /// Uses of each source node, and whether each new node stands for a
    /// source node used more than once.
    uses: Vec<u32>,
    shared: Vec<bool>,
    map: Vec<Option<NodeId>>,
    /// Live output indices of each source `If` (and `Loop`), ascending.
    if_outputs: HashMap<NodeId, Vec<u32>>,
    /// Source loop body -> its rebuilt body.
    loops: HashMap<RegionId, RegionId>,
    /// `(source loop, output)` -> output index in the rebuilt loop.
    loop_outputs: HashMap<(NodeId, u32), u32>,
    /// `(source loop, output)` -> the value standing for an output that is
    /// no longer carried.
    loop_values: HashMap<(NodeId, u32), NodeId>,
}

/// How a source `If` was rebuilt.
enum Built {
    /// As an `If`; source output `k` is new output `position of k`.
    If(NodeId),
    /// Inlined (constant condition): source output `k` is this node.
    Inline(Vec<NodeId>),
}

impl Rebuild<'_> {
    fn get(&self, id: NodeId) -> NodeId {
        self.map[id.0 as usize].unwrap_or(NodeId(u32::MAX))
    }

    fn region(&mut self, sr: RegionId, dr: RegionId) {
        let mut built: HashMap<NodeId, Built> = HashMap::new();
        for &id in &self.src.region(sr).nodes {
            if !self.live[id.0 as usize] {
                continue;
            }
            let node = self.src.node(id);
            if matches!(node.op, Op::RegionArg(..)) && self.map[id.0 as usize].is_some() {
                continue;
            }
            self.dst.span = node.span;
            let args: Vec<NodeId> = node.args.iter().map(|a| self.get(*a)).collect();
            let new = match node.op {
                Op::If { then, els } => {
                    let b = self.branch(id, then, els, args[0], dr);
                    let n = match &b {
                        Built::If(n) => *n,
                        Built::Inline(_) => args[0],
                    };
                    built.insert(id, b);
                    n
                }
                Op::Loop { .. } => self.loop_(id, args, dr),
                Op::RegionArg(r, k) => {
                    let nr = self.loops.get(&r).copied().unwrap_or(r);
                    self.dst
                        .add_local(nr, Op::RegionArg(nr, k), vec![], node.ty)
                }
                Op::Proj(k) => match built.get(&node.args[0]) {
                    Some(Built::Inline(outs)) => outs[k as usize],
                    _ if matches!(self.src.op(node.args[0]), Op::Loop { .. }) => {
                        match self.loop_values.get(&(node.args[0], k)) {
                            Some(&v) => v,
                            None => {
                                let k = self
                                    .loop_outputs
                                    .get(&(node.args[0], k))
                                    .copied()
                                    .unwrap_or(k);
                                self.dst.add(dr, Op::Proj(k), args, node.ty)
                            }
                        }
                    }
                    _ => {
                        let ks = &self.if_outputs[&node.args[0]];
                        let pos = ks.iter().position(|&j| j == k).unwrap_or(0);
                        self.dst.add(dr, Op::Proj(pos as u32), args, node.ty)
                    }
                },
                Op::Un(_) => match self.reuse_branches(&node.op, args[0], node.ty) {
                    Some(n) => n,
                    None => self.build(dr, &node.op, args, node.ty),
                },
                _ => self.build(dr, &node.op, args, node.ty),
            };
            self.map[id.0 as usize] = Some(new);
            if self.shared.len() <= new.0 as usize {
                self.shared.resize(new.0 as usize + 1, false);
            }
            self.shared[new.0 as usize] |= self.uses[id.0 as usize] > 1;
        }
    }

    /// `op(args)` in `dr`, rewritten by the rules.
    fn build(&mut self, dr: RegionId, op: &Op, args: Vec<NodeId>, ty: Ty) -> NodeId {
        let shared = &self.shared;
        let is_shared = |n: NodeId| shared.get(n.0 as usize).copied().unwrap_or(false);
        rules::build(&mut self.dst, dr, op, args, ty, &is_shared)
    }

    /// `op` of `x`, where `x` reads an output of an `If` each of whose
    /// branches already computes `op` of what it yields there (or yields a
    /// literal, which folds): a new output of that `If`. A reversed branch
    /// reading `theta` from its forward branch then reuses the forward
    /// branch's `theta.cos()` instead of computing it again. Exact: the
    /// new output is `op` of the old one on either branch.
    fn reuse_branches(&mut self, op: &Op, x: NodeId, ty: Ty) -> Option<NodeId> {
        let Op::Proj(k) = *self.dst.op(x) else {
            return None;
        };
        let if_node = self.dst.args(x)[0];
        let Op::If { then, els } = *self.dst.op(if_node) else {
            return None;
        };
        let mut found = [x; 2];
        for (side, r) in [then, els].into_iter().enumerate() {
            let v = self.dst.region(r).outputs[k as usize];
            found[side] = match self.dst.const_value(v) {
                // Made in the branch itself: an interned literal of an
                // enclosing region may come after the `If`.
                Some(_) => {
                    let folded = self.build(r, op, vec![v], ty);
                    let Op::Const(bits) = *self.dst.op(folded) else {
                        return None;
                    };
                    self.dst.add_local(r, Op::Const(bits), vec![], ty)
                }
                None => self.dst.find(r, op.clone(), vec![v], ty)?,
            };
        }
        for (side, r) in [then, els].into_iter().enumerate() {
            let mut outs = self.dst.region(r).outputs.clone();
            outs.push(found[side]);
            self.dst.set_outputs(r, outs);
        }
        let k = self.dst.region(then).outputs.len() as u32 - 1;
        let at = self.dst.node(if_node).region;
        Some(self.dst.add(at, Op::Proj(k), vec![if_node], ty))
    }

    /// Rebuilds a loop, keeping only what is read: a carried value the
    /// body passes on unchanged is not carried (its initial value stands
    /// for it), one that nothing read after the loop depends on is dropped,
    /// and so are tapes nobody reads.
    fn loop_(&mut self, id: NodeId, args: Vec<NodeId>, dr: RegionId) -> NodeId {
        let Op::Loop {
            body,
            carried,
            rev,
            exit,
        } = *self.src.op(id)
        else {
            return id;
        };
        let carried = carried as usize;
        let outputs = self.src.region(body).outputs.clone();
        let region_arg = |k: usize| {
            self.src
                .region(body)
                .nodes
                .iter()
                .copied()
                .find(|&n| *self.src.op(n) == Op::RegionArg(body, k as u32 + 1))
        };
        let invariant: Vec<bool> = (0..carried)
            .map(|k| region_arg(k) == Some(outputs[k]))
            .collect();
        let read = self.if_outputs.get(&id).cloned().unwrap_or_default();
        let stacked: Vec<usize> = (carried..outputs.len())
            .filter(|k| read.contains(&(*k as u32)))
            .collect();
        // An early exit's flag and count are always kept: they decide
        // what the loop does.
        let steers = |k: usize| exit.is_some_and(|e| k == e.go as usize || k == e.count as usize);
        let mut need: Vec<usize> = (0..carried)
            .filter(|&k| (read.contains(&(k as u32)) && !invariant[k]) || steers(k))
            .collect();
        loop {
            let roots: Vec<NodeId> = need.iter().chain(&stacked).map(|&k| outputs[k]).collect();
            let reached = self.src.live(&roots);
            let more: Vec<usize> = (0..carried)
                .filter(|&k| {
                    !invariant[k]
                        && !need.contains(&k)
                        && region_arg(k).is_some_and(|a| reached[a.0 as usize])
                })
                .collect();
            if more.is_empty() {
                break;
            }
            need.extend(more);
        }
        need.sort_unstable();
        let nb = self.dst.new_region(dr);
        self.loops.insert(body, nb);
        for k in 0..carried {
            let Some(a) = region_arg(k) else { continue };
            let v = match need.iter().position(|&n| n == k) {
                Some(p) => {
                    self.dst
                        .add_local(nb, Op::RegionArg(nb, p as u32 + 1), vec![], self.src.ty(a))
                }
                // Invariant, or dead: its initial value.
                None => args[2 + k],
            };
            self.map[a.0 as usize] = Some(v);
        }
        self.region(body, nb);
        let mut outs: Vec<NodeId> = need.iter().map(|&k| self.get(outputs[k])).collect();
        for &k in &stacked {
            self.loop_outputs.insert((id, k as u32), outs.len() as u32);
            outs.push(self.get(outputs[k]));
        }
        for (p, &k) in need.iter().enumerate() {
            self.loop_outputs.insert((id, k as u32), p as u32);
        }
        for k in (0..carried).filter(|&k| invariant[k]) {
            self.loop_values.insert((id, k as u32), args[2 + k]);
        }
        self.dst.set_outputs(nb, outs);
        let mut new_args = args[..2].to_vec();
        new_args.extend(need.iter().map(|&k| args[2 + k]));
        let place = |k: u32| need.iter().position(|&n| n == k as usize).unwrap_or(0) as u32;
        let exit = exit.map(|e| crate::ir::Exit {
            go: place(e.go),
            count: place(e.count),
            ..e
        });
        let op = Op::Loop {
            body: nb,
            carried: need.len() as u32,
            rev,
            exit,
        };
        self.dst.add(dr, op, new_args, Ty::Other)
    }

    fn branch(
        &mut self,
        id: NodeId,
        then: RegionId,
        els: RegionId,
        cond: NodeId,
        dr: RegionId,
    ) -> Built {
        let ks = self.if_outputs.get(&id).cloned().unwrap_or_default();
        if let Op::Bool(c) = *self.dst.op(cond) {
            let taken = if c { then } else { els };
            self.region(taken, dr);
            let outs = self.src.region(taken).outputs.clone();
            return Built::Inline(outs.iter().map(|o| self.get(*o)).collect());
        }
        let mut regions = [RegionId(0); 2];
        for (side, sr) in [then, els].into_iter().enumerate() {
            let r = self.dst.new_region(dr);
            self.region(sr, r);
            let outs = ks
                .iter()
                .map(|&k| self.get(self.src.region(sr).outputs[k as usize]))
                .collect();
            self.dst.set_outputs(r, outs);
            regions[side] = r;
        }
        Built::If(self.dst.add(
            dr,
            Op::If {
                then: regions[0],
                els: regions[1],
            },
            vec![cond],
            Ty::Other,
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::args::Args;
    use crate::emit::{self, Tree};
    use crate::error::Errors;
    use crate::{lower, pretty, signature};

    /// The body `expr` of `fn f(x: f64, y: f64, n: i32) -> f64`, lowered,
    /// simplified, emitted and formatted.
    fn simp(expr: &str) -> String {
        let src = format!("fn f(x: f64, y: f64, n: i32) -> f64 {{ {expr} }}");
        let item: syn::ItemFn = syn::parse_str(&src).expect("test source parses");
        let mut errors = Errors::default();
        let sig = signature::read(
            &crate::context::Cx::default(),
            &item,
            &Args::default(),
            &mut errors,
        );
        let lowered = lower::lower(
            &crate::context::Cx::default(),
            &sig,
            &item.block,
            &mut errors,
        );
        assert!(errors.is_empty(), "{src}");
        let f = super::simplify(&lowered.func);
        pretty::format(emit::body(
            &crate::context::Cx::default(),
            &f,
            &Tree::Leaf(0),
            None,
        ))
    }

    #[test]
    fn exact_identities() {
        assert_eq!(simp("x * 1.0"), "x");
        assert_eq!(simp("1.0 * x"), "x");
        assert_eq!(simp("x + 0.0"), "x");
        assert_eq!(simp("0.0 + x"), "x");
        assert_eq!(simp("x - 0.0"), "x");
        assert_eq!(simp("x / 1.0"), "x");
        assert_eq!(simp("-(-x)"), "x");
        assert_eq!(simp("x.powi(1)"), "x");
        assert_eq!(simp("x.powi(0)"), "1");
        assert_eq!(simp("x * -1.0"), "-x");
        assert_eq!(simp("0.0 - x"), "-x");
        assert_eq!(simp("x + -y"), "x - y");
        assert_eq!(simp("x - -y"), "x + y");
        assert_eq!(simp("-x * -y"), "x * y");
        assert_eq!(simp("1.0 / x"), "x.recip()");
    }

    #[test]
    fn a_function_of_a_branch_output_reuses_the_branch() {
        // `t.cos()` after the `if` is the branch's own `t.cos()` (and
        // `cos(0) = 1` on the other side), yielded by the `if`.
        assert_eq!(
            simp(
                "let (c, t) = if x > 0.0 { let t = x.sqrt(); (t.cos(), t) } else { (2.0, 0.0) }; \
                 c * y + t.cos()"
            ),
            "let (t1, t2) = if x > 0 { let t0 = x.sqrt().cos(); (t0, t0) } else { (2, 1) }; \
             t1 * y + t2"
        );
        // Not when a branch would have to compute it anew.
        assert_eq!(
            simp("let t = if x > 0.0 { x.sqrt() } else { y }; t.cos()"),
            "let t0 = if x > 0 { x.sqrt() } else { y }; t0.cos()"
        );
    }

    #[test]
    fn like_terms_merge_only_when_exact() {
        assert_eq!(simp("x + x"), "2 * x");
        assert_eq!(simp("x * 3.0"), "3 * x");
        // A power of two merges with another constant exactly; 3 and 5
        // do not.
        assert_eq!(simp("100.0 * (2.0 * x)"), "200 * x");
        assert_eq!(simp("0.5 * (3.0 * x)"), "1.5 * x");
        assert_eq!(simp("3.0 * (5.0 * x)"), "3 * (5 * x)");
        // 2x + x would need 3x: not exact in IEEE, so it stays.
        assert_eq!(simp("(x + x) + x"), "2 * x + x");
    }

    #[test]
    fn constants_fold_in_their_own_type() {
        assert_eq!(simp("2.0 * 3.0 + x"), "6 + x");
        assert_eq!(simp("(0.5f64).sqrt() * x"), "0.7071067811865476 * x");
        let src = "fn f(x: f32) -> f32 { x * (1.0 / 3.0) }";
        let item: syn::ItemFn = syn::parse_str(src).unwrap();
        let mut errors = Errors::default();
        let sig = signature::read(
            &crate::context::Cx::default(),
            &item,
            &Args::default(),
            &mut errors,
        );
        let f = super::simplify(
            &lower::lower(
                &crate::context::Cx::default(),
                &sig,
                &item.block,
                &mut errors,
            )
            .func,
        );
        let text = emit::body(&crate::context::Cx::default(), &f, &Tree::Leaf(0), None).to_string();
        assert!(text.contains("0.33333334_f32"), "{text}");
    }

    #[test]
    fn never_unsafe_on_runtime_values() {
        // x * 0 is NaN for infinite x, x - x is NaN for infinite x:
        // neither folds.
        assert_eq!(simp("x * 0.0"), "0 * x");
        assert_eq!(simp("x - x"), "x - x");
        // No reassociation: (x + 1) + 2 is not x + 3.
        assert_eq!(simp("(x + 1.0) + 2.0"), "x + 1 + 2");
    }

    #[test]
    fn stability_rewrites() {
        assert_eq!(simp("(1.0 + x).ln()"), "x.ln_1p()");
        assert_eq!(simp("(x + 1.0).ln()"), "x.ln_1p()");
        assert_eq!(simp("x.exp() - 1.0"), "x.exp_m1()");
        assert_eq!(simp("(1.0 + x.exp()).ln()"), "softplus(x)");
    }

    #[test]
    fn common_subexpressions_are_shared_after_rewrites() {
        // (x * 1).sin() becomes x.sin(), the same node as the other term.
        assert_eq!(simp("(x * 1.0).sin() + x.sin()"), "2 * x.sin()");
        assert_eq!(
            simp("let a = x.cos(); let b = x.cos(); a * b"),
            "let t0 = x.cos(); t0 * t0"
        );
    }

    #[test]
    fn branches_on_constants_are_inlined_and_dead_outputs_dropped() {
        assert_eq!(simp("if true { x.sin() } else { x.cos() }"), "x.sin()");
        assert_eq!(
            simp("let mut a = x; let mut b = y; if x > y { a = x * 2.0; b = y.exp(); } else { b = y; } a"),
            "let t0 = if x > y { 2 * x } else { x }; t0"
        );
    }

    #[test]
    fn integer_arithmetic_folds() {
        assert_eq!(simp("x.powi(3 - 1)"), "x.powi(2)");
        assert_eq!(simp("x * (n as f64)"), "x * n as f64");
        assert_eq!(simp("x.powi(n)"), "x.powi(n)");
    }
}
