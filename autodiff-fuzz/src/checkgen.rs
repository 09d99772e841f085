//! Writes, for each accepted case with a [`Recipe`], an implementation of
//! `support::Companions` that calls the case's companions through flat
//! vectors. The batch's check binary runs them all.

use crate::gen::{Case, Elem, OutKind, PKind, Recipe};
use crate::rng::Rng;

/// The owned Rust type of a float parameter's value (what is built from
/// the flat point) and whether the call passes it by reference.
fn owned(kind: &PKind, e: &str) -> (String, bool) {
    match kind {
        PKind::Scalar => (e.to_string(), false),
        PKind::Array(n) => (format!("[{e}; {n}]"), false),
        PKind::RefArray(n) => (format!("[{e}; {n}]"), true),
        PKind::Slice(_) => (format!("Vec<{e}>"), true),
        PKind::Matrix(r, c) => (format!("[[{e}; {c}]; {r}]"), false),
        PKind::Other(_) => (String::new(), false),
    }
}

/// A zero of the parameter's owned type (the shape `like` fills).
fn proto(kind: &PKind, e: &str) -> String {
    match kind {
        PKind::Scalar => format!("0.0_{e}"),
        PKind::Array(n) | PKind::RefArray(n) => format!("[0.0_{e}; {n}]"),
        PKind::Slice(n) => format!("vec![0.0_{e}; {n}]"),
        PKind::Matrix(r, c) => format!("[[0.0_{e}; {c}]; {r}]"),
        PKind::Other(_) => String::new(),
    }
}

/// The companion `suffix` of the function (`r#type` → `type_grad`).
fn companion(r: &Recipe, suffix: &str) -> String {
    format!("{}_{suffix}", r.func.trim_start_matches("r#"))
}

/// The cotangent argument for an output of kind `o` held in `v`.
fn cotangent(o: &OutKind, v: &str) -> String {
    match o {
        OutKind::Vec => format!("&{v}[..]"),
        OutKind::Tuple(parts) => {
            let items: Vec<String> = parts
                .iter()
                .enumerate()
                .map(|(i, p)| cotangent(p, &format!("{v}.{i}")))
                .collect();
            format!("({},)", items.join(", "))
        }
        _ => v.to_string(),
    }
}

/// The Rust source of the check for `case` (which has a recipe), as a
/// unit struct `C<module>` implementing `Companions`.
pub fn check_source(case: &Case) -> Option<String> {
    let r = case.recipe.as_ref()?;
    let m = case.module();
    let e = r.elem.ty();
    let path = format!("cases::{m}");
    let mut rng = Rng::fork(case.seed ^ 0xC0FF_EE00, case.index as u64);
    // The arguments: float parameters from the point (wrt) or fixed values.
    let mut build = Vec::new();
    let mut tys = Vec::new();
    let mut call_args = Vec::new();
    let mut dot_build = Vec::new();
    let mut dot_tys = Vec::new();
    let mut dot_args = Vec::new();
    let mut sizes = Vec::new();
    for p in &r.params {
        if let PKind::Other(expr) = &p.kind {
            call_args.push(expr.replace("m::", &format!("{path}::")));
            continue;
        }
        let (ty, by_ref) = owned(&p.kind, e);
        let k = tys.len();
        let arg = if by_ref {
            format!("&a.{k}")
        } else {
            format!("a.{k}")
        };
        call_args.push(arg);
        if p.wrt {
            build.push(format!("{}.like_from(&mut d)", proto(&p.kind, e)));
            sizes.push(p.kind.size());
            let j = dot_tys.len();
            dot_build.push(format!("{}.like_from(&mut d)", proto(&p.kind, e)));
            dot_tys.push(ty.clone());
            dot_args.push(if by_ref {
                format!("&t.{j}")
            } else {
                format!("t.{j}")
            });
        } else {
            let vals: Vec<String> = (0..p.kind.size())
                .map(|_| format!("{:.3}", (rng.next_u64() % 2400) as f64 / 1000.0 - 1.2))
                .collect();
            build.push(format!(
                "{}.like(&[{}])",
                proto(&p.kind, e),
                vals.join(", ")
            ));
        }
        tys.push(ty);
    }
    if sizes.is_empty() {
        return None;
    }
    let args = call_args.join(", ");
    let with = |extra: &[String]| -> String {
        let mut all = vec![args.clone()];
        all.extend(extra.iter().cloned());
        all.retain(|s| !s.is_empty());
        all.join(", ")
    };
    let dots = dot_args.join(", ");
    let f = &r.func;
    let name = format!("C{}", &m[1..]);
    let mut s = String::new();
    s.push_str(&format!("/// Companions of `{m}`.\npub struct {name};\n\n"));
    s.push_str(&format!(
        "fn {m}_args(p: &[f64]) -> ({},) {{\n    let mut d = p;\n    let _ = &mut d;\n    ({},)\n}}\n\n",
        tys.join(", "),
        build.join(", ")
    ));
    s.push_str(&format!(
        "fn {m}_dots(v: &[f64]) -> ({},) {{\n    let mut d = v;\n    ({},)\n}}\n\n",
        dot_tys.join(", "),
        dot_build.join(", ")
    ));
    s.push_str(&format!("impl Companions for {name} {{\n"));
    s.push_str(&format!(
        "    fn name(&self) -> &'static str {{\n        \"{m}\"\n    }}\n"
    ));
    // A value rounded to `f32` inside an `f64` function (`x as f32`) is
    // checked to single precision: finite differences of the rounded
    // value are that coarse (seed 15 case 238).
    let single = r.elem == Elem::F32 || case.item.contains(" as f32");
    s.push_str(&format!(
        "    fn single(&self) -> bool {{\n        {single}\n    }}\n"
    ));
    s.push_str(&format!(
        "    fn nan_edges(&self) -> bool {{\n        {}\n    }}\n",
        r.nan_edges
    ));
    s.push_str(&format!(
        "    fn param_sizes(&self) -> Vec<usize> {{\n        vec![{}]\n    }}\n",
        sizes
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s.push_str(&format!(
        "    fn value(&self, p: &[f64]) -> Vec<f64> {{\n        let a = {m}_args(p);\n        {path}::{f}({args}).flat()\n    }}\n"
    ));
    if let OutKind::Tuple(parts) = &r.out {
        let items: Vec<String> = (0..parts.len())
            .map(|i| format!("y.{i}.flat().len()"))
            .collect();
        s.push_str(&format!(
            "    fn out_blocks(&self, p: &[f64]) -> Vec<usize> {{\n        let a = {m}_args(p);\n        let y = {path}::{f}({args});\n        vec![{}]\n    }}\n",
            items.join(", ")
        ));
    }
    let jvp = companion(r, "jvp");
    s.push_str(&format!(
        "    fn jvp(&self, p: &[f64], v: &[f64]) -> (Vec<f64>, Vec<f64>) {{\n        let a = {m}_args(p);\n        let t = {m}_dots(v);\n        let (y, dy) = {path}::{jvp}({});\n        (y.flat(), dy.flat())\n    }}\n",
        with(std::slice::from_ref(&dots))
    ));
    let vjp = companion(r, "vjp");
    s.push_str(&format!(
        "    fn vjp(&self, p: &[f64], w: &[f64]) -> (Vec<f64>, Vec<f64>) {{\n        let a = {m}_args(p);\n        let wb = {path}::{f}({args}).like(w);\n        let (y, b) = {path}::{vjp}({});\n        (y.flat(), b.flat())\n    }}\n",
        with(&[cotangent(&r.out, "wb")])
    ));
    if r.has_closures() {
        let (lin, pull) = (companion(r, "linearize"), companion(r, "pullback"));
        s.push_str(&format!(
            "    fn linearize(&self, p: &[f64], v: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {{\n        let a = {m}_args(p);\n        let t = {m}_dots(v);\n        let (y, push) = {path}::{lin}({args});\n        Some((y.flat(), push({dots}).flat()))\n    }}\n"
        ));
        s.push_str(&format!(
            "    fn pullback(&self, p: &[f64], w: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {{\n        let a = {m}_args(p);\n        let wb = {path}::{f}({args}).like(w);\n        let (y, pull) = {path}::{pull}({args});\n        Some((y.flat(), pull({}).flat()))\n    }}\n",
            cotangent(&r.out, "wb")
        ));
    }
    if r.scalar_out() {
        let grad = companion(r, "grad");
        let vg = companion(r, "value_and_grad");
        s.push_str(&format!(
            "    fn grad(&self, p: &[f64]) -> Option<Vec<f64>> {{\n        let a = {m}_args(p);\n        Some({path}::{grad}({args}).flat())\n    }}\n"
        ));
        s.push_str(&format!(
            "    fn value_and_grad(&self, p: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {{\n        let a = {m}_args(p);\n        let (y, g) = {path}::{vg}({args});\n        Some((y.flat(), g.flat()))\n    }}\n"
        ));
    }
    if r.has_jacobian() {
        let jac = companion(r, "jacobian");
        s.push_str(&format!(
            "    fn jacobian(&self, p: &[f64]) -> Option<Vec<f64>> {{\n        let a = {m}_args(p);\n        Some({path}::{jac}({args}).flat())\n    }}\n"
        ));
    }
    if r.hessian && r.scalar_out() {
        let (hess, hvp, gj, gv, vj, grad) = (
            companion(r, "hessian"),
            companion(r, "hvp"),
            companion(r, "grad_jvp"),
            companion(r, "grad_vjp"),
            companion(r, "vjp_jvp"),
            companion(r, "grad"),
        );
        s.push_str(&format!(
            "    fn hessian(&self, p: &[f64]) -> Option<Vec<f64>> {{\n        let a = {m}_args(p);\n        Some({path}::{hess}({args}).flat())\n    }}\n"
        ));
        s.push_str(&format!(
            "    fn hvp(&self, p: &[f64], v: &[f64]) -> Option<Vec<f64>> {{\n        let a = {m}_args(p);\n        let t = {m}_dots(v);\n        Some({path}::{hvp}({}).flat())\n    }}\n",
            with(std::slice::from_ref(&dots))
        ));
        s.push_str(&format!(
            "    fn grad_jvp(&self, p: &[f64], v: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {{\n        let a = {m}_args(p);\n        let t = {m}_dots(v);\n        let (g, h) = {path}::{gj}({});\n        Some((g.flat(), h.flat()))\n    }}\n",
            with(std::slice::from_ref(&dots))
        ));
        // The gradient's cotangent: a slice for one slice parameter.
        let wrt: Vec<&PKind> = r.params.iter().filter(|p| p.wrt).map(|p| &p.kind).collect();
        let gb = match wrt.as_slice() {
            [PKind::Slice(_)] => "&gb[..]",
            _ => "gb",
        };
        s.push_str(&format!(
            "    fn grad_vjp(&self, p: &[f64], w: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {{\n        let a = {m}_args(p);\n        let gb = {path}::{grad}({args}).like(w);\n        let (g, h) = {path}::{gv}({});\n        Some((g.flat(), h.flat()))\n    }}\n",
            with(&[gb.to_string()])
        ));
        s.push_str(&format!(
            "    fn vjp_jvp(&self, p: &[f64], w: f64, v: &[f64], wd: f64) -> Option<(Vec<f64>, Vec<f64>)> {{\n        let a = {m}_args(p);\n        let t = {m}_dots(v);\n        let ((y, g), (yd, gd)) = {path}::{vj}({});\n        Some(([y.flat(), g.flat()].concat(), [yd.flat(), gd.flat()].concat()))\n    }}\n",
            with(&[format!("w as {e}"), dots.clone(), format!("wd as {e}")])
        ));
    }
    s.push_str("}\n\n");
    Some(s)
}

/// The check binary's `main.rs` for these cases.
/// Also returns, per case, the lines of `main.rs` its code occupies.
pub fn main_source(cases: &[&Case]) -> (String, Vec<(usize, usize, String)>) {
    let mut s = String::new();
    s.push_str(
        "//! Generated: runs every accepted case's companions against finite differences.\n",
    );
    s.push_str("#![allow(clippy::all, unused)]\n\n");
    s.push_str("mod support;\n\nuse support::{Companions, Flat};\n\n");
    let mut names = Vec::new();
    let mut ranges = Vec::new();
    for c in cases {
        if let Some(src) = check_source(c) {
            let first = s.lines().count() + 1;
            s.push_str(&src);
            ranges.push((first, s.lines().count(), c.module()));
            names.push(format!("&C{}", &c.module()[1..]));
        }
    }
    s.push_str(&format!(
        "fn main() {{\n    let args: Vec<String> = std::env::args().collect();\n    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);\n    let only: Option<String> = args.get(2).cloned();\n    let from: Option<String> = args.get(3).cloned();\n    let run = move || {{\n        let cases: Vec<&dyn Companions> = vec![{}];\n        let start = from.as_deref().and_then(|f| cases.iter().position(|c| c.name() == f)).map_or(0, |i| i + 1);\n        let only = only.as_deref().filter(|o| *o != \"-\");\n        support::run_all(&cases[start..], seed, only);\n    }};\n    let worker = std::thread::Builder::new().stack_size(512 << 20).spawn(run).expect(\"a thread\");\n    let _ = worker.join();\n}}\n",
        names.join(", ")
    ));
    (s, ranges)
}
