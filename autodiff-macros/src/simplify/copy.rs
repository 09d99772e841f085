//! The walk the rewriting passes share ([`super::gather`],
//! [`super::fuse`]): the live part of a function copied node by node into
//! a new graph, regions and all. A pass says which nodes it rewrites
//! ([`Pass::rewrite`]); every other node is copied as it is.

use std::collections::HashMap;

use crate::ir::{Function, Graph, NodeId, Op, RegionId, Ty, ROOT};

/// The copy under way.
pub struct Copier<'a> {
    pub src: &'a Graph,
    pub dst: Graph,
    pub live: Vec<bool>,
    /// Source node -> its copy.
    pub map: Vec<Option<NodeId>>,
    /// Source loop body -> its copy and the offset of its carried values
    /// there (nonzero when a pass merges two loops into one body).
    pub bodies: HashMap<RegionId, (RegionId, u32)>,
}

impl<'a> Copier<'a> {
    /// An empty copy of `f`'s live part.
    pub fn new(f: &'a Function) -> Copier<'a> {
        let src = &f.graph;
        let mut dst = Graph::default();
        dst.opaques = src.opaques.clone();
        dst.calls = src.calls.clone();
        Copier {
            src,
            dst,
            live: src.live(&f.outputs),
            map: vec![None; src.nodes.len()],
            bodies: HashMap::new(),
        }
    }

    /// The copy of source node `id` (copied already).
    pub fn get(&self, id: NodeId) -> NodeId {
        self.map[id.0 as usize].unwrap_or(NodeId(u32::MAX))
    }

    /// The copies of source nodes `ids`.
    pub fn all(&self, ids: &[NodeId]) -> Vec<NodeId> {
        ids.iter().map(|&a| self.get(a)).collect()
    }

    /// The finished function: `f`'s parameters and shape, its outputs'
    /// copies.
    pub fn finish(self, f: &Function) -> Function {
        let outputs = self.all(&f.outputs);
        Function {
            params: f.params.clone(),
            graph: self.dst,
            outputs,
            shape: f.shape.clone(),
        }
    }
}

/// A pass that copies a function, rewriting some nodes on the way.
pub trait Pass<'a> {
    fn copy(&mut self) -> &mut Copier<'a>;

    /// The copy of source node `id` if the pass rewrites it (in `dr`);
    /// `None` copies it as it is.
    fn rewrite(&mut self, id: NodeId, dr: RegionId) -> Option<NodeId>;

    /// Whether source loop `id`, reversed (`rev`) in the source, runs
    /// reversed in the copy.
    fn reversed(&self, _id: NodeId, rev: bool) -> bool {
        rev
    }

    /// Copies the live nodes of source region `sr` not copied yet into
    /// `dr`.
    fn region(&mut self, sr: RegionId, dr: RegionId) {
        let src = self.copy().src;
        for &id in &src.region(sr).nodes {
            let c = self.copy();
            if c.live[id.0 as usize] && c.map[id.0 as usize].is_none() {
                self.node(id, dr);
            }
        }
    }

    /// Copies source node `id` into `dr`.
    fn node(&mut self, id: NodeId, dr: RegionId) {
        let src = self.copy().src;
        let node = src.node(id);
        self.copy().dst.span = node.span;
        let new = match self.rewrite(id, dr) {
            Some(new) => new,
            None => match node.op {
                Op::Loop {
                    body,
                    carried,
                    rev,
                    exit,
                } => {
                    let nb = self.copy().dst.new_region(dr);
                    self.copy().bodies.insert(body, (nb, 0));
                    self.region(body, nb);
                    let rev = self.reversed(id, rev);
                    let c = self.copy();
                    let outs = c.all(&src.region(body).outputs);
                    c.dst.set_outputs(nb, outs);
                    let args = c.all(&node.args);
                    let op = Op::Loop {
                        body: nb,
                        carried,
                        rev,
                        exit,
                    };
                    c.dst.add(dr, op, args, Ty::Other)
                }
                Op::If { then, els } => {
                    let mut regions = [ROOT; 2];
                    for (side, sr) in [then, els].into_iter().enumerate() {
                        let r = self.copy().dst.new_region(dr);
                        self.region(sr, r);
                        let c = self.copy();
                        let outs = c.all(&src.region(sr).outputs);
                        c.dst.set_outputs(r, outs);
                        regions[side] = r;
                    }
                    let op = Op::If {
                        then: regions[0],
                        els: regions[1],
                    };
                    let c = self.copy();
                    let cond = c.get(node.args[0]);
                    c.dst.add(dr, op, vec![cond], Ty::Other)
                }
                Op::RegionArg(r, k) => {
                    let c = self.copy();
                    let (nr, offset) = c.bodies.get(&r).copied().unwrap_or((dr, 0));
                    let k = if k == 0 { 0 } else { k + offset };
                    c.dst.add_local(nr, Op::RegionArg(nr, k), vec![], node.ty)
                }
                _ => {
                    let c = self.copy();
                    let args = c.all(&node.args);
                    c.dst.add(dr, node.op.clone(), args, node.ty)
                }
            },
        };
        self.copy().map[id.0 as usize] = Some(new);
    }
}
