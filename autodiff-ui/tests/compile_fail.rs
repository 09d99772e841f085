//! Compile-fail UI tests for `#[differentiate]`.
//!
//! Each file in `tests/ui/fail` holds one construct the attribute must
//! reject, with the expected diagnostics in the `.stderr` beside it (the
//! constructs it must accept are `autodiff-tests`' `it::accepted`, built
//! with the other integration tests rather than by trybuild). Regenerate the
//! `.stderr` files with `TRYBUILD=overwrite cargo test -p autodiff-ui`
//! and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
}
