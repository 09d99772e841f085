//! Forward mode: `jvp(f)` computes `f` and, for each seeded direction, the
//! tangent of every output. With no direction it is a plain copy, which the
//! reverse transform uses for its forward sweep.

use std::collections::HashMap;

use super::{accumulate, apply, rules, Seed};
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
    /// Tangent of each source node, per direction (`None` = zero).
    tan: Vec<Vec<Option<NodeId>>>,
    /// For each source `If` and output `k`, per direction, the output index
    /// of its tangent in the new `If`.
    if_tangents: HashMap<(NodeId, u32, usize), u32>,
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
        let mut fwd = Forward {
            src,
            dst,
            map: vec![NodeId(u32::MAX); src.nodes.len()],
            tan: vec![vec![None; src.nodes.len()]; dirs],
            if_tangents: HashMap::new(),
            regions: HashMap::new(),
            seeds,
            dirs,
        };
        fwd.region(ROOT, ROOT);
        fwd
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
        let node = self.src.node(id);
        let args: Vec<NodeId> = node.args.iter().map(|a| self.map[a.0 as usize]).collect();
        let i = id.0 as usize;
        match node.op {
            Op::If { then, els } => {
                self.map[i] = self.branch(id, then, els, args[0], dr);
                return;
            }
            Op::Proj(k) => {
                self.map[i] = self.dst.add(dr, Op::Proj(k), args.clone(), node.ty);
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
                    self.tan[d][i] = (self.seeds)(d, index, field).node(&mut self.dst, node.ty);
                }
                return;
            }
            _ => {}
        }
        let out = self.dst.add(dr, node.op.clone(), args.clone(), node.ty);
        self.map[i] = out;
        for d in 0..self.dirs {
            let mut sum = None;
            for (k, a) in node.args.iter().enumerate() {
                let Some(t) = self.tan[d][a.0 as usize] else {
                    continue;
                };
                let p = rules::partial(&mut self.dst, dr, &node.op, &args, out, k);
                if let Some(c) = apply(&mut self.dst, dr, p, t) {
                    sum = Some(accumulate(&mut self.dst, dr, sum, c));
                }
            }
            self.tan[d][i] = sum;
        }
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
                        None => self.dst.filler(r, ty),
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
