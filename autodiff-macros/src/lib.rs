//! The `#[differentiate]` attribute of the [`autodiff`] crate. Use it
//! through the facade: `use autodiff::differentiate;`.
//!
//! The entry point only parses and delegates; the pipeline (lower, IR,
//! transforms, simplifier, emitter) is plain Rust in the modules below.
//!
//! [`autodiff`]: https://docs.rs/static-autodiff

mod args;
mod companions;
mod context;
mod derive;
mod desugar;
mod diff;
mod emit;
mod error;
mod expand;
mod fallback;
#[cfg(test)]
mod interp;
mod ir;
mod lower;
mod plan;
mod pretty;
#[cfg(test)]
mod proptests;
mod pure_fn;
mod signature;
mod simplify;
#[cfg(test)]
mod snapshots;
mod split;
mod vectors;

use proc_macro::TokenStream;

/// Differentiates a numeric function at compile time; see the `autodiff`
/// crate's documentation for the companions it emits.
#[proc_macro_attribute]
pub fn differentiate(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(args.into(), item.into()).into()
}

/// `#[derive(Tangent)]`: makes a struct of floats, float arrays, `Vec`s and
/// other such structs a parameter type that `#[differentiate(wrt(p))]`
/// differentiates field by field; fields marked `#[tangent(skip)]` are
/// constants (data, integers, labels) and hold `Default::default()` in a
/// gradient. See the `autodiff` crate's documentation.
#[proc_macro_derive(Tangent, attributes(tangent))]
pub fn derive_tangent(input: TokenStream) -> TokenStream {
    derive::expand(input.into()).into()
}
