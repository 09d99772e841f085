//! A differentiated function as an [argmin](https://docs.rs/argmin/0.11)
//! problem (feature `argmin`; argmin 0.11 with argmin-math's `Vec`
//! backend): [`Problem`] is built from closures, so that the cost, the
//! gradient and second derivatives may capture data.
//!
//! | built with | implements | for solvers such as |
//! | --- | --- | --- |
//! | [`Problem::new`]`(cost, grad)` | `CostFunction`, `Gradient` | L-BFGS, BFGS, steepest descent, nonlinear CG |
//! | [`.with_hessian(h)`](Problem::with_hessian) | and `Hessian` (dense, `Vec<Vec<T>>`) | Newton, trust region |
//! | [`.with_hvp(hvp)`](Problem::with_hvp) | and `Hessian` as a matrix-free [`HvpOperator`] | Newton-CG |
//!
//! The parameter vector is argmin's `Vec<T>`; the closures take it as
//! `&[T]`, as the companions of a function of a slice do: `f`, `f_grad`,
//! `f_hessian` and `f_hvp` of `#[differentiate(hessian)] fn f(x: &[f64])`
//! are the closures themselves.
//!
//! argmin's own modules are re-exported ([`core`], [`solver`], and
//! argmin-math as [`math`]), so that solvers and the executor are named at
//! the version the adapter implements: `autodiff::argmin::core::Executor`,
//! `autodiff::argmin::solver::quasinewton::LBFGS`.
//!
//! The guide's chapter "Using an optimizer (argmin)" shows it at work, and
//! the facade's examples `rosenbrock_lbfgs`, `rosenbrock_newton_cg` and
//! `curve_fit` run it (`cargo run --example curve_fit --features argmin`).

use std::marker::PhantomData;
use std::sync::Arc;

use ::argmin::core::{CostFunction, Error, Gradient, Hessian};
use ::argmin_math::ArgminDot;

/// argmin's `core` module (the executor, the problem traits, states).
pub use ::argmin::core;
/// argmin's solvers.
pub use ::argmin::solver;
/// The argmin-math crate (the vector traits of argmin's parameter types).
pub use ::argmin_math as math;

/// An argmin problem made of closures over `&[T]`: a cost, its gradient,
/// and optionally a dense Hessian ([`with_hessian`](Problem::with_hessian))
/// or a Hessian-vector product ([`with_hvp`](Problem::with_hvp)). See the
/// [module docs](self) for which solvers each form serves.
pub struct Problem<T, C, G, H = NoHessian> {
    cost: C,
    grad: G,
    hessian: H,
    elem: PhantomData<fn() -> T>,
}

/// The second-derivative part of a [`Problem`] without one: no `Hessian`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHessian;

/// The second-derivative part of a [`Problem`] with a dense Hessian.
pub struct DenseHessian<H>(H);

/// The second-derivative part of a [`Problem`] with a Hessian-vector
/// product.
pub struct HessianVectorProduct<V>(Arc<V>);

impl<T, C, G> Problem<T, C, G, NoHessian>
where
    C: Fn(&[T]) -> T,
    G: Fn(&[T]) -> Vec<T>,
{
    /// The problem of minimizing `cost`, whose gradient is `grad`
    /// (`f` and `f_grad` of a differentiated `fn f(x: &[T]) -> T`, or
    /// closures calling them with captured data).
    pub fn new(cost: C, grad: G) -> Self {
        Problem {
            cost,
            grad,
            hessian: NoHessian,
            elem: PhantomData,
        }
    }

    /// The problem with a dense Hessian, `hessian(x)` (the `f_hessian` of
    /// a function of a slice, whose [`Matrix`](crate::Matrix) converts, or
    /// any rows `Vec<Vec<T>>`), for argmin's `Newton` and trust-region
    /// solvers.
    pub fn with_hessian<H, M>(self, hessian: H) -> Problem<T, C, G, DenseHessian<H>>
    where
        H: Fn(&[T]) -> M,
        M: Into<Vec<Vec<T>>>,
    {
        Problem {
            cost: self.cost,
            grad: self.grad,
            hessian: DenseHessian(hessian),
            elem: PhantomData,
        }
    }

    /// The problem with a matrix-free Hessian, `hvp(x, v)` = H(x)·v (the
    /// `f_hvp` of a function of a slice), for argmin's `NewtonCG`: its
    /// `Hessian` is an [`HvpOperator`] at the point, and each product the
    /// conjugate-gradient steps ask for is one call of `hvp`; no dense
    /// Hessian is ever formed.
    pub fn with_hvp<V>(self, hvp: V) -> Problem<T, C, G, HessianVectorProduct<V>>
    where
        V: Fn(&[T], &[T]) -> Vec<T>,
    {
        Problem {
            cost: self.cost,
            grad: self.grad,
            hessian: HessianVectorProduct(Arc::new(hvp)),
            elem: PhantomData,
        }
    }
}

impl<T, C, G, H> CostFunction for Problem<T, C, G, H>
where
    C: Fn(&[T]) -> T,
{
    type Param = Vec<T>;
    type Output = T;

    fn cost(&self, x: &Vec<T>) -> Result<T, Error> {
        Ok((self.cost)(x))
    }
}

impl<T, C, G, H> Gradient for Problem<T, C, G, H>
where
    G: Fn(&[T]) -> Vec<T>,
{
    type Param = Vec<T>;
    type Gradient = Vec<T>;

    fn gradient(&self, x: &Vec<T>) -> Result<Vec<T>, Error> {
        Ok((self.grad)(x))
    }
}

impl<T, C, G, H, M> Hessian for Problem<T, C, G, DenseHessian<H>>
where
    H: Fn(&[T]) -> M,
    M: Into<Vec<Vec<T>>>,
{
    type Param = Vec<T>;
    type Hessian = Vec<Vec<T>>;

    fn hessian(&self, x: &Vec<T>) -> Result<Vec<Vec<T>>, Error> {
        Ok((self.hessian.0)(x).into())
    }
}

impl<T: Clone, C, G, V> Hessian for Problem<T, C, G, HessianVectorProduct<V>>
where
    V: Fn(&[T], &[T]) -> Vec<T>,
{
    type Param = Vec<T>;
    type Hessian = HvpOperator<T, V>;

    fn hessian(&self, x: &Vec<T>) -> Result<HvpOperator<T, V>, Error> {
        Ok(HvpOperator {
            at: x.clone(),
            hvp: Arc::clone(&self.hessian.0),
        })
    }
}

/// The Hessian at a point as a linear operator, never formed: its
/// `dot(v)` (argmin-math's `ArgminDot`, what argmin's `NewtonCG` applies
/// the Hessian with) is one Hessian-vector product.
pub struct HvpOperator<T, V> {
    at: Vec<T>,
    hvp: Arc<V>,
}

impl<T, V> HvpOperator<T, V> {
    /// The point the Hessian is taken at.
    pub fn at(&self) -> &[T] {
        &self.at
    }
}

impl<T: Clone, V> Clone for HvpOperator<T, V> {
    fn clone(&self) -> Self {
        HvpOperator {
            at: self.at.clone(),
            hvp: Arc::clone(&self.hvp),
        }
    }
}

impl<T: std::fmt::Debug, V> std::fmt::Debug for HvpOperator<T, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HvpOperator").field("at", &self.at).finish()
    }
}

impl<T, V> ArgminDot<Vec<T>, Vec<T>> for HvpOperator<T, V>
where
    V: Fn(&[T], &[T]) -> Vec<T>,
{
    /// H·v at [`at`](HvpOperator::at).
    fn dot(&self, v: &Vec<T>) -> Vec<T> {
        (self.hvp)(&self.at, v)
    }
}
