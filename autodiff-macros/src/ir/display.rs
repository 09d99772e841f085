//! A plain text dump of a [`Function`], for snapshot tests and debugging.

use std::fmt::{self, Write};

use quote::ToTokens;

use super::{Function, Graph, NodeId, Op, RegionId, ROOT};

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params: Vec<String> = self.params.iter().map(|p| p.name.to_string()).collect();
        writeln!(f, "fn({}) {{", params.join(", "))?;
        let live = self.graph.live(&self.outputs);
        let mut out = String::new();
        region(self, &self.graph, ROOT, 1, &live, &mut out)?;
        f.write_str(&out)?;
        writeln!(f, "  return {}", list(&self.outputs))?;
        write!(f, "}}")
    }
}

fn list(ids: &[NodeId]) -> String {
    ids.iter()
        .map(|i| format!("%{}", i.0))
        .collect::<Vec<_>>()
        .join(", ")
}

fn region(
    func: &Function,
    g: &Graph,
    r: RegionId,
    depth: usize,
    live: &[bool],
    out: &mut String,
) -> fmt::Result {
    let pad = "  ".repeat(depth);
    for &id in &g.region(r).nodes {
        if !live[id.0 as usize] {
            continue;
        }
        let node = g.node(id);
        let args = list(&node.args);
        let text = match &node.op {
            Op::Param { index, field } => {
                let name = &func.params[*index as usize].name;
                match field {
                    Some(k) => format!("param {name}.{k}"),
                    None => format!("param {name}"),
                }
            }
            Op::Const(bits) => format!("const {:?}", f64::from_bits(*bits)),
            Op::Int(n) => format!("int {n}"),
            Op::Bool(b) => format!("bool {b}"),
            Op::Default => "default".to_string(),
            Op::Opaque(i) => {
                let e = g.opaques[*i as usize].expr.to_token_stream().to_string();
                format!("opaque `{e}` {args}")
            }
            Op::Un(u) => format!("{u:?} {args}").to_lowercase(),
            Op::Bin(b) => format!("{b:?} {args}").to_lowercase(),
            Op::Cmp(c) => format!("{c:?} {args}").to_lowercase(),
            Op::If { then, els } => {
                writeln!(out, "{pad}%{} = if {args} {{", id.0)?;
                region(func, g, *then, depth + 1, live, out)?;
                writeln!(out, "{pad}  yield {}", list(&g.region(*then).outputs))?;
                writeln!(out, "{pad}}} else {{")?;
                region(func, g, *els, depth + 1, live, out)?;
                writeln!(out, "{pad}  yield {}", list(&g.region(*els).outputs))?;
                writeln!(out, "{pad}}}")?;
                continue;
            }
            Op::Loop {
                body,
                carried,
                rev,
                exit,
            } => {
                let dir = match exit {
                    Some(e) if e.unbounded => format!("until !{} ", e.go),
                    Some(e) => format!("while {} ", e.go),
                    None => String::new(),
                };
                let dir = if *rev { format!("rev {dir}") } else { dir };
                writeln!(
                    out,
                    "{pad}%{} = loop {dir}{args} (carried {carried}) {{",
                    id.0
                )?;
                region(func, g, *body, depth + 1, live, out)?;
                writeln!(out, "{pad}  yield {}", list(&g.region(*body).outputs))?;
                writeln!(out, "{pad}}}")?;
                continue;
            }
            Op::RegionArg(_, k) => format!("arg {k}"),
            Op::Proj(k) => format!("proj.{k} {args}"),
            other => format!("{other:?} {args}").to_lowercase(),
        };
        writeln!(out, "{pad}%{} = {text}", id.0)?;
    }
    Ok(())
}
