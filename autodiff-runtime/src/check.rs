//! Finite-difference checks of derivatives, like Theano's `verify_grad`
//! and JAX's `check_grads`: [`check_grad`], [`check_jvp`], [`check_vjp`]
//! and [`check_hessian`], each returning a [`GradCheck`].
//!
//! The method is documented on [`GradCheck`], where users see it.

use num_traits::Float;
use std::fmt;

/// How many directions (or cotangents) beyond the basis the directional
/// checks try.
const MIXED: usize = 2;

/// The report of a finite-difference check ([`check_grad`], [`check_jvp`],
/// [`check_vjp`], [`check_hessian`]): the entry that disagrees most with
/// the finite differences, and any length mismatch.
///
/// [`passed(tol)`](GradCheck::passed) is false on any length mismatch,
/// any NaN and any entry whose error exceeds `tol`;
/// [`passed_default`](GradCheck::passed_default) uses the default
/// tolerance of the element type. `Display` (`{}`) gives one line: the
/// length mismatch, or the worst entry (analytic and numeric values, the
/// rounding noise of the numeric one, the error) and how it compares with
/// the default tolerance; `Debug` (`{:?}`) shows every field.
///
/// A report holds `f64` whatever the checked element type (`f32` values
/// convert exactly), so that it is one type, and remembers the default
/// tolerance of that element type (and prints `f32` values in `f32`
/// digits).
///
/// ```
/// use autodiff::check_grad;
///
/// let f = |x: &[f64]| x[0] * x[0] + 3.0 * x[1];
/// let report = check_grad(f, |x| vec![2.0 * x[0], 3.0], &[1.5, -2.0]);
/// assert!(report.passed_default(), "{report}");
///
/// // A wrong sign in one entry: an error of |-3 - 3| / 3.
/// let report = check_grad(f, |x| vec![2.0 * x[0], -3.0], &[1.5, -2.0]);
/// assert!(!report.passed(0.1));
/// assert!((report.max_error() - 2.0).abs() < 1e-6);
/// assert!(report.to_string().starts_with("check_grad: worst entry 1: analytic -3, numeric 3.0"));
/// ```
///
/// # Method
///
/// Every check builds the Jacobian of the function it differences by
/// central differences, one column per input `x[i]`:
/// `(f(x + h e_i) - f(x - h e_i)) / 2h` with the step
/// `h = cbrt(ε) max(1, |x[i]|)` (`ε` the element type's machine epsilon;
/// `h` is then rounded so that `x[i] + h` is exactly `x[i]` plus `h`).
/// That step balances the truncation error of the central difference
/// (`h²/6 |f'''|`) against the rounding error of `f` (`ε |f| / h`): both
/// are of order `ε^(2/3)` for a function of moderate scale, about `5e-5`
/// for `f32` and `4e-11` for `f64`.
///
/// A derivative is then compared entry by entry with the matching
/// combination of columns (one column for a gradient entry or a basis
/// direction, a weighted sum for any other direction or cotangent). The
/// error of an entry is
///
/// ```text
/// max(0, |analytic - numeric| - noise) / max(1, s)
/// ```
///
/// - `s` is the sum of the magnitudes of the terms the numeric entry adds
///   up (`|numeric|` itself for one column): the error is relative for
///   large entries, absolute for entries below 1, and terms that cancel
///   raise no false alarm;
/// - `noise` is the rounding error the differences may carry, taking each
///   evaluation of `f` to be off by 8 ulps: `8 ε max|f(x ± h e_i)| / h`
///   for one column (weighted like the columns for a combination). It
///   matters when `|f|` is large next to its derivative (in `f32`, a
///   function of size 1000 at `|x| <= 1` cannot have its derivative
///   resolved closer than about `0.2`), and is negligible otherwise.
///
/// A NaN or an infinity on either side is an infinite error: the check
/// cannot vouch for it.
///
/// The default tolerance is `cbrt(ε)` (`4.9e-3` for `f32`, `6.1e-6` for
/// `f64`): a factor `1 / cbrt(ε)` above the error of the differences, room
/// for functions of larger curvature, while a wrong sign, a missing factor
/// or a swapped entry (errors of order 1) fail by far.
///
/// `f` must be defined (and smooth) within the step of `x`: with the step
/// absolute near 0, at `x = 0.001` an `f32` check evaluates `f` at
/// `0.001 ± 0.0049`.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheck {
    kind: Kind,
    default_tolerance: f64,
    /// The element type is no wider than `f32`: values print as `f32`, in
    /// as many digits as it has.
    narrow: bool,
    worst: Option<Entry>,
    mismatch: Option<Mismatch>,
}

/// Which check made a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Grad,
    Jvp,
    Vjp,
    Hessian,
}

impl Kind {
    fn function(self) -> &'static str {
        match self {
            Kind::Grad => "check_grad",
            Kind::Jvp => "check_jvp",
            Kind::Vjp => "check_vjp",
            Kind::Hessian => "check_hessian",
        }
    }

    /// The argument under test.
    fn derivative(self) -> &'static str {
        match self {
            Kind::Grad => "grad",
            Kind::Jvp => "jvp",
            Kind::Vjp => "vjp",
            Kind::Hessian => "hvp",
        }
    }

    /// The argument that is differenced.
    fn differenced(self) -> &'static str {
        match self {
            Kind::Hessian => "grad",
            _ => "f",
        }
    }

    /// Its value at `x`, whose length every probe must have.
    fn value(self) -> &'static str {
        match self {
            Kind::Hessian => "`grad(x)`",
            _ => "`f(x)`",
        }
    }

    /// How a derivative is evaluated at a probe: along a tangent
    /// direction, or for a cotangent.
    fn probe(self) -> &'static str {
        match self {
            Kind::Vjp => "for cotangent",
            _ => "along direction",
        }
    }
}

/// A direction (or cotangent) the derivative was evaluated along.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    /// The `k`-th basis vector `e_k`.
    Basis(usize),
    /// The `k`-th fixed pseudo-random vector, entries in `[-1, 1]`.
    Mixed(usize),
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Basis(k) => write!(f, "e{k}"),
            Probe::Mixed(k) => write!(f, "v{k} (pseudo-random)"),
        }
    }
}

/// One compared entry.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    /// `None` for `check_grad`.
    probe: Option<Probe>,
    index: usize,
    analytic: f64,
    numeric: f64,
    /// How much of `|analytic - numeric|` rounding in the differences
    /// explains.
    noise: f64,
    /// `max(0, |analytic - numeric| - noise) / max(1, scale)`, infinite
    /// for a NaN or an infinity.
    error: f64,
}

/// One central difference `(f_j(x + h e_i) - f_j(x - h e_i)) / 2h`, and
/// the rounding error it may carry: `NOISE_ULPS ε max|f_j| / h` over the
/// two evaluations (each may be off by a few ulps of its size, and the
/// division by `2h` magnifies that).
#[derive(Clone, Copy, Debug)]
struct Difference {
    value: f64,
    noise: f64,
}

/// A numeric entry: a combination `Σ w_k d_k` of differences, the sum of
/// the magnitudes of its terms (`scale`) and of their noises.
#[derive(Clone, Copy, Debug, Default)]
struct Combination {
    value: f64,
    scale: f64,
    noise: f64,
}

impl Combination {
    fn add(&mut self, w: f64, d: Difference) {
        let term = w * d.value;
        self.value += term;
        self.scale += term.abs();
        self.noise += w.abs() * d.noise;
    }
}

/// How many ulps of `|f|` each evaluation of `f` is taken to be off by.
const NOISE_ULPS: f64 = 8.0;

/// Where a closure was called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// At `x`.
    X,
    /// At `x`, along a direction or with a cotangent.
    Along(Probe),
    /// At `x ± h e_i`, for the differences.
    Near(usize),
}

/// A closure returned a vector of the wrong length.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Mismatch {
    /// The closure: `grad`, `jvp`, `f`, ...
    closure: &'static str,
    place: Place,
    got: usize,
    expected: usize,
    /// What the expected length is the length of: "`x`", "`f(x)`", ...
    of: &'static str,
}

impl GradCheck {
    fn new<T: Float>(kind: Kind) -> Self {
        GradCheck {
            kind,
            default_tolerance: to_f64(default_tolerance::<T>()),
            narrow: to_f64(T::epsilon()) >= f64::from(f32::EPSILON),
            worst: None,
            mismatch: None,
        }
    }

    /// Did every entry agree within `tol`, with every length right? The
    /// error of an entry is `|analytic - numeric| / max(1, |numeric|)`,
    /// less what rounding in the differences explains (see
    /// [`GradCheck`]); a NaN or an infinity fails. A check with nothing to
    /// compare (an empty `x`) passes.
    pub fn passed(&self, tol: f64) -> bool {
        self.mismatch.is_none() && self.max_error() <= tol
    }

    /// [`passed`](GradCheck::passed) with the default tolerance of the
    /// element type, [`default_tolerance`](GradCheck::default_tolerance).
    pub fn passed_default(&self) -> bool {
        self.passed(self.default_tolerance)
    }

    /// The largest error over the compared entries: 0 if there were none,
    /// infinite if an entry is NaN or a length is wrong.
    pub fn max_error(&self) -> f64 {
        if self.mismatch.is_some() {
            return f64::INFINITY;
        }
        self.worst.map_or(0.0, |e| e.error)
    }

    /// The default tolerance of the checked element type: `cbrt(ε)`,
    /// `4.9e-3` for `f32` and `6.1e-6` for `f64`.
    pub fn default_tolerance(&self) -> f64 {
        self.default_tolerance
    }

    /// Keeps the entry if it is the worst so far (the first of equals).
    fn compare(
        &mut self,
        probe: Option<Probe>,
        index: usize,
        analytic: f64,
        numeric: &Combination,
    ) {
        let Combination {
            value,
            scale,
            noise,
        } = *numeric;
        let error = if analytic.is_finite() && value.is_finite() && noise.is_finite() {
            ((analytic - value).abs() - noise).max(0.0) / scale.max(1.0)
        } else {
            f64::INFINITY
        };
        if self.worst.is_none_or(|w| error > w.error) {
            self.worst = Some(Entry {
                probe,
                index,
                analytic,
                numeric: value,
                noise,
                error,
            });
        }
    }

    /// Records the first length mismatch; `true` if the lengths agree.
    fn check_len(
        &mut self,
        closure: &'static str,
        place: Place,
        got: usize,
        expected: usize,
        of: &'static str,
    ) -> bool {
        if got != expected && self.mismatch.is_none() {
            self.mismatch = Some(Mismatch {
                closure,
                place,
                got,
                expected,
                of,
            });
        }
        got == expected
    }
}

impl fmt::Display for GradCheck {
    /// One line: the length mismatch if there is one, else the worst
    /// entry, its error and how it compares with the default tolerance.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind;
        write!(f, "{}: ", kind.function())?;
        if let Some(m) = self.mismatch {
            let entries = if m.got == 1 { "entry" } else { "entries" };
            write!(f, "`{}` returned {} {entries}", m.closure, m.got)?;
            match m.place {
                Place::X => {}
                Place::Along(p) => write!(f, " {} {p}", kind.probe())?,
                Place::Near(i) => write!(f, " at `x ± h e{i}`")?,
            }
            return write!(f, ", but {} has {}", m.of, m.expected);
        }
        let Some(e) = self.worst else {
            return write!(f, "nothing to compare");
        };
        write!(f, "worst entry {}", e.index)?;
        if let Some(p) = e.probe {
            write!(f, " {} {p}", kind.probe())?;
        }
        let verdict = if e.error <= self.default_tolerance {
            "within"
        } else {
            "above"
        };
        let value = |v: f64| {
            if self.narrow {
                (v as f32).to_string()
            } else {
                v.to_string()
            }
        };
        write!(
            f,
            ": analytic {}, numeric {} (± {:.1e}), error {:.2e}, {verdict} the default tolerance {:.2e}",
            value(e.analytic),
            value(e.numeric),
            e.noise,
            e.error,
            self.default_tolerance
        )
    }
}

/// `cbrt(ε)` of `T`.
fn default_tolerance<T: Float>() -> T {
    T::epsilon().cbrt()
}

fn to_f64<T: Float>(v: T) -> f64 {
    v.to_f64().unwrap_or(f64::NAN)
}

/// The step for `x`: `cbrt(ε) max(1, |x|)`, rounded so that `x + h` is
/// exactly representable as `x` plus it.
fn step<T: Float>(x: T) -> T {
    let h = T::epsilon().cbrt() * x.abs().max(T::one());
    (x + h) - x
}

/// The Jacobian of `f` at `x` by central differences, as columns:
/// `cols[i][j]` is `∂f_j/∂x_i`, in `f64`. A probe at which `f` returns a
/// vector of another length than `m` is a mismatch; its column is NaN.
fn jacobian_columns<T: Float>(
    report: &mut GradCheck,
    f: &dyn Fn(&[T]) -> Vec<T>,
    x: &[T],
    m: usize,
) -> Vec<Vec<Difference>> {
    let ulps = NOISE_ULPS * to_f64(T::epsilon());
    let mut probe = x.to_vec();
    let mut cols = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        let h = step(x[i]);
        probe[i] = x[i] + h;
        let up = f(&probe);
        probe[i] = x[i] - h;
        let down = f(&probe);
        probe[i] = x[i];
        let at = Place::Near(i);
        let (name, value) = (report.kind.differenced(), report.kind.value());
        let ok = report.check_len(name, at, up.len(), m, value)
            & report.check_len(name, at, down.len(), m, value);
        let col = if ok {
            up.iter()
                .zip(&down)
                .map(|(&u, &d)| Difference {
                    value: to_f64((u - d) / (h + h)),
                    noise: ulps * to_f64(u.abs().max(d.abs()) / h),
                })
                .collect()
        } else {
            let nan = Difference {
                value: f64::NAN,
                noise: f64::NAN,
            };
            vec![nan; m]
        };
        cols.push(col);
    }
    cols
}

/// A fixed pseudo-random vector of length `n`, entries in `[-1, 1]`: the
/// `k`-th mixed direction.
fn mixed<T: Float>(k: usize, n: usize) -> Vec<T> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ (k as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let unit = (state >> 11) as f64 / (1_u64 << 53) as f64;
            T::from(2.0 * unit - 1.0).unwrap_or_else(T::zero)
        })
        .collect()
}

/// The probes of a directional check in an `n`-dimensional space: the
/// basis, then the mixed vectors.
fn probes<T: Float>(n: usize) -> impl Iterator<Item = (Probe, Vec<T>)> {
    let basis = (0..n).map(move |k| {
        let mut e = vec![T::zero(); n];
        e[k] = T::one();
        (Probe::Basis(k), e)
    });
    let mixed = (0..MIXED).map(move |k| (Probe::Mixed(k), mixed(k, n)));
    basis.chain(mixed)
}

/// Compares `jvp(x, v)` with `J v` from the differences of `f`, for the
/// basis and mixed directions `v`. `name` is what `f`'s length is called.
fn directional<T: Float>(
    mut report: GradCheck,
    f: &dyn Fn(&[T]) -> Vec<T>,
    jvp: impl Fn(&[T], &[T]) -> Vec<T>,
    x: &[T],
    m: usize,
    of: &'static str,
) -> GradCheck {
    let cols = jacobian_columns(&mut report, f, x, m);
    for (probe, v) in probes::<T>(x.len()) {
        let analytic = jvp(x, &v);
        report.check_len(
            report.kind.derivative(),
            Place::Along(probe),
            analytic.len(),
            m,
            of,
        );
        for (j, &a) in analytic.iter().enumerate().take(m) {
            let mut numeric = Combination::default();
            for (col, &vi) in cols.iter().zip(&v) {
                numeric.add(to_f64(vi), col[j]);
            }
            report.compare(Some(probe), j, to_f64(a), &numeric);
        }
    }
    report
}

/// Compares a gradient with central differences of `f` at `x`.
///
/// `grad(x)` must have one entry per entry of `x`; entry `i` is compared
/// with `(f(x + h e_i) - f(x - h e_i)) / 2h`. The step, the error measure
/// and the default tolerance follow the element type `T` (`f32`, `f64`):
/// see [`GradCheck`] and the module documentation of the method. Costs
/// `2 n` calls of `f` and one of `grad`.
///
/// The report fails on a wrong entry, on a gradient of the wrong length,
/// and on a NaN in either the gradient or the differences.
///
/// ```
/// use autodiff::{check_grad, differentiate};
///
/// #[differentiate]
/// fn rosenbrock(x: f32, y: f32) -> f32 {
///     (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
/// }
///
/// let report = check_grad(
///     |v| rosenbrock(v[0], v[1]),
///     |v| {
///         let (dx, dy) = rosenbrock_grad(v[0], v[1]);
///         vec![dx, dy]
///     },
///     &[-1.2_f32, 1.0],
/// );
/// assert!(report.passed_default(), "{report}");
/// ```
pub fn check_grad<T: Float>(
    f: impl Fn(&[T]) -> T,
    grad: impl Fn(&[T]) -> Vec<T>,
    x: &[T],
) -> GradCheck {
    let mut report = GradCheck::new::<T>(Kind::Grad);
    let analytic = grad(x);
    report.check_len("grad", Place::X, analytic.len(), x.len(), "`x`");
    let f = |v: &[T]| vec![f(v)];
    let cols = jacobian_columns(&mut report, &f, x, 1);
    for (i, (&a, col)) in analytic.iter().zip(&cols).enumerate() {
        let mut numeric = Combination::default();
        numeric.add(1.0, col[0]);
        report.compare(None, i, to_f64(a), &numeric);
    }
    report
}

/// Compares a Jacobian-vector product with central differences of `f` at
/// `x`.
///
/// `jvp(x, v)` must return `J v`, the derivative of `f` at `x` along `v`,
/// with as many entries as `f(x)`. It is called along every basis vector
/// `e_i` (so every column of the Jacobian is checked) and along two fixed
/// pseudo-random directions with entries in `[-1, 1]` (so that a `jvp`
/// that is only right on basis vectors fails), and compared with the
/// matching combination of the difference columns of `f`. Costs `2 n + 1`
/// calls of `f` and `n + 2` of `jvp`.
///
/// The report fails on a wrong entry, on a `jvp` (or an `f` at a probe)
/// of the wrong length, and on a NaN.
///
/// ```
/// use autodiff::{check_jvp, differentiate};
///
/// #[differentiate]
/// fn polar(r: f64, theta: f64) -> (f64, f64) {
///     (r * theta.cos(), r * theta.sin())
/// }
///
/// let report = check_jvp(
///     |p| {
///         let (x, y) = polar(p[0], p[1]);
///         vec![x, y]
///     },
///     |p, v| {
///         let (_, (dx, dy)) = polar_jvp(p[0], p[1], v[0], v[1]);
///         vec![dx, dy]
///     },
///     &[2.0, 0.5],
/// );
/// assert!(report.passed_default(), "{report}");
/// ```
pub fn check_jvp<T: Float>(
    f: impl Fn(&[T]) -> Vec<T>,
    jvp: impl Fn(&[T], &[T]) -> Vec<T>,
    x: &[T],
) -> GradCheck {
    let report = GradCheck::new::<T>(Kind::Jvp);
    let m = f(x).len();
    directional(report, &f, jvp, x, m, "`f(x)`")
}

/// Compares a vector-Jacobian product with central differences of `f` at
/// `x`.
///
/// `vjp(x, w)` must return `wᵀ J`, the cotangent `w` (as many entries as
/// `f(x)`) pulled back to `x`: one entry per entry of `x`. It is called
/// with every basis cotangent `e_j` (so every row of the Jacobian is
/// checked) and with two fixed pseudo-random cotangents with entries in
/// `[-1, 1]`, and compared with the matching combination of the
/// difference columns of `f`. Costs `2 n + 1` calls of `f` and `m + 2` of
/// `vjp`.
///
/// The report fails on a wrong entry, on a `vjp` (or an `f` at a probe)
/// of the wrong length, and on a NaN.
///
/// ```
/// use autodiff::{check_vjp, differentiate};
///
/// #[differentiate]
/// fn polar(r: f64, theta: f64) -> (f64, f64) {
///     (r * theta.cos(), r * theta.sin())
/// }
///
/// let report = check_vjp(
///     |p| {
///         let (x, y) = polar(p[0], p[1]);
///         vec![x, y]
///     },
///     |p, w| {
///         let (_, (r_bar, theta_bar)) = polar_vjp(p[0], p[1], (w[0], w[1]));
///         vec![r_bar, theta_bar]
///     },
///     &[2.0, 0.5],
/// );
/// assert!(report.passed_default(), "{report}");
/// ```
pub fn check_vjp<T: Float>(
    f: impl Fn(&[T]) -> Vec<T>,
    vjp: impl Fn(&[T], &[T]) -> Vec<T>,
    x: &[T],
) -> GradCheck {
    let mut report = GradCheck::new::<T>(Kind::Vjp);
    let n = x.len();
    let m = f(x).len();
    let cols = jacobian_columns(&mut report, &f, x, m);
    for (probe, w) in probes::<T>(m) {
        let analytic = vjp(x, &w);
        report.check_len("vjp", Place::Along(probe), analytic.len(), n, "`x`");
        for (i, (&a, col)) in analytic.iter().zip(&cols).enumerate() {
            let mut numeric = Combination::default();
            for (&d, &wj) in col.iter().zip(&w) {
                numeric.add(to_f64(wj), d);
            }
            report.compare(Some(probe), i, to_f64(a), &numeric);
        }
    }
    report
}

/// Compares a Hessian-vector product with central differences of the
/// gradient at `x`.
///
/// `grad(x)` must return the gradient (one entry per entry of `x`) and
/// `hvp(x, v)` the Hessian times `v`, also one entry per entry of `x`. The
/// Hessian is taken as the Jacobian of `grad` by central differences (so
/// `grad` itself should be right: check it first with [`check_grad`]) and
/// `hvp` is compared with it along every basis vector and two fixed
/// pseudo-random directions, as [`check_jvp`] does. Costs `2 n + 1` calls
/// of `grad` and `n + 2` of `hvp`.
///
/// The report fails on a wrong entry, on a `grad` or an `hvp` of the wrong
/// length, and on a NaN.
///
/// ```
/// use autodiff::{check_hessian, differentiate};
///
/// #[differentiate(hessian)]
/// fn f(x: [f64; 2]) -> f64 {
///     x[0].exp() * x[1].sin()
/// }
///
/// let report = check_hessian(
///     |x| f_grad([x[0], x[1]]).to_vec(),
///     |x, v| f_hvp([x[0], x[1]], [v[0], v[1]]).to_vec(),
///     &[0.5, -1.0],
/// );
/// assert!(report.passed_default(), "{report}");
/// ```
pub fn check_hessian<T: Float>(
    grad: impl Fn(&[T]) -> Vec<T>,
    hvp: impl Fn(&[T], &[T]) -> Vec<T>,
    x: &[T],
) -> GradCheck {
    let mut report = GradCheck::new::<T>(Kind::Hessian);
    let n = x.len();
    report.check_len("grad", Place::X, grad(x).len(), n, "`x`");
    directional(report, &grad, hvp, x, n, "`x`")
}
