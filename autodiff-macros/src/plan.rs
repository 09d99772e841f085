//! The plan: every derivative program the companions need, each built from
//! the lowered function once and simplified once, with named outputs.
//!
//! Companions only choose which outputs of a program they return (the
//! emitter then drops what those do not need) and print it; they never
//! build a program of their own. Programs are built on first use.

use std::cell::OnceCell;

use syn::Ident;

use crate::diff::{forward::jvp, reverse::vjp, Seed};
use crate::ir::{Function, OutShape, Param};
use crate::signature::Signature;
use crate::simplify::simplify;

/// Where one result of a program sits in its flat outputs: the function's
/// value (one entry per flat output of the function) and, for a reverse
/// program, one adjoint per `wrt` parameter.
#[derive(Clone, Debug, Default)]
pub struct Parts {
    pub value: Vec<usize>,
    pub adjoints: Vec<usize>,
}

/// A derivative program and the names of its outputs: the primal result,
/// then its tangent along each direction of a forward transform.
pub struct Program {
    pub func: Function,
    pub primal: Parts,
    pub tangents: Vec<Parts>,
}

/// The names of the parameters companions add to the function's own.
#[derive(Clone)]
pub struct Names {
    /// The tangent of each `wrt` parameter: `x_dot`.
    pub dots: Vec<Ident>,
    /// The output's cotangent and its tangent.
    pub out_bar: Ident,
    pub out_bar_dot: Ident,
    /// The cotangent of the gradient (`_grad_vjp`).
    pub grad_bar: Ident,
}

impl Names {
    /// `x_dot` for each `wrt` parameter `x`, `out_bar`, `out_bar_dot`,
    /// `grad_bar`; each gets `_` appended until it differs from every
    /// parameter, every identifier of the body (a local the expansion
    /// emits under its own name would shadow it: seed 16 case 921's `let
    /// out_bar = Cfg { .. }`) and every other name here.
    pub fn new(sig: &Signature, body: &syn::Block) -> Names {
        let mut taken: Vec<String> = sig.params.iter().map(|p| p.ident.to_string()).collect();
        idents(quote::ToTokens::to_token_stream(body), &mut taken);
        let mut fresh = |base: String| {
            let mut name = base;
            while taken.contains(&name) {
                name.push('_');
            }
            taken.push(name.clone());
            quote::format_ident!("{}", name)
        };
        let dots = sig
            .wrt
            .iter()
            .map(|&i| fresh(format!("{}_dot", sig.params[i].ident)))
            .collect();
        Names {
            dots,
            out_bar: fresh("out_bar".into()),
            out_bar_dot: fresh("out_bar_dot".into()),
            grad_bar: fresh("grad_bar".into()),
        }
    }
}

/// Every identifier in `tokens`, into `out`.
pub fn idents(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
    for t in tokens {
        match t {
            proc_macro2::TokenTree::Ident(i) => out.push(i.to_string()),
            proc_macro2::TokenTree::Group(g) => idents(g.stream(), out),
            _ => {}
        }
    }
}

/// The derivative programs of one lowered function.
pub struct Plan<'a> {
    f: &'a Function,
    sig: &'a Signature,
    names: Names,
    primal: OnceCell<Program>,
    gradient: OnceCell<Program>,
    vjp: OnceCell<Program>,
    jvp: OnceCell<Program>,
    basis_jvp: OnceCell<Program>,
    hvp: OnceCell<Program>,
    vjp_jvp: OnceCell<Program>,
    hessian: OnceCell<Program>,
    rows: OnceCell<Program>,
}

impl<'a> Plan<'a> {
    pub fn new(f: &'a Function, sig: &'a Signature, names: Names) -> Plan<'a> {
        Plan {
            f,
            sig,
            names,
            primal: OnceCell::new(),
            gradient: OnceCell::new(),
            vjp: OnceCell::new(),
            jvp: OnceCell::new(),
            basis_jvp: OnceCell::new(),
            hvp: OnceCell::new(),
            vjp_jvp: OnceCell::new(),
            hessian: OnceCell::new(),
            rows: OnceCell::new(),
        }
    }

    /// The lowered function itself.
    pub fn function(&self) -> &Function {
        self.f
    }

    /// The function as a program: its value.
    pub fn primal(&self) -> &Program {
        self.primal.get_or_init(|| Program {
            func: self.f.clone(),
            primal: primal(self.f),
            tangents: vec![],
        })
    }

    /// Reverse mode seeded with 1: the value and the gradient.
    pub fn gradient(&self) -> &Program {
        self.gradient
            .get_or_init(|| reverse(self.f, self.sig, vec![], |_| Seed::One))
    }

    /// Reverse mode seeded with the parameter `out_bar`: the value and
    /// vᵀ·J.
    pub fn vjp(&self) -> &Program {
        self.vjp.get_or_init(|| {
            let index = self.f.params.len() as u32;
            let tuple = self.sig.out_shape != OutShape::Leaf;
            let out_bar = Param {
                name: self.names.out_bar.clone(),
                fields: self.sig.outs.iter().map(|(_, t)| *t).collect(),
                usize: false,
                tape: false,
            };
            reverse(self.f, self.sig, vec![out_bar], |k| Seed::Param {
                index,
                field: tuple.then_some(k as u32),
            })
        })
    }

    /// Forward mode along the `_dot` parameters: the value and J·v.
    pub fn jvp(&self) -> &Program {
        self.jvp
            .get_or_init(|| self.directional(self.f, &primal(self.f), &[]))
    }

    /// Forward mode along every direction of [`Plan::basis`]: the
    /// columns of the Jacobian.
    pub fn basis_jvp(&self) -> &Program {
        self.basis_jvp
            .get_or_init(|| self.basis_forward(self.f, &primal(self.f)))
    }

    /// The gradient program in forward mode along the `_dot` parameters:
    /// the gradient and H·v (forward over reverse).
    pub fn hvp(&self) -> &Program {
        self.hvp.get_or_init(|| {
            let g = self.gradient();
            self.directional(&g.func, &g.primal, &[])
        })
    }

    /// The vjp program in forward mode along the `_dot` parameters and
    /// `out_bar_dot`.
    pub fn vjp_jvp(&self) -> &Program {
        self.vjp_jvp.get_or_init(|| {
            let v = self.vjp();
            let out_bar = self.f.params.len();
            let seeded = [(out_bar, self.names.out_bar_dot.clone())];
            self.directional(&v.func, &v.primal, &seeded)
        })
    }

    /// The gradient program in forward mode along every direction of
    /// [`Plan::basis`]: the columns of the dense Hessian.
    pub fn hessian(&self) -> &Program {
        self.hessian.get_or_init(|| {
            let g = self.gradient();
            self.basis_forward(&g.func, &g.primal)
        })
    }

    /// Every row of the Jacobian in one program: the vjp program in
    /// forward mode along its cotangent, one direction per output element
    /// (`m` of them: the fields of a tuple of floats, or the elements of
    /// one array). The vjp is linear in its cotangent, so the tangent of
    /// its adjoints along basis direction `d` is row `d`; the primal and
    /// every partial are computed once, shared by all rows.
    pub fn jacobian_rows(&self, m: usize) -> &Program {
        self.rows.get_or_init(|| {
            let v = self.vjp();
            let out_bar = self.f.params.len() as u32;
            let seeds = |d: usize, index: u32, field: Option<u32>| match field {
                _ if index != out_bar => Seed::Zero,
                None => Seed::Basis(d as u32),
                Some(k) if k as usize == d => Seed::One,
                Some(_) => Seed::Zero,
            };
            forward(&v.func, &v.primal, vec![], m, &seeds)
        })
    }

    /// `base` in forward mode along new parameters appended to its own:
    /// the `_dot` of each `wrt` parameter, then one per `(parameter
    /// index, name)` of `more`; parameters without one have no tangent.
    fn directional(&self, base: &Function, parts: &Parts, more: &[(usize, Ident)]) -> Program {
        let mut seeded: Vec<(usize, Ident)> = self
            .sig
            .wrt
            .iter()
            .zip(&self.names.dots)
            .map(|(&i, name)| (i, name.clone()))
            .collect();
        seeded.extend(more.iter().cloned());
        let n = base.params.len() as u32;
        let extra = seeded
            .iter()
            .map(|(i, name)| Param {
                name: name.clone(),
                fields: base.params[*i].fields.clone(),
                usize: false,
                tape: false,
            })
            .collect();
        let seeds = |_d: usize, index: u32, field: Option<u32>| match seeded
            .iter()
            .position(|(i, _)| *i == index as usize)
        {
            Some(j) => Seed::Param {
                index: n + j as u32,
                field,
            },
            None => Seed::Zero,
        };
        forward(base, parts, extra, 1, &seeds)
    }

    /// The directions of [`basis`], when the function's calls can take
    /// them: a vector passed by reference has a tangent by reference,
    /// which a basis direction (a local array) is not.
    pub fn basis(&self) -> Option<Vec<Dir>> {
        let by_ref = self.sig.wrt.iter().any(|&i| {
            let p = &self.sig.params[i];
            p.ir_ty.is_array() && matches!(p.ty, syn::Type::Reference(_))
        });
        if by_ref && !self.f.graph.calls.is_empty() {
            return None;
        }
        basis(self.sig)
    }

    /// `base` in forward mode along every direction of [`Plan::basis`].
    fn basis_forward(&self, base: &Function, parts: &Parts) -> Program {
        let wrt = &self.sig.wrt;
        let dirs = self.basis().unwrap_or_default();
        let seeds = |d: usize, index: u32, _field: Option<u32>| match dirs[d] {
            Dir { wrt: w, .. } if wrt[w] != index as usize => Seed::Zero,
            Dir { elem: None, .. } => Seed::One,
            Dir { elem: Some(k), .. } => Seed::Basis(k),
        };
        forward(base, parts, vec![], dirs.len(), &seeds)
    }
}

/// The most basis directions (rows or columns) a Jacobian or a Hessian
/// computes in one program; beyond, it runs a jvp, vjp or hvp per
/// direction, so that the code stays a small multiple of the function's.
pub const ONE_SWEEP: usize = 16;

/// One direction of a basis: the `wrt` parameter at position `wrt` and,
/// for an array, its element `elem`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dir {
    pub wrt: usize,
    pub elem: Option<u32>,
}

/// The basis over every float of the `wrt` parameters, in order, when
/// each is a float or a vector of literal length (`[T; 3]`, `&[T; 3]`)
/// and, with vectors, there are at most [`ONE_SWEEP`] of them.
pub fn basis(sig: &Signature) -> Option<Vec<Dir>> {
    let mut dirs = Vec::new();
    for (w, &i) in sig.wrt.iter().enumerate() {
        let param = &sig.params[i];
        match param.ir_ty {
            crate::ir::Ty::Float(_) => dirs.push(Dir { wrt: w, elem: None }),
            crate::ir::Ty::Array(_, 1) => {
                let n = literal_len(&param.ty)?;
                dirs.extend((0..n as u32).map(|k| Dir {
                    wrt: w,
                    elem: Some(k),
                }));
            }
            _ => return None,
        }
    }
    // Scalars only: one direction each, as many as there are.
    (dirs.len() == sig.wrt.len() || dirs.len() <= ONE_SWEEP).then_some(dirs)
}

/// `N` of `[T; N]` or `&[T; N]` whose length is a literal.
pub fn literal_len(ty: &syn::Type) -> Option<usize> {
    match ty {
        syn::Type::Reference(r) => literal_len(&r.elem),
        syn::Type::Array(a) => match &a.len {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(n),
                ..
            }) => n.base10_parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// The outputs of `f` itself: its value.
fn primal(f: &Function) -> Parts {
    Parts {
        value: (0..f.outputs.len()).collect(),
        adjoints: vec![],
    }
}

/// `f` in reverse mode, output `k` seeded by `seed(k)`, simplified: the
/// value, then the adjoint of each `wrt` parameter.
fn reverse(
    f: &Function,
    sig: &Signature,
    extra: Vec<Param>,
    seed: impl Fn(usize) -> Seed,
) -> Program {
    let seeds: Vec<Seed> = (0..f.outputs.len()).map(seed).collect();
    let wrt: Vec<(u32, Option<u32>)> = sig.wrt.iter().map(|&i| (i as u32, None)).collect();
    let func = simplify(&vjp(f, extra, &seeds, &wrt));
    let m = f.outputs.len();
    Program {
        func,
        primal: Parts {
            value: (0..m).collect(),
            adjoints: (m..m + wrt.len()).collect(),
        },
        tangents: vec![],
    }
}

/// `base` (whose result `parts` names) in forward mode along `dirs`
/// directions, simplified: its outputs, then per direction the tangent of
/// each output.
fn forward(
    base: &Function,
    parts: &Parts,
    extra: Vec<Param>,
    dirs: usize,
    seeds: crate::diff::forward::Seeds,
) -> Program {
    let k = base.outputs.len();
    let func = simplify(&jvp(base, extra, dirs, seeds));
    let shifted = |d: usize| Parts {
        value: parts.value.iter().map(|j| k + d * k + j).collect(),
        adjoints: parts.adjoints.iter().map(|j| k + d * k + j).collect(),
    };
    Program {
        func,
        primal: parts.clone(),
        tangents: (0..dirs).map(shifted).collect(),
    }
}
