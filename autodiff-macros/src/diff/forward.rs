//! Forward mode: `jvp(f)` computes `f` and, for each seeded direction, the
//! tangent of every output. With no direction it is a plain copy, which the
//! reverse transform uses for its forward sweep.

use std::collections::HashMap;

use super::{one_hot, rules, tangent_sum, Seed};
use crate::ir::{Function, Graph, NodeId, Op, Param, RegionId, Ty, ROOT};

/// Seeds of one direction, per `(param index, tuple field)` of the source.
pub type Seeds<'a> = &'a dyn Fn(usize, u32, Option<u32>) -> Seed;

/// Where a source region's forward copy sits in the new graph.
#[derive(Clone, Copy, Debug)]
pub struct CopiedRegion {
    /// The `If` node in the new graph whose branch this is.
    pub if_node: NodeId,
    /// The region this branch was copied to, its sibling, and their parent.
    pub this: RegionId,
    pub sibling: RegionId,
    pub parent: RegionId,
}

/// The state of one forward pass over a source function.
pub struct Forward<'a> {
    pub src: &'a Graph,
    pub dst: Graph,
    /// New node of each source node.
    pub map: Vec<NodeId>,
    /// Source nodes whose new node the caller set (see
    /// [`Forward::with_graph`]): they are not copied.
    pub fixed: std::collections::HashSet<NodeId>,
    /// Tangent of each source node, per direction (`None` = zero).
    tan: Vec<Vec<Option<NodeId>>>,
    /// For each source `If`/`Loop` and output `k`, per direction, the
    /// output index of its tangent in the new node.
    if_tangents: HashMap<(NodeId, u32, usize), u32>,
    /// For each source `Loop` and output `k`, the output index of its
    /// primal value in the new loop (stacked outputs move back).
    primal_outputs: HashMap<(NodeId, u32), u32>,
    /// Source branch regions and where they were copied.
    pub regions: HashMap<RegionId, CopiedRegion>,
    seeds: Seeds<'a>,
    dirs: usize,
}

impl<'a> Forward<'a> {
    /// Copies `src` into a new graph, carrying `dirs` tangent directions.
    pub fn run(src: &'a Graph, dirs: usize, seeds: Seeds<'a>) -> Forward<'a> {
        let mut dst = Graph::default();
        dst.opaques = src.opaques.clone();
        dst.calls = src.calls.clone();
        let mut fwd = Forward::with_graph(src, dst, dirs, seeds);
        fwd.region(ROOT, ROOT);
        fwd
    }

    /// A pass that builds into `dst`, with nothing copied yet: set
    /// [`Forward::map`] for the outer values a region reads, then call
    /// [`Forward::copy`].
    pub fn with_graph(src: &'a Graph, dst: Graph, dirs: usize, seeds: Seeds<'a>) -> Forward<'a> {
        Forward {
            src,
            dst,
            map: vec![NodeId(u32::MAX); src.nodes.len()],
            fixed: std::collections::HashSet::new(),
            tan: vec![vec![None; src.nodes.len()]; dirs],
            if_tangents: HashMap::new(),
            primal_outputs: HashMap::new(),
            regions: HashMap::new(),
            seeds,
            dirs,
        }
    }

    /// Copies source region `sr` into region `dr` of the new graph.
    pub fn copy(&mut self, sr: RegionId, dr: RegionId) {
        self.region(sr, dr);
    }

    /// Tangent of source node `id` in direction `d`.
    pub fn tangent(&self, d: usize, id: NodeId) -> Option<NodeId> {
        self.tan[d][id.0 as usize]
    }

    fn region(&mut self, sr: RegionId, dr: RegionId) {
        for &id in &self.src.region(sr).nodes {
            self.node(id, dr);
        }
    }

    fn node(&mut self, id: NodeId, dr: RegionId) {
        if self.fixed.contains(&id) {
            return;
        }
        self.dst.span = self.src.node(id).span;
        let node = self.src.node(id);
        let args: Vec<NodeId> = node.args.iter().map(|a| self.map[a.0 as usize]).collect();
        let i = id.0 as usize;
        match node.op {
            Op::If { then, els } => {
                self.map[i] = self.branch(id, then, els, args[0], dr);
                return;
            }
            Op::Loop { .. } => {
                self.map[i] = self.loop_(id, &args, dr);
                return;
            }
            // Region arguments are made with their loop.
            Op::RegionArg(..) => return,
            Op::Call(k) | Op::CallVjp(k) => {
                self.map[i] = self.dst.add(dr, node.op.clone(), args.clone(), node.ty);
                for d in 0..self.dirs {
                    self.tan[d][i] = self.call_tangent(d, id, k, &args, dr);
                }
                return;
            }
            // A part of a call's tuple: the same part of its tangent.
            Op::Field(ref path) => {
                self.map[i] = self.dst.add(dr, node.op.clone(), args.clone(), node.ty);
                for d in 0..self.dirs {
                    self.tan[d][i] = self.tan[d][node.args[0].0 as usize]
                        .map(|t| self.dst.add(dr, Op::Field(path.clone()), vec![t], node.ty));
                }
                return;
            }
            Op::Index => {
                self.map[i] = self.dst.add(dr, Op::Index, args.clone(), node.ty);
                for d in 0..self.dirs {
                    let Some(t) = self.tan[d][node.args[0].0 as usize] else {
                        continue;
                    };
                    // An element of a basis direction: 1 or nothing.
                    if let (Some((k, one)), [_, j]) = (one_hot(&self.dst, t), args.as_slice()) {
                        if let Op::Int(j) = *self.dst.op(*j) {
                            self.tan[d][i] = (j == k).then_some(one);
                            continue;
                        }
                    }
                    let mut targs = args.clone();
                    targs[0] = t;
                    self.tan[d][i] = Some(self.dst.add(dr, Op::Index, targs, node.ty));
                }
                return;
            }
            Op::FillFixed(_)
            | Op::FillVec
            | Op::Owned
            | Op::Checked
            | Op::SumAll
            | Op::ArrayLit
            | Op::Store
            | Op::AddAt
            | Op::AddArray => {
                self.map[i] = self.dst.add(dr, node.op.clone(), args.clone(), node.ty);
                for d in 0..self.dirs {
                    self.tan[d][i] = self.array_tangent(d, id, &args, dr);
                }
                return;
            }
            // Linear: the tangent in the same place.
            Op::TupleAt { .. } => {
                self.map[i] = self.dst.add(dr, node.op.clone(), args.clone(), node.ty);
                for d in 0..self.dirs {
                    self.tan[d][i] = self.tan[d][node.args[0].0 as usize]
                        .map(|t| self.dst.add(dr, node.op.clone(), vec![t], node.ty));
                }
                return;
            }
            // The tangent, converted.
            Op::FloatCast => {
                self.map[i] = self.dst.add(dr, Op::FloatCast, args.clone(), node.ty);
                for d in 0..self.dirs {
                    self.tan[d][i] = self.tan[d][node.args[0].0 as usize]
                        .map(|t| self.dst.add(dr, Op::FloatCast, vec![t], node.ty));
                }
                return;
            }
            Op::Kernel(k) => {
                let out = self.dst.add(dr, node.op.clone(), args.clone(), node.ty);
                self.map[i] = out;
                for d in 0..self.dirs {
                    let tans: Vec<Option<NodeId>> = node
                        .args
                        .iter()
                        .map(|a| self.tan[d][a.0 as usize])
                        .collect();
                    self.tan[d][i] = if tans.iter().all(Option::is_none) {
                        None
                    } else {
                        rules::kernel_tangent(&mut self.dst, dr, k, &args, out, &tans)
                    };
                }
                return;
            }
            Op::Proj(k) => {
                let new_k = self
                    .primal_outputs
                    .get(&(node.args[0], k))
                    .copied()
                    .unwrap_or(k);
                self.map[i] = self.dst.add(dr, Op::Proj(new_k), args.clone(), node.ty);
                for d in 0..self.dirs {
                    self.tan[d][i] = self
                        .if_tangents
                        .get(&(node.args[0], k, d))
                        .map(|&t| self.dst.add(dr, Op::Proj(t), args.clone(), node.ty));
                }
                return;
            }
            Op::Param { index, field } => {
                self.map[i] = self.dst.add(dr, node.op.clone(), vec![], node.ty);
                for d in 0..self.dirs {
                    let like = self.map[i];
                    self.tan[d][i] =
                        (self.seeds)(d, index, field).node(&mut self.dst, node.ty, like);
                }
                return;
            }
            _ => {}
        }
        let out = self.dst.add(dr, node.op.clone(), args.clone(), node.ty);
        self.map[i] = out;
        for d in 0..self.dirs {
            let mut terms = Vec::new();
            for (k, a) in node.args.iter().enumerate() {
                let Some(t) = self.tan[d][a.0 as usize] else {
                    continue;
                };
                let p = rules::partial(&mut self.dst, dr, &node.op, &args, out, k);
                terms.push((p, t));
            }
            self.tan[d][i] = tangent_sum(&mut self.dst, dr, &terms);
        }
    }

    /// The tangent of an op building or updating an array: the same op on
    /// the tangents (zeros where an operand has none).
    fn array_tangent(
        &mut self,
        d: usize,
        id: NodeId,
        args: &[NodeId],
        dr: RegionId,
    ) -> Option<NodeId> {
        let node = self.src.node(id);
        let t = |this: &Self, k: usize| this.tan[d][node.args[k].0 as usize];
        let ty = node.ty;
        match node.op {
            Op::FillFixed(_) | Op::FillVec | Op::Owned | Op::Checked | Op::SumAll => {
                let mut targs = args.to_vec();
                targs[0] = t(self, 0)?;
                Some(self.dst.add(dr, node.op.clone(), targs, ty))
            }
            Op::ArrayLit => {
                let tans: Vec<Option<NodeId>> = (0..args.len()).map(|k| t(self, k)).collect();
                tans.iter().any(Option::is_some).then(|| {
                    let items = tans
                        .iter()
                        .map(|x| match x {
                            Some(x) => *x,
                            None => self.dst.konst(
                                dr,
                                ty.elem().unwrap_or(crate::ir::FloatTy::F64),
                                0.0,
                            ),
                        })
                        .collect();
                    self.dst.add(dr, Op::ArrayLit, items, ty)
                })
            }
            // acc + b, elementwise
            Op::AddArray => match (t(self, 0), t(self, 1)) {
                (None, None) => None,
                (Some(ta), None) => Some(ta),
                (ta, Some(tb)) => {
                    let acc = match ta {
                        Some(ta) => ta,
                        None => self.dst.add(dr, Op::ZerosLike, vec![args[0]], ty),
                    };
                    Some(self.dst.add(dr, Op::AddArray, vec![acc, tb], ty))
                }
            },
            // arr with element i set to (or increased by) v
            _ => {
                let last = args.len() - 1;
                let (ta, tv) = (t(self, 0), t(self, last));
                if ta.is_none() && tv.is_none() {
                    return None;
                }
                if tv.is_none() && node.op == Op::AddAt {
                    return ta;
                }
                let mut targs = args.to_vec();
                targs[0] = match ta {
                    Some(ta) => ta,
                    None => self.dst.add(dr, Op::ZerosLike, vec![args[0]], ty),
                };
                targs[last] = match tv {
                    Some(tv) => tv,
                    None => self
                        .dst
                        .konst(dr, ty.elem().unwrap_or(crate::ir::FloatTy::F64), 0.0),
                };
                Some(self.dst.add(dr, node.op.clone(), targs, ty))
            }
        }
    }

    /// The tangent of `g(args)`: `g_jvp(args, dots).1` (of `g_vjp(args,
    /// bar)`: `g_vjp_jvp(args, bar, dots, bar_dot).1`), a dot for every
    /// float or array argument (zero where it has none), or `None` if no
    /// argument has a tangent.
    fn call_tangent(
        &mut self,
        d: usize,
        id: NodeId,
        k: u32,
        args: &[NodeId],
        dr: RegionId,
    ) -> Option<NodeId> {
        let src_args = self.src.args(id).to_vec();
        let tans: Vec<Option<NodeId>> =
            src_args.iter().map(|a| self.tan[d][a.0 as usize]).collect();
        if tans.iter().all(Option::is_none) {
            return None;
        }
        let mut jargs = args.to_vec();
        for (j, a) in src_args.iter().enumerate() {
            let ty = self.src.ty(*a);
            // The cotangent of a call's tuple result: its tangent is the
            // same tuple of the part's tangent (zeros without one).
            if let Op::TupleAt { .. } = self.src.op(*a) {
                let t = match tans[j] {
                    Some(t) => t,
                    None => {
                        let part = self.src.args(*a)[0];
                        let f = self.src.ty(part).float().unwrap_or(crate::ir::FloatTy::F64);
                        let zero = self.dst.konst(dr, f, 0.0);
                        let op = self.src.op(*a).clone();
                        self.dst.add(dr, op, vec![zero], Ty::Other)
                    }
                };
                jargs.push(t);
                continue;
            }
            if ty.elem().is_some() {
                let t = match tans[j] {
                    Some(t) => t,
                    None => self.dst.zero_like(dr, ty, args[j]),
                };
                jargs.push(t);
            }
        }
        let op = match self.src.node(id).op {
            Op::CallVjp(_) => Op::CallVjpJvp(k),
            _ => Op::CallJvp(k),
        };
        let pair = self.dst.add(dr, op, jargs, Ty::Other);
        let ty = self.src.ty(id);
        Some(self.dst.add(dr, Op::Field(vec![1]), vec![pair], ty))
    }

    /// Copies a loop. Its carried values are followed by the tangents of
    /// those that have one (an initial tangent, or one the body gives:
    /// found by copying the body again until stable); its stacked values
    /// by their tangents.
    /// The primal carried values keep their places, so an [`Exit`]'s do.
    ///
    /// [`Exit`]: crate::ir::Exit
    fn loop_(&mut self, id: NodeId, args: &[NodeId], dr: RegionId) -> NodeId {
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
        let src_inits = &self.src.args(id)[2..];
        let outputs = self.src.region(body).outputs.clone();
        let region_args: Vec<(NodeId, u32)> = self
            .src
            .region(body)
            .nodes
            .iter()
            .filter_map(|&n| match *self.src.op(n) {
                Op::RegionArg(_, k) => Some((n, k)),
                _ => None,
            })
            .collect();
        // Which (direction, carried) pairs have a tangent.
        let mut slots: Vec<(usize, usize)> = (0..self.dirs)
            .flat_map(|d| (0..carried).map(move |k| (d, k)))
            .filter(|&(d, k)| self.tan[d][src_inits[k].0 as usize].is_some())
            .collect();
        let new_body = loop {
            let nb = self.dst.new_region(dr);
            for &(n, k) in &region_args {
                let ty = self.src.ty(n);
                self.map[n.0 as usize] = self.dst.add_local(nb, Op::RegionArg(nb, k), vec![], ty);
                for d in 0..self.dirs {
                    let slot = (k > 0)
                        .then(|| slots.iter().position(|&s| s == (d, k as usize - 1)))
                        .flatten();
                    self.tan[d][n.0 as usize] = slot.map(|j| {
                        let arg = Op::RegionArg(nb, (1 + carried + j) as u32);
                        self.dst.add_local(nb, arg, vec![], ty)
                    });
                }
            }
            self.region(body, nb);
            let grown: Vec<(usize, usize)> = (0..self.dirs)
                .flat_map(|d| (0..carried).map(move |k| (d, k)))
                .filter(|s| !slots.contains(s) && self.tan[s.0][outputs[s.1].0 as usize].is_some())
                .collect();
            if grown.is_empty() {
                break nb;
            }
            slots.extend(grown);
        };
        let m = |this: &Self, o: NodeId| this.map[o.0 as usize];
        let mut outs: Vec<NodeId> = outputs[..carried].iter().map(|&o| m(self, o)).collect();
        let mut inits: Vec<NodeId> = args[2..].to_vec();
        for (j, &(d, k)) in slots.iter().enumerate() {
            let ty = self.src.ty(outputs[k]);
            let t = match self.tan[d][outputs[k].0 as usize] {
                Some(t) => t,
                None => self.dst.zero_like(new_body, ty, m(self, outputs[k])),
            };
            outs.push(t);
            let init = match self.tan[d][src_inits[k].0 as usize] {
                Some(t) => t,
                None => self.dst.zero_like(dr, ty, args[2 + k]),
            };
            inits.push(init);
            self.if_tangents
                .insert((id, k as u32, d), (carried + j) as u32);
        }
        let new_carried = outs.len();
        for (j, &o) in outputs[carried..].iter().enumerate() {
            self.primal_outputs
                .insert((id, (carried + j) as u32), outs.len() as u32);
            outs.push(m(self, o));
        }
        for d in 0..self.dirs {
            for (j, &o) in outputs[carried..].iter().enumerate() {
                if let Some(t) = self.tan[d][o.0 as usize] {
                    self.if_tangents
                        .insert((id, (carried + j) as u32, d), outs.len() as u32);
                    outs.push(t);
                }
            }
        }
        self.dst.set_outputs(new_body, outs);
        let mut new_args = args[..2].to_vec();
        new_args.extend(inits);
        let op = Op::Loop {
            body: new_body,
            carried: new_carried as u32,
            rev,
            exit,
        };
        self.dst.add(dr, op, new_args, Ty::Other)
    }

    /// Copies an `If` with its branches; each branch also yields the
    /// tangents of its outputs that are nonzero in either branch.
    fn branch(
        &mut self,
        id: NodeId,
        then: RegionId,
        els: RegionId,
        cond: NodeId,
        dr: RegionId,
    ) -> NodeId {
        let (t, e) = (self.dst.new_region(dr), self.dst.new_region(dr));
        self.region(then, t);
        self.region(els, e);
        let mut outs: [Vec<NodeId>; 2] = [Vec::new(), Vec::new()];
        for (side, sr) in [then, els].into_iter().enumerate() {
            outs[side] = self
                .src
                .region(sr)
                .outputs
                .iter()
                .map(|o| self.map[o.0 as usize])
                .collect();
        }
        let n = self.src.region(then).outputs.len();
        for d in 0..self.dirs {
            for k in 0..n {
                let src_outs = [
                    self.src.region(then).outputs[k],
                    self.src.region(els).outputs[k],
                ];
                let tans = src_outs.map(|o| self.tan[d][o.0 as usize]);
                if tans.iter().all(Option::is_none) {
                    continue;
                }
                let ty: Ty = self.src.ty(src_outs[0]);
                for (side, r) in [t, e].into_iter().enumerate() {
                    let v = match tans[side] {
                        Some(v) => v,
                        None => self
                            .dst
                            .zero_like(r, ty, self.map[src_outs[side].0 as usize]),
                    };
                    outs[side].push(v);
                }
                self.if_tangents
                    .insert((id, k as u32, d), outs[0].len() as u32 - 1);
            }
        }
        let [to, eo] = outs;
        self.dst.set_outputs(t, to);
        self.dst.set_outputs(e, eo);
        let if_node = self
            .dst
            .add(dr, Op::If { then: t, els: e }, vec![cond], Ty::Other);
        self.regions.insert(
            then,
            CopiedRegion {
                if_node,
                this: t,
                sibling: e,
                parent: dr,
            },
        );
        self.regions.insert(
            els,
            CopiedRegion {
                if_node,
                this: e,
                sibling: t,
                parent: dr,
            },
        );
        if_node
    }
}

/// The jvp of `f`: params are `f`'s then `extra`; outputs are `f`'s
/// outputs, then for each direction the tangent of each output (zeros
/// where structurally zero).
pub fn jvp(f: &Function, extra: Vec<Param>, dirs: usize, seeds: Seeds) -> Function {
    let mut fwd = Forward::run(&f.graph, dirs, seeds);
    let mut outputs: Vec<NodeId> = f.outputs.iter().map(|o| fwd.map[o.0 as usize]).collect();
    for d in 0..dirs {
        for &o in &f.outputs {
            let t = match fwd.tangent(d, o) {
                Some(t) => t,
                // (A value kept as written that the body declares an array,
                // `let v: Vec<f64> = ...collect();`, too: its zero tangent
                // has its length, not an empty `Vec`'s; seed 22 case 697.)
                None if f.graph.ty(o).is_array() || declared_array(&f.graph, o) => {
                    let p = fwd.map[o.0 as usize];
                    fwd.dst.add(ROOT, Op::ZerosLike, vec![p], f.graph.ty(o))
                }
                None => {
                    let ty = f.graph.ty(o);
                    fwd.dst.filler(ROOT, ty)
                }
            };
            outputs.push(t);
        }
    }
    let mut params = f.params.clone();
    params.extend(extra);
    Function {
        params,
        graph: fwd.dst,
        outputs,
        shape: f.shape.clone(),
    }
}

/// Is `n` a value kept as written whose `let` declares an array type
/// (`[T; N]`, `Vec<T>`)?
fn declared_array(g: &Graph, n: NodeId) -> bool {
    let Op::Opaque(k) = *g.op(n) else {
        return false;
    };
    g.opaques[k as usize]
        .ty
        .as_ref()
        .is_some_and(|t| matches!(t, syn::Type::Array(_)) || crate::signature::is_vec(t))
}
