//! Functions inside the supported subset (SPEC §4–§5 as the guide lists
//! it today): scalars, arrays, slices, matrices, `let` chains, shadowing,
//! `let mut` with compound assignment, `if`/`else`, `for` loops carrying
//! state, local arrays written element by element, iterator chains, the
//! array helpers, calls to other differentiated functions, generics,
//! const generics, `f32`, random `wrt` and `hessian`, odd names, and now
//! and then a very long straight-line body.
//!
//! The body is built statement by statement over an environment of the
//! bindings in scope; every binding is read after its last write (the
//! leftovers are folded into an accumulator or the tail), so the function
//! is warning-free as plain Rust.

use super::expr::{Prec, E};
use super::{closures_apply, Case, Elem, Expect, OutKind, PKind, PRecipe, Recipe};
use crate::rng::Rng;

/// Plain names for parameters and locals.
const PLAIN: &[&str] = &[
    "x", "y", "z", "a", "b", "c", "u", "p", "q", "r", "d", "theta", "alpha", "beta", "rate",
    "mass", "pos", "vel", "scale", "bias", "weight", "input", "target", "coef", "temp", "total",
    "energy", "loss", "step", "gain", "phase",
];

/// Names that look like what a macro generates, or like companion
/// parameters, or like crates: the generated code must not collide.
const ODD: &[&str] = &[
    "i",
    "j",
    "n",
    "e",
    "k",
    "t0",
    "t1",
    "t2",
    "t3",
    "value",
    "cols",
    "rows",
    "row0",
    "out_bar",
    "out_bar_dot",
    "x_dot",
    "y_dot",
    "grad_bar",
    "acc",
    "core",
    "std",
    "tape",
    "adj",
    "seed",
    "tmp",
    "v",
    "s",
    "w",
    "sum",
    "dot",
    "norm",
    "len",
    "idx",
    "out",
    "result",
    "x_bar",
    "y_bar",
    "g",
    "h",
    "dir",
    "primal",
    "tangent",
    "lhs",
    "rhs",
    "grad",
    "jacobian",
    "hessian",
    "f",
    "r#type",
    "r#match",
];

/// Names of functions under test.
const FN_NAMES: &[&str] = &[
    "f",
    "loss",
    "energy",
    "model",
    "objective",
    "potential",
    "residual",
    "score",
    "cost",
    "forward",
    "value",
    "grad",
    "core",
    "step",
    "out",
    "r#type",
];

/// Literals: no approximations of named constants (clippy's
/// `approx_constant`), no excessive precision.
const LITS: &[&str] = &[
    "0.5", "0.25", "0.75", "1.5", "2.0", "3.0", "0.1", "0.3", "1.25", "0.9", "2.5", "0.2", "0.05",
    "4.0", "1.0",
];

/// How literals and accumulation are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A concrete `f64` or `f32` function.
    Concrete,
    /// `T: Float`, literals written `T::from(0.5).unwrap()` (plain Rust).
    GenericPlain,
    /// `T: Float`, bare literals that the attribute converts.
    GenericBare,
}

/// The length of a one-dimensional array.
#[derive(Clone, Debug, PartialEq)]
enum Len {
    /// A literal length.
    Fixed(usize),
    /// The common run-time length of the slice parameters.
    Slice,
    /// The const generic `N`.
    Const,
}

/// What a binding is.
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    /// A float.
    Scalar,
    /// A one-dimensional array; `is_ref` when the binding is a reference
    /// (`&[T]`, `&[T; N]`) so helpers take it as it is.
    Arr { len: Len, is_ref: bool },
    /// `[[T; C]; R]`.
    Mat(usize, usize),
    /// A `usize` parameter (small).
    Int,
    /// An `i32` parameter (small).
    Int32,
    /// A loop index: `lo <= i < len - hi` (`len` `None` for counted loops).
    Idx {
        len: Option<Len>,
        lo: usize,
        hi: usize,
    },
    /// A `bool` parameter.
    Bool,
    /// A `&Cfg` parameter or `Cfg` local.
    Cfg,
}

#[derive(Clone, Debug)]
struct Var {
    name: String,
    ty: Ty,
    mutable: bool,
    /// Read at least once.
    used: bool,
    /// Written after its last read (a read must follow).
    dirty: bool,
    /// Written at least once (for `let mut`).
    mutated: bool,
    /// For a local array (`vec![0.0; n]`, `[0.0; N]`), the length it was
    /// made with, as written.
    made_len: Option<String>,
}

#[derive(Clone)]
struct Scope {
    vars: Vec<Var>,
}

/// A function the body may call.
#[derive(Clone, Debug)]
struct Callee {
    name: String,
    /// Scalar parameters, or one fixed array of this length.
    kind: CalleeKind,
}

#[derive(Clone, Debug, PartialEq)]
enum CalleeKind {
    /// `fn g(a: T, b: T) -> T`.
    Scalars(usize),
    /// `fn g(v: [T; N]) -> T`.
    ArrayToScalar(usize),
    /// `fn g(v: [T; N]) -> [T; N]`, bound with a typed `let`.
    ArrayToArray(usize),
    /// `g_grad` of `fn g(v: [T; N]) -> T` with `hessian`.
    GradOf(usize),
}

struct Gen<'r> {
    rng: &'r mut Rng,
    mode: Mode,
    elem: Elem,
    lines: Vec<String>,
    indent: usize,
    scopes: Vec<Scope>,
    budget: usize,
    /// `+=` and friends exist on the float type.
    assign_ops: bool,
    callee: Option<Callee>,
    /// Helpers imported by name (`use autodiff::{..}`), so locals must not
    /// take those names.
    bare_helpers: bool,
    helpers_used: std::collections::BTreeSet<&'static str>,
    /// A `const SCALE` exists.
    scale_const: bool,
    /// A `Cfg` struct exists.
    cfg_struct: bool,
    /// Names never to bind (the function, the callee, imported helpers).
    reserved: Vec<String>,
    /// The length of slices at check time.
    counter: usize,
    /// Straight-line mode (no loops, for long bodies).
    straight: bool,
    /// Inside a closure body (no nested iterator chains).
    in_closure: bool,
    class_bits: Vec<&'static str>,
    /// Typed leaves read so far (bindings, casts, typed literals): an
    /// expression that reads none is an ambiguous `{float}` to rustc.
    typed: usize,
    /// The parameter names.
    params: Vec<String>,
}

const HELPER_NAMES: &[&str] = &[
    "sum",
    "dot",
    "norm",
    "logsumexp",
    "mean",
    "softmax",
    "sigmoid",
    "softplus",
    "matvec",
];

impl<'r> Gen<'r> {
    fn ty(&self) -> &'static str {
        match self.mode {
            Mode::Concrete => self.elem.ty(),
            _ => "T",
        }
    }

    fn lit_str(&mut self, s: &str) -> E {
        match self.mode {
            Mode::GenericPlain => {
                self.typed += 1;
                E::atom(format!("T::from({s}).unwrap()"))
            }
            Mode::GenericBare => {
                // The attribute makes bare literals `T`.
                self.typed += 1;
                E::atom(s.to_string())
            }
            Mode::Concrete => E::atom(s.to_string()),
        }
    }

    /// `let name` with a type when `e` reads nothing typed (else rustc
    /// cannot call methods on it later).
    fn let_head(&self, name: &str, typed_before: usize) -> String {
        if self.typed == typed_before && self.mode == Mode::Concrete {
            format!("{name}: {}", self.elem.ty())
        } else {
            name.to_string()
        }
    }

    fn lit(&mut self) -> E {
        let s = *self.rng.pick(LITS);
        self.lit_str(s)
    }

    fn zero(&self) -> String {
        match self.mode {
            Mode::GenericPlain => "T::zero()".into(),
            _ => "0.0".into(),
        }
    }

    fn emit(&mut self, line: impl AsRef<str>) {
        let pad = "    ".repeat(self.indent);
        self.lines.push(format!("{pad}{}", line.as_ref()));
    }

    fn bit(&mut self, b: &'static str) {
        if !self.class_bits.contains(&b) {
            self.class_bits.push(b);
        }
    }

    // ---- the environment ----

    /// Visible bindings, innermost first, shadowed ones left out.
    fn visible(&self) -> Vec<(usize, usize)> {
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for (si, s) in self.scopes.iter().enumerate().rev() {
            for (vi, v) in s.vars.iter().enumerate().rev() {
                if !seen.contains(&v.name.as_str()) {
                    seen.push(&v.name);
                    out.push((si, vi));
                }
            }
        }
        out
    }

    fn var(&self, at: (usize, usize)) -> &Var {
        &self.scopes[at.0].vars[at.1]
    }

    fn var_mut(&mut self, at: (usize, usize)) -> &mut Var {
        &mut self.scopes[at.0].vars[at.1]
    }

    fn find(&self, pred: impl Fn(&Var) -> bool) -> Vec<(usize, usize)> {
        self.visible()
            .into_iter()
            .filter(|&at| pred(self.var(at)))
            .collect()
    }

    fn read(&mut self, at: (usize, usize)) -> String {
        self.typed += 1;
        let v = self.var_mut(at);
        v.used = true;
        v.dirty = false;
        v.name.clone()
    }

    fn write(&mut self, at: (usize, usize)) {
        let v = self.var_mut(at);
        v.dirty = true;
        v.mutated = true;
    }

    fn bind(&mut self, name: &str, ty: Ty, mutable: bool) {
        let scope = self.scopes.last_mut().expect("a scope");
        scope.vars.push(Var {
            name: name.to_string(),
            ty,
            mutable,
            used: false,
            dirty: false,
            mutated: false,
            made_len: None,
        });
    }

    /// A fresh name (not visible now), from the plain or the odd pool.
    fn fresh(&mut self) -> String {
        for attempt in 0..50 {
            let base = if self.rng.chance(0.3) {
                *self.rng.pick(ODD)
            } else {
                *self.rng.pick(PLAIN)
            };
            let name = if attempt > 20 {
                format!("{base}{attempt}")
            } else {
                base.to_string()
            };
            if self.name_free(&name) {
                return name;
            }
        }
        self.counter += 1;
        format!("tmp{}", self.counter)
    }

    fn name_free(&self, name: &str) -> bool {
        let visible = self.visible().iter().any(|&at| self.var(at).name == name);
        let helper_clash = self.bare_helpers && HELPER_NAMES.contains(&name);
        // Unicode and raw names only as parameters (kept rare).
        let exotic = name.starts_with("r#") || !name.is_ascii();
        !visible
            && !helper_clash
            && !exotic
            && !self.reserved.iter().any(|r| r == name)
            && name != "N"
            && name != "T"
    }

    // ---- expressions ----

    /// The length of `len` as Rust, given a slice in scope for `Slice`.
    fn len_text(&mut self, len: &Len) -> Option<String> {
        match len {
            Len::Fixed(n) => Some(n.to_string()),
            Len::Const => Some("N".into()),
            Len::Slice => {
                let slices = self.find(|v| {
                    matches!(
                        &v.ty,
                        Ty::Arr {
                            len: Len::Slice,
                            ..
                        }
                    )
                });
                if slices.is_empty() {
                    return None;
                }
                let at = *self.rng.pick(&slices);
                let name = self.read(at);
                Some(format!("{name}.len()"))
            }
        }
    }

    /// The number of elements every array of `len` has at check time.
    fn min_len(len: &Len) -> usize {
        match len {
            Len::Fixed(n) => *n,
            Len::Slice => 3,
            Len::Const => 2,
        }
    }

    /// An element of an array or matrix.
    fn element(&mut self, at: (usize, usize)) -> E {
        let ty = self.var(at).ty.clone();
        match ty {
            Ty::Arr { len, .. } => {
                let idx = self.index_for(&len);
                let name = self.read(at);
                E::atom(format!("{name}[{idx}]"))
            }
            Ty::Mat(r, c) => {
                let i = self.index_for(&Len::Fixed(r));
                let j = self.index_for(&Len::Fixed(c));
                let name = self.read(at);
                E::atom(format!("{name}[{i}][{j}]"))
            }
            _ => E::atom(self.read(at)),
        }
    }

    /// An index expression valid for arrays of `len`: a loop index of the
    /// same length (with an offset it allows) or a literal.
    fn index_for(&mut self, len: &Len) -> String {
        let idxs = self.find(|v| matches!(&v.ty, Ty::Idx { len: Some(l), .. } if l == len));
        if !idxs.is_empty() && self.rng.chance(0.85) {
            let at = *self.rng.pick(&idxs);
            let Ty::Idx { lo, hi, .. } = self.var(at).ty.clone() else {
                unreachable!()
            };
            let name = self.read(at);
            let r = self.rng.below(6);
            if r == 0 && hi > 0 {
                return format!("{name} + {}", self.rng.range(1, hi));
            }
            if r == 1 && lo > 0 {
                return format!("{name} - {}", self.rng.range(1, lo));
            }
            return name;
        }
        let max = Self::min_len(len);
        self.rng.below(max).to_string()
    }

    fn int_as_float(&self, name: &str) -> E {
        match self.mode {
            Mode::Concrete => E::Raw(format!("{name} as {}", self.elem.ty()), Prec::Cast),
            _ => E::atom(format!("T::from({name}).unwrap()")),
        }
    }

    /// A float leaf: a binding, an element, a literal, a constant.
    fn leaf(&mut self) -> E {
        let cands = self.find(|v| {
            matches!(
                v.ty,
                Ty::Scalar | Ty::Arr { .. } | Ty::Mat(..) | Ty::Int | Ty::Idx { .. } | Ty::Cfg
            )
        });
        // Prefer what is not read yet, so fewer leftovers.
        let fresh: Vec<_> = cands
            .iter()
            .copied()
            .filter(|&at| !self.var(at).used)
            .collect();
        let pool = if !fresh.is_empty() && self.rng.chance(0.6) {
            fresh
        } else {
            cands
        };
        if pool.is_empty() || self.rng.chance(0.12) {
            if self.scale_const && self.rng.chance(0.3) {
                self.typed += 1;
                return E::atom("SCALE");
            }
            return self.lit();
        }
        let at = *self.rng.pick(&pool);
        match self.var(at).ty.clone() {
            Ty::Scalar => E::atom(self.read(at)),
            Ty::Arr { .. } | Ty::Mat(..) => self.element(at),
            Ty::Int | Ty::Idx { .. } => {
                let name = self.read(at);
                self.int_as_float(&name)
            }
            Ty::Cfg => {
                let name = self.read(at);
                E::atom(format!("{name}.k"))
            }
            _ => self.lit(),
        }
    }

    /// A float expression of at most `depth` levels.
    fn scalar(&mut self, depth: usize) -> E {
        if depth == 0 || self.rng.chance(0.22) {
            return self.leaf();
        }
        let arrays = !self.find(|v| matches!(v.ty, Ty::Arr { .. })).is_empty();
        let w = [
            30,                         // binary arithmetic
            26,                         // unary method
            12,                         // binary method
            3,                          // negation
            if arrays { 6 } else { 0 }, // helper
            if arrays && !self.in_closure && self.mode != Mode::GenericBare {
                5
            } else {
                0
            }, // iterator
            if self.callee.is_some() { 5 } else { 0 }, // call
            2,                          // UFCS
        ];
        match self.rng.weighted(&w) {
            0 => self.arith(depth),
            1 => self.unary(depth),
            2 => self.binary_method(depth),
            3 => {
                let a = self.scalar(depth - 1);
                match a {
                    E::Neg(_) => a,
                    a if a.is_literal() => a,
                    a => E::neg(a),
                }
            }
            4 => self.helper_scalar(depth),
            5 => self.iterator_scalar(),
            6 => self.call_callee(depth),
            _ => self.ufcs(depth),
        }
    }

    fn arith(&mut self, depth: usize) -> E {
        let a = self.scalar(depth - 1);
        let op = *self.rng.pick(&["+", "-", "*", "*", "/", "+"]);
        let mut b = if op == "/" && self.rng.chance(0.4) {
            self.lit()
        } else {
            self.scalar(depth - 1)
        };
        if op == "/" && !b.is_literal() {
            // Away from zero: b² + c.
            let b2 = E::bin(b.clone(), "*", b);
            b = E::bin(b2, "+", self.lit());
        }
        if (op == "-" || op == "/") && a.show() == b.show() {
            b = E::bin(b, "*", self.lit_str("0.5"));
        }
        E::bin(a, op, b)
    }

    /// `e` kept in a range where `exp` and friends stay moderate.
    fn bounded(&mut self, e: E) -> E {
        match self.rng.below(3) {
            0 => E::method(e, "sin", vec![]),
            1 => E::method(e, "tanh", vec![]),
            _ => E::method(e, "cos", vec![]),
        }
    }

    /// `e` made positive.
    fn positive(&mut self, e: E) -> E {
        match self.rng.below(3) {
            0 => {
                let sq = E::bin(e.clone(), "*", e);
                E::bin(sq, "+", self.lit())
            }
            1 => {
                let a = E::method(e, "abs", vec![]);
                E::bin(a, "+", self.lit_str("0.5"))
            }
            _ => {
                let b = self.bounded(e);
                E::method(b, "exp", vec![])
            }
        }
    }

    /// `e` in (-1, 1).
    fn unit(&mut self, e: E) -> E {
        let t = E::method(e, if self.rng.chance(0.5) { "tanh" } else { "sin" }, vec![]);
        E::bin(t, "*", self.lit_str("0.9"))
    }

    fn recv(&mut self, depth: usize) -> E {
        let before = self.typed;
        let e = self.scalar(depth - 1);
        if e.is_literal() || self.typed == before {
            // Literal receivers have no type to call a method on.
            return self.leaf_nonlit();
        }
        e
    }

    fn leaf_nonlit(&mut self) -> E {
        for _ in 0..6 {
            let e = self.leaf();
            if !e.is_literal()
                && !matches!(&e, E::Raw(s, _) if s == "SCALE" || s.starts_with("T::from(0") || s.starts_with("T::from(1") || s.starts_with("T::from(2") || s.starts_with("T::from(3") || s.starts_with("T::from(4"))
            {
                return e;
            }
        }
        match self.find(|v| v.ty == Ty::Scalar).first() {
            Some(&at) => E::atom(self.read(at)),
            None => {
                let e = self.leaf();
                if e.is_literal() || self.mode == Mode::Concrete {
                    self.typed += 1;
                    E::atom(format!(
                        "{}_{}",
                        e.show()
                            .trim_start_matches("T::from(")
                            .trim_end_matches(").unwrap()"),
                        self.ty_suffix()
                    ))
                } else {
                    e
                }
            }
        }
    }

    fn ty_suffix(&self) -> &'static str {
        self.elem.ty()
    }

    fn unary(&mut self, depth: usize) -> E {
        let a = self.recv(depth);
        let edgy = self.rng.chance(0.04);
        let name = *self.rng.pick(&[
            "sin", "cos", "tan", "atan", "tanh", "asinh", "cbrt", "abs", "exp", "exp2", "exp_m1",
            "sinh", "cosh", "ln", "log2", "log10", "ln_1p", "sqrt", "recip", "asin", "acos",
            "atanh", "acosh", "powi", "powf", "signum", "floor", "ceil", "round", "trunc", "fract",
            "log",
        ]);
        let on_param = matches!(&a, E::Raw(n, Prec::Atom) if self.params.contains(n));
        if edgy && on_param && matches!(name, "sqrt" | "ln" | "acos" | "recip" | "asin" | "log2") {
            self.bit("edge");
            return E::method(a, name, vec![]);
        }
        match name {
            "tan" => {
                let u = self.unit(a);
                E::method(u, "tan", vec![])
            }
            "exp" | "exp2" | "exp_m1" | "sinh" | "cosh" => {
                let b = self.bounded(a);
                E::method(b, name, vec![])
            }
            "ln" | "log2" | "log10" | "sqrt" | "recip" => {
                let p = self.positive(a);
                E::method(p, name, vec![])
            }
            "ln_1p" => {
                let sq = E::bin(a.clone(), "*", a);
                E::method(sq, "ln_1p", vec![])
            }
            "asin" | "acos" | "atanh" => {
                let u = self.unit(a);
                E::method(u, name, vec![])
            }
            "cbrt" => {
                // Away from 0, where the derivative is infinite (0.75, not the
                // 0.5 of the clamp bounds: `x.clamp(-0.5, 1.0) + 0.5` is 0).
                let shifted = E::bin(a, "+", self.lit_str("0.75"));
                E::method(shifted, "cbrt", vec![])
            }
            "acosh" => {
                let sq = E::bin(a.clone(), "*", a);
                let p = E::bin(sq, "+", self.lit_str("1.5"));
                E::method(p, "acosh", vec![])
            }
            "powi" => {
                let ints = self.find(|v| v.ty == Ty::Int32);
                let k = if !ints.is_empty() && self.rng.chance(0.4) {
                    self.read(ints[0])
                } else if let (true, Some(&at)) =
                    (self.rng.chance(0.3), self.find(|v| v.ty == Ty::Int).first())
                {
                    format!("{} as i32", self.read(at))
                } else {
                    self.rng.pick(&["2", "3", "2", "-1", "4"]).to_string()
                };
                if k == "-1" {
                    let p = self.positive(a);
                    E::method(p, "powi", vec![E::atom("-1")])
                } else {
                    E::method(a, "powi", vec![E::Raw(k, Prec::Cast)])
                }
            }
            "powf" => {
                let p = self.positive(a);
                let ex = if self.rng.chance(0.5) {
                    self.lit()
                } else {
                    self.recv(depth.saturating_sub(1).max(1))
                };
                let ex = self.unit_if_not_lit(ex);
                E::method(p, "powf", vec![ex])
            }
            "log" => {
                let p = self.positive(a);
                let base = {
                    let b = *self.rng.pick(&["2.0", "10.0", "3.0"]);
                    self.lit_str(b)
                };
                E::method(p, "log", vec![base])
            }
            "sin" | "cos" | "tanh" | "atan"
                if self.mode == Mode::Concrete
                    && self.elem == Elem::F32
                    && self.rng.chance(0.7) =>
            {
                // Widened, computed in f64 and narrowed again.
                self.bit("widens");
                E::Raw(
                    format!("f64::from({}).{name}() as f32", a.show()),
                    Prec::Cast,
                )
            }
            "floor" | "ceil" | "round" | "trunc" | "fract" | "signum" => {
                self.bit("piecewise");
                let m = E::method(a, name, vec![]);
                let b = self.leaf();
                E::bin(m, "*", b)
            }
            _ => E::method(a, name, vec![]),
        }
    }

    fn unit_if_not_lit(&mut self, e: E) -> E {
        if e.is_literal() || matches!(&e, E::Raw(s, _) if s.starts_with("T::from")) {
            e
        } else {
            self.unit(e)
        }
    }

    fn binary_method(&mut self, depth: usize) -> E {
        let a = self.recv(depth);
        let which = self.rng.below(7);
        if which == 4 {
            let lo = {
                let b = *self.rng.pick(&["-1.0", "-0.5", "-2.0"]);
                self.lit_str(b)
            };
            let hi = {
                let b = *self.rng.pick(&["1.0", "0.5", "2.0"]);
                self.lit_str(b)
            };
            self.bit("piecewise");
            return E::method(a, "clamp", vec![lo, hi]);
        }
        let mut b = if which == 6 {
            self.recv(depth)
        } else {
            self.scalar(depth - 1)
        };
        match which {
            0 => E::method(a, "atan2", vec![E::bin(b, "+", self.lit_str("2.0"))]),
            // Away from hypot(0, 0), whose partials are NaN.
            1 => E::method(a, "hypot", vec![E::bin(b, "+", self.lit_str("0.5"))]),
            2 | 3 => {
                let name = if self.rng.chance(0.5) { "max" } else { "min" };
                if b.is_literal()
                    || matches!(&b, E::Raw(s, _) if s.starts_with("T::from"))
                    || matches!(&a, E::Method(_, m, _) if m == "max" || m == "min")
                {
                    // `x.max(lit).min(lit)` is clippy's `manual_clamp`.
                    b = E::bin(b, "*", self.leaf_nonlit());
                    return E::method(E::method(a, "sin", vec![]), name, vec![b]);
                }
                E::method(a, name, vec![b])
            }
            5 => {
                let c = self.scalar(depth - 1);
                E::method(a, "mul_add", vec![b, c])
            }
            _ => {
                let p = self.positive(a);
                let ex = self.unit(b);
                E::method(p, "powf", vec![ex])
            }
        }
    }

    fn ufcs(&mut self, depth: usize) -> E {
        let a = self.recv(depth);
        let ty = self.ty();
        if self.mode != Mode::Concrete {
            return E::method(self.recv_of(a), "sin", vec![]);
        }
        match self.rng.below(3) {
            0 => E::Call(format!("{ty}::sin"), vec![a]),
            1 => {
                let b = self.scalar(depth - 1);
                let b = E::bin(b, "+", self.lit_str("0.5"));
                E::Call(format!("{ty}::hypot"), vec![a, b])
            }
            _ => {
                let b = self.bounded(a);
                E::Call(format!("{ty}::exp"), vec![b])
            }
        }
    }

    fn recv_of(&mut self, e: E) -> E {
        if e.is_literal() {
            self.leaf_nonlit()
        } else {
            e
        }
    }

    /// A helper reducing an array to a float.
    fn helper_scalar(&mut self, depth: usize) -> E {
        let which = *self.rng.pick(&[
            "sum",
            "dot",
            "norm",
            "logsumexp",
            "mean",
            "sigmoid",
            "softplus",
        ]);
        if which == "sigmoid" || which == "softplus" {
            // Scalar helpers: no array is read.
            let s = self.recv(depth);
            self.helpers_used.insert(which);
            let p = if self.bare_helpers {
                which.to_string()
            } else {
                format!("autodiff::{which}")
            };
            return E::Call(p, vec![s]);
        }
        let arrays = self.find(|v| matches!(v.ty, Ty::Arr { .. }));
        let at = *self.rng.pick(&arrays);
        let Ty::Arr { len, is_ref } = self.var(at).ty.clone() else {
            unreachable!()
        };
        let name = self.read(at);
        let arg = if is_ref {
            name.clone()
        } else {
            format!("&{name}")
        };
        let path = |g: &mut Self, h: &'static str| {
            g.helpers_used.insert(h);
            if g.bare_helpers {
                h.to_string()
            } else {
                format!("autodiff::{h}")
            }
        };
        self.bit("helpers");
        match which {
            "dot" => {
                let others = self.find(|v| matches!(&v.ty, Ty::Arr { len: l, .. } if *l == len));
                let o = *self.rng.pick(&others);
                let Ty::Arr { is_ref: r2, .. } = self.var(o).ty.clone() else {
                    unreachable!()
                };
                let n2 = self.read(o);
                let arg2 = if r2 { n2 } else { format!("&{n2}") };
                E::Call(path(self, "dot"), vec![E::atom(arg), E::atom(arg2)])
            }
            h => E::Call(path(self, h), vec![E::atom(arg)]),
        }
    }

    /// An iterator chain reducing arrays to a float (concrete types).
    fn iterator_scalar(&mut self) -> E {
        let arrays = self.find(|v| matches!(v.ty, Ty::Arr { .. }));
        let at = *self.rng.pick(&arrays);
        let Ty::Arr { len, .. } = self.var(at).ty.clone() else {
            unreachable!()
        };
        let name = self.read(at);
        let ty = self.ty();
        self.bit("iterators");
        let kind = if self.mode == Mode::Concrete {
            self.rng.below(5)
        } else {
            3
        };
        // Items last to first, sometimes (`.rev()` after the source).
        let rev = if self.rng.chance(0.25) { ".rev()" } else { "" };
        match kind {
            0 => {
                let (v, body) = self.closure_body(1);
                E::atom(format!(
                    "{name}.iter(){rev}.map(|&{v}| {body}).sum::<{ty}>()"
                ))
            }
            1 => E::atom(format!("{name}.iter().sum::<{ty}>()")),
            2 => {
                let others = self.find(|v| matches!(&v.ty, Ty::Arr { len: l, .. } if *l == len));
                let o = *self.rng.pick(&others);
                let Ty::Arr { is_ref, .. } = self.var(o).ty.clone() else {
                    unreachable!()
                };
                let other = self.read(o);
                let src = if is_ref || self.rng.chance(0.5) {
                    format!("{other}.iter()")
                } else {
                    format!("&{other}")
                };
                let (a, b, body) = self.closure_body2();
                E::atom(format!(
                    "{name}.iter().zip({src}){rev}.map(|(&{a}, &{b})| {body}).sum::<{ty}>()"
                ))
            }
            _ => {
                // A fold; its accumulator never just adds the element
                // (that is clippy's `unnecessary_fold`).
                let init = match self.mode {
                    Mode::Concrete => format!("0.0_{}", self.elem.ty()),
                    _ => self.zero(),
                };
                let acc = self.fresh_closure_name();
                self.scopes.push(Scope { vars: vec![] });
                self.bind(&acc, Ty::Scalar, false);
                let (v, body) = self.closure_body(1);
                self.scopes.pop();
                let scale = self.lit_str("0.5").show();
                E::atom(format!(
                    "{name}.iter(){rev}.fold({init}, |{acc}, &{v}| {acc} * {scale} + {body})"
                ))
            }
        }
    }

    fn fresh_closure_name(&mut self) -> String {
        // A closure parameter may shadow an outer binding on purpose.
        let name = if self.rng.chance(0.3) {
            let vis = self.find(|v| v.ty == Ty::Scalar && v.used);
            match vis.first() {
                Some(&at) => self.var(at).name.clone(),
                None => self.fresh(),
            }
        } else {
            self.fresh()
        };
        if self.bare_helpers && HELPER_NAMES.contains(&name.as_str()) {
            return "el".into();
        }
        name
    }

    /// `|&v| body` with `body` never just `v`.
    fn closure_body(&mut self, depth: usize) -> (String, String) {
        let v = self.fresh_closure_name();
        self.scopes.push(Scope { vars: vec![] });
        self.bind(&v, Ty::Scalar, false);
        let was = self.in_closure;
        self.in_closure = true;
        let mut body = self.scalar(depth);
        let at = (self.scopes.len() - 1, 0);
        if !self.var(at).used || matches!(&body, E::Raw(s, _) if *s == v) {
            let v_e = E::atom(self.read(at));
            let t = self.lit();
            body = E::bin(E::bin(v_e, "*", t), "+", body);
        }
        self.in_closure = was;
        self.scopes.pop();
        (v, body.show())
    }

    fn closure_body2(&mut self) -> (String, String, String) {
        let a = self.fresh_closure_name();
        let mut b = self.fresh_closure_name();
        if b == a {
            b = format!("{a}2");
        }
        self.scopes.push(Scope { vars: vec![] });
        self.bind(&a, Ty::Scalar, false);
        self.bind(&b, Ty::Scalar, false);
        let was = self.in_closure;
        self.in_closure = true;
        let mut body = self.scalar(1);
        let top = self.scopes.len() - 1;
        for vi in 0..2 {
            if !self.var((top, vi)).used {
                let e = E::atom(self.read((top, vi)));
                body = E::bin(body, "+", e);
            }
        }
        self.in_closure = was;
        self.scopes.pop();
        (a, b, body.show())
    }

    fn call_callee(&mut self, depth: usize) -> E {
        let callee = self.callee.clone().expect("a callee");
        match callee.kind {
            CalleeKind::Scalars(n) => {
                let args = (0..n).map(|_| self.scalar(depth - 1)).collect();
                self.bit("call");
                E::Call(callee.name, args)
            }
            CalleeKind::ArrayToScalar(n) => {
                let arrs = self.find(
                    |v| matches!(&v.ty, Ty::Arr { len: Len::Fixed(m), is_ref: false } if *m == n),
                );
                if arrs.is_empty() {
                    return self.leaf();
                }
                let at = *self.rng.pick(&arrs);
                let name = self.read(at);
                self.bit("call");
                E::Call(callee.name, vec![E::atom(name)])
            }
            _ => self.leaf(),
        }
    }

    // ---- statements ----

    fn cond(&mut self) -> String {
        let bools = self.find(|v| v.ty == Ty::Bool);
        if !bools.is_empty() && self.rng.chance(0.3) {
            return self.read(bools[0]);
        }
        let ints = self.find(|v| matches!(v.ty, Ty::Int | Ty::Idx { .. }));
        if !ints.is_empty() && self.rng.chance(0.3) {
            let at = *self.rng.pick(&ints);
            let n = self.read(at);
            // (`n % 2 == 0` is clippy's `manual_is_multiple_of`.)
            return if self.rng.chance(0.5) {
                format!("{n} % 2 == 1")
            } else {
                format!("{n} > 1")
            };
        }
        let a = self.recv(2);
        let mut b = self.scalar(1);
        if a.show() == b.show() {
            b = E::bin(b, "+", self.lit());
        }
        let op = *self.rng.pick(&["<", ">", "<=", ">="]);
        E::bin(a, op, b).show()
    }

    /// `target op= e` (or `target = target op e` for a bare `T: Float`).
    fn update(&mut self, at: (usize, usize), depth: usize) {
        let mut e = self.recv(depth + 1);
        if e.show() == self.var(at).name {
            // `y = y - y` is clippy's `eq_op`.
            e = E::method(e, "sin", vec![]);
        }
        let op = *self.rng.pick(&["+", "-", "*", "+", "/"]);
        if op == "*" || op == "/" {
            // Keep products near 1.
            let b = self.bounded(e);
            e = E::bin(
                self.lit_str("1.0"),
                "+",
                E::bin(b, "*", self.lit_str("0.5")),
            );
        }
        let name = self.var(at).name.clone();
        if let E::Bin(l, o, r) = &e {
            // `a += a + b` is clippy's `misrefactored_assign_op`.
            if *o == op && (l.show() == name || r.show() == name) {
                e = E::method(e, "tanh", vec![]);
            }
        }
        let name = self.read(at);
        if self.assign_ops {
            self.emit(format!("{name} {op}= {};", e.show()));
        } else {
            let rhs = E::bin(E::atom(name.clone()), op, e);
            self.emit(format!("{name} = {};", rhs.show()));
        }
        self.write(at);
    }

    fn mut_scalars(&self) -> Vec<(usize, usize)> {
        self.find(|v| v.mutable && v.ty == Ty::Scalar)
    }

    fn statement(&mut self) {
        let muts = self.mut_scalars();
        let arrays = !self.find(|v| matches!(v.ty, Ty::Arr { .. })).is_empty();
        let loopy = !self.straight && self.indent < 4;
        let w = [
            26,                                   // let
            8,                                    // let mut
            if muts.is_empty() { 0 } else { 16 }, // compound assignment
            if muts.is_empty() || self.straight {
                0
            } else {
                7
            }, // if statement
            if self.straight { 1 } else { 5 },    // if expression
            if loopy { 12 } else { 0 },           // for loop
            if loopy { 5 } else { 0 },            // local array
            if muts.len() >= 2 { 6 } else { 3 },  // tuple
            3,                                    // block
            5,                                    // shadowing
            if arrays && loopy { 4 } else { 0 },  // array helper let
            if self.callee.is_some() { 4 } else { 0 }, // call let
            if self.cfg_struct && self.mode == Mode::Concrete && self.elem == Elem::F64 {
                2
            } else {
                0
            }, // struct local
        ];
        match self.rng.weighted(&w) {
            0 => self.let_scalar(),
            1 => {
                let name = self.fresh();
                let t0 = self.typed;
                let e = self.scalar(2);
                let head = self.let_head(&name, t0);
                self.emit(format!("let mut {head} = {};", e.show()));
                self.bind(&name, Ty::Scalar, true);
            }
            2 => {
                let at = *self.rng.pick(&muts);
                self.update(at, 2);
            }
            3 => self.if_statement(),
            4 => self.if_expression(),
            5 => self.for_loop(),
            6 => self.local_array(),
            7 => {
                let fixed = self.find(|v| {
                    matches!(
                        v.ty,
                        Ty::Arr {
                            len: Len::Fixed(_),
                            ..
                        }
                    )
                });
                if !fixed.is_empty() && self.rng.chance(0.4) {
                    let at = *self.rng.pick(&fixed);
                    return self.let_array_pattern(at);
                }
                if muts.len() >= 2 && self.rng.chance(0.5) {
                    return self.tuple_assign(&muts);
                }
                let ints = self.find(|v| v.ty == Ty::Int);
                if !ints.is_empty() && self.rng.chance(0.4) {
                    let at = *self.rng.pick(&ints);
                    return self.int_ops(at);
                }
                let (a, b) = (self.fresh(), self.fresh());
                if a == b {
                    return self.let_scalar();
                }
                let e1 = self.recv(3);
                let e2 = self.recv(3);
                self.emit(format!("let ({a}, {b}) = ({}, {});", e1.show(), e2.show()));
                self.bind(&a, Ty::Scalar, false);
                self.bind(&b, Ty::Scalar, false);
                self.bit("tuples");
            }
            8 => {
                let name = self.fresh();
                let inner = self.fresh();
                let e = self.recv(3);
                self.scopes.push(Scope { vars: vec![] });
                self.bind(&inner, Ty::Scalar, false);
                let at = (self.scopes.len() - 1, 0);
                let iv = E::atom(self.read(at));
                let tail = E::bin(E::bin(iv.clone(), "*", iv), "+", self.scalar(1));
                self.scopes.pop();
                self.emit(format!("let {name} = {{"));
                self.emit(format!("    let {inner} = {};", e.show()));
                self.emit(format!("    {}", tail.show()));
                self.emit("};");
                self.bind(&name, Ty::Scalar, false);
            }
            9 => self.shadow(),
            10 => self.array_helper_let(),
            11 => self.call_let(),
            _ => {
                if !self.name_free("k") {
                    return self.let_scalar();
                }
                let name = self.fresh();
                let e = self.lit();
                let ty = self.elem.ty();
                self.emit(format!("let k: {ty} = {};", e.show()));
                self.emit(format!("let {name} = Cfg {{ k, n: 2 }};"));
                self.bind("k", Ty::Scalar, false);
                let top = self.scopes.len() - 1;
                let last = self.scopes[top].vars.len() - 1;
                self.scopes[top].vars[last].used = true;
                self.bind(&name, Ty::Cfg, false);
                self.bit("struct");
            }
        }
    }

    /// `(a, b) = (b, a + e);` over two mutable floats: both written from
    /// their old values at once.
    fn tuple_assign(&mut self, muts: &[(usize, usize)]) {
        let at_a = *self.rng.pick(muts);
        let others: Vec<(usize, usize)> = muts.iter().copied().filter(|&m| m != at_a).collect();
        let at_b = *self.rng.pick(&others);
        let e = self.recv(2);
        let (a, b) = (self.read(at_a), self.read(at_b));
        let second = E::bin(E::atom(a.clone()), "+", self.bounded(e));
        self.emit(format!("({a}, {b}) = ({b}, {});", second.show()));
        self.write(at_a);
        self.write(at_b);
        self.bit("tuple_assign");
    }

    /// `let mut m = n; m %= 3; m ^= 1; ..` then a float of `m`: compound
    /// assignments of an integer (the ones other than `+=`.. were dropped
    /// from the companions).
    fn int_ops(&mut self, at: (usize, usize)) {
        let (m, v) = (self.fresh(), self.fresh());
        if m == v {
            return self.let_scalar();
        }
        let n = self.read(at);
        self.emit(format!("let mut {m} = {n};"));
        for _ in 0..self.rng.range(1, 3) {
            let op = *self
                .rng
                .pick(&["%= 3", "^= 1", "<<= 1", ">>= 1", "|= 2", "&= 5"]);
            self.emit(format!("{m} {op};"));
        }
        let e = self.int_as_float(&m);
        self.emit(format!("let {v} = {};", e.show()));
        self.bind(&v, Ty::Scalar, false);
        self.bit("int_ops");
    }

    fn let_scalar(&mut self) {
        let name = self.fresh();
        let depth = self.rng.range(1, 3);
        let t0 = self.typed;
        let e = self.scalar(depth);
        if self.rng.chance(0.2) || self.typed == t0 {
            let ty = self.ty();
            self.emit(format!("let {name}: {ty} = {};", e.show()));
        } else {
            self.emit(format!("let {name} = {};", e.show()));
        }
        self.bind(&name, Ty::Scalar, false);
    }

    /// `let a = <expr of a>;` over a binding of this scope already read.
    fn shadow(&mut self) {
        let top = self.scopes.len() - 1;
        let cands: Vec<usize> = self.scopes[top]
            .vars
            .iter()
            .enumerate()
            .filter(|(_, v)| v.ty == Ty::Scalar && v.used && !v.mutable && !v.dirty)
            .map(|(i, _)| i)
            .collect();
        let Some(&vi) = cands.first() else {
            return self.let_scalar();
        };
        let name = self.var((top, vi)).name.clone();
        let cur = E::atom(self.read((top, vi)));
        let e = self.unary_of(cur);
        let rhs = E::bin(e, "+", self.scalar(1));
        self.emit(format!("let {name} = {};", rhs.show()));
        self.bind(&name, Ty::Scalar, false);
        self.bit("shadowing");
    }

    fn unary_of(&mut self, e: E) -> E {
        let m = *self.rng.pick(&["sin", "cos", "tanh", "atan"]);
        E::method(e, m, vec![])
    }

    fn if_statement(&mut self) {
        let muts = self.mut_scalars();
        let at = *self.rng.pick(&muts);
        let c = self.cond();
        self.emit(format!("if {c} {{"));
        self.indent += 1;
        self.scopes.push(Scope { vars: vec![] });
        self.update(at, 2);
        self.close_scope(Some(at));
        self.indent -= 1;
        if self.rng.chance(0.6) {
            self.emit("} else {");
            self.indent += 1;
            self.scopes.push(Scope { vars: vec![] });
            if self.rng.chance(0.5) {
                self.let_scalar();
            }
            self.update(at, 2);
            self.close_scope(Some(at));
            self.indent -= 1;
        }
        self.emit("}");
        self.bit("if");
    }

    fn if_expression(&mut self) {
        let ints = self.find(|v| matches!(v.ty, Ty::Int | Ty::Idx { .. }));
        if !ints.is_empty() && self.rng.chance(0.25) {
            let at = *self.rng.pick(&ints);
            return self.match_expression(at);
        }
        let name = self.fresh();
        let c = self.cond();
        let t0 = self.typed;
        let (a, b) = self.two_values();
        let head = self.let_head(&name, t0);
        self.emit(format!(
            "let {head} = if {c} {{ {} }} else {{ {} }};",
            a.show(),
            b.show()
        ));
        self.bind(&name, Ty::Scalar, false);
        self.bit("if");
    }

    /// Two different values, for the two arms of a branch.
    fn two_values(&mut self) -> (E, E) {
        let a = self.scalar(2);
        let mut b = self.scalar(2);
        if a.show() == b.show() {
            b = E::bin(b, "+", self.lit());
        }
        (a, b)
    }

    /// `let y = match n % 3 { 0 => a, 1 | 2 => b, _ => unreachable!() };`:
    /// an arm that panics gives no value, the others decide it.
    fn match_expression(&mut self, at_n: (usize, usize)) {
        let name = self.fresh();
        let n = self.read(at_n);
        let t0 = self.typed;
        let (a, b) = self.two_values();
        let head = self.let_head(&name, t0);
        self.emit(format!("let {head} = match {n} % 3 {{"));
        self.emit(format!("    0 => {},", a.show()));
        self.emit(format!("    1 | 2 => {},", b.show()));
        self.emit("    _ => unreachable!(),");
        self.emit("};");
        self.bind(&name, Ty::Scalar, false);
        self.bit("panics");
    }

    /// A carried accumulator for a loop: an existing `let mut` or a new one.
    fn carrier(&mut self) -> (usize, usize) {
        let muts = self.mut_scalars();
        if !muts.is_empty() && self.rng.chance(0.6) {
            return *self.rng.pick(&muts);
        }
        let name = self.fresh();
        let t0 = self.typed;
        // Rarely an exact zero: a zero carried through `cbrt` or `hypot`
        // has an infinite or NaN partial, which SPEC §6 allows.
        let init = if self.rng.chance(0.15) {
            E::atom(self.zero())
        } else {
            self.scalar(1)
        };
        let head = if self.mode == Mode::GenericPlain && init.show() == "T::zero()" {
            name.clone()
        } else {
            self.let_head(&name, t0)
        };
        self.emit(format!("let mut {head} = {};", init.show()));
        self.bind(&name, Ty::Scalar, true);
        (
            self.scopes.len() - 1,
            self.scopes.last().map_or(0, |s| s.vars.len() - 1),
        )
    }

    fn idx_name(&mut self) -> String {
        for _ in 0..10 {
            let n = *self
                .rng
                .pick(&["i", "j", "k", "t", "idx", "n", "e", "row", "col", "i0", "s"]);
            // Never a mutable binding's name, nor an array's: the loop
            // body may read them (seed 18 case 1191 read a matrix through
            // a loop index of its name).
            let shadows_mut = !self
                .find(|v| {
                    v.name == n && (v.mutable || matches!(v.ty, Ty::Arr { .. } | Ty::Mat(..)))
                })
                .is_empty();
            if self.name_free(n)
                || (self.rng.chance(0.3) && !shadows_mut && !self.reserved.iter().any(|r| r == n))
            {
                // Shadowing an outer binding inside the loop is fine (it
                // is visible again after it).
                if !(self.bare_helpers && HELPER_NAMES.contains(&n)) {
                    return n.to_string();
                }
            }
        }
        self.counter += 1;
        format!("i{}", self.counter)
    }

    fn for_loop(&mut self) {
        let arrays = self.find(|v| matches!(v.ty, Ty::Arr { .. }));
        let mats = self.find(|v| matches!(v.ty, Ty::Mat(..)));
        let ints = self.find(|v| v.ty == Ty::Int);
        let at_c = self.carrier();
        let kind = self.rng.weighted(&[
            if arrays.is_empty() { 0 } else { 10 },
            if mats.is_empty() { 0 } else { 4 },
            if ints.is_empty() { 0 } else { 3 },
            2,
            if arrays.is_empty() { 0 } else { 4 },
        ]);
        self.bit("loops");
        let saved = std::mem::take(&mut self.lines);
        let indent0 = self.indent;
        self.indent = 1;
        self.scopes.push(Scope { vars: vec![] });
        let header: String;
        // A line before the loop's head (a sub-slice it iterates).
        let mut pre_header: Option<String> = None;
        match kind {
            0 | 4 if !arrays.is_empty() => {
                let at = *self.rng.pick(&arrays);
                let Ty::Arr { len, .. } = self.var(at).ty.clone() else {
                    unreachable!()
                };
                let others: Vec<(usize, usize)> =
                    arrays.iter().copied().filter(|&o| o != at).collect();
                if kind == 4
                    && self.mode != Mode::GenericBare
                    && !others.is_empty()
                    && self.rng.chance(0.25)
                {
                    header = self.zip_loop(at, &others, at_c);
                } else if kind == 4 && self.mode != Mode::GenericBare {
                    // Over the elements, or over all but the first of them
                    // through a named sub-slice.
                    let sub = Self::min_len(&len) >= 2 && self.rng.chance(0.25);
                    let name = self.read(at);
                    let v = self.idx_fresh_scalar();
                    self.bind(&v, Ty::Scalar, false);
                    let i = self.idx_name();
                    let i_ok = i != v;
                    if i_ok {
                        self.bind(
                            &i,
                            Ty::Idx {
                                len: Some(len.clone()),
                                lo: 0,
                                hi: usize::from(sub),
                            },
                            false,
                        );
                    }
                    let slice = self.fresh();
                    let src = if sub && slice != v && slice != i {
                        pre_header = Some(format!("let {slice} = &{name}[1..];"));
                        self.bit("sub_slices");
                        slice
                    } else {
                        name
                    };
                    // Borrowed by the loop: not refilled in it.
                    let made = self.var_mut(at).made_len.take();
                    self.loop_body(at_c);
                    self.var_mut(at).made_len = made;
                    let i_used = i_ok
                        && self
                            .scopes
                            .last()
                            .expect("scope")
                            .vars
                            .iter()
                            .any(|x| x.name == i && x.used);
                    // Last to first, sometimes.
                    let rev = if self.rng.chance(0.2) { ".rev()" } else { "" };
                    header = if i_used {
                        format!("for ({i}, &{v}) in {src}.iter().enumerate(){rev} {{")
                    } else {
                        format!("for &{v} in {src}.iter(){rev} {{")
                    };
                } else {
                    let lt = self.len_text(&len).expect("a length");
                    let i = self.idx_name();
                    let min = Self::min_len(&len);
                    let (range, lo, hi) = match self.rng.below(5) {
                        0 if min >= 2 => (format!("1..{lt}"), 1, 0),
                        1 if min >= 2 => (
                            match &len {
                                Len::Fixed(n) => format!("0..{}", n - 1),
                                _ => format!("0..{lt} - 1"),
                            },
                            0,
                            1,
                        ),
                        2 => (format!("(0..{lt}).rev()"), 0, 0),
                        _ => (format!("0..{lt}"), 0, 0),
                    };
                    self.bind(
                        &i,
                        Ty::Idx {
                            len: Some(len.clone()),
                            lo,
                            hi,
                        },
                        false,
                    );
                    self.loop_body(at_c);
                    let used = self
                        .scopes
                        .last()
                        .expect("scope")
                        .vars
                        .iter()
                        .any(|x| x.name == i && x.used);
                    header = format!("for {} in {range} {{", if used { i.as_str() } else { "_" });
                }
            }
            1 if self.rng.chance(0.4) => {
                let at = *self.rng.pick(&mats);
                header = self.row_loop(at, at_c);
            }
            1 => {
                let at = *self.rng.pick(&mats);
                let Ty::Mat(r, c) = self.var(at).ty.clone() else {
                    unreachable!()
                };
                let i = self.idx_name();
                self.bind(
                    &i,
                    Ty::Idx {
                        len: Some(Len::Fixed(r)),
                        lo: 0,
                        hi: 0,
                    },
                    false,
                );
                let mut j = self.idx_name();
                if j == i {
                    j = format!("{i}2");
                }
                let inner_lines = std::mem::take(&mut self.lines);
                self.indent = 2;
                self.scopes.push(Scope { vars: vec![] });
                self.bind(
                    &j,
                    Ty::Idx {
                        len: Some(Len::Fixed(c)),
                        lo: 0,
                        hi: 0,
                    },
                    false,
                );
                // Read the matrix at [i][j] once at least.
                let name = self.read(at);
                let iname = self.read((self.scopes.len() - 2, 0));
                let jname = self.read((self.scopes.len() - 1, 0));
                let e = E::atom(format!("{name}[{iname}][{jname}]"));
                let extra = self.scalar(1);
                let rhs = E::method(E::bin(e, "*", extra), "sin", vec![]);
                let cn = self.read(at_c);
                if self.assign_ops {
                    self.emit(format!("{cn} += {};", rhs.show()));
                } else {
                    self.emit(format!(
                        "{cn} = {};",
                        E::bin(E::atom(cn.clone()), "+", rhs).show()
                    ));
                }
                self.write(at_c);
                self.close_scope(Some(at_c));
                let body = std::mem::replace(&mut self.lines, inner_lines);
                self.emit(format!("for {j} in 0..{c} {{"));
                self.lines.extend(body);
                self.emit("}");
                self.indent = 1;
                if self.rng.chance(0.3) {
                    self.update(at_c, 1);
                }
                header = format!("for {i} in 0..{r} {{");
            }
            _ => {
                let bound = if kind == 2 && !ints.is_empty() {
                    {
                        let at = *self.rng.pick(&ints);
                        self.read(at)
                    }
                } else if self.rng.chance(0.3) {
                    // Counting in another integer type (its tapes are
                    // written at `usize` positions).
                    self.bit("int_counters");
                    let t = *self.rng.pick(&["u32", "i32", "u64", "u8"]);
                    format!("{}_{t}", self.rng.range(2, 4))
                } else {
                    self.rng.range(2, 4).to_string()
                };
                let i = self.idx_name();
                self.bind(
                    &i,
                    Ty::Idx {
                        len: None,
                        lo: 0,
                        hi: 0,
                    },
                    false,
                );
                self.loop_body(at_c);
                let used = self
                    .scopes
                    .last()
                    .expect("scope")
                    .vars
                    .iter()
                    .any(|x| x.name == i && x.used);
                header = format!(
                    "for {} in 0..{bound} {{",
                    if used { i.as_str() } else { "_" }
                );
            }
        }
        // An element binding the body did not read.
        let top = self.scopes.len() - 1;
        let unread: Vec<usize> = (0..self.scopes[top].vars.len())
            .filter(|&vi| {
                self.scopes[top].vars[vi].ty == Ty::Scalar && !self.scopes[top].vars[vi].used
            })
            .collect();
        for vi in unread {
            let name = self.read((top, vi));
            let cn = self.read(at_c);
            if self.assign_ops {
                self.emit(format!("{cn} += {name} * 0.5;"));
            } else {
                let half = self.lit_str("0.5").show();
                self.emit(format!("{cn} = {cn} + {name} * {half};"));
            }
            self.write(at_c);
        }
        self.scopes.pop();
        let body = std::mem::replace(&mut self.lines, saved);
        self.indent = indent0;
        if let Some(line) = pre_header {
            self.emit(line);
        }
        self.emit(header);
        let pad = "    ".repeat(indent0);
        for l in body {
            self.lines.push(format!("{pad}{l}"));
        }
        self.emit("}");
    }

    /// The head of a loop over array `at` zipped with one or two others
    /// (of any length: the loop stops at the shortest), its body emitted:
    /// `for (&v, &w) in a.iter().zip(b.iter())`, or
    /// `for ((&v, &w), &u) in a.iter().zip(b).zip(c.iter())`.
    fn zip_loop(
        &mut self,
        at: (usize, usize),
        others: &[(usize, usize)],
        at_c: (usize, usize),
    ) -> String {
        let mut srcs = vec![at, *self.rng.pick(others)];
        let third: Vec<(usize, usize)> = others.iter().copied().filter(|&o| o != srcs[1]).collect();
        if !third.is_empty() && self.rng.chance(0.4) {
            srcs.push(*self.rng.pick(&third));
        }
        let mut names: Vec<String> = Vec::new();
        for _ in &srcs {
            let v = self.idx_fresh_scalar();
            if names.contains(&v) {
                names.push(format!("{v}{}", names.len()));
            } else {
                names.push(v);
            }
        }
        for v in &names {
            self.bind(v, Ty::Scalar, false);
        }
        // Borrowed by the loop: not refilled in it.
        let made: Vec<Option<String>> = srcs
            .iter()
            .map(|&a| self.var_mut(a).made_len.take())
            .collect();
        self.loop_body(at_c);
        for (&a, m) in srcs.iter().zip(made) {
            self.var_mut(a).made_len = m;
        }
        let texts: Vec<String> = srcs.iter().map(|&a| self.read(a)).collect();
        // `zip` takes any `IntoIterator`: a reference held is passed as
        // it is, an array or `Vec` held by value is borrowed.
        let zipped = |g: &mut Self, k: usize| {
            let t = &texts[k];
            match (g.rng.chance(0.5), &g.var(srcs[k]).ty) {
                (true, Ty::Arr { is_ref: true, .. }) => t.clone(),
                (true, _) => format!("&{t}"),
                _ => format!("{t}.iter()"),
            }
        };
        let second = zipped(self, 1);
        self.bit("zips");
        if srcs.len() == 3 {
            let third = zipped(self, 2);
            format!(
                "for ((&{}, &{}), &{}) in {}.iter().zip({second}).zip({third}) {{",
                names[0], names[1], names[2], texts[0]
            )
        } else {
            format!(
                "for (&{}, &{}) in {}.iter().zip({second}) {{",
                names[0], names[1], texts[0]
            )
        }
    }

    /// The head of a loop over the rows of matrix `at`, its body emitted:
    /// `for &[a, _, c] in m.iter()` or `for p in m.iter()` starting with
    /// `let v = p[k];`, sometimes with `.enumerate()`; the names bound are
    /// scalars of the loop's scope.
    fn row_loop(&mut self, at: (usize, usize), at_c: (usize, usize)) -> String {
        let Ty::Mat(r, c) = self.var(at).ty.clone() else {
            return "for _ in 0..1 {".into();
        };
        let name = self.read(at);
        let mut taken = vec![name.clone()];
        let mut fresh = |g: &mut Self| loop {
            let n = g.fresh();
            if !taken.contains(&n) && !n.starts_with("r#") {
                taken.push(n.clone());
                return n;
            }
        };
        let item = if self.rng.chance(0.5) {
            let mut pats = Vec::new();
            for k in 0..c {
                if k > 0 && self.rng.chance(0.25) {
                    pats.push("_".to_string());
                } else {
                    let n = fresh(self);
                    self.bind(&n, Ty::Scalar, false);
                    pats.push(n);
                }
            }
            format!("&[{}]", pats.join(", "))
        } else {
            let p = fresh(self);
            let v = fresh(self);
            let k = self.rng.below(c);
            self.emit(format!("let {v} = {p}[{k}];"));
            self.bind(&v, Ty::Scalar, false);
            p
        };
        let index = self.rng.chance(0.3).then(|| fresh(self));
        if let Some(i) = &index {
            self.bind(
                i,
                Ty::Idx {
                    len: Some(Len::Fixed(r)),
                    lo: 0,
                    hi: 0,
                },
                false,
            );
        }
        self.loop_body(at_c);
        self.bit("matrix_rows");
        let top = self.scopes.len() - 1;
        // (An index the body did not read is dropped, `.enumerate()` too.)
        match index {
            Some(i) if self.scopes[top].vars.iter().any(|v| v.name == i && v.used) => {
                format!("for ({i}, {item}) in {name}.iter().enumerate() {{")
            }
            _ => format!("for {item} in {name}.iter() {{"),
        }
    }

    fn idx_fresh_scalar(&mut self) -> String {
        let n = self.fresh();
        if n.starts_with("r#") {
            "v".into()
        } else {
            n
        }
    }

    /// A loop body: a few statements, then an update of the carrier that
    /// reads the loop's index or element.
    fn loop_body(&mut self, at_c: (usize, usize)) {
        let n = self.rng.range(0, 2);
        self.scopes.push(Scope { vars: vec![] });
        if self.rng.chance(0.3) {
            self.refill_scratch(at_c);
        }
        if self.rng.chance(0.25) {
            self.in_place();
        }
        if self.rng.chance(0.15) {
            self.exchange(at_c);
        }
        for _ in 0..n {
            if self.budget == 0 {
                break;
            }
            self.budget -= 1;
            self.statement();
        }
        self.update(at_c, 2);
        self.close_scope(Some(at_c));
    }

    /// `for i in 0..lt { name[i] = ..; }`: every element of array `name`
    /// written, each from an expression of `i`.
    /// With `fresh`, no element is computed from the array itself (it is
    /// then overwritten whole before it is read).
    fn fill_loop(&mut self, name: &str, len: &Len, lt: &str, fresh: bool, push: bool) {
        let mut i = self.idx_name();
        if i == name {
            i = format!("{name}_i");
        }
        let saved = std::mem::take(&mut self.lines);
        let indent0 = self.indent;
        self.indent = 1;
        self.scopes.push(Scope { vars: vec![] });
        self.bind(
            &i,
            Ty::Idx {
                len: Some(len.clone()),
                lo: 0,
                hi: 0,
            },
            false,
        );
        // An expression set aside must not leave the names it read marked
        // as read (a binding only it read would go unused).
        let before = self.scopes.clone();
        let mut e = self.scalar(2);
        let reads = |e: &E| {
            ["[", ".", ")"]
                .iter()
                .any(|c| e.show().contains(&format!("{name}{c}")))
        };
        for _ in 0..4 {
            if !(fresh && reads(&e)) {
                break;
            }
            self.scopes.clone_from(&before);
            e = self.scalar(2);
        }
        if fresh && reads(&e) {
            self.scopes = before;
            e = self.lit_str("0.5");
        }
        // The element must depend on `i` (else clippy sees a fill).
        let iv = E::atom(self.read((self.scopes.len() - 1, 0)));
        let ie = match self.mode {
            Mode::Concrete => E::Raw(format!("{} as {}", iv.show(), self.elem.ty()), Prec::Cast),
            _ => E::atom(format!("T::from({}).unwrap()", iv.show())),
        };
        let rhs = E::bin(e, "+", E::bin(ie, "*", self.lit_str("0.1")));
        if push {
            if self.rng.chance(0.4) {
                // The value bound by a `let` of the body first.
                let v = format!("{name}_v");
                self.emit(format!("let {v} = {};", rhs.show()));
                self.emit(format!("{name}.push({v});"));
            } else {
                self.emit(format!("{name}.push({});", rhs.show()));
            }
        } else {
            self.emit(format!("{name}[{}] = {};", iv.show(), rhs.show()));
        }
        self.close_scope(None);
        let body = std::mem::replace(&mut self.lines, saved);
        self.indent = indent0;
        self.emit(format!("for {} in 0..{lt} {{", iv.show()));
        let pad = "    ".repeat(indent0);
        for l in body {
            self.lines.push(format!("{pad}{l}"));
        }
        self.emit("}");
    }

    /// At the start of a loop body, a local array (`vec![0.0; n]` or
    /// `[0.0; N]`) of an enclosing scope filled whole again, then read into
    /// the loop's carrier: GMM's scratch vector, which reverse mode reads
    /// back from a copy of its last contents (`tape_copy`, or a pushed
    /// copy of a fixed-size array).
    fn refill_scratch(&mut self, at_c: (usize, usize)) {
        let vecs = self.find(|v| v.mutable && v.made_len.is_some());
        if vecs.is_empty() {
            return;
        }
        let at = *self.rng.pick(&vecs);
        // Over the length it was made with, or its own `len()`:
        // overwritten whole.
        let Some(made) = self.var(at).made_len.clone() else {
            return;
        };
        let name = self.var(at).name.clone();
        let lt = match self.rng.chance(0.5) {
            true => format!("{name}.len()"),
            false => made,
        };
        let len = match &self.var(at).ty {
            Ty::Arr { len, .. } => len.clone(),
            _ => Len::Slice,
        };
        self.fill_loop(&name, &len, &lt, true, false);
        self.write(at);
        let mut i = self.idx_name();
        if i == name || i == self.var(at_c).name {
            i = format!("{name}_i");
        }
        let half = self.lit_str("0.5");
        let arr = self.read(at);
        let c = self.read(at_c);
        // (A square: the reversal reads the element.)
        let elem = E::atom(format!("{arr}[{i}]"));
        let term = E::bin(E::bin(elem.clone(), "*", elem), "*", half);
        self.emit(format!("for {i} in 0..{lt} {{"));
        if self.assign_ops {
            self.emit(format!("    {c} += {};", term.show()));
        } else {
            let rhs = E::bin(E::atom(c.clone()), "+", term);
            self.emit(format!("    {c} = {};", rhs.show()));
        }
        self.emit("}");
        self.write(at_c);
        self.bit("scratch_refills");
    }

    /// The loop's carrier exchanged with another mutable float,
    /// `std::mem::swap(&mut c, &mut b);` (both then carried).
    fn exchange(&mut self, at_c: (usize, usize)) {
        let others = self.find(|v| v.mutable && matches!(v.ty, Ty::Scalar));
        let others: Vec<(usize, usize)> = others.into_iter().filter(|&o| o != at_c).collect();
        if others.is_empty() || !matches!(self.var(at_c).ty, Ty::Scalar) {
            return;
        }
        let at = *self.rng.pick(&others);
        let (c, b) = (self.read(at_c), self.read(at));
        self.emit(format!("std::mem::swap(&mut {c}, &mut {b});"));
        self.write(at_c);
        self.write(at);
        self.bit("exchanges");
    }

    /// A local array changed in place inside a loop: rotated by `swap`s,
    /// or `fill`ed with a value (the loop carries it; a loop that dropped
    /// these writes gave wrong values).
    fn in_place(&mut self) {
        let arrays = self.find(|v| v.mutable && v.made_len.is_some());
        if arrays.is_empty() {
            return;
        }
        let at = *self.rng.pick(&arrays);
        let name = self.var(at).name.clone();
        if self.rng.chance(0.5) {
            let mut k = self.idx_name();
            if k == name {
                k = format!("{name}_k");
            }
            let arr = self.read(at);
            self.emit(format!("for {k} in 1..{arr}.len() {{"));
            self.emit(format!("    {arr}.swap({k} - 1, {k});"));
            self.emit("}");
        } else {
            // A value that does not read the array (it is borrowed
            // mutably by the call).
            let before = self.scopes.clone();
            let mut e = self.scalar(1);
            for _ in 0..4 {
                if !e.show().contains(&name) {
                    break;
                }
                self.scopes.clone_from(&before);
                e = self.scalar(1);
            }
            if e.show().contains(&name) {
                self.scopes = before;
                e = self.lit_str("0.25");
            }
            let arr = self.read(at);
            self.emit(format!("{arr}.fill({});", e.show()));
        }
        self.write(at);
        self.bit("in_place");
    }

    /// `let mut y = [0.0; N]` (or `vec![0.0; x.len()]`) written element by
    /// element.
    fn local_array(&mut self) {
        let arrays = self.find(|v| matches!(v.ty, Ty::Arr { .. }));
        let len = if !arrays.is_empty() && self.rng.chance(0.7) {
            let at = *self.rng.pick(&arrays);
            match &self.var(at).ty {
                Ty::Arr { len, .. } => len.clone(),
                _ => unreachable!(),
            }
        } else {
            Len::Fixed(self.rng.range(2, 4))
        };
        let Some(lt) = self.len_text(&len) else {
            return;
        };
        let name = self.fresh();
        let z = self.zero();
        // A `Vec` is sometimes pushed to, once per iteration, from
        // `Vec::new()` (its elements then read nothing of it).
        let push = matches!(len, Len::Slice) && self.rng.chance(0.3);
        let init = match &len {
            _ if push => "Vec::new()".to_string(),
            Len::Slice => format!("vec![{z}; {lt}]"),
            _ => format!("[{z}; {lt}]"),
        };
        self.emit(format!("let mut {name} = {init};"));
        self.fill_loop(&name, &len, &lt, push, push);
        if push {
            self.bit("pushes");
        }
        let made = Some(lt.clone());
        self.bind(&name, Ty::Arr { len, is_ref: false }, true);
        let top = self.scopes.len() - 1;
        let last = self.scopes[top].vars.len() - 1;
        self.scopes[top].vars[last].mutated = true;
        self.scopes[top].vars[last].made_len = made;
        self.bit("local_arrays");
    }

    /// `let [a, _, c] = *x;` (or `= x;` of an array held by value, `let
    /// &[a, b] = x;`, `let [first, .., last] = x;`): a literal-length array
    /// taken apart into scalars.
    fn let_array_pattern(&mut self, at: (usize, usize)) {
        let Ty::Arr {
            len: Len::Fixed(n),
            is_ref,
        } = self.var(at).ty.clone()
        else {
            return self.let_scalar();
        };
        let mut names: Vec<String> = Vec::new();
        for _ in 0..n {
            let name = self.fresh();
            if names.contains(&name) || name == self.var(at).name {
                return self.let_scalar();
            }
            names.push(name);
        }
        let rest = n >= 3 && self.rng.chance(0.3);
        let mut pats: Vec<String> = Vec::new();
        let mut bound: Vec<String> = Vec::new();
        for (k, name) in names.iter().enumerate() {
            if rest && k > 0 && k + 1 < n {
                if k == 1 {
                    pats.push("..".into());
                }
                continue;
            }
            if k > 0 && self.rng.chance(0.2) {
                pats.push("_".into());
            } else {
                pats.push(name.clone());
                bound.push(name.clone());
            }
        }
        let arr = self.read(at);
        let line = match (is_ref, self.rng.chance(0.5)) {
            (true, true) => format!("let &[{}] = {arr};", pats.join(", ")),
            (true, false) => format!("let [{}] = *{arr};", pats.join(", ")),
            (false, _) => format!("let [{}] = {arr};", pats.join(", ")),
        };
        self.emit(line);
        for name in &bound {
            self.bind(name, Ty::Scalar, false);
        }
        self.bit("array_patterns");
    }

    /// `let p = autodiff::softmax(&x);` and friends, or `x.map(..)`.
    fn array_helper_let(&mut self) {
        let arrays = self.find(|v| matches!(v.ty, Ty::Arr { .. }));
        let at = *self.rng.pick(&arrays);
        let Ty::Arr { len, is_ref } = self.var(at).ty.clone() else {
            unreachable!()
        };
        let mats = self.find(|v| matches!(&v.ty, Ty::Mat(_, c) if len == Len::Fixed(*c)));
        let name = self.fresh();
        let src = self.read(at);
        let arg = if is_ref {
            src.clone()
        } else {
            format!("&{src}")
        };
        let path = |g: &mut Self, h: &'static str| {
            g.helpers_used.insert(h);
            if g.bare_helpers {
                h.to_string()
            } else {
                format!("autodiff::{h}")
            }
        };
        self.bit("helpers");
        let r = self.rng.below(4);
        if r == 0 && !mats.is_empty() {
            let m = *self.rng.pick(&mats);
            let Ty::Mat(rows, _) = self.var(m).ty.clone() else {
                unreachable!()
            };
            let mn = self.read(m);
            let p = path(self, "matvec");
            self.emit(format!("let {name} = {p}(&{mn}, {arg});"));
            self.bind(
                &name,
                Ty::Arr {
                    len: Len::Fixed(rows),
                    is_ref: false,
                },
                false,
            );
        } else if r == 1 && matches!(len, Len::Fixed(_) | Len::Const) && !is_ref {
            let (v, body) = self.closure_body(1);
            self.emit(format!("let {name} = {src}.map(|{v}| {body});"));
            self.bit("iterators");
            self.bind(&name, Ty::Arr { len, is_ref: false }, false);
        } else if r == 2 && self.mode == Mode::Concrete && len == Len::Slice {
            // A `Vec` collected from a slice: a run-time length like its
            // source (from a fixed array it would be bound as the array,
            // and read with array-only forms such as `.map`).
            let (v, body) = self.closure_body(1);
            let ty = self.ty();
            self.emit(format!(
                "let {name}: Vec<{ty}> = {src}.iter().map(|&{v}| {body}).collect();"
            ));
            self.bit("iterators");
            self.bind(
                &name,
                Ty::Arr {
                    len: Len::Slice,
                    is_ref: false,
                },
                false,
            );
        } else if self.rng.chance(0.3) {
            // One element of the computed array: the cross-entropy idiom.
            let h = *self.rng.pick(&["softmax", "log_softmax"]);
            let p = path(self, h);
            let k = self.index_for(&len);
            self.emit(format!("let {name} = -{p}({arg})[{k}];"));
            self.bind(&name, Ty::Scalar, false);
            self.bit("computed_index");
        } else {
            let h = *self.rng.pick(&["softmax", "log_softmax"]);
            let p = path(self, h);
            self.emit(format!("let {name} = {p}({arg});"));
            self.bind(&name, Ty::Arr { len, is_ref: false }, false);
        }
    }

    fn call_let(&mut self) {
        let callee = self.callee.clone().expect("a callee");
        let name = self.fresh();
        let ty = self.ty();
        match callee.kind {
            CalleeKind::ArrayToArray(n) | CalleeKind::GradOf(n) => {
                let arrs = self.find(
                    |v| matches!(&v.ty, Ty::Arr { len: Len::Fixed(m), is_ref: false } if *m == n),
                );
                let Some(&at) = arrs.first() else {
                    return self.let_scalar();
                };
                let src = self.read(at);
                let f = if callee.kind == CalleeKind::GradOf(n) {
                    format!("{}_grad", callee.name.trim_start_matches("r#"))
                } else {
                    callee.name.clone()
                };
                self.emit(format!("let {name}: [{ty}; {n}] = {f}({src});"));
                self.bind(
                    &name,
                    Ty::Arr {
                        len: Len::Fixed(n),
                        is_ref: false,
                    },
                    false,
                );
                self.bit("call");
            }
            _ => {
                let e = self.call_callee(2);
                self.emit(format!("let {name} = {};", e.show()));
                self.bind(&name, Ty::Scalar, false);
            }
        }
    }

    /// Closes the innermost scope: every `let mut` of it is written, and
    /// what is unread (or written since read) is folded into `into` (a
    /// carrier of an outer scope), so no binding goes unused.
    fn close_scope(&mut self, into: Option<(usize, usize)>) {
        self.fold_scope(into);
        self.scopes.pop();
    }

    /// Folds what the innermost scope left unread into `into`.
    fn fold_scope(&mut self, into: Option<(usize, usize)>) {
        let top = self.scopes.len() - 1;
        let vars = self.scopes[top].vars.clone();
        let mut terms: Vec<E> = Vec::new();
        for (vi, v) in vars.iter().enumerate() {
            // Only the visible binding of a name can be read.
            let visible = !vars[vi + 1..].iter().any(|w| w.name == v.name);
            if !visible {
                continue;
            }
            if v.mutable && !v.mutated && v.ty == Ty::Scalar {
                self.update((top, vi), 1);
            }
            let v = self.scopes[top].vars[vi].clone();
            if v.used && !v.dirty {
                continue;
            }
            let t = match &v.ty {
                Ty::Scalar => E::atom(self.read((top, vi))),
                Ty::Arr { .. } | Ty::Mat(..) => self.element((top, vi)),
                Ty::Int | Ty::Idx { .. } => {
                    let n = self.read((top, vi));
                    self.int_as_float(&n)
                }
                Ty::Cfg => {
                    let n = self.read((top, vi));
                    E::atom(format!("{n}.k"))
                }
                _ => continue,
            };
            terms.push(t);
        }
        if let (Some(at), false) = (into, terms.is_empty()) {
            let mut e = terms.remove(0);
            for t in terms {
                e = E::bin(e, "+", t);
            }
            let e = E::bin(e, "*", self.lit_str("0.5"));
            let name = self.read(at);
            if self.assign_ops {
                self.emit(format!("{name} += {};", e.show()));
            } else {
                self.emit(format!(
                    "{name} = {};",
                    E::bin(E::atom(name.clone()), "+", e).show()
                ));
            }
            self.write(at);
        }
    }

    /// What the top scope left unread, as terms for the tail.
    fn leftovers(&mut self) -> Vec<E> {
        let top = 0;
        let vars = self.scopes[top].vars.clone();
        let mut terms = Vec::new();
        for (vi, v) in vars.iter().enumerate() {
            let visible = !vars[vi + 1..].iter().any(|w| w.name == v.name);
            if !visible {
                continue;
            }
            if v.mutable && !v.mutated && v.ty == Ty::Scalar {
                self.update((top, vi), 1);
            }
            let v = self.scopes[top].vars[vi].clone();
            if v.used && !v.dirty {
                continue;
            }
            let t = match &v.ty {
                Ty::Scalar => E::atom(self.read((top, vi))),
                Ty::Arr { .. } | Ty::Mat(..) => self.element((top, vi)),
                Ty::Int | Ty::Idx { .. } | Ty::Int32 => {
                    let n = self.read((top, vi));
                    if v.ty == Ty::Int32 {
                        let x = self.leaf_nonlit();
                        E::method(x, "powi", vec![E::atom(n)])
                    } else {
                        self.int_as_float(&n)
                    }
                }
                Ty::Bool => {
                    let n = self.read((top, vi));
                    let (a, b) = (self.lit(), self.lit_str("-0.5"));
                    E::atom(format!(
                        "(if {n} {{ {} }} else {{ {} }})",
                        a.show(),
                        b.show()
                    ))
                }
                Ty::Cfg => {
                    let n = self.read((top, vi));
                    if self.mode == Mode::Concrete && self.elem == Elem::F64 {
                        E::atom(format!("{n}.k"))
                    } else {
                        self.int_as_float(&format!("{n}.n"))
                    }
                }
            };
            terms.push(t);
        }
        terms
    }
}

/// A parameter being generated.
struct Param {
    name: String,
    ty_text: String,
    kind: PKind,
    env: Ty,
}

/// Generates one case inside the subset.
pub fn generate(rng: &mut Rng) -> Case {
    let mode = match rng.weighted(&[72, 10, 8]) {
        0 => Mode::Concrete,
        1 => Mode::GenericPlain,
        _ => Mode::GenericBare,
    };
    let elem = if rng.chance(if mode == Mode::Concrete { 0.18 } else { 0.3 }) {
        Elem::F32
    } else {
        Elem::F64
    };
    let long = rng.chance(0.02);
    let slice_len = rng.range(3, 5);
    let const_n =
        if mode == Mode::Concrete && rng.chance(0.1) || mode != Mode::Concrete && rng.chance(0.3) {
            Some(rng.range(2, 4))
        } else {
            None
        };
    let mut g = Gen {
        rng,
        mode,
        elem,
        lines: Vec::new(),
        indent: 1,
        scopes: vec![Scope { vars: vec![] }],
        budget: if long { 150 } else { 4 },
        assign_ops: mode == Mode::Concrete,
        callee: None,
        bare_helpers: false,
        helpers_used: Default::default(),
        scale_const: false,
        cfg_struct: false,
        reserved: vec![],
        counter: 0,
        straight: long,
        in_closure: false,
        class_bits: vec![],
        typed: 0,
        params: vec![],
    };
    g.budget += g.rng.range(0, 8);
    if long {
        g.budget = g.rng.range(120, 420);
        g.bit("long");
    }
    let ty = g.ty();
    let fname = if g.rng.chance(0.75) {
        "f".to_string()
    } else {
        g.rng.pick(FN_NAMES).to_string()
    };
    g.reserved.push(fname.clone());
    g.bare_helpers = mode == Mode::Concrete && g.rng.chance(0.25);
    if mode == Mode::Concrete && g.rng.chance(0.15) {
        g.scale_const = true;
    }
    if mode == Mode::Concrete && elem == Elem::F64 && g.rng.chance(0.12) {
        g.cfg_struct = true;
    }

    // ---- parameters ----
    let odd_params = g.rng.chance(0.3);
    let n_float = g.rng.weighted(&[0, 30, 35, 20, 10, 5]);
    let mut params: Vec<Param> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let pick_name = |g: &mut Gen, names: &mut Vec<String>| -> String {
        for _ in 0..40 {
            let n = if odd_params && g.rng.chance(0.6) {
                *g.rng.pick(ODD)
            } else {
                *g.rng.pick(PLAIN)
            };
            let bad = names.iter().any(|m| m == n)
                || (g.bare_helpers && HELPER_NAMES.contains(&n))
                || n == "N"
                || (n == fname && !g.rng.chance(0.3));
            if !bad {
                names.push(n.to_string());
                return n.to_string();
            }
        }
        let n = format!("p{}", names.len());
        names.push(n.clone());
        n
    };
    for _ in 0..n_float {
        let name = pick_name(&mut g, &mut names);
        let k = g
            .rng
            .weighted(&[50, 12, 6, 12, 5, if const_n.is_some() { 10 } else { 0 }]);
        let (ty_text, kind, env) = match k {
            0 => (ty.to_string(), PKind::Scalar, Ty::Scalar),
            1 => {
                let n = g.rng.range(2, 4);
                (
                    format!("[{ty}; {n}]"),
                    PKind::Array(n),
                    Ty::Arr {
                        len: Len::Fixed(n),
                        is_ref: false,
                    },
                )
            }
            2 => {
                let n = g.rng.range(2, 4);
                (
                    format!("&[{ty}; {n}]"),
                    PKind::RefArray(n),
                    Ty::Arr {
                        len: Len::Fixed(n),
                        is_ref: true,
                    },
                )
            }
            3 => (
                format!("&[{ty}]"),
                PKind::Slice(slice_len),
                Ty::Arr {
                    len: Len::Slice,
                    is_ref: true,
                },
            ),
            4 => {
                let (r, c) = (g.rng.range(2, 3), g.rng.range(2, 3));
                (
                    format!("[[{ty}; {c}]; {r}]"),
                    PKind::Matrix(r, c),
                    Ty::Mat(r, c),
                )
            }
            _ => {
                let n = const_n.expect("const generic");
                (
                    format!("[{ty}; N]"),
                    PKind::Array(n),
                    Ty::Arr {
                        len: Len::Const,
                        is_ref: false,
                    },
                )
            }
        };
        params.push(Param {
            name,
            ty_text,
            kind,
            env,
        });
    }
    // A const generic length must be inferable from a parameter.
    if let Some(n) = const_n {
        if !params.iter().any(|p| {
            matches!(
                p.env,
                Ty::Arr {
                    len: Len::Const,
                    ..
                }
            )
        }) {
            let name = pick_name(&mut g, &mut names);
            params.push(Param {
                name,
                ty_text: format!("[{ty}; N]"),
                kind: PKind::Array(n),
                env: Ty::Arr {
                    len: Len::Const,
                    is_ref: false,
                },
            });
        }
    }
    // Integer, bool and struct parameters, used opaquely.
    let mut extra: Vec<Param> = Vec::new();
    if g.rng.chance(0.25) {
        let name = pick_name(&mut g, &mut names);
        let v = g.rng.range(1, 4);
        extra.push(Param {
            name,
            ty_text: "usize".into(),
            kind: PKind::Other(v.to_string()),
            env: Ty::Int,
        });
    }
    if g.rng.chance(0.1) {
        let name = pick_name(&mut g, &mut names);
        let v = g.rng.range(0, 3);
        extra.push(Param {
            name,
            ty_text: "i32".into(),
            kind: PKind::Other(v.to_string()),
            env: Ty::Int32,
        });
    }
    if g.rng.chance(0.08) {
        let name = pick_name(&mut g, &mut names);
        let v = g.rng.chance(0.5);
        extra.push(Param {
            name,
            ty_text: "bool".into(),
            kind: PKind::Other(v.to_string()),
            env: Ty::Bool,
        });
    }
    if g.cfg_struct && g.rng.chance(0.5) {
        let name = pick_name(&mut g, &mut names);
        extra.push(Param {
            name,
            ty_text: "&Cfg".into(),
            kind: PKind::Other("&m::Cfg { k: 0.75, n: 2 }".into()),
            env: Ty::Cfg,
        });
    }
    for p in extra {
        let at = g.rng.below(params.len() + 1);
        params.insert(at, p);
    }
    for p in &params {
        g.bind(&p.name, p.env.clone(), false);
        g.params.push(p.name.clone());
    }
    // Raw and Unicode names as parameters stay as they are in the body.
    if params
        .iter()
        .any(|p| p.name.starts_with("r#") || !p.name.is_ascii())
    {
        g.bit("exotic_names");
    }
    if odd_params {
        g.bit("odd_names");
    }

    // ---- wrt and hessian ----
    let floats: Vec<usize> = (0..params.len())
        .filter(|&i| params[i].kind.is_float())
        .collect();
    let mut wrt: Vec<usize> = floats.clone();
    let explicit_wrt = g.rng.chance(0.3);
    if explicit_wrt && floats.len() > 1 && g.rng.chance(0.7) {
        wrt.retain(|_| g.rng.chance(0.6));
        if wrt.is_empty() {
            wrt.push(floats[g.rng.below(floats.len())]);
        }
    }

    // ---- output shape ----
    let out_pick = g.rng.weighted(&[58, 10, 10, 15, 4]);
    let has_slice = params.iter().any(|p| {
        matches!(
            p.env,
            Ty::Arr {
                len: Len::Slice,
                ..
            }
        )
    });
    let out = match out_pick {
        1 => OutKind::Array,
        2 if has_slice => OutKind::Vec,
        3 => OutKind::Tuple(
            (0..g.rng.range(2, 3))
                .map(|_| match g.rng.below(5) {
                    0 => OutKind::Array,
                    1 if has_slice => OutKind::Vec,
                    _ => OutKind::Scalar,
                })
                .collect(),
        ),
        4 => OutKind::Matrix,
        _ => OutKind::Scalar,
    };
    let hessian_shape = out == OutKind::Scalar
        && (wrt.iter().all(|&i| params[i].kind == PKind::Scalar)
            || (wrt.len() == 1
                && matches!(
                    params[wrt[0]].kind,
                    PKind::Array(_) | PKind::RefArray(_) | PKind::Slice(_)
                )));
    let hessian = hessian_shape && g.rng.chance(0.35);

    // ---- a callee ----
    let mut prelude = String::new();
    let mut plain_prelude = String::new();
    let mut prelude_uses_attr = false;
    let bare_attr = g.rng.chance(0.7);
    if mode == Mode::Concrete && g.rng.chance(0.14) {
        let cname = g
            .rng
            .pick(&[
                "inner", "helper", "layer", "g", "cost", "step_fn", "value_of",
            ])
            .to_string();
        if cname != fname && !names.contains(&cname) {
            let fixed = params.iter().find_map(|p| match p.kind {
                PKind::Array(n)
                    if !matches!(
                        p.env,
                        Ty::Arr {
                            len: Len::Const,
                            ..
                        }
                    ) =>
                {
                    Some(n)
                }
                _ => None,
            });
            let kind = match (g.rng.below(4), fixed) {
                (1, Some(n)) => CalleeKind::ArrayToScalar(n),
                (2, Some(n)) => CalleeKind::ArrayToArray(n),
                (3, Some(n)) if !hessian => CalleeKind::GradOf(n),
                _ => CalleeKind::Scalars(g.rng.range(1, 2)),
            };
            let second = hessian || matches!(kind, CalleeKind::GradOf(_));
            let attr = if second {
                "#[differentiate(hessian)]"
            } else {
                "#[differentiate]"
            };
            let attr = if bare_attr {
                attr.to_string()
            } else {
                attr.replace("#[differentiate", "#[autodiff::differentiate")
            };
            prelude_uses_attr = bare_attr;
            let odd = g.rng.chance(0.3);
            let (a, b) = if odd {
                ("out_bar", "x_dot")
            } else {
                ("a", "b")
            };
            let body = match &kind {
                CalleeKind::Scalars(1) => format!("pub fn {cname}({a}: {ty}) -> {ty} {{\n    ({a} * 0.5).sin() + {a} * {a}\n}}\n"),
                CalleeKind::Scalars(_) => format!("pub fn {cname}({a}: {ty}, {b}: {ty}) -> {ty} {{\n    let t = {a} * {b};\n    t.sin() + ({a} - {b}).powi(2) * 0.5\n}}\n"),
                CalleeKind::ArrayToScalar(n) | CalleeKind::GradOf(n) => format!(
                    "#[allow(clippy::needless_range_loop)]\npub fn {cname}({a}: [{ty}; {n}]) -> {ty} {{\n    let mut s = 0.0;\n    for i in 0..{n} {{\n        s += ({a}[i] * 0.5).cos() * {a}[i];\n    }}\n    s\n}}\n"
                ),
                CalleeKind::ArrayToArray(n) => format!(
                    "#[allow(clippy::needless_range_loop)]\npub fn {cname}({a}: [{ty}; {n}]) -> [{ty}; {n}] {{\n    let mut y = [0.0; {n}];\n    for i in 0..{n} {{\n        y[i] = ({a}[i] * 0.5).tanh() + {a}[i] * 0.25;\n    }}\n    y\n}}\n"
                ),
            };
            prelude.push_str(&format!(
                "/// A differentiated function the case calls.\n{attr}\n{body}\n"
            ));
            // The plain copy has no attribute anywhere (so a macro bug in
            // the callee is not blamed on the generator); `g_grad` gets a
            // stand-in of the same signature.
            plain_prelude.push_str(&format!("/// The callee, plain.\n{body}\n"));
            if let CalleeKind::GradOf(n) = kind {
                plain_prelude.push_str(&format!(
                    "/// A stand-in for the generated gradient.\npub fn {cname}_grad(v: [{ty}; {n}]) -> [{ty}; {n}] {{\n    v\n}}\n\n"
                ));
            }
            g.reserved.push(cname.clone());
            g.reserved.push(format!("{cname}_grad"));
            g.callee = Some(Callee { name: cname, kind });
        }
    }
    let mut shared = String::new();
    if g.scale_const {
        shared.push_str(&format!(
            "/// A constant the body reads.\npub const SCALE: {ty} = 0.75;\n\n"
        ));
    }
    if g.cfg_struct {
        shared.push_str("/// Constant data.\npub struct Cfg {\n    /// A weight.\n    pub k: f64,\n    /// A count.\n    pub n: usize,\n}\n\n");
    }
    prelude.push_str(&shared);
    plain_prelude.push_str(&shared);

    // ---- the body ----
    let total = g.budget;
    let mut left = total;
    while left > 0 {
        left -= 1;
        g.budget = left.min(6);
        g.statement();
    }
    // Leftovers (unread bindings and parameters) feed the output.
    let mut terms = g.leftovers();
    let ty_s = g.ty();
    let main = g.scalar(2);
    let out_expr: String;
    let ret_ty: String;
    let combine = |g: &mut Gen, mut e: E, terms: &mut Vec<E>| -> E {
        for t in terms.drain(..) {
            let c = g.lit();
            e = E::bin(e, "+", E::bin(t, "*", c));
        }
        e
    };
    // Array outputs: their length.
    let arr_len = |g: &mut Gen| -> (String, Len) {
        if let Some(n) = const_n {
            if g.rng.chance(0.5) {
                return ("N".into(), Len::Const);
            }
            let _ = n;
        }
        let n = g.rng.range(2, 4);
        (n.to_string(), Len::Fixed(n))
    };
    match &out {
        OutKind::Scalar => {
            let e = combine(&mut g, main, &mut terms);
            out_expr = e.show();
            ret_ty = ty_s.to_string();
        }
        OutKind::Tuple(parts) => {
            let mut items = Vec::new();
            let mut tys = Vec::new();
            // A `Vec` part is bound after every other part is written: no
            // later part can read (a moved) it.
            let mut vecs = Vec::new();
            for (pi, part) in parts.iter().enumerate() {
                let base = if pi == 0 { main.clone() } else { g.scalar(2) };
                let e = if pi == 0 {
                    combine(&mut g, base, &mut terms)
                } else {
                    base
                };
                match part {
                    OutKind::Scalar => {
                        items.push(e.show());
                        tys.push(ty_s.to_string());
                    }
                    OutKind::Array => {
                        let n = g.rng.range(2, 3);
                        let mut el = vec![e.show()];
                        for _ in 1..n {
                            el.push(g.scalar(2).show());
                        }
                        items.push(format!("[{}]", el.join(", ")));
                        tys.push(format!("[{ty_s}; {n}]"));
                    }
                    _ => {
                        vecs.push((items.len(), e));
                        items.push(String::new());
                        tys.push(format!("Vec<{ty_s}>"));
                    }
                }
            }
            for (at, e) in vecs {
                items[at] = vec_output(&mut g, e).0;
            }
            out_expr = format!("({})", items.join(", "));
            ret_ty = format!("({})", tys.join(", "));
        }
        OutKind::Array => {
            let e = combine(&mut g, main, &mut terms);
            let (lt, len) = arr_len(&mut g);
            let name = g.fresh();
            let z = g.zero();
            g.emit(format!("let mut {name} = [{z}; {lt}];"));
            // `ix` is never generated elsewhere: `e` cannot name it.
            let i = "ix".to_string();
            g.scopes.push(Scope { vars: vec![] });
            g.bind(
                &i,
                Ty::Idx {
                    len: Some(len.clone()),
                    lo: 0,
                    hi: 0,
                },
                false,
            );
            let el = g.scalar(2);
            let iv = g.read((g.scopes.len() - 1, 0));
            let ie = g.int_as_float(&iv);
            g.scopes.pop();
            let rhs = E::bin(E::bin(el, "*", ie), "+", e);
            g.emit(format!("for {iv} in 0..{lt} {{"));
            g.emit(format!("    {name}[{iv}] = {};", rhs.show()));
            g.emit("}");
            out_expr = name;
            ret_ty = format!("[{ty_s}; {lt}]");
        }
        OutKind::Vec => {
            let e = combine(&mut g, main, &mut terms);
            let (name, _) = vec_output(&mut g, e);
            out_expr = name;
            ret_ty = format!("Vec<{ty_s}>");
        }
        OutKind::Matrix => {
            let e = combine(&mut g, main, &mut terms);
            let (r, c) = (g.rng.range(2, 3), g.rng.range(2, 3));
            let name = g.fresh();
            let z = g.zero();
            g.emit(format!("let mut {name} = [[{z}; {c}]; {r}];"));
            let (i, j) = ("i", "j");
            // The loop variables must not shadow the matrix itself.
            let shadow_ok = g.name_free(i) && g.name_free(j) && name != i && name != j;
            let (i, j) = if shadow_ok {
                (i.to_string(), j.to_string())
            } else {
                ("row".to_string(), "col".to_string())
            };
            let (fi, fj) = (g.int_as_float(&i), g.int_as_float(&j));
            let rhs = E::bin(E::bin(e, "*", fi), "+", fj);
            g.emit(format!("for {i} in 0..{r} {{"));
            g.emit(format!("    for {j} in 0..{c} {{"));
            g.emit(format!("        {name}[{i}][{j}] = {};", rhs.show()));
            g.emit("    }");
            g.emit("}");
            out_expr = name;
            ret_ty = format!("[[{ty_s}; {c}]; {r}]");
        }
    }
    g.emit(&out_expr);

    // ---- the signature and attribute ----
    let generics = match (mode, const_n) {
        (Mode::Concrete, None) => String::new(),
        (Mode::Concrete, Some(_)) => "<const N: usize>".into(),
        (_, None) => "<T: autodiff::Float>".into(),
        (_, Some(_)) => {
            if g.rng.chance(0.5) {
                "<T: autodiff::Float, const N: usize>".into()
            } else {
                "<T, const N: usize>".into()
            }
        }
    };
    let where_clause = if generics == "<T, const N: usize>" {
        "\nwhere\n    T: autodiff::Float,\n"
    } else {
        " "
    };
    let sig_params: Vec<String> = params
        .iter()
        .map(|p| format!("{}: {}", p.name, p.ty_text))
        .collect();
    let mut opts: Vec<String> = Vec::new();
    if explicit_wrt || wrt.len() != floats.len() {
        let mut w: Vec<String> = wrt.iter().map(|&i| params[i].name.clone()).collect();
        if g.rng.chance(0.2) {
            w.reverse();
        }
        opts.push(format!("wrt({})", w.join(", ")));
    }
    if hessian {
        opts.push("hessian".into());
    }
    let recipe_params: Vec<PRecipe> = params
        .iter()
        .enumerate()
        .map(|(i, p)| PRecipe {
            kind: p.kind.clone(),
            wrt: wrt.contains(&i),
        })
        .collect();
    let linearize = closures_apply(&recipe_params) && g.rng.chance(0.4);
    if linearize {
        opts.push("linearize".into());
    }
    if g.rng.chance(0.3) {
        opts.reverse();
    }
    let path = if bare_attr {
        "differentiate"
    } else {
        *g.rng
            .pick(&["autodiff::differentiate", "::autodiff::differentiate"])
    };
    let attr = if opts.is_empty() {
        format!("#[{path}]")
    } else {
        format!("#[{path}({})]", opts.join(", "))
    };
    let mut item = String::new();
    item.push_str("/// A generated function.\n");
    // needless_range_loop: index loops are the form the attribute reads;
    // too_many_arguments: random signatures; redundant_closure: a map's
    // closure may be a float method by path (`|t| f64::sin(t)`); eq_op:
    // random operands may be equal (`x - x`); if_same_then_else: random
    // branches may be equal (seed 20 case 989).
    item.push_str("#[allow(clippy::needless_range_loop, clippy::too_many_arguments, clippy::redundant_closure, clippy::eq_op, clippy::if_same_then_else)]\n");
    let body = g.lines.join("\n");
    item.push_str(&format!(
        "pub fn {fname}{generics}({}) -> {ret_ty}{where_clause}{{\n{body}\n}}\n",
        sig_params.join(", ")
    ));
    if g.bare_helpers {
        // Import exactly the helpers the final text calls bare.
        let list: Vec<&str> = HELPER_NAMES
            .iter()
            .copied()
            .chain(["log_softmax"])
            .filter(|h| calls_bare(&body, h))
            .collect();
        if !list.is_empty() {
            prelude = format!("use autodiff::{{{}}};\n\n{prelude}", list.join(", "));
            plain_prelude = format!("use autodiff::{{{}}};\n\n{plain_prelude}", list.join(", "));
        }
    }
    let mut class = String::from("ok");
    for b in [
        "int_ops",
        "int_counters",
        "zips",
        "sub_slices",
        "tuple_assign",
        "computed_index",
        "panics",
        "widens",
        "exchanges",
        "pushes",
        "in_place",
        "scratch_refills",
        "array_patterns",
        "matrix_rows",
        "long",
        "call",
        "helpers",
        "iterators",
        "loops",
        "local_arrays",
        "exotic_names",
        "odd_names",
    ] {
        if g.class_bits.contains(&b) {
            class = format!("ok_{b}");
            break;
        }
    }
    if mode != Mode::Concrete {
        class = format!(
            "ok_generic_{}",
            if mode == Mode::GenericBare {
                "bare"
            } else {
                "plain"
            }
        );
    } else if elem == Elem::F32 {
        class = format!("{class}_f32");
    }
    if hessian {
        class.push_str("+hessian");
    }
    let recipe = Recipe {
        func: fname.clone(),
        elem,
        params: recipe_params,
        out,
        hessian,
        linearize,
        nan_edges: g.class_bits.contains(&"edge"),
    };
    Case {
        seed: 0,
        index: 0,
        class,
        expect: Expect::Accept,
        prelude,
        attr,
        item,
        plain: mode != Mode::GenericBare,
        recipe: Some(recipe),
        import_attr: bare_attr,
        prelude_uses_attr,
        plain_prelude: Some(plain_prelude),
    }
}

/// `let mut out = vec![0.0; x.len()]` filled from a slice, plus `e`.
fn vec_output(g: &mut Gen, e: E) -> (String, Len) {
    let slices = g.find(|v| {
        matches!(
            &v.ty,
            Ty::Arr {
                len: Len::Slice,
                is_ref: true
            }
        )
    });
    let at = *g.rng.pick(&slices);
    let src = g.read(at);
    let name = g.fresh();
    let z = g.zero();
    if g.rng.chance(0.4) && g.mode == Mode::Concrete {
        let v = "el";
        let ev = E::bin(E::method(E::atom(v), "sin", vec![]), "*", e);
        let ty = g.ty();
        g.emit(format!(
            "let {name}: Vec<{ty}> = {src}.iter().map(|&{v}| {}).collect();",
            ev.show()
        ));
        bind_output(g, &name, false);
        return (name, Len::Slice);
    }
    g.emit(format!("let mut {name} = vec![{z}; {src}.len()];"));
    // Not the vector's own name (it is bound after the loop: seed 15 case
    // 2350 wrote `i[i] = ..`).
    let i = if g.name_free("i") && name != "i" {
        "i"
    } else {
        "ix"
    };
    let xi = E::atom(format!("{src}[{i}]"));
    let rhs = E::bin(E::bin(xi.clone(), "*", xi), "+", e);
    g.emit(format!("for {i} in 0..{src}.len() {{"));
    g.emit(format!("    {name}[{i}] = {};", rhs.show()));
    g.emit("}");
    bind_output(g, &name, true);
    (name, Len::Slice)
}

/// Binds an output `Vec` (read by the tail), so a second output takes
/// another name.
fn bind_output(g: &mut Gen, name: &str, mutable: bool) {
    g.bind(
        name,
        Ty::Arr {
            len: Len::Slice,
            is_ref: false,
        },
        mutable,
    );
    let top = g.scopes.len() - 1;
    let last = g.scopes[top].vars.len() - 1;
    g.scopes[top].vars[last].mutated = true;
    g.read((top, last));
}

/// Whether `text` calls `name(` not as a path tail or method.
fn calls_bare(text: &str, name: &str) -> bool {
    let pat = format!("{name}(");
    let mut from = 0;
    while let Some(i) = text[from..].find(&pat) {
        let at = from + i;
        let prev = text[..at].chars().next_back();
        if !prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '.') {
            return true;
        }
        from = at + pat.len();
    }
    false
}
