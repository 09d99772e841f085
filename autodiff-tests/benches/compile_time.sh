#!/bin/sh
# The compile-time bench: `cargo check` of a generated crate of N
# differentiated functions, against the same crate without the attribute,
# each checked twice after a warm-up build (the second run's time is
# printed: dependencies built, the crate itself re-checked). The functions
# are four shapes users write (a loop over a slice with a branch, a
# straight-line scalar function, a fixed-array function with a Hessian, a
# vector output), each instance with its own constants.
#
# Usage: benches/compile_time.sh [N]          (N = 200 by default)
# Prints: seconds with and without the attribute, and per function.
set -e
n=${1:-200}
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=${CARGO_TARGET_DIR:-$here/target}/compile-time-bench
mkdir -p "$dir/src"
cat > "$dir/Cargo.toml" <<EOF
[package]
name = "compile-time-bench"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
autodiff = { package = "static-autodiff", path = "$here" }

[workspace]
EOF

# $1: the attribute line (empty for the plain crate).
generate() {
    i=0
    echo "#![allow(dead_code, clippy::all)]"
    while [ "$i" -lt "$n" ]; do
        case $((i % 4)) in
        0) cat <<EOF
$1
pub fn f$i(x: &[f64], w: [f64; 3], b: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let z = w[0] * x[i] + w[1] * (x[i] * $i.0 * 0.001).sin() + b;
        s += z.tanh() * w[2];
    }
    let r = (s * s + 1.0).ln() + b.exp() * 0.1;
    if r > 1.0 { r.sqrt() } else { r * r }
}
EOF
            ;;
        1) cat <<EOF
$1
pub fn f$i(x: f64, y: f64) -> f64 {
    let a = x * y + $i.0 * 0.01;
    let b = (a.sin() + y.cos()).powi(2);
    let c = (x * x + y * y + 1.0).sqrt();
    b / c + a.atan2(c) - (x - y).abs()
}
EOF
            ;;
        2) cat <<EOF
${1:+#[autodiff::differentiate(hessian)]}
pub fn f$i(x: [f64; 4]) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        let a = 1.0 - x[i];
        let b = x[i + 1] - x[i] * x[i];
        s += a * a + $i.0 * 0.001 * b * b;
    }
    s
}
EOF
            ;;
        *) cat <<EOF
$1
pub fn f$i(x: &[f64], k: f64) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    for i in 0..x.len() {
        out[i] = (x[i] * k + $i.0 * 0.001).exp() / (1.0 + x[i] * x[i]);
    }
    out
}
EOF
            ;;
        esac
        i=$((i + 1))
    done
}

time_check() {
    (cd "$dir" && cargo check -q 2>/dev/null)
    touch "$dir/src/lib.rs"
    start=$(date +%s.%N)
    (cd "$dir" && cargo check -q)
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

generate "" > "$dir/src/lib.rs"
plain=$(time_check)
generate "#[autodiff::differentiate]" > "$dir/src/lib.rs"
with=$(time_check)
echo "cargo check of $n functions: $with s with #[differentiate], $plain s without"
echo "per function: $(echo "scale=4; $with / $n" | bc) s with, $(echo "scale=4; $plain / $n" | bc) s without"
