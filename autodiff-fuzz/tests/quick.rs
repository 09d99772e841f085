//! The quick tier of the fuzzer: one fixed seed, 60 cases in one batch,
//! no hard failure allowed (no proc-macro panic, no rustc crash, no error
//! inside the expansion, no warning from generated code, no numeric
//! mismatch or NaN against finite differences, and no generator bug).
//!
//! It runs in `cargo test --workspace`. It compiles its batch crate with
//! a nested `cargo check`, then `cargo build` with clippy's lints, into
//! `<target>/autodiff-fuzz/target`, so the first run also builds the
//! dependencies there once. The long tier (thousands of cases) is the
//! README's opt-in command.

#[test]
fn quick_tier_seed_1() {
    let config = autodiff_fuzz::Config {
        seed: 1,
        from: 0,
        count: 60,
        batch: 60,
        keep: false,
    };
    let report = autodiff_fuzz::run(&config).expect("the batch crate can be written and built");
    println!("{}", report.render());
    for l in &report.lines {
        println!("{l}");
    }
    println!("{} cases in {:.0} s", config.count, report.seconds);
    assert_eq!(
        report.hard(),
        0,
        "hard failures (the failure files are in {:?}):\n{}",
        report.failures.first().and_then(|p| p.parent()),
        report.lines.join("\n")
    );
}
