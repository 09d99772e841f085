//! The attribute's UI tests live in `tests/`: `cargo test -p autodiff-ui`.
