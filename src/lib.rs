#![doc = include_str!("guide.md")]

pub use autodiff_macros::differentiate;
pub use autodiff_runtime::{check_grad, GradCheck, Matrix, Pretty, PrettyEntry};

/// Not public API: what generated code calls. May change in any release.
#[doc(hidden)]
pub mod __private {
    pub use autodiff_runtime::*;
}
