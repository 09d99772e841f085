//! `f_linearize(x, ..) -> (Out, impl Fn(x_dot, ..) -> Out)` and
//! `f_pullback(x, ..) -> (Out, impl Fn(out_bar) -> G)`: the value once,
//! then a closure giving J·v (JAX's `jax.linearize`) or vᵀ·J (the function
//! `jax.vjp` returns) for any number of vectors, without running the
//! primal again. Each is its program [split](crate::split) where the seeds
//! enter: the closure captures the values of the first part it reads.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::{Lifetime, Type};

use super::Companions;
use crate::emit::Tree;
use crate::plan::Parts;
use crate::split::{split, Layout, Split};

/// Why `linearize` cannot apply (a method, a struct, `&mut`, a matrix).
pub const LINEARIZE_NEEDS: &str = "`linearize` makes closures over the function's parameters, which needs a free function whose parameters are floats, arrays, slices, `Vec`s or references to them (no method, struct, `&mut` or matrix type): remove `linearize`, or call `_jvp`/`_vjp` for each vector";

impl Companions<'_> {
    /// `f_linearize` and `f_pullback` (the `linearize` option), or the
    /// error, at the keyword, that says why they cannot be made.
    pub(super) fn closures(&self, key: &syn::Ident) -> TokenStream {
        if self.capturing().is_some() {
            let mut out = self.linearize();
            out.extend(self.pullback());
            return out;
        }
        if self.plan.is_none() {
            return TokenStream::new();
        }
        syn::Error::new(key.span(), LINEARIZE_NEEDS).to_compile_error()
    }

    /// `f_linearize`: the jvp program cut at the tangents. A loop that
    /// carries tangents beside the primal runs again in the closure (its
    /// primal values are not kept); everything before and after it is
    /// computed once.
    pub(super) fn linearize(&self) -> TokenStream {
        let Some((plan, params, generics, bound)) = self.capturing() else {
            return TokenStream::new();
        };
        let j = plan.jvp();
        let n = plan.function().params.len();
        let seeds: Vec<usize> = (n..n + self.sig.wrt.len()).collect();
        let tangent = j.tangents[0].value.clone();
        let Split {
            outer,
            inner,
            layout,
        } = split(&j.func, &seeds, &j.primal.value, &tangent).unwrap_or_else(|| {
            let mut inner = j.func.clone();
            inner.outputs = tangent.iter().map(|&k| j.func.outputs[k]).collect();
            Split {
                outer: plan.primal().func.clone(),
                inner,
                layout: Layout::default(),
            }
        });
        let out = &self.sig.out_ty;
        let dots = self.dot_params();
        let prologue = self.dot_prologue("linearize");
        let tangent = self.emit("linearize", inner, &self.out_tree(&flat(tangent.len())));
        let closure = quote!(move |#(#dots),*| -> #out { #prologue #tangent });
        let dot_tys = self.dot_types();
        let body = self.capture("linearize", outer, &layout, closure);
        self.item_with(
            "linearize",
            "The value, and a closure giving the Jacobian-vector product J·v for any tangents (JAX's `linearize`)",
            params,
            generics,
            quote!((#out, impl ::core::ops::Fn(#(#dot_tys),*) -> #out #bound)),
            body,
        )
    }

    /// `f_pullback`: the vjp program cut at the cotangent; the closure
    /// runs the reverse sweep only, reading the forward sweep's values
    /// and tapes.
    pub(super) fn pullback(&self) -> TokenStream {
        let Some((plan, params, generics, bound)) = self.capturing() else {
            return TokenStream::new();
        };
        let v = plan.vjp();
        let n = plan.function().params.len();
        let Some(Split {
            outer,
            inner,
            layout,
        }) = split(&v.func, &[n], &v.primal.value, &v.primal.adjoints)
        else {
            return TokenStream::new();
        };
        let out = &self.sig.out_ty;
        let g = self.grad_ty();
        let (out_bar, cot) = (&self.names.out_bar, self.cotangent_ty());
        let adjoints = Parts {
            value: Vec::new(),
            adjoints: (0..v.primal.adjoints.len()).collect(),
        };
        let reverse = self.emit("pullback", inner, &self.grad_tree(&adjoints));
        let closure = quote!(move |#out_bar: #cot| -> #g { #reverse });
        let body = self.capture("pullback", outer, &layout, closure);
        self.item_with(
            "pullback",
            "The value, and a closure giving the vector-Jacobian product vᵀ·J for any cotangent (the function `jax.vjp` returns)",
            params,
            generics,
            quote!((#out, impl ::core::ops::Fn(#cot) -> #g #bound)),
            body,
        )
    }

    /// `let (c0, .., value, .., cn) = { first part }; (value, closure)`:
    /// the captured floats, the value, then the captured values of unseen
    /// types and arrays (a float or the value may read a field or a length
    /// inline, before the tuple moves them); a captured array that is the
    /// value itself is a copy of it.
    fn capture(
        &self,
        suffix: &str,
        outer: crate::ir::Function,
        s: &Layout,
        closure: TokenStream,
    ) -> TokenStream {
        let nv = self.sig.out_shape.len();
        let value = crate::context::local("value");
        let floats = s.returned.len() - s.moved;
        let leaf = |t: usize| Tree::Leaf(nv + t);
        let mut items: Vec<Tree> = (0..floats).map(leaf).collect();
        items.push(self.out_tree(&flat(nv)));
        items.extend((floats..s.returned.len()).map(leaf));
        let first = self.emit(suffix, outer, &Tree::Tuple(items));
        let name = |t: &usize| &s.names[*t];
        let (before, after) = s.returned.split_at(floats);
        let (before, after) = (before.iter().map(name), after.iter().map(name));
        let copies = s.aliases.iter().map(|&(j, k)| {
            let c = &s.names[j];
            let part = match self.sig.out_shape {
                crate::ir::OutShape::Leaf => quote!(#value),
                _ => {
                    let k = syn::Index::from(k);
                    quote!(#value.#k)
                }
            };
            quote!(let #c = ::core::clone::Clone::clone(&#part);)
        });
        quote!({
            let (#(#before,)* #value, #(#after,)*) = { #first };
            #(#copies)*
            (#value, #closure)
        })
    }

    /// The tangent parameters' types, for the closure's `Fn` bound.
    fn dot_types(&self) -> Vec<TokenStream> {
        self.sig
            .wrt
            .iter()
            .map(|&i| {
                let ty = &self.sig.params[i].ty;
                match crate::signature::vec_elem(ty) {
                    Some(elem) => quote!(&[#elem]),
                    None => ty.to_token_stream(),
                }
            })
            .collect()
    }

    /// What a companion returning a closure needs: the plan, and the
    /// parameters and generics with one lifetime on every reference (the
    /// closure may capture them), with the bound naming it. `None` where
    /// the closure's captures could not be named: a method, a parameter
    /// whose type holds a lifetime or a `&mut`, the hidden function of a
    /// struct or matrix wrapper, or a stub.
    #[allow(clippy::type_complexity)]
    fn capturing(
        &self,
    ) -> Option<(
        &crate::plan::Plan<'_>,
        Vec<TokenStream>,
        syn::Generics,
        TokenStream,
    )> {
        let plan = self.plan.as_ref()?;
        let hidden = self.item.attrs.iter().any(|a| {
            a.path().is_ident("doc") && a.to_token_stream().to_string().contains("hidden")
        });
        if hidden || self.item.sig.receiver().is_some() || self.marker.is_some() {
            return None;
        }
        let life = Lifetime::new("'__autodiff", Span::call_site());
        let mut params = Vec::new();
        let mut any_ref = false;
        for p in &self.sig.params {
            let id = &p.ident;
            let ty = match &p.ty {
                Type::Reference(r) if r.mutability.is_none() && r.lifetime.is_none() => {
                    if borrows(&r.elem) {
                        return None;
                    }
                    any_ref = true;
                    let elem = &r.elem;
                    quote!(&#life #elem)
                }
                other if borrows(other) => return None,
                other => other.to_token_stream(),
            };
            params.push(quote!(#id: #ty));
        }
        if params.len() != self.item.sig.inputs.len() {
            return None;
        }
        let mut generics = self.item.sig.generics.clone();
        if !any_ref {
            return Some((plan, params, generics, TokenStream::new()));
        }
        generics.params.insert(
            0,
            syn::GenericParam::Lifetime(syn::LifetimeParam::new(life.clone())),
        );
        let tys: Vec<syn::Ident> = generics.type_params().map(|t| t.ident.clone()).collect();
        let clause = generics.make_where_clause();
        for t in tys {
            clause.predicates.push(syn::parse_quote!(#t: #life));
        }
        Some((plan, params, generics, quote!(+ #life)))
    }
}

/// Parts naming the first `n` outputs as the value.
fn flat(n: usize) -> Parts {
    Parts {
        value: (0..n).collect(),
        adjoints: Vec::new(),
    }
}

/// Does `ty` hold a reference or a lifetime (which the closure could
/// capture without a name for it)?
fn borrows(ty: &Type) -> bool {
    fn walk(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Punct(p) => p.as_char() == '&' || p.as_char() == '\'',
            proc_macro2::TokenTree::Group(g) => walk(g.stream()),
            proc_macro2::TokenTree::Ident(i) => i.to_string().contains("View"),
            _ => false,
        })
    }
    walk(ty.to_token_stream())
}
