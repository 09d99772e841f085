#!/usr/bin/env bash
# Runs this tool and GradBench's hand-written C++ tool (`manual`) through
# GradBench on the chosen evals and prints both tables side by side with
# the ratio of ratios. Opt-in: it needs the GradBench repository (a clone
# or a mirror) and builds GradBench's CLI, a Python venv and `manual`
# through the project's shared harness.
#
#   gradbench-tool/run.sh --mirror /path/to/gradbench.git [EVAL ...]
#   GRADBENCH_MIRROR=/path/to/gradbench.git gradbench-tool/run.sh gmm lse
#
# Default evals: hello ba gmm lstm lse llsq ode det kmeans ht particle saddle
# (`manual` has no particle or saddle: those rows show this tool alone).
# Environment (all optional):
#   GRADBENCH_RUN   the shared harness (default: ../shared/gradbench/run.sh
#                   beside the repository)
#   SIZE, EVAL_ARGS_<eval>, MIN_RUNS, MIN_SECONDS, GB_TIMEOUT, GRADBENCH_WORK
#                   passed on to the harness (see its header)
#   OUT             where both runs' logs and the table go
#                   (default: target/gradbench/<stamp>)
#   SKIP_MANUAL=1   run this tool only
#   MANUAL_OUT=DIR  compare with an earlier harness run of manual (its OUT)
#                   instead of running manual again
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
HARNESS="${GRADBENCH_RUN:-$ROOT/../shared/gradbench/run.sh}"
ARGS=()
EVALS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mirror) ARGS+=(--mirror "$2"); shift 2 ;;
    *) EVALS+=("$1"); shift ;;
  esac
done
[ ${#EVALS[@]} -gt 0 ] || EVALS=(hello ba gmm lstm lse llsq ode det kmeans ht particle saddle)
[ -f "$HARNESS" ] || { echo "no harness at $HARNESS (set GRADBENCH_RUN)" >&2; exit 1; }

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-$TARGET/gradbench/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
echo "== building gradbench-tool (release)" >&2
(cd "$ROOT" && cargo build --release -q -p gradbench-tool)
TOOL_BIN="$TARGET/release/gradbench-tool"

# The harness picks its own cargo target dir for GradBench's CLI.
harness() { env -u CARGO_TARGET_DIR bash "$HARNESS" ${ARGS[@]+"${ARGS[@]}"} "$@"; }

MANUAL_EVALS=()
for e in "${EVALS[@]}"; do
  case "$e" in particle | saddle) ;; *) MANUAL_EVALS+=("$e") ;; esac
done
MANUAL_DIR="${MANUAL_OUT:-$OUT/manual}"
if [ -z "${MANUAL_OUT:-}" ] && [ "${SKIP_MANUAL:-0}" != 1 ] && [ ${#MANUAL_EVALS[@]} -gt 0 ]; then
  echo "== manual on ${MANUAL_EVALS[*]}" >&2
  OUT="$MANUAL_DIR" harness "${MANUAL_EVALS[@]}" >/dev/null
fi
echo "== gradbench-tool on ${EVALS[*]}" >&2
OUT="$OUT/ours" TOOL="$TOOL_BIN" harness "${EVALS[@]}" >/dev/null

python3 "$HERE/compare.py" "$OUT/ours" "$MANUAL_DIR" | tee "$OUT/compare.txt"
echo "== logs and the table in $OUT" >&2
