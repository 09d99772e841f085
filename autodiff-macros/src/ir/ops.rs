//! The op table: one row per float method, per runtime kernel and per
//! array helper, with everything the stages need to know about it apart
//! from its derivative (which is the rule table's, [`crate::diff::rules`]):
//! the Rust name lowering reads and emission writes, arity, the runtime
//! function, whether it accumulates in place, its usage text for errors.
//! Adding an op is a row here and a rule there.

use super::{Bin, Kernel, Un};

/// What a float method (`x.sin()`, `f64::hypot(x, y)`) lowers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodOp {
    Un(Un),
    Bin(Bin),
    /// `x.powi(n)`.
    PowI,
    /// `a.mul_add(b, c)`.
    MulAdd,
    /// `x.clamp(lo, hi)`.
    Clamp,
}

impl MethodOp {
    /// Arguments besides the receiver.
    pub fn arity(self) -> usize {
        match self {
            MethodOp::Un(_) => 0,
            MethodOp::Bin(_) | MethodOp::PowI => 1,
            MethodOp::MulAdd | MethodOp::Clamp => 2,
        }
    }
}

/// A float method: its name as Rust writes it, what it lowers to, and
/// whether reverse mode tapes its result in a loop rather than compute it
/// again (a transcendental function is costly; `abs` is not).
struct MethodRow {
    name: &'static str,
    op: MethodOp,
    costly: bool,
}

const fn un(name: &'static str, u: Un, costly: bool) -> MethodRow {
    MethodRow {
        name,
        op: MethodOp::Un(u),
        costly,
    }
}

const fn bin(name: &'static str, b: Bin, costly: bool) -> MethodRow {
    MethodRow {
        name,
        op: MethodOp::Bin(b),
        costly,
    }
}

/// Every float method of SPEC §5.
const METHODS: &[MethodRow] = &[
    un("sin", Un::Sin, true),
    un("cos", Un::Cos, true),
    un("tan", Un::Tan, true),
    un("asin", Un::Asin, true),
    un("acos", Un::Acos, true),
    un("atan", Un::Atan, true),
    un("sinh", Un::Sinh, true),
    un("cosh", Un::Cosh, true),
    un("tanh", Un::Tanh, true),
    un("asinh", Un::Asinh, true),
    un("acosh", Un::Acosh, true),
    un("atanh", Un::Atanh, true),
    un("exp", Un::Exp, true),
    un("exp2", Un::Exp2, true),
    un("exp_m1", Un::ExpM1, true),
    un("ln", Un::Ln, true),
    un("log2", Un::Log2, true),
    un("log10", Un::Log10, true),
    un("ln_1p", Un::Ln1p, true),
    un("sqrt", Un::Sqrt, false),
    un("cbrt", Un::Cbrt, true),
    un("recip", Un::Recip, false),
    un("abs", Un::Abs, false),
    un("signum", Un::Signum, false),
    un("floor", Un::Floor, false),
    un("ceil", Un::Ceil, false),
    un("round", Un::Round, false),
    un("trunc", Un::Trunc, false),
    un("fract", Un::Fract, false),
    bin("powf", Bin::Powf, true),
    bin("atan2", Bin::Atan2, true),
    bin("hypot", Bin::Hypot, true),
    bin("log", Bin::Log, true),
    bin("min", Bin::Min, false),
    bin("max", Bin::Max, false),
    MethodRow {
        name: "powi",
        op: MethodOp::PowI,
        costly: false,
    },
    MethodRow {
        name: "mul_add",
        op: MethodOp::MulAdd,
        costly: false,
    },
    MethodRow {
        name: "clamp",
        op: MethodOp::Clamp,
        costly: false,
    },
];

/// The float method `name`, if the rule table has it.
pub fn method(name: &str) -> Option<MethodOp> {
    METHODS.iter().find(|m| m.name == name).map(|m| m.op)
}

fn method_row(op: MethodOp) -> Option<&'static MethodRow> {
    METHODS.iter().find(|m| m.op == op)
}

/// How an op with no Rust method of its own is emitted: a function of the
/// runtime, `__private::name(x)`.
const RUNTIME_UN: &[(Un, &str)] = &[
    (Un::Sign0, "sign0"),
    (Un::Softplus, "softplus"),
    (Un::Sigmoid, "sigmoid"),
];

/// How a unary op is written.
pub enum UnForm {
    /// `-x`.
    Neg,
    /// `x.name()`.
    Method(&'static str),
    /// `__private::name(x)`.
    Runtime(&'static str),
}

impl Un {
    pub fn form(self) -> UnForm {
        if self == Un::Neg {
            return UnForm::Neg;
        }
        match method_row(MethodOp::Un(self)) {
            Some(row) => UnForm::Method(row.name),
            None => RUNTIME_UN
                .iter()
                .find(|(u, _)| *u == self)
                .map_or(UnForm::Neg, |(_, f)| UnForm::Runtime(f)),
        }
    }

    /// Is the value worth taping in a loop rather than computing again?
    /// (`softplus` and `sigmoid` are: they hold an `exp`.)
    pub fn costly(self) -> bool {
        method_row(MethodOp::Un(self))
            .map_or(matches!(self, Un::Softplus | Un::Sigmoid), |r| r.costly)
    }
}

impl Bin {
    /// The float method of a binary op (`powf`), `None` for arithmetic.
    pub fn method(self) -> Option<&'static str> {
        method_row(MethodOp::Bin(self)).map(|r| r.name)
    }

    pub fn costly(self) -> bool {
        method_row(MethodOp::Bin(self)).is_some_and(|r| r.costly)
    }
}

/// A runtime kernel: its function in `__private::rules`, whether it adds
/// into its first operand in place, whether it makes a new array, and
/// whether it has a matrix form (named with a `2`).
struct KernelRow {
    kernel: Kernel,
    runtime: &'static str,
    accumulates: bool,
    makes_array: bool,
    matrix_form: bool,
}

const fn value(
    kernel: Kernel,
    runtime: &'static str,
    makes_array: bool,
    matrix: bool,
) -> KernelRow {
    KernelRow {
        kernel,
        runtime,
        accumulates: false,
        makes_array,
        matrix_form: matrix,
    }
}

const fn acc(kernel: Kernel, runtime: &'static str, matrix: bool) -> KernelRow {
    KernelRow {
        kernel,
        runtime,
        accumulates: true,
        makes_array: false,
        matrix_form: matrix,
    }
}

const KERNELS: &[KernelRow] = &[
    value(Kernel::Sum, "sum", false, true),
    value(Kernel::Mean, "mean", false, false),
    value(Kernel::Dot, "dot", false, false),
    value(Kernel::Norm, "norm", false, false),
    value(Kernel::Logsumexp, "logsumexp", false, false),
    value(Kernel::LogsumexpDot, "logsumexp_dot", false, false),
    value(Kernel::ZeroOf, "zero_of", false, false),
    value(Kernel::Softmax, "softmax", true, false),
    value(Kernel::LogSoftmax, "log_softmax", true, false),
    value(Kernel::Sigmoid, "sigmoid", true, true),
    value(Kernel::Softplus, "softplus", true, true),
    value(Kernel::Matvec, "matvec", true, false),
    value(Kernel::Vecmat, "vecmat", true, false),
    value(Kernel::Matmul, "matmul", true, false),
    value(Kernel::Transpose, "transpose", true, false),
    value(Kernel::Outer, "outer", true, false),
    acc(Kernel::AccFill, "acc_fill", true),
    acc(Kernel::AccScaled, "acc_scaled", false),
    acc(Kernel::AccMatvec, "acc_matvec", false),
    acc(Kernel::AccVecmat, "acc_vecmat", false),
    acc(Kernel::AccOuter, "acc_outer", false),
    acc(Kernel::AccMatmul, "acc_matmul", false),
    acc(Kernel::AccMatmulNt, "acc_matmul_nt", false),
    acc(Kernel::AccMatmulTn, "acc_matmul_tn", false),
    acc(Kernel::AccTranspose, "acc_transpose", false),
    acc(Kernel::AccSigmoidBar, "acc_sigmoid_bar", true),
    acc(Kernel::AccSoftplusBar, "acc_softplus_bar", true),
    acc(Kernel::AccSoftmaxBar, "acc_softmax_bar", false),
    acc(Kernel::AccLogSoftmaxBar, "acc_log_softmax_bar", false),
    acc(Kernel::AccLogSoftmaxDot, "acc_log_softmax_dot", false),
    acc(Kernel::AccLogsumexpBar, "acc_logsumexp_bar", false),
    acc(Kernel::AccSigmoidBarDot, "acc_sigmoid_bar_dot", true),
    acc(Kernel::AccSoftplusBarDot, "acc_softplus_bar_dot", true),
    acc(Kernel::AccSoftmaxBarDot, "acc_softmax_bar_dot", false),
    acc(
        Kernel::AccLogSoftmaxBarDot,
        "acc_log_softmax_bar_dot",
        false,
    ),
    acc(Kernel::AccLogsumexpBarDot, "acc_logsumexp_bar_dot", false),
];

impl Kernel {
    fn row(self) -> &'static KernelRow {
        let row = KERNELS.iter().find(|r| r.kernel == self);
        // Every kernel has a row (a unit test checks it).
        row.unwrap_or(&KERNELS[0])
    }

    /// The runtime function, for a first array operand of rank 1.
    pub fn runtime_fn(self) -> &'static str {
        self.row().runtime
    }

    /// Does the kernel add into its first operand in place?
    pub fn accumulates(self) -> bool {
        self.row().accumulates
    }

    /// Does the kernel make a new array?
    pub fn makes_array(self) -> bool {
        self.row().makes_array
    }

    /// Does the kernel have a matrix form named with a `2`?
    pub fn has_matrix_form(self) -> bool {
        self.row().matrix_form
    }
}

/// What an array helper returns.
#[derive(Clone, Copy)]
pub enum HelperOut {
    Float,
    /// An array of its first argument's rank.
    SameRank,
    Rank(u8),
}

/// An array helper of the runtime (`sum(&x)`, `matvec(&a, &x)`): its
/// kernel, the ranks each argument may have, what it returns, and how it is
/// called (for error messages).
pub struct Helper {
    pub name: &'static str,
    pub kernel: Kernel,
    pub ranks: &'static [&'static [u8]],
    pub out: HelperOut,
    pub usage: &'static str,
    /// The generic arguments of one instance of the runtime's function
    /// (any one: a bare call is checked to be that function, and only its
    /// identity matters).
    pub instance: &'static str,
}

const V: &[u8] = &[1];
const M: &[u8] = &[2];
const VM: &[u8] = &[1, 2];

const fn helper(
    name: &'static str,
    kernel: Kernel,
    ranks: &'static [&'static [u8]],
    out: HelperOut,
    usage: &'static str,
    instance: &'static str,
) -> Helper {
    Helper {
        name,
        kernel,
        ranks,
        out,
        usage,
        instance,
    }
}

/// The array helpers, by name (a bare call or one through `autodiff::`).
pub const HELPERS: &[Helper] = &[
    helper(
        "sum",
        Kernel::Sum,
        &[VM],
        HelperOut::Float,
        "`sum(&x)` (x a vector or a matrix)",
        "f64, [f64]",
    ),
    helper(
        "mean",
        Kernel::Mean,
        &[V],
        HelperOut::Float,
        "`mean(&x)` (x a vector)",
        "f64, [f64]",
    ),
    helper(
        "dot",
        Kernel::Dot,
        &[V, V],
        HelperOut::Float,
        "`dot(&x, &y)` (x, y vectors)",
        "f64, [f64], [f64]",
    ),
    helper(
        "norm",
        Kernel::Norm,
        &[V],
        HelperOut::Float,
        "`norm(&x)` (x a vector)",
        "f64, [f64]",
    ),
    helper(
        "logsumexp",
        Kernel::Logsumexp,
        &[V],
        HelperOut::Float,
        "`logsumexp(&x)` (x a vector)",
        "f64, [f64]",
    ),
    helper(
        "softmax",
        Kernel::Softmax,
        &[V],
        HelperOut::SameRank,
        "`softmax(&x)` (x a vector)",
        "f64, [f64]",
    ),
    helper(
        "log_softmax",
        Kernel::LogSoftmax,
        &[V],
        HelperOut::SameRank,
        "`log_softmax(&x)` (x a vector)",
        "f64, [f64]",
    ),
    helper(
        "sigmoid",
        Kernel::Sigmoid,
        &[VM],
        HelperOut::SameRank,
        "`sigmoid(&x)` (x a float, a vector or a matrix)",
        "f64, f64",
    ),
    helper(
        "softplus",
        Kernel::Softplus,
        &[VM],
        HelperOut::SameRank,
        "`softplus(&x)` (x a float, a vector or a matrix)",
        "f64, f64",
    ),
    helper(
        "matvec",
        Kernel::Matvec,
        &[M, V],
        HelperOut::Rank(1),
        "`matvec(&a, &x)` (a a matrix, x a vector)",
        "f64, 1, [[f64; 1]], [f64]",
    ),
    helper(
        "vecmat",
        Kernel::Vecmat,
        &[V, M],
        HelperOut::Rank(1),
        "`vecmat(&x, &a)` (x a vector, a a matrix)",
        "f64, 1, [f64], [[f64; 1]]",
    ),
    helper(
        "matmul",
        Kernel::Matmul,
        &[M, M],
        HelperOut::Rank(2),
        "`matmul(&a, &b)` (a, b matrices)",
        "f64, 1, 1, [[f64; 1]], [[f64; 1]]",
    ),
    helper(
        "transpose",
        Kernel::Transpose,
        &[M],
        HelperOut::Rank(2),
        "`transpose(&a)` (a a matrix)",
        "f64, 1, 1",
    ),
    helper(
        "outer",
        Kernel::Outer,
        &[V, V],
        HelperOut::Rank(2),
        "`outer(&x, &y)` (x, y vectors)",
        "f64, 1, [f64]",
    ),
];

/// The array helper `name`.
pub fn helper_named(name: &str) -> Option<&'static Helper> {
    HELPERS.iter().find(|h| h.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_has_one_row_and_every_accumulator_its_prefix() {
        for row in KERNELS {
            let rows = KERNELS.iter().filter(|r| r.kernel == row.kernel).count();
            assert_eq!(rows, 1, "{:?}", row.kernel);
            assert_eq!(
                row.accumulates,
                row.runtime.starts_with("acc_"),
                "{}",
                row.runtime
            );
        }
        assert_eq!(KERNELS.len(), 36);
    }

    #[test]
    fn methods_round_trip() {
        for row in METHODS {
            assert_eq!(method(row.name), Some(row.op));
            match row.op {
                MethodOp::Un(u) => assert!(matches!(u.form(), UnForm::Method(n) if n == row.name)),
                MethodOp::Bin(b) => assert_eq!(b.method(), Some(row.name)),
                _ => {}
            }
        }
        assert!(matches!(Un::Sign0.form(), UnForm::Runtime("sign0")));
        assert!(matches!(Un::Neg.form(), UnForm::Neg));
        assert_eq!(Bin::Add.method(), None);
        assert!(Un::Sigmoid.costly() && Un::Exp.costly() && !Un::Abs.costly());
    }
}
