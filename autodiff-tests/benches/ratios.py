#!/usr/bin/env python3
"""Criterion medians as ratios within each group, robust to a busy machine.

Usage: benches/ratios.py [-t TARGET_DIR] [-b BASELINE_PREFIX] [GROUP_PREFIX...]

On a shared machine (2 cores, other builds running) a benchmark gets
anywhere between half of a core and a whole one, so criterion's median
moves by 2x from one run to the next. Its fastest samples do not: each
sample is many iterations timed together, and the fastest ones ran
undisturbed, to within a few percent from run to run. This script takes,
per variant, the fastest sample (time per iteration) over every round
(criterion baselines `-- --save-baseline r1`, `r2`, ...; see
benches/rounds.sh) and prints each group's variants with
`ref / variant` (ref: the group's `generated` variant, else `objective`;
above 1 the variant is faster than ref). Beside it, the range of the
same ratio taken round by round, as a check on its stability.

Without -b, only criterion's `new` (the last run) is read.
TARGET_DIR defaults to $CARGO_TARGET_DIR, else ./target.
"""
import argparse
import json
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-t", "--target", default=os.environ.get("CARGO_TARGET_DIR", "target"))
    ap.add_argument("-b", "--baseline", default=None)
    ap.add_argument("groups", nargs="*")
    a = ap.parse_args()
    root = os.path.join(a.target, "criterion")
    times = {}  # group -> variant -> round -> median ns
    for dirpath, _, files in os.walk(root):
        if "sample.json" not in files or "benchmark.json" not in files:
            continue
        rnd = os.path.basename(dirpath)
        if a.baseline is None:
            if rnd != "new":
                continue
        elif not rnd.startswith(a.baseline) or rnd in ("new", "base", "change"):
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            b = json.load(f)
        with open(os.path.join(dirpath, "sample.json")) as f:
            smp = json.load(f)
        t = min(x / n for x, n in zip(smp["times"], smp["iters"]))
        g = times.setdefault(b["group_id"], {})
        g.setdefault(b["function_id"] or "", {})[rnd] = t
    for group in sorted(times):
        if a.groups and not any(group.startswith(p) for p in a.groups):
            continue
        vs = times[group]
        ref = "generated" if "generated" in vs else ("objective" if "objective" in vs else None)
        print(group)
        rows = []
        for v, rounds in vs.items():
            best = min(rounds.values())
            ratios = []
            if ref:
                for r, t in rounds.items():
                    if r in vs[ref]:
                        ratios.append(vs[ref][r] / t)
            rows.append((best, v, ratios, len(rounds)))
        ref_best = min(vs[ref].values()) if ref else None
        for best, v, ratios, n in sorted(rows):
            if ratios:
                rs = f"  {ref}/this {ref_best / best:6.3f} (rounds {min(ratios):.2f}-{max(ratios):.2f})"
            else:
                rs = ""
            print(f"  {v:<22} {fmt(best):>10} (fastest of {n}){rs}")


def fmt(ns):
    for unit, k in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= k:
            return f"{ns / k:.3g} {unit}"
    return f"{ns:.3g} ns"


if __name__ == "__main__":
    main()
