//! The transforms as the expansion calls them, and the properties, on any
//! kind of case (a [`Point`]).

use num_dual::Dual64;
use proptest::prelude::*;

use super::point::{exec, values, Point};
use super::{bump, ident, Stats, DUAL_ATOL, DUAL_RTOL, FD_ATOL, FD_RTOL, SIMP_ATOL, SIMP_RTOL};
use crate::diff::forward::jvp;
use crate::diff::reverse::vjp;
use crate::diff::Seed;
use crate::interp::{self, Val};
use crate::ir::{Function, Param};
use crate::simplify::gather::gather;
use crate::simplify::{finish, simplify};

// ---------------------------------------------------------------------------
// The transforms as the expansion calls them.

/// `jvp` with one direction whose tangents are params `n..2n` (of the
/// params' own types: an array's tangent is an array).
fn jvp_dir(f: &Function) -> Function {
    let n = f.params.len() as u32;
    let extra = f
        .params
        .iter()
        .map(|p| Param {
            usize: false,
            tape: false,
            name: ident(&format!("{}_dot", p.name)),
            fields: p.fields.clone(),
        })
        .collect();
    jvp(f, extra, 1, &|_, index, _| Seed::Param {
        index: n + index,
        field: None,
    })
}

/// `jvp` with one basis direction per param (the Jacobian companion). An
/// array param's `Seed::One` is no seed: its column is zero.
fn jvp_basis(f: &Function) -> Function {
    let n = f.params.len();
    jvp(f, vec![], n, &|d, index, _| {
        if d == index as usize {
            Seed::One
        } else {
            Seed::Zero
        }
    })
}

/// `vjp` with the cotangent as param `n` of the outputs' types (a tuple
/// for several outputs), as the expansion's `vjp()` builds it.
pub(super) fn vjp_bar(f: &Function) -> Function {
    let n = f.params.len() as u32;
    let m = f.outputs.len();
    let tuple = m > 1;
    let seeds: Vec<Seed> = (0..m)
        .map(|k| Seed::Param {
            index: n,
            field: tuple.then_some(k as u32),
        })
        .collect();
    let wrt: Vec<(u32, Option<u32>)> = (0..n).map(|i| (i, None)).collect();
    let out_bar = Param {
        usize: false,
        tape: false,
        name: ident("out_bar"),
        fields: f.outputs.iter().map(|&o| f.graph.ty(o)).collect(),
    };
    vjp(f, vec![out_bar], &seeds, &wrt)
}

/// `vjp` with every output seeded by 1 (the gradient companion; an array
/// output's `Seed::One` is no seed).
fn vjp_ones(f: &Function) -> Function {
    let n = f.params.len() as u32;
    let seeds = vec![Seed::One; f.outputs.len()];
    let wrt: Vec<(u32, Option<u32>)> = (0..n).map(|i| (i, None)).collect();
    vjp(f, vec![], &seeds, &wrt)
}

// ---------------------------------------------------------------------------
// The properties, on any kind of case.

fn close(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    (a - b).abs() <= atol + rtol * a.abs().max(b.abs())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// jvp along `v` (tangents as params) = J v, by dual numbers and by finite
/// differences; the Jacobian companion (basis seeds) = the dual Jacobian
/// (its columns of array params are zero: `Seed::One` seeds no array);
/// the primal outputs are the original's.
pub(super) fn jvp_property(p: &Point, stats: &Stats) -> Result<(), TestCaseError> {
    let m = p.m();
    let jf = jvp_dir(&p.f);
    let mut params = p.args(&p.x);
    params.extend(p.args(&p.v));
    let out = exec(&jf, &params, "jvp")?;
    prop_assert_eq!(&out[..m], &p.y[..], "jvp primal outputs differ");
    let tan = &out[m..];
    prop_assert_eq!(tan.len(), m);
    for k in 0..m {
        prop_assert!(
            close(tan[k], p.jv[k], DUAL_RTOL, DUAL_ATOL),
            "output {k}: jvp {} vs dual {}\njvp program:\n{jf}",
            tan[k],
            p.jv[k]
        );
    }
    if let Some(fd) = &p.fd {
        bump(&stats.fd_checked);
        for k in 0..m {
            prop_assert!(
                close(tan[k], fd[k], FD_RTOL, FD_ATOL),
                "output {k}: jvp {} vs finite differences {}",
                tan[k],
                fd[k]
            );
        }
    }
    let jb = jvp_basis(&p.f);
    let out = exec(&jb, &p.args(&p.x), "jacobian")?;
    prop_assert_eq!(&out[..m], &p.y[..], "jacobian primal outputs differ");
    prop_assert_eq!(out.len(), m + p.ins.len() * m);
    for (d, input) in p.scalar_inputs().into_iter().enumerate() {
        for k in 0..m {
            let got = out[m + d * m + k];
            let want = input.map_or(0.0, |i| p.jac[k][i]);
            prop_assert!(
                close(got, want, DUAL_RTOL, DUAL_ATOL),
                "d output {k} / d param {d}: jacobian {got} vs dual {want}\njacobian program:\n{jb}"
            );
        }
    }
    Ok(())
}

/// vjp with a random cotangent `w` = Jᵀ w by the dual Jacobian;
/// `<w, J v>` by finite differences = `<vjp(w), v>`; and jvp/vjp agree:
/// `<w, jvp(v)> = <vjp(w), v>`. The gradient companion (all seeds 1) is
/// the sum of the Jacobian's rows of the scalar outputs (`Seed::One` seeds
/// no array).
pub(super) fn vjp_property(p: &Point, stats: &Stats) -> Result<(), TestCaseError> {
    let (n, m) = (p.n(), p.m());
    let vf = vjp_bar(&p.f);
    let mut params = p.args(&p.x);
    params.push(p.bar());
    let out = exec(&vf, &params, "vjp")?;
    prop_assert_eq!(&out[..m], &p.y[..], "vjp primal outputs differ");
    let grad = &out[m..];
    prop_assert_eq!(grad.len(), n);
    let want = p.jt_w();
    for i in 0..n {
        prop_assert!(
            close(grad[i], want[i], DUAL_RTOL, DUAL_ATOL),
            "d <out_bar, f> / d input {i}: vjp {} vs dual {}\nvjp program:\n{vf}",
            grad[i],
            want[i]
        );
    }
    let vjp_v = dot(grad, &p.v);
    // <w, J v> by the IR's own forward mode.
    let jf = jvp_dir(&p.f);
    let mut jparams = p.args(&p.x);
    jparams.extend(p.args(&p.v));
    let tan = exec(&jf, &jparams, "jvp")?;
    let w_jv = dot(&p.w, &tan[m..]);
    let scale: f64 = grad.iter().zip(&p.v).map(|(g, v)| (g * v).abs()).sum();
    prop_assert!(
        close(vjp_v, w_jv, DUAL_RTOL, DUAL_ATOL * (1.0 + scale)),
        "<vjp(w), v> = {vjp_v} vs <w, jvp(v)> = {w_jv}"
    );
    if let Some(fd) = &p.fd {
        bump(&stats.fd_checked);
        let w_fd = dot(&p.w, fd);
        let fd_scale: f64 = p.w.iter().zip(fd).map(|(w, d)| (w * d).abs()).sum();
        prop_assert!(
            close(vjp_v, w_fd, FD_RTOL, FD_ATOL * (1.0 + fd_scale)),
            "<vjp(w), v> = {vjp_v} vs <w, finite differences> = {w_fd}"
        );
    }
    let gf = vjp_ones(&p.f);
    let out = exec(&gf, &p.args(&p.x), "gradient")?;
    prop_assert_eq!(&out[..m], &p.y[..], "gradient primal outputs differ");
    prop_assert_eq!(out.len(), m + n);
    let seeded = p.scalar_outputs();
    for i in 0..n {
        let want: f64 = (0..m).filter(|&k| seeded[k]).map(|k| p.jac[k][i]).sum();
        prop_assert!(
            close(out[m + i], want, DUAL_RTOL, DUAL_ATOL),
            "d sum(f) / d input {i}: gradient {} vs dual {want}\ngradient program:\n{gf}",
            out[m + i]
        );
    }
    Ok(())
}

/// `simplify` keeps every value of the primal, the jvp, the vjp and the
/// Jacobian companion (see `SIMP_RTOL` for why the tolerance can be this
/// tight).
pub(super) fn simplify_property(p: &Point, _: &Stats) -> Result<(), TestCaseError> {
    let jf = jvp_dir(&p.f);
    let vf = vjp_bar(&p.f);
    let jb = jvp_basis(&p.f);
    let xs = p.args(&p.x);
    let mut jparams = xs.clone();
    jparams.extend(p.args(&p.v));
    let mut vparams = xs.clone();
    vparams.push(p.bar());
    for (what, f, params) in [
        ("primal", &p.f, &xs),
        ("jvp", &jf, &jparams),
        ("vjp", &vf, &vparams),
        ("jacobian", &jb, &xs),
    ] {
        let before = exec(f, params, what)?;
        if before.iter().any(|v| !v.is_finite()) {
            return Err(TestCaseError::reject("non-finite derivative"));
        }
        let s = simplify(f);
        let after = exec(&s, params, &format!("simplified {what}"))?;
        prop_assert_eq!(before.len(), after.len());
        for (k, (a, b)) in before.iter().zip(&after).enumerate() {
            prop_assert!(
                close(*a, *b, SIMP_RTOL, SIMP_ATOL),
                "{what} output {k}: {a} before simplify, {b} after\nbefore:\n{f}\nafter:\n{s}"
            );
        }
    }
    Ok(())
}

/// Forward over reverse, which is what `_hvp` is: the jvp along `v` of the
/// (simplified) vjp program with cotangent `w` is d/dε [Jᵀw](x + εv) =
/// Σ_k w_k H_k v. The reference runs the vjp program itself on dual numbers
/// (x + εv, `w` constant): the forward transform of a reverse program
/// against num-dual.
pub(super) fn hvp_property(p: &Point, _: &Stats) -> Result<(), TestCaseError> {
    let (n, m) = (p.n(), p.m());
    let vf = simplify(&vjp_bar(&p.f));
    // As the expansion emits it (its reverse loops gathered).
    let hf = finish(&forward_over_reverse(&vf, p.f.params.len()));
    let mut params = p.args(&p.x);
    params.push(p.bar());
    params.extend(p.args(&p.v));
    let out = exec(&hf, &params, "hvp")?;
    prop_assert_eq!(out.len(), 2 * (m + n));
    let mut dual = values(
        &p.ins,
        p.x.iter().zip(&p.v).map(|(&a, &d)| Dual64::new(a, d)),
    );
    let mut bar = values(&p.outs, p.w.iter().map(|&w| Dual64::from(w)));
    dual.push(if bar.len() == 1 {
        bar.remove(0)
    } else {
        Val::Tuple(bar)
    });
    let want: Vec<f64> = interp::run_dual(&vf, &dual)
        .map_err(|e| TestCaseError::fail(format!("dual vjp: {}\n{vf}", e.0)))?
        .iter()
        .flat_map(|o| o.floats())
        .map(|d| d.eps)
        .collect();
    if want.iter().any(|v| !v.is_finite()) {
        return Err(TestCaseError::reject("non-finite second derivative"));
    }
    let got = &out[m + n..];
    for (j, (a, b)) in got.iter().zip(&want).enumerate() {
        prop_assert!(
            close(*a, *b, DUAL_RTOL, DUAL_ATOL),
            "tangent {j} of the vjp: forward over reverse {a} vs dual {b}\nvjp:\n{vf}\nits jvp:\n{hf}"
        );
    }
    Ok(())
}

/// The jvp of the vjp program `vf` of a function of `k` params, along
/// tangents of those params appended after `vf`'s params (the cotangent
/// has none), as `_hvp` builds it.
fn forward_over_reverse(vf: &Function, k: usize) -> Function {
    let k = k as u32;
    let extra = vf.params[..k as usize]
        .iter()
        .map(|q| Param {
            usize: false,
            tape: false,
            name: ident(&format!("{}_dot", q.name)),
            fields: q.fields.clone(),
        })
        .collect();
    simplify(&jvp(vf, extra, 1, &|_, index, _| {
        if index < k {
            Seed::Param {
                index: k + 1 + index,
                field: None,
            }
        } else {
            Seed::Zero
        }
    }))
}

/// The gather pass keeps every value: the primal, the vjp, the gradient,
/// the jvp and the forward over reverse program, each simplified, against
/// the same gathered and simplified again (`finish`, what the expansion
/// emits); counts the cases where a loop was gathered. The interpreter
/// runs the in-place updates as the emitted code does and refuses a
/// `usize` subtraction below zero.
pub(super) fn gather_property(p: &Point, stats: &Stats) -> Result<(), TestCaseError> {
    let xs = p.args(&p.x);
    let mut jparams = xs.clone();
    jparams.extend(p.args(&p.v));
    let mut vparams = xs.clone();
    vparams.push(p.bar());
    let mut hparams = vparams.clone();
    hparams.extend(p.args(&p.v));
    let vf = simplify(&vjp_bar(&p.f));
    let hf = forward_over_reverse(&vf, p.f.params.len());
    let mut any = false;
    for (what, f, params) in [
        ("primal", simplify(&p.f), &xs),
        ("jvp", simplify(&jvp_dir(&p.f)), &jparams),
        ("gradient", simplify(&vjp_ones(&p.f)), &xs),
        ("vjp", vf, &vparams),
        ("hvp", hf, &hparams),
    ] {
        let Some(g) = gather(&f) else {
            continue;
        };
        any = true;
        let g = simplify(&g);
        let before = exec(&f, params, what)?;
        if before.iter().any(|v| !v.is_finite()) {
            return Err(TestCaseError::reject("non-finite derivative"));
        }
        let after = exec(&g, params, &format!("gathered {what}"))?;
        prop_assert_eq!(before.len(), after.len());
        // Each element receives the same contributions in the same order:
        // equal (`-0.0 == 0.0`: a zero start is not added).
        for (k, (a, b)) in before.iter().zip(&after).enumerate() {
            prop_assert!(
                a == b,
                "{what} output {k}: {a} before gather, {b} after\nbefore:\n{f}\nafter:\n{g}"
            );
        }
    }
    if any {
        bump(&stats.gathered);
    }
    Ok(())
}

/// No expression swell: the simplified vjp and jvp stay within `limit`
/// times the size of the program.
pub(super) fn swell_property(limit: f64) -> impl Fn(&Point, &Stats) -> Result<(), TestCaseError> {
    move |p, stats| {
        let base = p.f.live_count() as f64;
        for (j, (what, d)) in [("vjp", vjp_bar(&p.f)), ("jvp", jvp_dir(&p.f))]
            .into_iter()
            .enumerate()
        {
            let s = simplify(&d);
            let ratio = s.live_count() as f64 / base;
            stats.max_ratio[j].set(stats.max_ratio[j].get().max(ratio));
            stats.sum_ratio[j].set(stats.sum_ratio[j].get() + ratio);
            prop_assert!(
                ratio <= limit,
                "{what}: {} live nodes for {} in f (ratio {ratio:.2} > {limit})\nsimplified {what}:\n{s}",
                s.live_count(),
                base
            );
        }
        Ok(())
    }
}

/// The simplified (and gathered) vjp, what the expansion emits = the
/// primal and Jᵀ w.
pub(super) fn simplified_vjp_property(p: &Point, _: &Stats) -> Result<(), TestCaseError> {
    let vf = finish(&vjp_bar(&p.f));
    let mut params = p.args(&p.x);
    params.push(p.bar());
    let out = exec(&vf, &params, "simplified vjp")?;
    let m = p.m();
    prop_assert_eq!(&out[..m], &p.y[..], "primal outputs differ\n{}", vf);
    let want = p.jt_w();
    for i in 0..p.n() {
        prop_assert!(
            close(out[m + i], want[i], DUAL_RTOL, DUAL_ATOL),
            "input {i}: simplified vjp {} vs dual {}\n{vf}",
            out[m + i],
            want[i]
        );
    }
    Ok(())
}
