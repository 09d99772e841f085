//! Compile-fail (and compile-pass) UI tests for `#[differentiate]`.
//!
//! Each file in `tests/ui/fail` holds one construct the attribute must
//! reject, with the expected diagnostics in the `.stderr` beside it; each
//! file in `tests/ui/pass` holds constructs it must accept. Regenerate the
//! `.stderr` files with `TRYBUILD=overwrite cargo test -p autodiff-ui`
//! and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
