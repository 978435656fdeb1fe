"""The plan's printout: per rule and in total, disk by output kind, critical path, wall time."""

import csv
from collections import defaultdict

from layerwise.plan.estimate import output_kind


def human_seconds(s):
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def human_bytes(b):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if b < 1000 or unit == "TB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1000


def _count(x):
    for unit, v in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= v:
            return f"{x / v:.1f}{unit}"
    return f"{x:.0f}"


def rule_rows(jobs, est):
    rows = defaultdict(lambda: {"jobs": 0, "threads": set(), "gpu": set(), "mem_mb": 0, "peak_mb": 0.0,
                                "images": 0.0, "gpu_h": 0.0, "cpu_h": 0.0, "generic": False,
                                "loader": 0})
    for j in jobs:
        e, r = est[j.jobid], rows[j.rule]
        r["jobs"] += 1
        r["threads"].add(j.threads)
        r["gpu"].add(j.gpus)
        r["mem_mb"] = max(r["mem_mb"], j.mem_mb)
        r["peak_mb"] = max(r["peak_mb"], e.peak_mb)
        r["images"] += e.image_layers
        if e.on_gpu:
            r["gpu_h"] += e.seconds * max(1, j.gpus) / 3600
        else:
            r["cpu_h"] += e.seconds * j.threads / 3600
        r["generic"] |= e.generic
        r["loader"] += e.bound == "loader"
    return rows


def print_plan(out, header, jobs, est, sim, path, cores, gpus, notes):
    """Write the plan to the stream ``out``."""
    w = out.write
    w(f"{header}\n")
    for note in notes:
        w(f"  {note}\n")
    rows = rule_rows(jobs, est)
    w(f"\n{'rule':<20} {'jobs':>5} {'threads':>8} {'gpu':>4} {'mem_mb':>8} {'peak MB':>8} "
      f"{'image-layers':>13} {'GPU-h':>8} {'core-h':>8}\n")
    tot = defaultdict(float)
    for rule, r in sorted(rows.items(), key=lambda kv: -(kv[1]["gpu_h"] + kv[1]["cpu_h"])):
        th = "/".join(str(t) for t in sorted(r["threads"]))
        gp = "/".join(str(t) for t in sorted(r["gpu"]))
        mark = " *" if r["generic"] else ""
        w(f"{rule + mark:<20} {r['jobs']:>5} {th:>8} {gp:>4} {r['mem_mb']:>8} {r['peak_mb']:>8.0f} "
          f"{_count(r['images']):>13} {r['gpu_h']:>8.2f} {r['cpu_h']:>8.2f}\n")
        for k in ("jobs", "images", "gpu_h", "cpu_h"):
            tot[k] += r[k]
    w(f"{'total':<20} {int(tot['jobs']):>5} {'':>8} {'':>4} {'':>8} {'':>8} {_count(tot['images']):>13} "
      f"{tot['gpu_h']:>8.2f} {tot['cpu_h']:>8.2f}\n")
    for rule, r in rows.items():
        if r["loader"]:
            w(f"  {rule}: {r['loader']} of {r['jobs']} jobs wait on the loader's decoding (more threads per "
              "job, or a smaller store.short_side, speed them up), not on the device\n")
    if any(r["generic"] for r in rows.values()):
        w("  * generic estimate (start-up + 1 s): a rule the plan has no cost model for\n")
    disk = defaultdict(lambda: [0, 0.0])
    for j in jobs:
        for kind, size in est[j.jobid].outputs.values():
            disk[kind][0] += 1
            disk[kind][1] += size or 0
    w("\ndisk by output kind: " + ", ".join(
        f"{k} {human_bytes(v[1])} ({v[0]} files)" for k, v in sorted(disk.items(), key=lambda kv: -kv[1][1]))
      + f"; total {human_bytes(sum(v[1] for v in disk.values()))}\n")
    by_id = {j.jobid: j for j in jobs}
    if path:
        length = sum(est[k].seconds for k in path)
        w(f"\ncritical path ({len(path)} jobs, {human_seconds(length)}): ")
        w(" -> ".join(_label(by_id[k]) for k in path) + "\n")
    util = sim.gpu_busy / (gpus * sim.makespan) if gpus and sim.makespan else 0.0
    w(f"\nwall time on {cores} cores and {gpus} GPUs: {human_seconds(sim.makespan)}")
    if gpus:
        first = human_seconds(sim.first_gpu_start) if sim.first_gpu_start is not None else "never"
        w(f"; GPUs busy {100 * util:.0f} % of it (first GPU job at {first})")
        most = max((j.gpus for j in jobs), default=0)
        running = _peak_gpus(jobs, sim)
        if running < gpus:
            w(f"\n  at most {running} of the {gpus} GPUs are ever used"
              + (" (the DAG has no more GPU jobs ready at once, or --cores caps them by threads)"
                 if most else ""))
    w("\n")


def _peak_gpus(jobs, sim):
    events = sorted([(sim.start[j.jobid], j.gpus) for j in jobs if j.gpus]
                    + [(sim.end[j.jobid], -j.gpus) for j in jobs if j.gpus], key=lambda e: (e[0], e[1]))
    peak = cur = 0
    for _, d in events:
        cur += d
        peak = max(peak, cur)
    return peak


def _label(job):
    wc = ",".join(f"{v}" for k, v in job.wildcards.items() if k != "dataset")
    return f"{job.rule}({wc})" if wc else job.rule


def write_csv(path, jobs, est, sim):
    """One row per job and output: the estimates plan.py --compare and the report read back."""
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["jobid", "rule", "wildcards", "threads", "gpu", "est_seconds", "start", "end", "output",
                      "kind", "est_bytes", "generic"])
        for j in jobs:
            e = est[j.jobid]
            wc = ",".join(f"{k}={v}" for k, v in j.wildcards.items())
            for p in j.outputs or [""]:
                kind, size = e.outputs.get(p, (output_kind(p) if p else "", None))
                out.writerow([j.jobid, j.rule, wc, j.threads, j.gpus, f"{e.seconds:.3f}", f"{sim.start[j.jobid]:.1f}",
                              f"{sim.end[j.jobid]:.1f}", p, kind, "" if size is None else int(size), int(e.generic)])
