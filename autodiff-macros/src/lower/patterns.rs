//! `match` and `if let` (SPEC §5), read as the `if`/`else` chains they
//! are: each arm's pattern a condition (`matches!`), the names it binds
//! taken out of the scrutinee before its body.
//!
//! A scrutinee that does not depend on a differentiated value may be
//! anything (integers, enums, options of data): patterns test it as
//! written. A differentiated float is matched by `name` and `_` arms with
//! guards (`v if v < 0.0 => ..`), which are conditions like any other.

use proc_macro2::{Group, TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{parse_quote_spanned, Expr, Ident, Pat};

use super::{pure, Lower, Val};

impl Lower<'_> {
    /// `match scrutinee { arms }`.
    pub(super) fn match_expr(&mut self, e: &Expr, m: &syn::ExprMatch) -> Val {
        let Some(last) = m.arms.len().checked_sub(1) else {
            return self.error(e, "#[differentiate] cannot read a `match` without arms");
        };
        let active = self.mentions_active(&m.expr);
        let span = m.match_token.span;
        // The scrutinee, read where each arm reads it: as written if that
        // is free of effects (and data, so that patterns test it in place),
        // else bound once.
        let (bind, scrutinee): (Option<syn::Stmt>, Expr) = if pure(&m.expr) && !active {
            (None, (*m.expr).clone())
        } else {
            let name = self.gen.id("scrutinee", span);
            let value = &m.expr;
            (
                Some(parse_quote_spanned!(span=> let #name = #value;)),
                parse_quote_spanned!(span=> #name),
            )
        };
        if active {
            for arm in &m.arms {
                if let Err(v) = self.pattern_test(&arm.pat, &scrutinee) {
                    return v;
                }
            }
        }
        let mut chain: Option<Expr> = None;
        for (k, arm) in m.arms.iter().enumerate().rev() {
            let body = &arm.body;
            let lets = match self.bindings(&arm.pat, &scrutinee, active) {
                Ok(lets) => lets,
                Err(v) => return v,
            };
            let arm_span = arm.pat.span();
            let taken: Expr = parse_quote_spanned!(arm_span=> { #(#lets)* #body });
            chain = Some(match (k == last, chain) {
                // An exhaustive `match`: the last arm is what remains.
                (true, _) | (_, None) => taken,
                (false, Some(rest)) => {
                    let cond = match self.arm_condition(arm, &scrutinee, active, &lets) {
                        Ok(c) => c,
                        Err(v) => return v,
                    };
                    parse_quote_spanned!(arm_span=> if #cond #taken else { #rest })
                }
            });
        }
        let chain = chain.unwrap_or_else(|| parse_quote_spanned!(span=> ()));
        let block: Expr = parse_quote_spanned!(span=> { #bind #chain });
        self.expr(&block)
    }

    /// `if let pattern = scrutinee { .. } else { .. }`.
    pub(super) fn if_let(&mut self, i: &syn::ExprIf, l: &syn::ExprLet) -> Val {
        if self.mentions_active(&l.expr) {
            return self.error(
                l,
                "`if let` on a differentiated value: test it with a boolean condition (`if x > 0.0`)",
            );
        }
        let span = l.let_token.span;
        let (pat, scrutinee) = (&*l.pat, &*l.expr);
        let lets = match self.bindings(pat, scrutinee, false) {
            Ok(lets) => lets,
            Err(v) => return v,
        };
        let (own, _) = self.renamed(pat);
        let then = &i.then_branch;
        let els = match &i.else_branch {
            Some((_, e)) => (**e).clone(),
            None => parse_quote_spanned!(span=> {}),
        };
        let chain: Expr = parse_quote_spanned!(span=>
            if ::core::matches!(#scrutinee, #own) { #(#lets)* #then } else #els
        );
        self.expr(&chain)
    }

    /// The condition under which `arm` is taken.
    fn arm_condition(
        &mut self,
        arm: &syn::Arm,
        scrutinee: &Expr,
        active: bool,
        lets: &[syn::Stmt],
    ) -> Result<Expr, Val> {
        let span = arm.pat.span();
        let guard = arm.guard.as_ref().map(|(_, g)| g);
        if active {
            // Literal and range patterns are comparisons; `name` and `_`
            // match anything; a guard comes after the binding.
            let test = self.pattern_test(&arm.pat, scrutinee)?;
            return Ok(match (test, guard) {
                (Some(t), Some(g)) => parse_quote_spanned!(span=> (#t) && { #(#lets)* #g }),
                (Some(t), None) => t,
                (None, Some(g)) => parse_quote_spanned!(span=> { #(#lets)* #g }),
                (None, None) => parse_quote_spanned!(span=> true),
            });
        }
        let (pat, renamed) = self.renamed(&arm.pat);
        Ok(match guard {
            Some(g) => {
                let g = rename_tokens(g.to_token_stream(), &renamed);
                parse_quote_spanned!(span=> ::core::matches!(#scrutinee, #pat if #g))
            }
            None => parse_quote_spanned!(span=> ::core::matches!(#scrutinee, #pat)),
        })
    }

    /// The comparison a pattern on a differentiated value (a float, or a
    /// `bool` or integer computed from one) stands for; `None` if it
    /// matches anything.
    fn pattern_test(&mut self, pat: &Pat, scrutinee: &Expr) -> Result<Option<Expr>, Val> {
        let span = pat.span();
        Ok(Some(match pat {
            Pat::Wild(_) => return Ok(None),
            Pat::Ident(p) if p.subpat.is_none() && p.by_ref.is_none() => return Ok(None),
            Pat::Paren(p) => return self.pattern_test(&p.pat, scrutinee),
            Pat::Lit(l) => parse_quote_spanned!(span=> #scrutinee == #l),
            Pat::Range(r) => {
                let low = r.start.as_ref().map(|a| -> Expr { parse_quote_spanned!(span=> #scrutinee >= #a) });
                let high = r.end.as_ref().map(|b| -> Expr {
                    match r.limits {
                        syn::RangeLimits::Closed(_) => parse_quote_spanned!(span=> #scrutinee <= #b),
                        syn::RangeLimits::HalfOpen(_) => parse_quote_spanned!(span=> #scrutinee < #b),
                    }
                });
                match (low, high) {
                    (Some(a), Some(b)) => parse_quote_spanned!(span=> #a && #b),
                    (Some(t), None) | (None, Some(t)) => t,
                    (None, None) => return Ok(None),
                }
            }
            Pat::Or(o) => {
                let mut tests = Vec::new();
                for case in &o.cases {
                    match self.pattern_test(case, scrutinee)? {
                        Some(t) => tests.push(t),
                        None => return Ok(None),
                    }
                }
                parse_quote_spanned!(span=> #(#tests)||*)
            }
            _ => return Err(self.error(pat, "a `match` on a differentiated value reads literal, range, `name` and `_` patterns, with guards (`v if v < 0.0 => ..`); test the value with `if`/`else` instead"))
        }))
    }

    /// `let name = ..;` for each name `pat` binds, taken out of the
    /// scrutinee: a copy (`Clone`) of data, the value itself for a
    /// differentiated float.
    fn bindings(
        &mut self,
        pat: &Pat,
        scrutinee: &Expr,
        active: bool,
    ) -> Result<Vec<syn::Stmt>, Val> {
        let span = pat.span();
        if active {
            return match pat {
                Pat::Wild(_) => Ok(Vec::new()),
                Pat::Ident(p) if p.subpat.is_none() && p.by_ref.is_none() => {
                    let name = &p.ident;
                    Ok(vec![parse_quote_spanned!(span=> let #name = #scrutinee;)])
                }
                // Literals and ranges bind nothing (and are checked by
                // `pattern_test`).
                _ => Ok(Vec::new()),
            };
        }
        // The pattern binds names of its own, so that the value taken out
        // reads nothing of the body's bindings of the same names.
        let (own, renamed) = self.renamed(pat);
        Ok(renamed
            .iter()
            .map(|(name, inner)| -> syn::Stmt {
                parse_quote_spanned!(span=>
                    let #name = match &(#scrutinee) {
                        #own => ::core::clone::Clone::clone(#inner),
                        #[allow(unreachable_patterns)]
                        _ => ::core::unreachable!(),
                    };
                )
            })
            .collect())
    }

    /// `pat` with each name it binds renamed to a generated one, and the
    /// pairs (name, generated name).
    fn renamed(&self, pat: &Pat) -> (Pat, Vec<(Ident, Ident)>) {
        struct Rename<'g>(&'g crate::desugar::Gen, Vec<(Ident, Ident)>);
        impl VisitMut for Rename<'_> {
            fn visit_pat_ident_mut(&mut self, p: &mut syn::PatIdent) {
                let inner = self.0.id(&format!("bound_{}", p.ident), p.ident.span());
                if !self.1.iter().any(|(n, _)| *n == p.ident) {
                    self.1.push((p.ident.clone(), inner.clone()));
                }
                p.ident = inner;
                syn::visit_mut::visit_pat_ident_mut(self, p);
            }
            fn visit_field_pat_mut(&mut self, f: &mut syn::FieldPat) {
                // A shorthand field (`Quantile { tau }`) keeps its field's
                // name: `Quantile { tau: <new name> }`.
                if f.colon_token.is_none() {
                    f.colon_token = Some(Default::default());
                }
                syn::visit_mut::visit_field_pat_mut(self, f);
            }
        }
        let mut pat = pat.clone();
        let mut r = Rename(&self.gen, Vec::new());
        r.visit_pat_mut(&mut pat);
        (pat, r.1)
    }
}

/// `tokens` with each name of `renamed` replaced by its new name.
fn rename_tokens(tokens: TokenStream, renamed: &[(Ident, Ident)]) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Ident(i) => match renamed.iter().find(|(n, _)| *n == i) {
                Some((_, new)) => TokenTree::Ident(new.clone()),
                None => TokenTree::Ident(i),
            },
            TokenTree::Group(g) => {
                let mut new = Group::new(g.delimiter(), rename_tokens(g.stream(), renamed));
                new.set_span(g.span());
                TokenTree::Group(new)
            }
            other => other,
        })
        .collect()
}
