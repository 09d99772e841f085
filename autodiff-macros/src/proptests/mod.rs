//! Property tests on random programs, built directly with the [`Graph`] API
//! (no Rust parsing) and run with the test interpreter ([`crate::interp`]).
//!
//! A program is a list of instructions in SSA style: each one reads earlier
//! values (mostly the latest one, so programs are let-chains of depth >= 6;
//! sometimes older ones, so values are shared), and pushes its result. Every
//! op of the IR appears: every [`Un`](crate::ir::Un) (with a guard that
//! keeps its operand in its domain: `ln(x*x + 0.5)`, `asin(0.9 * tanh x)`,
//! `exp(2 sin x)`, ...), every [`Bin`](crate::ir::Bin), `powi` with integer
//! exponents, `mul_add`, `clamp` with constant `lo < hi` bounds (and
//! runtime ones), `select` on comparisons (any [`Cmp`](crate::ir::Cmp),
//! with `!`, `&&`, `||`), and `If` regions with let-chains inside, nested
//! `If`s, and subexpressions rebuilt inside and outside branches
//! (hash-consing then shares or duplicates them, see
//! [`scalar::Ins::Repeat`]). `If`s also yield integers (later `powi`
//! exponents and `as f64` casts) and booleans (later conditions). Each
//! program has 2-3 float params, 1-2 outputs and at least one `If`
//! ([`scalar::generator_covers_the_ops`] checks all of this).
//!
//! A second generator makes programs with arrays and loops (see
//! [`arrays`]): one or two array params of one length 0..=5 (so loops of
//! no and of one iteration too), local arrays of rank 1 and 2 written
//! element by element, loops (reversed, nested, holding `If`s) that carry
//! floats and arrays, index arithmetic, and array outputs
//! ([`arrays::array_generator_covers_the_features`]).
//!
//! The properties, on both kinds of programs: the jvp (one direction, and
//! the Jacobian companion) and the vjp (a random cotangent, and the
//! gradient companion) against dual numbers (`num-dual`, one pass per input
//! float) and finite differences; forward over reverse (the jvp of the
//! vjp, which is what `_hvp` is) against the vjp run on dual numbers;
//! `simplify` keeps every value; no expression swell. Inputs and outputs
//! are flat lists of floats (every element of every array, in order); an
//! array's tangent and cotangent are arrays. The interpreter runs what the
//! emitted code does, arrays updated in place.
//!
//! Each property runs 250 cases in `cargo test` (the long tier runs more:
//! `PROPTEST_CASES`, below). A case is discarded when a value of the
//! program is not finite, or when a branch or kink decision (a comparison,
//! the side of an `If`, `min`/`max`/`clamp`/`abs`/`floor`/... choices, in a
//! loop at every iteration) changes within the finite-difference stencil:
//! there the derivative is not the limit finite differences measure.
//!
//! Running them: `cargo test -p autodiff-macros proptests` (the test
//! profile of the root `Cargo.toml` optimizes this crate: they run about
//! five times faster than unoptimized). The runner's seed is fixed, so CI
//! runs the same cases every time; to explore further, run more cases:
//! `PROPTEST_CASES=20000 cargo test -p autodiff-macros proptests`. The
//! ignored tests (open bugs, unrestricted properties): `cargo test -p
//! autodiff-macros proptests -- --ignored`.
//!
//! Bugs found by the properties each have a minimal `bug_*` test (ignored
//! while it fails); the array programs of the properties avoid the shapes
//! that trigger open ones ([`arrays::AVOID`]: now only a gap that lowering
//! never produces). The `arrays_unrestricted_*` properties (ignored) avoid
//! nothing but what `PROPTEST_AVOID` lists, to check one fix at a time.
//!
//! The files: this one has what every kind of case shares (tolerances,
//! the runner and its counters, the [`Sample`] trait); [`point`] the
//! references at one point (dual numbers, finite differences, the branch
//! and kink decisions); [`properties`] the transforms as the expansion
//! calls them and the properties on any [`Point`]. Then one file per
//! generator and its properties: [`scalar`] (whose [`scalar::Builder`] the
//! next two extend), [`arrays`], [`stencils`], [`idioms`] and [`matrix`]
//! (Rust source, lowered), [`snippets`] (the expansion never panics); and
//! [`bugs`], the minimal programs of the bugs the properties found.

// Jacobians are index-heavy: explicit index loops read best here.
#![allow(clippy::needless_range_loop, clippy::type_complexity)]

mod arrays;
mod bugs;
mod flow;
mod idioms;
mod matrix;
mod point;
mod properties;
mod scalar;
mod snippets;
mod stencils;

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};

use crate::ir::{FloatTy, Function, Graph, NodeId, Op, OutShape, Param, Ty, ROOT};
use point::Point;

const F64: Ty = Ty::Float(FloatTy::F64);

/// Cases per property.
const CASES: u32 = 250;

// ---------------------------------------------------------------------------
// Tolerances (relative + absolute: |a - b| <= atol + rtol * max(|a|, |b|)).

/// IR derivatives against `num-dual` on the same program: both are exact
/// derivatives evaluated in a different order, so only rounding differs
/// (through loops of products it reaches about 1e-9 relative).
const DUAL_RTOL: f64 = 1e-8;
const DUAL_ATOL: f64 = 1e-9;
/// Against central finite differences with step `FD_H` and Richardson
/// extrapolation (error O(h^4) + roundoff O(eps / h)); the comparison is
/// made only where the two stencils agree to `FD_RELIABLE` of the tolerance
/// (in a high-curvature spot the finite difference, not the AD, is off).
const FD_H: f64 = 1e-3;
const FD_RTOL: f64 = 1e-6;
const FD_ATOL: f64 = 1e-6;
const FD_RELIABLE: f64 = 0.1;
/// `simplify` against the unsimplified program. The simplifier's rules are
/// exact under IEEE except the stability rewrites (`ln(1 + x) -> ln_1p`,
/// `exp(x) - 1 -> exp_m1`, `ln(1 + exp x) -> softplus`). The generator never
/// produces their patterns: no literal `1.0` is ever an operand (the
/// constant pool lacks it, and every instruction has a runtime operand, so
/// no constant subexpression folds to 1), `ln`/`ln_1p` only see guarded
/// operands (`x*x + 0.5`, `|x| + 0.5`, `hypot(x, 0.5)`, `0.9 * tanh x`), and
/// the derivative rules never build a logarithm of a sum with 1 (the array
/// generator's `v * 1` copies fold to `v` exactly). So the comparison is
/// tight: equal up to a few ulps.
const SIMP_RTOL: f64 = 1e-12;
const SIMP_ATOL: f64 = 1e-14;
/// Expression swell: live nodes of `simplify(vjp(f))` (one cotangent) and
/// of `simplify(jvp(f))` (one direction) against live nodes of `f` (about
/// 85 on average here). Measured over 3 * 10^4 random programs: the ratio
/// is at most 3.9 for the vjp (mean 2.0) and 3.2 for the jvp (mean 1.4).
/// `SWELL` leaves a margin of about 1.5x over the worst case seen.
const SWELL: f64 = 6.0;

// ---------------------------------------------------------------------------
// Shared by the generators.

/// A number in ±[lo, hi) on a fine grid. It shrinks towards `lo`, never to
/// 0 (proptest's float ranges shrink to 0 even outside the range): at 0
/// many programs sit on a kink or a 0/0, and the shrunk case would show
/// that instead of the failure that was found.
fn signed(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    const STEPS: u64 = 1 << 40;
    (any::<bool>(), 0..STEPS).prop_map(move |(neg, k)| {
        let m = lo + (hi - lo) * (k as f64 / STEPS as f64);
        if neg {
            -m
        } else {
            m
        }
    })
}

fn ident(s: &str) -> syn::Ident {
    syn::Ident::new(s, proc_macro2::Span::call_site())
}

fn float_param(name: &str, fields: usize) -> Param {
    Param {
        usize: false,
        tape: false,
        name: ident(name),
        fields: vec![F64; fields],
    }
}

/// The function of `params` with these outputs (a tuple of several).
fn function_of(params: Vec<Param>, graph: Graph, outputs: Vec<NodeId>) -> Function {
    let shape = if outputs.len() == 1 {
        OutShape::Leaf
    } else {
        OutShape::Tuple(vec![OutShape::Leaf; outputs.len()])
    };
    Function {
        params,
        graph,
        outputs,
        shape,
    }
}

/// Parameter `index` of type `ty`.
fn param_node(g: &mut Graph, index: u32, ty: Ty) -> NodeId {
    g.add(ROOT, Op::Param { index, field: None }, vec![], ty)
}

// ---------------------------------------------------------------------------
// The runner.

/// Counters over one property's run.
#[derive(Default)]
struct Stats {
    tried: Cell<usize>,
    ran: Cell<usize>,
    nodes: Cell<usize>,
    fd_checked: Cell<usize>,
    /// Swell ratios of the vjp and the jvp.
    max_ratio: [Cell<f64>; 2],
    sum_ratio: [Cell<f64>; 2],
    /// Cases where the gather pass rewrote a loop.
    gathered: Cell<usize>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

/// A kind of random case: how to make its [`Point`], and how to show it.
trait Sample: Clone + std::fmt::Debug {
    fn point(&self) -> Result<Point, TestCaseError>;
    /// The program and its inputs, for a failure report.
    fn show(&self) -> String;
}

/// `PROPTEST_CASES=n` runs `n` cases (more or fewer) instead of `default`.
fn cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A runner with a fixed seed, so that CI runs the same cases every time
/// (set `PROPTEST_CASES` higher to explore more).
fn seeded_runner(config: Config) -> TestRunner {
    TestRunner::new_with_rng(
        config,
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    )
}

/// Runs one property over `CASES` random cases; on failure, panics with the
/// minimal program. Gives the counters of the run.
fn check<C: Sample>(
    name: &str,
    min_fd: f64,
    cases: impl Strategy<Value = C>,
    prop: impl Fn(&Point, &Stats) -> Result<(), TestCaseError>,
) -> Stats {
    let n_cases = cases_or(CASES);
    let config = Config {
        cases: n_cases,
        max_global_rejects: 20 * n_cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = seeded_runner(config);
    let stats = Stats::default();
    let result = runner.run(&cases, |c| {
        bump(&stats.tried);
        let p = c.point()?;
        bump(&stats.ran);
        stats.nodes.set(stats.nodes.get() + p.f.live_count());
        prop(&p, &stats)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, c)) => panic!("{name}: {why}\nminimal case: {}", c.show()),
        Err(TestError::Abort(why)) => panic!("{name}: aborted: {why}"),
    }
    // The finite-difference comparison must not be vacuous.
    let ran = stats.ran.get().max(1);
    let share = stats.fd_checked.get() as f64 / ran as f64;
    // Shown with `--nocapture`.
    let mut line = format!(
        "{name}: {} cases run of {} generated; mean live nodes {:.1}",
        stats.ran.get(),
        stats.tried.get(),
        stats.nodes.get() as f64 / ran as f64,
    );
    if stats.fd_checked.get() > 0 {
        line += &format!("; finite differences in {:.0}% of the cases", 100.0 * share);
    }
    if stats.gathered.get() > 0 {
        let gathered = stats.gathered.get() as f64 / ran as f64;
        line += &format!("; a loop gathered in {:.0}% of the cases", 100.0 * gathered);
    }
    for (j, what) in ["vjp", "jvp"].iter().enumerate() {
        if stats.max_ratio[j].get() > 0.0 {
            line += &format!(
                "; {what} swell ratio max {:.2} mean {:.2}",
                stats.max_ratio[j].get(),
                stats.sum_ratio[j].get() / ran as f64
            );
        }
    }
    eprintln!("{line}");
    assert!(
        share >= min_fd,
        "{name}: finite differences checked in only {share:.2} of the cases"
    );
    stats
}

// ---------------------------------------------------------------------------
// Programs from Rust source (the idioms and matrix generators, and the
// gather pass's tests).

/// The IR of a Rust function, as the expansion lowers it (panics if it
/// does not lower).
pub(crate) fn lowered(src: &str) -> Function {
    match source_function(src) {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    }
}

/// The lowered function of generated source.
fn source_function(src: &str) -> Result<Function, TestCaseError> {
    let item: syn::ItemFn = syn::parse_str(src)
        .map_err(|e| TestCaseError::fail(format!("generated source does not parse: {e}\n{src}")))?;
    let mut errors = crate::error::Errors::default();
    let sig = crate::signature::read(
        &crate::context::Cx::default(),
        &item,
        &crate::args::Args::default(),
        &mut errors,
    );
    let lowered = crate::lower::lower(
        &crate::context::Cx::default(),
        &sig,
        &item.block,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(TestCaseError::fail(format!(
            "lowering failed: {}\n{src}",
            errors.to_compile_errors()
        )));
    }
    Ok(lowered.func)
}
