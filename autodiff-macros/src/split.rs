//! A derivative program cut where its seeds enter (`out_bar` of the vjp,
//! the `_dot` parameters of the jvp), for `f_pullback` and `f_linearize`:
//! the part that never reads a seed (the primal, the forward sweep and
//! its tapes) runs once; the part that does becomes a closure over the
//! values it reads from the first.
//!
//! Only root-region nodes are assigned to a side; an `If` or a `Loop` goes
//! whole. The closure may run many times, so it never updates a captured
//! array in place: an array it would update (or one the first part updates
//! after the closure's reads) is rebuilt inside it instead.

use crate::context::local;
use crate::ir::{Function, Graph, NodeId, Op, Param, Ty, ROOT};

/// The two parts of a program.
pub struct Split {
    /// The program's `value` outputs, then the captured values it
    /// returns ([`Layout::returned`]).
    pub outer: Function,
    /// The program's `derivs` outputs, from the program's parameters and
    /// one more parameter per captured value (named as [`Layout::names`]).
    pub inner: Function,
    pub layout: Layout,
}

/// How the captured values pass from the first part to the closure.
#[derive(Default)]
pub struct Layout {
    /// The captured values' names.
    pub names: Vec<syn::Ident>,
    /// The captured values `outer` returns after the value, in order (by
    /// position in `names`): the floats and the like, then the last
    /// `moved` of them, values of types the macro cannot see (which may
    /// not be `Copy`) and arrays.
    pub returned: Vec<usize>,
    pub moved: usize,
    /// Captured arrays that are the value's output `k`: `(j, k)`, a copy
    /// of the value.
    pub aliases: Vec<(usize, usize)>,
}

/// Cuts `f` between the parameters `seeds` and the rest; `None` if a
/// `value` output reads a seed (a loop that carries tangents with the
/// primal: the closure then computes everything).
pub fn split(f: &Function, seeds: &[usize], value: &[usize], derivs: &[usize]) -> Option<Split> {
    let g = &f.graph;
    let root = &g.region(ROOT).nodes;
    let n = g.nodes.len();
    let reads: Vec<Vec<NodeId>> = (0..n)
        .map(|i| match g.nodes[i].region {
            ROOT => reads(g, NodeId(i as u32)),
            _ => Vec::new(),
        })
        .collect();
    let mut targets = vec![false; n];
    for &id in root {
        for t in not_only_read(g, id) {
            targets[t.0 as usize] = true;
        }
    }
    // The nodes that read a seed, directly or not.
    let mut dep = vec![false; n];
    let mut changed = true;
    while changed {
        changed = false;
        for &id in root {
            let i = id.0 as usize;
            let d = match g.op(id) {
                Op::Param { index, .. } => seeds.contains(&(*index as usize)),
                _ => reads[i].iter().any(|a| dep[a.0 as usize]),
            };
            changed |= d != dep[i];
            dep[i] = d;
        }
    }
    if value.iter().any(|&k| dep[f.outputs[k].0 as usize]) {
        return None;
    }
    // The nodes the closure computes again rather than capture: what it
    // returns (moving a captured array out of an `Fn` closure would not
    // compile), arrays it does more with than read (update, pass on
    // through a branch or a loop) or that the first part updates, and the
    // branches and loops whose outputs those are.
    let mut again = vec![false; n];
    for &k in derivs {
        let o = f.outputs[k];
        again[o.0 as usize] = !dep[o.0 as usize] && !is_param(g, o);
    }
    loop {
        let mut changed = false;
        for &id in root {
            let i = id.0 as usize;
            if !dep[i] && !again[i] {
                continue;
            }
            // (An `If` or a `Loop` is no value: read through its
            // projections, it goes with them.)
            let rebuilt: Vec<NodeId> = not_only_read(g, id)
                .into_iter()
                .chain(
                    reads[i]
                        .iter()
                        .copied()
                        .filter(|a| targets[a.0 as usize] || !g.op(*a).regions().is_empty()),
                )
                .filter(|a| !dep[a.0 as usize] && !again[a.0 as usize] && !is_param(g, *a))
                .collect();
            for a in rebuilt {
                again[a.0 as usize] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let inner = |i: usize| dep[i] || again[i];
    let mut captured: Vec<NodeId> = Vec::new();
    for &id in root {
        if !inner(id.0 as usize) {
            continue;
        }
        for &a in &reads[id.0 as usize] {
            let leaf = g.args(a).is_empty() && g.op(a).regions().is_empty();
            if !inner(a.0 as usize) && !leaf && !captured.contains(&a) {
                captured.push(a);
            }
        }
    }
    // Returned by the first part as one tuple, the values before what they
    // may read and the tuple moves: values of unseen types (`cfg.k`
    // written inline, before `cfg` moves; seed 34 case 3855), then arrays
    // (a length), each once.
    let order = |c: NodeId| match g.ty(c) {
        Ty::Other => 1,
        Ty::Array(..) => 2,
        _ => 0,
    };
    captured.sort_by_key(|&c| order(c));
    let names: Vec<syn::Ident> = (0..captured.len())
        .map(|j| local(&format!("c{j}")))
        .collect();
    let mut outer = f.clone();
    outer.outputs = value.iter().map(|&k| f.outputs[k]).collect();
    let mut aliases = Vec::new();
    let mut returned = Vec::new();
    for (j, &c) in captured.iter().enumerate() {
        match value.iter().position(|&k| f.outputs[k] == c) {
            Some(k) if g.ty(c).is_array() => aliases.push((j, k)),
            _ => returned.push(j),
        }
    }
    outer.outputs.extend(returned.iter().map(|&j| captured[j]));
    let mut inner_f = f.clone();
    let first = f.params.len() as u32;
    for (j, (&c, name)) in captured.iter().zip(&names).enumerate() {
        let tape = g.is_tape(c);
        let node = &mut inner_f.graph.nodes[c.0 as usize];
        node.op = Op::Param {
            index: first + j as u32,
            field: None,
        };
        node.args.clear();
        inner_f.params.push(Param {
            name: name.clone(),
            fields: vec![node.ty],
            usize: false,
            tape,
        });
    }
    inner_f.outputs = derivs.iter().map(|&k| f.outputs[k]).collect();
    let moved = returned.iter().filter(|&&j| order(captured[j]) > 0).count();
    Some(Split {
        outer,
        inner: inner_f,
        layout: Layout {
            names,
            returned,
            moved,
            aliases,
        },
    })
}

fn is_param(g: &Graph, id: NodeId) -> bool {
    matches!(g.op(id), Op::Param { .. })
}

/// The root-region nodes `id` reads: its operands and, for an `If` or a
/// `Loop`, every root-region node its regions read.
fn reads(g: &Graph, id: NodeId) -> Vec<NodeId> {
    let mut out = g.args(id).to_vec();
    let mut stack = g.node(id).op.regions();
    while let Some(r) = stack.pop() {
        let region = g.region(r);
        for &m in &region.nodes {
            out.extend(g.args(m).iter().filter(|a| g.node(**a).region == ROOT));
            stack.extend(g.node(m).op.regions());
        }
        out.extend(region.outputs.iter().filter(|a| g.node(**a).region == ROOT));
    }
    out
}

/// The root-region arrays that `id` (or a node of its regions) does more
/// with than read: updates in place, carries through a loop, yields from
/// a branch, or passes to an op that may.
fn not_only_read(g: &Graph, id: NodeId) -> Vec<NodeId> {
    let outer_array = |a: &NodeId| g.ty(*a).is_array() && g.node(*a).region == ROOT;
    let mut out = Vec::new();
    let mut stack = vec![id];
    while let Some(m) = stack.pop() {
        let node = g.node(m);
        for (k, a) in node.args.iter().enumerate() {
            if outer_array(a) && !reads_only(&node.op, k) {
                out.push(*a);
            }
        }
        for r in node.op.regions() {
            let region = g.region(r);
            out.extend(region.outputs.iter().filter(|a| outer_array(a)));
            stack.extend(&region.nodes);
        }
    }
    out
}

/// Does `op` only read its operand `k` (an array)? (A call may take it
/// by value.)
fn reads_only(op: &Op, k: usize) -> bool {
    match op {
        Op::Index | Op::Len | Op::SumAll | Op::Owned | Op::ZerosLike => true,
        Op::Checked | Op::Finish => k == 1,
        Op::Kernel(kernel) => !(kernel.accumulates() && k == 0),
        _ => false,
    }
}
