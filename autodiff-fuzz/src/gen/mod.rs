//! The generator: random Rust functions from a seed, inside the subset
//! `#[differentiate]` supports ([`supported`]) and outside it
//! ([`outside`]), each with what must happen to it ([`Expect`]) and, when
//! it can run, how to call its companions ([`Recipe`]).
//!
//! Every function is written as a user would, and compiles without the
//! attribute with no warning under `#![deny(warnings)]` and clippy's
//! default lints (the harness checks this on a copy of each case), so any
//! diagnostic on the attributed copy is the macro's.

mod expr;
pub mod outside;
pub mod supported;

use crate::rng::Rng;

/// What must happen to a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Inside the supported subset: compiles, lint-clean, right numbers.
    Accept,
    /// Outside it: a spanned error from the macro.
    Reject,
    /// A form the project is about to support (SPEC lists it, the guide
    /// does not yet): accepted, or a clean error from the macro.
    Either,
}

/// The element type a case computes in (a generic case is instantiated
/// at one of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    /// `f64`.
    F64,
    /// `f32`.
    F32,
}

impl Elem {
    /// The Rust type.
    pub fn ty(self) -> &'static str {
        match self {
            Elem::F64 => "f64",
            Elem::F32 => "f32",
        }
    }
}

/// How a parameter is passed, for the numeric check.
#[derive(Clone, Debug, PartialEq)]
pub enum PKind {
    /// `T`.
    Scalar,
    /// `[T; N]` (also a const-generic `[T; N]`, instantiated at this `N`).
    Array(usize),
    /// `&[T; N]`.
    RefArray(usize),
    /// `&[T]`, called with this length.
    Slice(usize),
    /// `[[T; C]; R]` as (R, C).
    Matrix(usize, usize),
    /// Anything else, passed as this expression (`m::` names the case's
    /// module); never differentiated.
    Other(String),
}

impl PKind {
    /// Whether the kind is a float kind (can be differentiated).
    pub fn is_float(&self) -> bool {
        !matches!(self, PKind::Other(_))
    }

    /// Number of floats in the parameter.
    pub fn size(&self) -> usize {
        match self {
            PKind::Scalar => 1,
            PKind::Array(n) | PKind::RefArray(n) | PKind::Slice(n) => *n,
            PKind::Matrix(r, c) => r * c,
            PKind::Other(_) => 0,
        }
    }
}

/// One parameter of a recipe.
#[derive(Clone, Debug)]
pub struct PRecipe {
    /// Its kind.
    pub kind: PKind,
    /// Whether it is differentiated.
    pub wrt: bool,
}

/// The shape of an output, for the numeric check.
#[derive(Clone, Debug, PartialEq)]
pub enum OutKind {
    /// `T`.
    Scalar,
    /// `[T; M]`.
    Array,
    /// `Vec<T>` (its cotangent is a `&[T]`).
    Vec,
    /// `[[T; C]; R]` (no Jacobian).
    Matrix,
    /// A tuple of the above.
    Tuple(Vec<OutKind>),
}

/// How to call a case's companions.
#[derive(Clone, Debug)]
pub struct Recipe {
    /// The function's name as written (`r#` kept).
    pub func: String,
    /// The element type of the call.
    pub elem: Elem,
    /// The parameters in order.
    pub params: Vec<PRecipe>,
    /// The output.
    pub out: OutKind,
    /// Whether the second-order companions exist.
    pub hessian: bool,
    /// Whether the attribute has `linearize` (`f_linearize`, `f_pullback`).
    pub linearize: bool,
    /// The body applies `ln`, `sqrt`, `log2`, ... to a parameter as it is
    /// (the generator's edge cases): a NaN value there, hidden from the
    /// output by `min`/`max`, has a NaN partial SPEC §6 allows, so a NaN
    /// derivative is not a failure.
    pub nan_edges: bool,
}

impl Recipe {
    /// Whether `f_grad` exists (a scalar output).
    pub fn scalar_out(&self) -> bool {
        self.out == OutKind::Scalar
    }

    /// Whether `f_linearize` and `f_pullback` exist (see
    /// [`closures_apply`]).
    pub fn has_closures(&self) -> bool {
        self.linearize && closures_apply(&self.params)
    }

    /// Whether `f_jacobian` exists (no matrix output).
    pub fn has_jacobian(&self) -> bool {
        fn ok(o: &OutKind) -> bool {
            match o {
                OutKind::Matrix => false,
                OutKind::Tuple(v) => v.iter().all(ok),
                _ => true,
            }
        }
        ok(&self.out)
    }
}

/// One generated case.
#[derive(Clone, Debug)]
pub struct Case {
    /// The seed it was generated from.
    pub seed: u64,
    /// Its index in the seed's stream.
    pub index: usize,
    /// The class (for per-class counts).
    pub class: String,
    /// What must happen to it.
    pub expect: Expect,
    /// Items before the function: `use`s, helpers, structs, constants.
    pub prelude: String,
    /// The attribute line(s) on the function under test.
    pub attr: String,
    /// The function under test, without its attribute.
    pub item: String,
    /// Whether the case without `attr` is plain Rust (false where the
    /// attribute itself makes it compile: generic bodies with bare float
    /// literals).
    pub plain: bool,
    /// How to call its companions, when it can run.
    pub recipe: Option<Recipe>,
    /// The attribute is written bare (`#[differentiate]`), so the module
    /// imports it.
    pub import_attr: bool,
    /// The prelude uses the bare attribute too (keeps the import in the
    /// plain copy).
    pub prelude_uses_attr: bool,
    /// The prelude of the plain copy, when it differs (no attribute on
    /// callees).
    pub plain_prelude: Option<String>,
}

impl Case {
    /// The module source: with the attribute, or the plain copy.
    pub fn source(&self, with_attr: bool) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "//! Case {} of seed {} ({}, expect {:?}).\n\n",
            self.index, self.seed, self.class, self.expect
        ));
        let plain_prelude = self.plain_prelude.as_ref().filter(|_| !with_attr);
        if (with_attr && self.import_attr) || (self.prelude_uses_attr && plain_prelude.is_none()) {
            s.push_str("use autodiff::differentiate;\n\n");
        }
        s.push_str(plain_prelude.unwrap_or(&self.prelude));
        if with_attr {
            s.push_str(&self.attr);
            if !self.attr.is_empty() && !self.attr.ends_with('\n') {
                s.push('\n');
            }
        }
        s.push_str(&self.item);
        if !s.ends_with('\n') {
            s.push('\n');
        }
        s
    }

    /// The module name in a batch crate (`c0042`).
    pub fn module(&self) -> String {
        format!("c{:05}", self.index)
    }
}

/// Case `index` of `seed`: about two thirds inside the subset, the rest
/// outside it.
pub fn generate(seed: u64, index: usize) -> Case {
    let mut rng = Rng::fork(seed, index as u64);
    let mut case = if rng.chance(0.68) {
        supported::generate(&mut rng)
    } else {
        outside::generate(&mut rng)
    };
    case.seed = seed;
    case.index = index;
    case
}

/// Whether `linearize` applies to parameters like these: none of a type
/// the generator names itself (a struct, a view), over which the
/// attribute makes no closures.
pub fn closures_apply(params: &[PRecipe]) -> bool {
    params.iter().all(|p| match &p.kind {
        PKind::Other(e) => !e.contains("m::") && !e.contains('&'),
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_varied() {
        let a = generate(11, 3);
        let b = generate(11, 3);
        assert_eq!(a.source(true), b.source(true));
        let classes: std::collections::BTreeSet<String> =
            (0..300).map(|i| generate(5, i).class).collect();
        assert!(classes.len() > 20, "{classes:?}");
    }
}
