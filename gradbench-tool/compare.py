"""Side-by-side table of two GradBench runs made by the shared harness:
this tool's and manual's, per eval and input: each one's derivative/primal
ratio, validity, and the ratio of ratios (ours / manual). particle and
saddle have no primal: their rows give each function's mean time."""
import json
import os
import sys


def read_results(d):
    """{(eval, input): (primal_s, derivative_s, ratio, valid)} from results.txt."""
    rows = {}
    order = []
    path = os.path.join(d, "results.txt")
    if not os.path.exists(path):
        return rows, order
    for line in open(path):
        if line.startswith("#") or line.startswith("eval "):
            continue
        parts = line.split()
        if len(parts) != 6:
            continue
        e, key, p, q, r, v = parts
        if e in ("particle", "saddle"):
            continue
        rows[(e, key)] = (p, q, r, v)
        order.append((e, key))
    return rows, order


def nested_rows(d, e):
    """Per-function mean time and validity of particle or saddle."""
    path = os.path.join(d, f"{e}.jsonl")
    if not os.path.exists(path):
        return []
    msgs, out, valid = {}, [], {}
    for line in open(path):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if "message" in rec:
            m = rec["message"]
            msgs[m["id"]] = m
            if m.get("kind") == "analysis":
                valid[m["of"]] = bool(m["valid"])
        elif "response" in rec:
            r = rec["response"]
            m = msgs.get(r["id"])
            if m and m.get("kind") == "evaluate":
                ts = [t["nanoseconds"] for t in r.get("timings") or [] if t.get("name") == "evaluate"]
                mean = sum(ts) / len(ts) / 1e9 if ts else float("nan")
                out.append((m["id"], m["function"], mean, r.get("success", False)))
    return [(f, t, "yes" if ok and valid.get(i, False) else "no") for i, f, t, ok in out]


def main():
    ours_dir, manual_dir = sys.argv[1], sys.argv[2]
    ours, order = read_results(ours_dir)
    manual, _ = read_results(manual_dir)
    head = ("eval", "input", "ours_primal_s", "ours_deriv_s", "ours_ratio", "ours_valid",
            "manual_ratio", "ratio_of_ratios")
    rows = [head]
    for key in order:
        p, q, r, v = ours[key]
        m = manual.get(key)
        mr = m[2] if m else "-"
        try:
            ror = f"{float(r) / float(mr):.2f}"
        except (ValueError, ZeroDivisionError):
            ror = "-"
        rows.append((key[0], key[1], p, q, r, v, mr, ror))
    for e in ("particle", "saddle"):
        for f, t, v in nested_rows(ours_dir, e):
            rows.append((e, f, "-", f"{t:.3e}", "-", v, "-", "-"))
    w = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    for r in rows:
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())


main()
