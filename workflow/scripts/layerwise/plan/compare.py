"""A plan against a run: each job's estimate beside its own benchmark file
(results/benchmarks/**.tsv, column ``s``) and each output's estimated size beside the file."""

import csv
from collections import defaultdict
from pathlib import Path


def measured_seconds(directory, job):
    """(wall seconds, CPU seconds / threads) of a finished job from its benchmark TSV, or None
    (no benchmark directive, or not run). On a shared machine the wall time follows the others'
    load; the CPU time per thread is what the job costs on a quiet one."""
    if not job.benchmark:
        return None
    path = Path(directory) / job.benchmark
    if not path.exists():
        return None
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        return None
    wall = float(rows[-1]["s"])
    try:
        cpu = float(rows[-1]["cpu_time"]) / max(1, job.threads)
    except (KeyError, ValueError):
        cpu = wall
    return wall, cpu


def compare(directory, jobs, est):
    """(per-rule rows, per-output rows): rule, jobs, estimated and measured seconds, ratio;
    output, kind, estimated and actual bytes, ratio. Jobs without a benchmark are left out."""
    rules = defaultdict(lambda: {"jobs": 0, "est_s": 0.0, "measured_s": 0.0, "cpu_s": 0.0})
    outputs = []
    for j in jobs:
        m = measured_seconds(directory, j)
        if m is not None:
            r = rules[j.rule]
            r["jobs"] += 1
            r["est_s"] += est[j.jobid].seconds
            r["measured_s"] += m[0]
            r["cpu_s"] += m[1]
        for p, (kind, size) in est[j.jobid].outputs.items():
            f = Path(directory) / p
            if size and f.exists():
                actual = f.stat().st_size
                outputs.append({"output": p, "kind": kind, "est_bytes": int(size), "bytes": actual,
                                "ratio": size / actual if actual else float("inf")})
    rows = [{"rule": k, **v, "ratio": v["est_s"] / v["measured_s"] if v["measured_s"] else float("nan"),
             "cpu_ratio": v["est_s"] / v["cpu_s"] if v["cpu_s"] else float("nan")}
            for k, v in sorted(rules.items())]
    return rows, outputs


def print_compare(out, rows, outputs):
    w = out.write
    w(f"\n{'rule':<20} {'jobs':>5} {'estimated s':>12} {'wall s':>8} {'est/wall':>9} {'CPU s/thread':>13} "
      f"{'est/CPU':>8}\n")
    for r in rows:
        w(f"{r['rule']:<20} {r['jobs']:>5} {r['est_s']:>12.1f} {r['measured_s']:>8.1f} {r['ratio']:>9.2f} "
          f"{r['cpu_s']:>13.1f} {r['cpu_ratio']:>8.2f}\n")
    est, meas, cpu = (sum(r[k] for r in rows) for k in ("est_s", "measured_s", "cpu_s"))
    w(f"{'total':<20} {sum(r['jobs'] for r in rows):>5} {est:>12.1f} {meas:>8.1f} "
      f"{est / meas if meas else float('nan'):>9.2f} {cpu:>13.1f} {est / cpu if cpu else float('nan'):>8.2f}\n")
    w("  wall: the benchmark files' seconds (they follow the machine's load); CPU s/thread: their cpu_time "
      "over the job's threads (what a quiet machine takes)\n")
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
            out.writerow([r["rule"], "cpu_seconds_per_thread", r["jobs"], f"{r['est_s']:.2f}", f"{r['cpu_s']:.2f}",
                          f"{r['cpu_ratio']:.3f}"])
        for o in outputs:
            out.writerow([o["output"], f"bytes:{o['kind']}", 1, o["est_bytes"], o["bytes"], f"{o['ratio']:.3f}"])
