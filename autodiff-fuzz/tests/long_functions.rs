//! Very long functions (issue: "rustc overflows its stack"): 10,000
//! chained statements, a 1,500-statement accumulation and a 2,000-term
//! sum, each differentiated and checked with `cargo check` in a crate of
//! their own. Part of the long tier (a few minutes on 2 cores):
//!
//! ```sh
//! cargo test --release -p autodiff-fuzz --test long_functions -- --ignored --nocapture
//! ```
//!
//! (A 4,000-term single expression overflows rustc's own stack without
//! the attribute, so 2,000 terms is the bar for one expression.)

use std::path::PathBuf;
use std::process::Command;

fn source() -> String {
    let mut s = String::from("use autodiff::differentiate;\n\n");
    s.push_str("#[differentiate]\npub fn chain(x: f64, y: f64) -> f64 {\n    let a0 = x;\n");
    for k in 1..10_000 {
        s.push_str(&format!(
            "    let a{k} = (a{} * 0.999 + x * 0.001).sin();\n",
            k - 1
        ));
    }
    s.push_str("    a9999 * y\n}\n\n");
    s.push_str(
        "#[differentiate]\npub fn accumulate(x: f64, y: f64) -> f64 {\n    let mut s = x;\n",
    );
    for _ in 0..1_500 {
        s.push_str("    s = s * 0.999 + y.sin() * 0.001;\n");
    }
    s.push_str("    s\n}\n\n");
    let terms: Vec<String> = (0..2_000)
        .map(|k| {
            if k % 2 == 1 {
                format!("x * {k}.5 + y")
            } else {
                format!("y * {k}.25")
            }
        })
        .collect();
    s.push_str(&format!(
        "#[differentiate]\npub fn sum(x: f64, y: f64) -> f64 {{\n    {}\n}}\n",
        terms.join(" + ")
    ));
    s
}

#[test]
#[ignore = "long tier: minutes of rustc time"]
fn ten_thousand_statements_check_without_a_crash() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().expect("the workspace").to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let dir = target.join("autodiff-fuzz").join("long-functions");
    std::fs::create_dir_all(dir.join("src")).expect("a crate directory");
    let ws = workspace.display().to_string().replace('\\', "/");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"long_functions\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nautodiff = {{ path = \"{ws}\", package = \"static-autodiff\" }}\n\n[workspace]\n"),
    )
    .expect("a manifest");
    std::fs::write(dir.join("src/lib.rs"), source()).expect("the source");
    let start = std::time::Instant::now();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("check")
        .arg("--quiet")
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("cargo check: {:.0} s", start.elapsed().as_secs_f64());
    assert!(out.status.success(), "cargo check failed:\n{stderr}");
    assert!(!stderr.contains("overflow"), "{stderr}");
}
