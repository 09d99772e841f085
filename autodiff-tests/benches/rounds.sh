#!/bin/sh
# Runs one bench in ROUNDS short rounds, each saved as a criterion baseline
# PREFIX1, PREFIX2, ..., then prints the per-round ratios (benches/ratios.py).
# On a shared machine the ratios within a round are what is comparable.
#
# Usage: benches/rounds.sh BENCH PREFIX [ROUNDS] [-- criterion filter...]
# Example: benches/rounds.sh small_ops before 5
#          benches/rounds.sh adbench r 3 ba/
set -e
bench=$1
prefix=$2
rounds=${3:-5}
shift 3 2>/dev/null || shift $#
target=${CARGO_TARGET_DIR:-target}
i=1
while [ "$i" -le "$rounds" ]; do
    cargo bench -p autodiff-tests --features bench --bench "$bench" -- --warm-up-time 0.5 --measurement-time 1 \
        --sample-size 20 --save-baseline "$prefix$i" "$@" >/dev/null 2>&1
    i=$((i + 1))
done
python3 "$(dirname "$0")/ratios.py" -t "$target" -b "$prefix" "$@"
