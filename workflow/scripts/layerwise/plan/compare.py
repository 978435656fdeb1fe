"""A plan against a run: each job's estimate beside its own benchmark file
(results/benchmarks/**.tsv, column ``s``) and each output's estimated size beside the file."""

import csv
from collections import defaultdict
from pathlib import Path


def measured_seconds(directory, job):
    """Wall seconds of a finished job from its benchmark TSV, or None (no benchmark directive / not run)."""
    if not job.benchmark:
        return None
    path = Path(directory) / job.benchmark
    if not path.exists():
        return None
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return float(rows[-1]["s"]) if rows else None


def compare(directory, jobs, est):
    """(per-rule rows, per-output rows): rule, jobs, estimated and measured seconds, ratio;
    output, kind, estimated and actual bytes, ratio. Jobs without a benchmark are left out."""
    rules = defaultdict(lambda: {"jobs": 0, "est_s": 0.0, "measured_s": 0.0})
    outputs = []
    for j in jobs:
        m = measured_seconds(directory, j)
        if m is not None:
            r = rules[j.rule]
            r["jobs"] += 1
            r["est_s"] += est[j.jobid].seconds
            r["measured_s"] += m
        for p, (kind, size) in est[j.jobid].outputs.items():
            f = Path(directory) / p
            if size and f.exists():
                actual = f.stat().st_size
                outputs.append({"output": p, "kind": kind, "est_bytes": int(size), "bytes": actual,
                                "ratio": size / actual if actual else float("inf")})
    rows = [{"rule": k, **v, "ratio": v["est_s"] / v["measured_s"] if v["measured_s"] else float("nan")}
            for k, v in sorted(rules.items())]
    return rows, outputs


def print_compare(out, rows, outputs):
    w = out.write
    w(f"\n{'rule':<20} {'jobs':>5} {'estimated s':>12} {'measured s':>11} {'est/meas':>9}\n")
    for r in rows:
        w(f"{r['rule']:<20} {r['jobs']:>5} {r['est_s']:>12.1f} {r['measured_s']:>11.1f} {r['ratio']:>9.2f}\n")
    est, meas = sum(r["est_s"] for r in rows), sum(r["measured_s"] for r in rows)
    w(f"{'total':<20} {sum(r['jobs'] for r in rows):>5} {est:>12.1f} {meas:>11.1f} "
      f"{est / meas if meas else float('nan'):>9.2f}\n")
    by_kind = defaultdict(list)
    for o in outputs:
        by_kind[o["kind"]].append(o["ratio"])
    w("\noutput sizes, estimated / actual (min - max per kind): " + ", ".join(
        f"{k} {min(v):.2f}-{max(v):.2f} ({len(v)})" for k, v in sorted(by_kind.items())) + "\n")


def write_compare_csv(path, rows, outputs):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["item", "kind", "jobs", "estimated", "measured", "est_over_measured"])
        for r in rows:
            out.writerow([r["rule"], "seconds", r["jobs"], f"{r['est_s']:.2f}", f"{r['measured_s']:.2f}",
                          f"{r['ratio']:.3f}"])
        for o in outputs:
            out.writerow([o["output"], f"bytes:{o['kind']}", 1, o["est_bytes"], o["bytes"], f"{o['ratio']:.3f}"])
