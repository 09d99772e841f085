//! The intermediate representation: a hash-consed DAG of value nodes with
//! structured regions (`If`) for control flow.
//!
//! Every node lives in one region. Building a node looks for an identical
//! node in the current region and its ancestors first (hash-consing), so a
//! common subexpression is one node by construction. Nodes are never hoisted
//! out of the region they were built in: a branch that is not taken is never
//! evaluated.

mod display;
pub mod eval;
pub mod ops;

use std::collections::HashMap;

/// Index of a node in [`Graph::nodes`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// Index of a region in [`Graph::regions`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct RegionId(pub u32);

/// The root region of every graph.
pub const ROOT: RegionId = RegionId(0);

/// A float element type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FloatTy {
    F32,
    F64,
    /// The function's type parameter `T: Float` (see
    /// [`Cx::generic`](crate::context::Cx::generic)); constants fold as
    /// `f64`.
    Generic,
}

impl FloatTy {
    /// Rounds `v` to this type (the value a literal of this type holds).
    pub fn round(self, v: f64) -> f64 {
        match self {
            FloatTy::F32 => v as f32 as f64,
            FloatTy::F64 | FloatTy::Generic => v,
        }
    }
}

/// The type of a value, as far as differentiation cares.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Ty {
    /// A differentiable float.
    Float(FloatTy),
    /// An array of floats of the given rank (1: `[T; N]`, `&[T]`, a
    /// tape; 2: `[[T; C]; R]`). Arrays are read by `Index`; adjoint
    /// arrays are written by `AddAt`, in place.
    Array(FloatTy, u8),
    /// A boolean (conditions).
    Bool,
    /// An integer of any primitive type (indices, lengths, counters).
    Int,
    /// Anything else (opaque values of unknown type); never
    /// differentiated.
    Other,
}

impl Ty {
    /// The type of a scalar float.
    pub fn float(self) -> Option<FloatTy> {
        match self {
            Ty::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The element type of a float or an array of floats: anything that
    /// has a derivative.
    pub fn elem(self) -> Option<FloatTy> {
        match self {
            Ty::Float(f) | Ty::Array(f, _) => Some(f),
            _ => None,
        }
    }

    pub fn is_array(self) -> bool {
        matches!(self, Ty::Array(..))
    }
}

/// Unary float operations.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Un {
    Neg,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Exp,
    Exp2,
    ExpM1,
    Ln,
    Log2,
    Log10,
    Ln1p,
    Sqrt,
    Cbrt,
    Recip,
    Abs,
    Signum,
    Floor,
    Ceil,
    Round,
    Trunc,
    Fract,
    /// `signum` with 0 at ±0 (the derivative of `abs`).
    Sign0,
    /// `ln(1 + exp(x))`, computed stably (a stability rewrite's target).
    Softplus,
    /// `1 / (1 + exp(-x))` (the derivative of `softplus`).
    Sigmoid,
}

/// Binary float operations.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Powf,
    Atan2,
    Hypot,
    Log,
    Min,
    Max,
}

/// Integer arithmetic, as Rust's operators on one integer type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum IntOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    /// `Ord::min`: the length of a `zip` (it stops at the shortest).
    Min,
    /// `Ord::max`.
    Max,
    /// `a.wrapping_sub(b)` on an `i32`: the exponent `n - 1` of a `powi`
    /// derivative, which must not overflow at `i32::MIN`.
    WrappingSubI32,
}

/// The float predicates conditions may test.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Pred {
    Nan,
    Finite,
    Infinite,
    SignNegative,
    SignPositive,
    /// Neither zero, subnormal, infinite nor NaN: where a rule may divide
    /// by a value and keep every bit of its precision (`powf`'s `x` part).
    Normal,
}

impl Pred {
    const ALL: [(Pred, &'static str); 6] = [
        (Pred::Nan, "is_nan"),
        (Pred::Finite, "is_finite"),
        (Pred::Infinite, "is_infinite"),
        (Pred::SignNegative, "is_sign_negative"),
        (Pred::SignPositive, "is_sign_positive"),
        (Pred::Normal, "is_normal"),
    ];

    pub fn from_method(name: &str) -> Option<Pred> {
        Pred::ALL.iter().find(|(_, n)| *n == name).map(|(p, _)| *p)
    }

    pub fn method(self) -> &'static str {
        Pred::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("is_nan", |(_, n)| n)
    }

    /// The predicate on `x`, a value of type `ty` (an `f32` is normal in
    /// a narrower range than its `f64` image).
    pub fn eval(self, ty: FloatTy, x: f64) -> bool {
        match self {
            Pred::Nan => x.is_nan(),
            Pred::Finite => x.is_finite(),
            Pred::Infinite => x.is_infinite(),
            Pred::SignNegative => x.is_sign_negative(),
            Pred::SignPositive => x.is_sign_positive(),
            Pred::Normal if ty == FloatTy::F32 => (x as f32).is_normal(),
            Pred::Normal => x.is_normal(),
        }
    }
}

/// The primitive integer types, the targets of `as` casts.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum IntTy {
    I8,
    I16,
    I32,
    I64,
    I128,
    Isize,
    U8,
    U16,
    U32,
    U64,
    U128,
    Usize,
}

impl IntTy {
    const ALL: [(IntTy, &'static str); 12] = [
        (IntTy::I8, "i8"),
        (IntTy::I16, "i16"),
        (IntTy::I32, "i32"),
        (IntTy::I64, "i64"),
        (IntTy::I128, "i128"),
        (IntTy::Isize, "isize"),
        (IntTy::U8, "u8"),
        (IntTy::U16, "u16"),
        (IntTy::U32, "u32"),
        (IntTy::U64, "u64"),
        (IntTy::U128, "u128"),
        (IntTy::Usize, "usize"),
    ];

    /// The type a name (`usize`, `i32`, ...) spells.
    pub fn from_name(name: &str) -> Option<IntTy> {
        IntTy::ALL.iter().find(|(_, n)| *n == name).map(|(t, _)| *t)
    }

    /// `v as` this type (truncated toward zero, saturated), as an `i64`
    /// (a `u64`/`u128` above `i64::MAX` saturates there).
    pub fn cast(self, v: f64) -> i64 {
        match self {
            IntTy::I8 => i64::from(v as i8),
            IntTy::I16 => i64::from(v as i16),
            IntTy::I32 => i64::from(v as i32),
            IntTy::U8 => i64::from(v as u8),
            IntTy::U16 => i64::from(v as u16),
            IntTy::U32 => i64::from(v as u32),
            IntTy::I64 | IntTy::I128 | IntTy::Isize => v as i64,
            IntTy::U64 | IntTy::U128 | IntTy::Usize => (v as u64).min(i64::MAX as u64) as i64,
        }
    }

    pub fn name(self) -> &'static str {
        IntTy::ALL
            .iter()
            .find(|(t, _)| *t == self)
            .map_or("i64", |(_, n)| n)
    }
}

/// Comparisons; `MaxFirst`/`MinFirst` tell whether `a.max(b)` / `a.min(b)`
/// returns its first argument (ties go to the first).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    MaxFirst,
    MinFirst,
}

/// What a node computes. Operands are the node's `args`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Op {
    /// A function parameter, or one field of a tuple parameter.
    Param {
        index: u32,
        field: Option<u32>,
    },
    /// A float literal (the bits of its `f64` value, already rounded to the
    /// node's type).
    Const(u64),
    /// An integer literal.
    Int(i64),
    /// A boolean literal.
    Bool(bool),
    /// `Default::default()` of the node's type: the filler a branch
    /// yields for a value only the other branch computes.
    Default,
    /// User tokens that depend on no active value, kept as written;
    /// `args` are the bindings they mention (see [`Opaque`]).
    Opaque(u32),
    Un(Un),
    Bin(Bin),
    /// `x.powi(n)`: `[x, n]`, `n` an integer node.
    PowI,
    /// `a.mul_add(b, c)`: `[a, b, c]`.
    MulAdd,
    /// `x.clamp(lo, hi)`: `[x, lo, hi]`.
    Clamp,
    /// `n as F`: `[n]`, `n` an integer node.
    IntToFloat,
    /// `x as F` between `f32` and `f64`: `[x]` (the derivative passes
    /// through, converted).
    FloatCast,
    /// `x as i64` (any integer type) of a float `[x]`: piecewise constant.
    FloatToInt(IntTy),
    /// `x.is_nan()` and the like, of a float `[x]`.
    Pred(Pred),
    /// Integer arithmetic `[a, b]` (index arithmetic, loop bounds,
    /// counters).
    IntBin(IntOp),
    /// `n as i32` (any integer type): `[n]`.
    IntCast(IntTy),
    /// A comparison `[a, b]`, giving a `Bool`.
    Cmp(Cmp),
    Not,
    And,
    Or,
    /// `if c { a } else { b }` on values already computed: `[c, a, b]`.
    Select,
    /// A structured conditional: `[cond]`; yields the outputs of the
    /// taken region, read with [`Op::Proj`].
    If {
        then: RegionId,
        els: RegionId,
    },
    /// Output `k` of an `If` or a `Loop`: `[node]`.
    Proj(u32),
    /// Element `arr[i]` (or `arr[i][j]`): `[arr, i, (j)]`, integer indices.
    Index,
    /// `arr.len()`: `[arr]`; `m[i].len()`, the length of a matrix's row:
    /// `[m, i]`.
    Len,
    /// `arr` with `v` added at an index: `[arr, i, (j), v]`. The transforms
    /// use each array version once (an adjoint accumulator), so it is
    /// emitted as `arr[i] += v` in place.
    AddAt,
    /// An array of zeros shaped like array `[arr]`.
    ZerosLike,
    /// `[v; LEN]`: `[v]`, `LEN` the user's tokens (opaque expression `k`),
    /// emitted as written since an array length must be a constant.
    FillFixed(u32),
    /// `vec![v; n]`: `[v, n]`.
    FillVec,
    /// `[a, b, ...]`: the elements.
    ArrayLit,
    /// `arr` with the element at an index replaced: `[arr, i, (j), v]`;
    /// like `AddAt`, emitted in place (`arr[i] = v`).
    Store,
    /// An owned copy of an array `[arr]` (`[T; N]` or `Vec<T>`), to be
    /// updated in place.
    Owned,
    /// The array parameter `[arr, like]` (a cotangent), checked to have the
    /// length of `like` (the value it is the cotangent of): a run-time
    /// panic that names both otherwise. The value is `arr`.
    Checked,
    /// `path(args)`: a call to a function whose companions exist
    /// (`Graph::calls[k]`); a float.
    Call(u32),
    /// `path_jvp(args.., dots..)`: `[args.., dots..]`, one dot per float or
    /// array argument; a pair (value, tangent).
    CallJvp(u32),
    /// `path_vjp(args.., out_bar)`: `[args.., out_bar]`; a pair (value,
    /// adjoints of the float and array arguments: one, or a tuple).
    CallVjp(u32),
    /// `path_vjp_jvp(args.., out_bar, dots.., out_bar_dot)`: the forward
    /// mode of `path_vjp`; a pair (its value, its tangent).
    CallVjpJvp(u32),
    /// A field of a tuple-valued node: `x.1` is `[1]`, `x.1.0` is `[1, 0]`.
    Field(Vec<u32>),
    /// A tuple of `len` floats, `[v]` at `at` and zeros elsewhere: the
    /// cotangent a call's tuple result gets from one of its parts.
    TupleAt {
        at: u32,
        len: u32,
    },
    /// `acc` with the array `b` added elementwise: `[acc, b]`, emitted in
    /// place like `AddAt`.
    AddArray,
    /// The sum of every element of `[arr]`.
    SumAll,
    /// Input `k` of a loop body region: 0 is the index, `1 + j` carried
    /// value `j` at the start of the iteration.
    RegionArg(RegionId, u32),
    /// An array helper computed by its kernel in the runtime
    /// (`autodiff::__private::rules`); its derivative is its entry in the
    /// rule table ([`crate::diff::rules`]). A kernel that
    /// [accumulates](Kernel::accumulates) adds into its first operand in
    /// place, like `AddArray`.
    Kernel(Kernel),
    /// An empty buffer for an array shaped like `[like]` (the gather pass's
    /// in place of zeros updated by `AddAt`): filled in index order by
    /// `PadTo` and `Push` (a loop pushing one element per index is emitted
    /// as `extend` of a mapped range), then read as the array by `Finish`.
    FillLike,
    /// The buffer `buf` with `v` appended: `[buf, v]`, in place.
    Push,
    /// The buffer `buf` with zeros appended up to length `n`: `[buf, n]`,
    /// in place.
    PadTo,
    /// The array the buffer `buf` fills, zeros after its last element:
    /// `[buf, like]`, `like` the array it is shaped like (the runtime's
    /// buffer remembers that shape; the IR reads it here).
    Finish,
    /// `for i in start..end` (reversed if `rev`): `[start, end, init...]`.
    /// The body's outputs are the `carried` next values, then values
    /// stacked across iterations (a tape: output `carried + k` is an array
    /// of one element per iteration, in execution order). A loop with an
    /// [`Exit`] may stop early (`while`, `loop`, `break`, `return`).
    Loop {
        body: RegionId,
        carried: u32,
        rev: bool,
        exit: Option<Exit>,
    },
}

impl Op {
    /// Does the op make a new array (a buffer later updated in place)?
    pub fn allocates(&self) -> bool {
        match self {
            Op::ZerosLike
            | Op::FillFixed(_)
            | Op::FillVec
            | Op::ArrayLit
            | Op::Owned
            | Op::FillLike => true,
            Op::Kernel(k) => k.makes_array(),
            _ => false,
        }
    }

    /// Does the op update its first operand (an array) in place?
    pub fn updates_in_place(&self) -> bool {
        match self {
            Op::AddAt | Op::Store | Op::AddArray | Op::Push | Op::PadTo => true,
            Op::Kernel(k) => k.accumulates(),
            _ => false,
        }
    }

    /// The regions an op holds.
    pub fn regions(&self) -> Vec<RegionId> {
        match *self {
            Op::If { then, els } => vec![then, els],
            Op::Loop { body, .. } => vec![body],
            _ => Vec::new(),
        }
    }
}

/// How a loop may stop before its range ends: after an iteration whose
/// carried `Bool` `go` is false. Carried value `count` is the number of
/// iterations run (reverse mode reverses that many); an `unbounded` loop
/// has no end (`while`, `loop`: `end` is not read).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Exit {
    pub go: u32,
    pub count: u32,
    pub unbounded: bool,
}

/// The runtime kernels behind the array helpers and their derivative
/// rules (`autodiff::__private::rules`, one function each; their rows are
/// in [`ops`]). Values come first; the `Acc*` kernels take an
/// accumulator first and add a term to it in place (`ȳ` is an adjoint,
/// `ẋ` a tangent).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kernel {
    /// `[x]`: Σ x (a vector or a matrix).
    Sum,
    /// `[x]`: Σ x / n.
    Mean,
    /// `[x, y]`: Σ x·y.
    Dot,
    /// `[x]`: sqrt(Σ x²).
    Norm,
    /// `[x]`: ln Σ exp x, max-shifted.
    Logsumexp,
    /// `[x, lse, ẋ]`: Σ exp(x − lse)·ẋ (0 unless `lse` is finite).
    LogsumexpDot,
    /// `[c]`: the zero tangent of a constant kept as written, of a type
    /// lowering cannot see (a float, or an array: `g(W, x)` with `const
    /// W: [f64; 2]`), as the argument of a call.
    ZeroOf,
    /// `[x]`, elementwise or shift-invariant maps of a vector (sigmoid and
    /// softplus of a matrix too).
    Softmax,
    LogSoftmax,
    Sigmoid,
    Softplus,
    /// `[a, x]`: a·x.
    Matvec,
    /// `[x, a]`: xᵀ·a.
    Vecmat,
    /// `[a, b]`: a·b.
    Matmul,
    /// `[a]`: aᵀ.
    Transpose,
    /// `[x, y]`: x·yᵀ.
    Outer,
    /// `[acc, s]`: every element plus the scalar `s`.
    AccFill,
    /// `[acc, s, x]`: acc + s·x.
    AccScaled,
    /// `[acc, a, x]`: acc + a·x.
    AccMatvec,
    /// `[acc, x, a]`: acc + xᵀ·a.
    AccVecmat,
    /// `[acc, u, v]`: acc + u·vᵀ.
    AccOuter,
    /// `[acc, a, b]`: acc + a·b, acc + a·bᵀ, acc + aᵀ·b.
    AccMatmul,
    AccMatmulNt,
    AccMatmulTn,
    /// `[acc, a]`: acc + aᵀ.
    AccTranspose,
    /// `[acc, ȳ, s]`: acc + ȳ·s·(1 − s), `s` the sigmoid.
    AccSigmoidBar,
    /// `[acc, ȳ, x]`: acc + ȳ·sigmoid(x).
    AccSoftplusBar,
    /// `[acc, ȳ, s]`: acc + s·(ȳ − ⟨ȳ, s⟩), `s` the softmax.
    AccSoftmaxBar,
    /// `[acc, ȳ, l]`: acc + ȳ − exp(l)·Σȳ, `l` the log-softmax.
    AccLogSoftmaxBar,
    /// `[acc, ẋ, l]`: acc + ẋ − ⟨exp(l), ẋ⟩.
    AccLogSoftmaxDot,
    /// `[acc, ȳ, x, lse]`: acc + ȳ·softmax(x) (= ȳ·exp(x − lse)) when
    /// `lse` is finite.
    AccLogsumexpBar,
    /// The tangents of the `*Bar` terms in their nonlinear operand:
    /// `[acc, ȳ, s, ṡ]`, `[acc, ȳ, x, ẋ]`, `[acc, ȳ, s, ṡ]`,
    /// `[acc, ȳ, l, l̇]`, `[acc, ȳ, x, lse, ẋ]` (lse only gates).
    AccSigmoidBarDot,
    AccSoftplusBarDot,
    AccSoftmaxBarDot,
    AccLogSoftmaxBarDot,
    AccLogsumexpBarDot,
}

/// One value.
#[derive(Clone, Debug)]
pub struct Node {
    pub op: Op,
    pub args: Vec<NodeId>,
    pub ty: Ty,
    pub region: RegionId,
    /// The user's tokens the value comes from (a derivative's, those of
    /// the value it is the derivative of), for errors and emitted calls.
    pub span: proc_macro2::Span,
}

/// A structured region: its nodes in build (topological) order and the
/// values it yields to its parent.
#[derive(Clone, Debug, Default)]
pub struct Region {
    pub parent: Option<RegionId>,
    pub nodes: Vec<NodeId>,
    pub outputs: Vec<NodeId>,
}

/// User tokens kept as written. `refs` maps each binding name the tokens
/// mention to the argument (position in the node's `args`) that holds it;
/// the emitter binds those names to the arguments' values around the
/// tokens.
#[derive(Clone)]
pub struct Opaque {
    pub expr: syn::Expr,
    pub refs: Vec<syn::Ident>,
    /// The one name the body binds this value to, if it can be emitted
    /// under it: then the tokens that mention it need no rebinding (a value
    /// of unknown type may not be `Copy`).
    pub name: Option<syn::Ident>,
    /// The type a `let` declares for it: emitted with it.
    pub ty: Option<syn::Type>,
    /// A constant of a type lowering cannot see, passed to a call as a
    /// float: its tangent is [`Kernel::ZeroOf`] it, whatever it is.
    pub unseen: bool,
}

/// The tokens as written (syn's `Debug` for its syntax tree is a feature
/// the macro does without: it costs every user's build).
impl std::fmt::Debug for Opaque {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use quote::ToTokens;
        let tokens = |t: &dyn ToTokens| t.to_token_stream().to_string();
        f.debug_struct("Opaque")
            .field("expr", &tokens(&self.expr))
            .field("refs", &self.refs)
            .field("name", &self.name)
            .field("ty", &self.ty.as_ref().map(|t| tokens(t)))
            .finish()
    }
}

impl Opaque {
    /// Tokens kept as written, mentioning the bindings `refs`.
    pub fn new(expr: syn::Expr, refs: Vec<syn::Ident>) -> Opaque {
        Opaque {
            expr,
            refs,
            name: None,
            ty: None,
            unseen: false,
        }
    }

    /// `expr` parsed, mentioning the bindings named `refs` (tests).
    #[cfg(test)]
    pub fn parsed(expr: &str, refs: &[&str]) -> Opaque {
        let ident = |n: &&str| syn::Ident::new(n, proc_macro2::Span::call_site());
        let expr = syn::parse_str(expr).expect("test expression parses");
        Opaque::new(expr, refs.iter().map(ident).collect())
    }
}

/// A called function: its path, which arguments are passed by reference
/// (`&x`), and whether it returns a `Vec` (whose cotangent is passed as a
/// slice), if the caller wrote the output's type.
#[derive(Clone)]
pub struct Callee {
    pub path: syn::Path,
    pub by_ref: Vec<bool>,
    pub vec_out: Option<bool>,
    /// The number of floats in the tuple the callee returns, when the body
    /// destructures it (`let (a, b) = g(x)`): the call is a tuple, read by
    /// [`Op::Field`], and each part's cotangent is an [`Op::TupleAt`].
    pub tuple_len: Option<u32>,
}

/// The path as written (see [`Opaque`]'s `Debug`).
impl std::fmt::Debug for Callee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use quote::ToTokens;
        f.debug_struct("Callee")
            .field("path", &self.path.to_token_stream().to_string())
            .field("by_ref", &self.by_ref)
            .field("vec_out", &self.vec_out)
            .field("tuple_len", &self.tuple_len)
            .finish()
    }
}

impl Callee {
    /// The path of a companion: `module::g` -> `module::g_jvp`.
    pub fn companion(&self, suffix: &str) -> syn::Path {
        let mut path = self.path.clone();
        if let Some(last) = path.segments.last_mut() {
            last.ident =
                quote::format_ident!("{}_{}", last.ident, suffix, span = last.ident.span());
        }
        path
    }
}

/// A fast hasher for the interning table, whose keys are small and not
/// chosen by an adversary: each word is mixed in by a rotation, an xor and
/// a multiplication by an odd constant (the idea of Firefox's hash).
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FastHasher`]s.
pub type BuildFast = std::hash::BuildHasherDefault<FastHasher>;

/// The interning table: op, operands and type, to the regions holding
/// such a node and the node in each.
type Interned = HashMap<(Op, Vec<NodeId>, Ty), Vec<(RegionId, NodeId)>, BuildFast>;

/// The node among interned copies `held` that region `region` holds.
fn in_region(held: &[(RegionId, NodeId)], region: RegionId) -> Option<NodeId> {
    held.iter().find(|(h, _)| *h == region).map(|&(_, id)| id)
}

/// The arena of nodes and regions.
#[derive(Clone, Debug)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub regions: Vec<Region>,
    pub opaques: Vec<Opaque>,
    pub calls: Vec<Callee>,
    /// The span new nodes get: the tokens a pass is working on.
    pub span: proc_macro2::Span,
    /// Op, operands and type of each interned node (`3.0` as an `f32` and
    /// as an `f64` are two nodes), with the regions that hold one: a
    /// lookup hashes the key once, whatever the nesting.
    interned: Interned,
}

impl Default for Graph {
    fn default() -> Self {
        Graph {
            nodes: Vec::new(),
            regions: vec![Region::default()],
            opaques: Vec::new(),
            calls: Vec::new(),
            span: proc_macro2::Span::call_site(),
            interned: HashMap::default(),
        }
    }
}

impl Graph {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    pub fn op(&self, id: NodeId) -> &Op {
        &self.node(id).op
    }

    pub fn args(&self, id: NodeId) -> &[NodeId] {
        &self.node(id).args
    }

    pub fn ty(&self, id: NodeId) -> Ty {
        self.node(id).ty
    }

    pub fn region(&self, id: RegionId) -> &Region {
        &self.regions[id.0 as usize]
    }

    /// A new empty region nested in `parent`.
    pub fn new_region(&mut self, parent: RegionId) -> RegionId {
        self.regions.push(Region {
            parent: Some(parent),
            ..Region::default()
        });
        RegionId(self.regions.len() as u32 - 1)
    }

    pub fn set_outputs(&mut self, region: RegionId, outputs: Vec<NodeId>) {
        self.regions[region.0 as usize].outputs = outputs;
    }

    /// Is `inner` equal to `outer` or nested in it?
    pub fn within(&self, mut inner: RegionId, outer: RegionId) -> bool {
        loop {
            if inner == outer {
                return true;
            }
            match self.region(inner).parent {
                Some(p) => inner = p,
                None => return false,
            }
        }
    }

    /// The node computing `op` on `args` in `region`, built if no identical
    /// node exists there or in an enclosing region.
    pub fn add(&mut self, region: RegionId, op: Op, args: Vec<NodeId>, ty: Ty) -> NodeId {
        // A new array is a buffer that will be updated in place: two of
        // them are never the same node.
        if op.allocates() {
            return self.push(region, op, args, ty);
        }
        let key = (op, args, ty);
        match self.region(region).parent {
            Some(parent) => match self.lookup(parent, &key) {
                Some(id) => id,
                None => self.intern(region, key),
            },
            None => self.intern(region, key),
        }
    }

    /// The node computing `op` on `args` in `region` itself, if one was
    /// built.
    pub fn find(&self, region: RegionId, op: Op, args: Vec<NodeId>, ty: Ty) -> Option<NodeId> {
        self.held(region, &(op, args, ty))
    }

    /// The interned node `key` of `region` itself.
    fn held(&self, region: RegionId, key: &(Op, Vec<NodeId>, Ty)) -> Option<NodeId> {
        in_region(self.interned.get(key)?, region)
    }

    /// The interned node `key` of `region` or a region enclosing it (the
    /// key hashed once, whatever the nesting).
    fn lookup(&self, region: RegionId, key: &(Op, Vec<NodeId>, Ty)) -> Option<NodeId> {
        let held = self.interned.get(key)?;
        let mut r = Some(region);
        while let Some(reg) = r {
            if let Some(id) = in_region(held, reg) {
                return Some(id);
            }
            r = self.region(reg).parent;
        }
        None
    }

    /// Like [`Graph::add`], but looks only in `region` itself for an
    /// identical node. For values added to a region after the `If` holding
    /// it was built: a node of an enclosing region found by lookup might
    /// come after that `If`.
    pub fn add_local(&mut self, region: RegionId, op: Op, args: Vec<NodeId>, ty: Ty) -> NodeId {
        self.intern(region, (op, args, ty))
    }

    /// The node `key` of `region` itself, built if there is none.
    fn intern(&mut self, region: RegionId, key: (Op, Vec<NodeId>, Ty)) -> NodeId {
        if let Some(id) = self.held(region, &key) {
            return id;
        }
        let id = self.push(region, key.0.clone(), key.1.clone(), key.2);
        self.interned.entry(key).or_default().push((region, id));
        id
    }

    /// A new node at the start of `region` (before the in-place updates
    /// the region makes), not interned: a copy of an array as the region
    /// begins, say.
    pub fn add_first(&mut self, region: RegionId, op: Op, args: Vec<NodeId>, ty: Ty) -> NodeId {
        let id = self.push(region, op, args, ty);
        let nodes = &mut self.regions[region.0 as usize].nodes;
        nodes.pop();
        nodes.insert(0, id);
        id
    }

    /// A new node right after `after` in `region`, not interned: a copy of
    /// an array before a later in-place update, say.
    pub fn add_after(
        &mut self,
        region: RegionId,
        after: NodeId,
        op: Op,
        args: Vec<NodeId>,
        ty: Ty,
    ) -> NodeId {
        let id = self.push(region, op, args, ty);
        let nodes = &mut self.regions[region.0 as usize].nodes;
        nodes.pop();
        let at = nodes
            .iter()
            .position(|&n| n == after)
            .map_or(nodes.len(), |p| p + 1);
        nodes.insert(at, id);
        id
    }

    /// A new node, not interned.
    fn push(&mut self, region: RegionId, op: Op, args: Vec<NodeId>, ty: Ty) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(Node {
            op,
            args,
            ty,
            region,
            span: self.span,
        });
        self.regions[region.0 as usize].nodes.push(id);
        id
    }

    pub fn add_opaque(
        &mut self,
        region: RegionId,
        opaque: Opaque,
        args: Vec<NodeId>,
        ty: Ty,
    ) -> NodeId {
        self.opaques.push(opaque);
        let index = self.opaques.len() as u32 - 1;
        self.add(region, Op::Opaque(index), args, ty)
    }

    /// The float value of a `Const` node.
    pub fn const_value(&self, id: NodeId) -> Option<f64> {
        match self.op(id) {
            Op::Const(bits) => Some(f64::from_bits(*bits)),
            _ => None,
        }
    }

    pub fn is_const(&self, id: NodeId, v: f64) -> bool {
        self.const_value(id) == Some(v)
    }

    /// Number of uses of each node (by other nodes and region outputs).
    pub fn use_counts(&self, outputs: &[NodeId]) -> Vec<u32> {
        let mut uses = vec![0u32; self.nodes.len()];
        for &o in outputs {
            uses[o.0 as usize] += 1;
        }
        for node in &self.nodes {
            for &a in &node.args {
                uses[a.0 as usize] += 1;
            }
            for r in node.op.regions() {
                for &o in &self.region(r).outputs {
                    uses[o.0 as usize] += 1;
                }
            }
        }
        uses
    }

    /// The `vec![v; n]` or `[v; N]` that made array `a`: `a` itself, or
    /// the array enclosing loops carry `a` from, or one written element by
    /// element since (by earlier loops, `let mut v = vec![0.0; n]; for i in
    /// 0..n { v[i] = ..; }`). Its length is `a`'s.
    pub fn array_root(&self, a: NodeId) -> Option<NodeId> {
        match *self.op(a) {
            Op::FillVec | Op::FillFixed(_) => Some(a),
            Op::RegionArg(r, k) if k > 0 => {
                // Carried by an enclosing loop: the array it starts from.
                let outer = self
                    .nodes
                    .iter()
                    .position(|n| matches!(n.op, Op::Loop { body, .. } if body == r))?;
                self.array_root(self.args(NodeId(outer as u32))[1 + k as usize])
            }
            Op::Store | Op::AddAt => self.array_root(self.args(a)[0]),
            Op::Proj(k) => {
                // Carried out of an earlier loop that only writes elements.
                let l = self.args(a)[0];
                let Op::Loop { body, carried, .. } = *self.op(l) else {
                    return None;
                };
                let out = *self.region(body).outputs.get(k as usize)?;
                let arg = self.region_arg(body, k + 1)?;
                (k < carried && self.array_root(out) == self.array_root(arg))
                    .then(|| self.array_root(self.args(l)[2 + k as usize]))
                    .flatten()
            }
            _ => None,
        }
    }

    /// The nodes that take each node as an operand, indexed by node.
    pub fn users(&self) -> Vec<Vec<NodeId>> {
        let mut out = vec![Vec::new(); self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            for &a in &node.args {
                out[a.0 as usize].push(NodeId(i as u32));
            }
        }
        out
    }

    /// The node `RegionArg(region, k)`, if the region reads it.
    pub fn region_arg(&self, region: RegionId, k: u32) -> Option<NodeId> {
        self.region(region)
            .nodes
            .iter()
            .copied()
            .find(|&n| self.op(n) == &Op::RegionArg(region, k))
    }

    pub fn live(&self, outputs: &[NodeId]) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len()];
        let mut stack: Vec<NodeId> = outputs.to_vec();
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut live[id.0 as usize], true) {
                continue;
            }
            let node = self.node(id);
            stack.extend(node.args.iter().copied());
            for r in node.op.regions() {
                stack.extend(self.region(r).outputs.iter().copied());
            }
        }
        live
    }
}

/// A parameter of a [`Function`].
#[derive(Clone, Debug)]
pub struct Param {
    pub name: syn::Ident,
    /// Element types: one for a scalar parameter, one per field for a tuple.
    pub fields: Vec<Ty>,
    /// Declared `usize`: a loop up to it counts in `usize` (an integer
    /// parameter of another type, or of a type not seen, may not).
    pub usize: bool,
    /// A loop's tape captured by a pullback (see [`crate::split`]): read at
    /// the loop's positions, `usize` whatever the loop counts in.
    pub tape: bool,
}

/// The shape of a function's result, read from its flat output list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutShape {
    Leaf,
    Tuple(Vec<OutShape>),
}

impl OutShape {
    /// Number of flat outputs.
    pub fn len(&self) -> usize {
        match self {
            OutShape::Leaf => 1,
            OutShape::Tuple(items) => items.iter().map(OutShape::len).sum(),
        }
    }
}

/// A function in IR form: parameters, a graph, flat outputs in the root
/// region and the shape that groups them.
#[derive(Clone, Debug)]
pub struct Function {
    pub params: Vec<Param>,
    pub graph: Graph,
    pub outputs: Vec<NodeId>,
    pub shape: OutShape,
}

impl Function {
    /// Number of live nodes (the size measure used against swell).
    #[cfg(test)]
    pub fn live_count(&self) -> usize {
        self.graph
            .live(&self.outputs)
            .iter()
            .filter(|l| **l)
            .count()
    }
}

/// Shorthands for building float nodes; the result type is the first
/// float operand's.
impl Graph {
    pub fn konst(&mut self, r: RegionId, ty: FloatTy, v: f64) -> NodeId {
        self.add(r, Op::Const(ty.round(v).to_bits()), vec![], Ty::Float(ty))
    }

    /// Is `id` the tape of a loop: one of its stacked outputs (a
    /// projection past the carried ones)?
    pub fn is_tape(&self, id: NodeId) -> bool {
        match (self.op(id), self.args(id)) {
            (Op::Proj(j), &[l]) => {
                matches!(self.op(l), Op::Loop { carried, .. } if *j >= *carried)
            }
            _ => false,
        }
    }

    pub fn float_ty(&self, id: NodeId) -> FloatTy {
        self.ty(id).float().unwrap_or(FloatTy::F64)
    }

    pub fn un(&mut self, r: RegionId, op: Un, x: NodeId) -> NodeId {
        let ty = self.ty(x);
        self.add(r, Op::Un(op), vec![x], ty)
    }

    pub fn bin(&mut self, r: RegionId, op: Bin, a: NodeId, b: NodeId) -> NodeId {
        let ty = match self.ty(a) {
            Ty::Float(f) => Ty::Float(f),
            _ => self.ty(b),
        };
        self.add(r, Op::Bin(op), vec![a, b], ty)
    }

    pub fn select(&mut self, r: RegionId, c: NodeId, a: NodeId, b: NodeId) -> NodeId {
        let ty = self.ty(a);
        self.add(r, Op::Select, vec![c, a, b], ty)
    }

    pub fn int(&mut self, r: RegionId, n: i64) -> NodeId {
        self.add(r, Op::Int(n), vec![], Ty::Int)
    }

    pub fn int_bin(&mut self, r: RegionId, op: IntOp, a: NodeId, b: NodeId) -> NodeId {
        self.add(r, Op::IntBin(op), vec![a, b], Ty::Int)
    }

    pub fn cmp(&mut self, r: RegionId, op: Cmp, a: NodeId, b: NodeId) -> NodeId {
        self.add(r, Op::Cmp(op), vec![a, b], Ty::Bool)
    }

    /// A zero of type `ty` in `r`: zeros shaped like `like` for an array,
    /// else [`Graph::filler`].
    pub fn zero_like(&mut self, r: RegionId, ty: Ty, like: NodeId) -> NodeId {
        if let Op::Opaque(k) = *self.op(like) {
            if self.opaques[k as usize].unseen {
                return self.add(r, Op::Kernel(Kernel::ZeroOf), vec![like], ty);
            }
        }
        // Zeros like a branch's filler are a filler too (of a type the
        // other branch gives).
        if ty.is_array() && *self.op(like) != Op::Default {
            self.add(r, Op::ZerosLike, vec![like], ty)
        } else {
            self.filler(r, ty)
        }
    }

    /// The zero a branch yields for a value of type `ty` that it does not
    /// compute, built in `r` itself (see [`Graph::add_local`]). (Array
    /// values are never yielded by one branch only: adjoint arrays are
    /// threaded through both.)
    pub fn filler(&mut self, r: RegionId, ty: Ty) -> NodeId {
        let op = match ty {
            Ty::Float(_) => Op::Const(0.0_f64.to_bits()),
            Ty::Bool => Op::Bool(false),
            Ty::Int => Op::Int(0),
            Ty::Other | Ty::Array(..) => Op::Default,
        };
        self.add_local(r, op, vec![], ty)
    }
}
