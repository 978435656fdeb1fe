"""Speed and memory of the graph and partition stages at CIFAR-100 and ImageNet shape.

    .venv/bin/python benchmarks/partition.py [--shapes cifar100 imagenet] [--workdir DIR]

Features are synthetic (per-class Gaussian clusters, d=256, seeded): the shape is
what matters for speed. Every phase runs in a fresh subprocess so its peak RSS
(VmHWM) is its own; "extra" memory is the peak minus the RSS after loading the
inputs. Each line prints our number beside the paper's (16-core machine) and
ratios against a baseline run in this same command:
  * pure-Python heapq Algorithm 1 vs the compiled one (the profile that justified numba),
  * ordinary lazy vs on-the-fly queues, flat vs hierarchical,
  * apricot-select's lazy greedy (cold and with cached kernels) vs ours.
"""

import argparse
import cProfile
import heapq
import io
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

SHAPES = {"cifar100": (100, 400), "imagenet": (1000, 1300)}
LEVELS = {"cifar100": [1024, 512], "imagenet": [32768, 16384, 8192, 4096]}
PAPER = {
    "cifar100": {"graph": "3 min", "flat_mem": "234 MB", "hier_mem": "30 MB"},
    "imagenet": {"graph": "89 min", "flat_mem": "151 GB", "hier_mem": "4.6 GB"},
}
KNN, DIM, BATCH = 20, 256, 128


def _rss_mb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def _features(shape):
    classes, per = SHAPES[shape]
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(classes), per)
    feats = np.empty((classes * per, DIM), np.float32)
    for c in range(classes):  # clusters with a class-specific centre
        feats[c * per : (c + 1) * per] = rng.standard_normal((per, DIM), dtype=np.float32) + rng.standard_normal(DIM, dtype=np.float32)
    return feats, labels


def phase_graph(shape, workdir, form):
    from layerwise.graph import build

    feats, labels = _features(shape)
    base = _rss_mb("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    if form == "knn":
        indptr, indices, data = build.build_knn(feats, labels, KNN, "cosine", np.float32, threads=2)
        secs, cpu = time.perf_counter() - start, time.process_time() - cpu
        np.savez(Path(workdir) / f"{shape}.npz", indptr=indptr, indices=indices, data=data, labels=labels)
    else:
        build.build_dense(feats, labels, "cosine", np.float16)
        secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": secs, "cpu": cpu, "extra_mb": _rss_mb("VmHWM") - base, "peak_mb": _rss_mb("VmHWM")}


def _load(shape, workdir):
    from layerwise.submodular.facility import FacilityLocation

    z = np.load(Path(workdir) / f"{shape}.npz")
    return FacilityLocation(z["indptr"], z["indices"], z["data"], ncols=len(z["labels"]))


def phase_partition(shape, workdir, levels, method):
    from layerwise.submodular import hierarchy

    fl = _load(shape, workdir)
    hierarchy.partition(fl.subproblem(np.arange(2000)), [], 100, method)  # compile/load numba cache
    base = _rss_mb("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    res = hierarchy.partition(fl, levels, BATCH, method)
    secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": secs, "cpu": cpu, "extra_mb": _rss_mb("VmHWM") - base, "peak_mb": _rss_mb("VmHWM"), "tau": res.tau,
            "min_value": float(res.values.min()), "peak_queue": max(s.peak_queue for s in res.levels)}


def phase_slope(shape, workdir):
    from layerwise.submodular import figures

    fl = _load(shape, workdir)
    figures.runtime_curve(fl, [400], 20, 1, 0)  # warm the compiled code
    ns, secs, slope = figures.runtime_curve(fl, [1000, 2000, 4000, 8000, 16000, 40000], 20, 5, 0)
    return {"n": ns.tolist(), "seconds": secs.tolist(), "slope": slope}


def python_lazy_partition(fl, caps):
    """Algorithm 1 with heapq and Python loops: the baseline the compiled loop replaced."""
    m, n = len(caps), fl.n
    cov = [np.zeros(fl.ncols, np.float32) for _ in range(m)]
    values, sizes, owner = [0.0] * m, [0] * m, [-1] * n
    sing = fl.singletons()
    heaps = [[(-sing[u], u) for u in range(n)] for _ in range(m)]
    for h in heaps:
        heapq.heapify(h)
    ptr, idx, dat = fl.indptr, fl.indices, fl.data

    def gain(u, c):
        lo, hi = ptr[u], ptr[u + 1]
        return float(np.maximum(dat[lo:hi] - c[idx[lo:hi]], 0).sum())

    for _ in range(sum(caps)):
        j = min((b for b in range(m) if sizes[b] < caps[b]), key=lambda b: values[b])
        h = heaps[j]
        while True:
            _, u = heapq.heappop(h)
            if owner[u] >= 0:
                continue
            g = gain(u, cov[j])
            while h and owner[h[0][1]] >= 0:
                heapq.heappop(h)
            if not h or (-g, u) <= h[0]:
                break
            heapq.heappush(h, (-g, u))
        lo, hi = ptr[u], ptr[u + 1]
        np.maximum.at(cov[j], idx[lo:hi], dat[lo:hi])
        owner[u], values[j], sizes[j] = j, values[j] + g, sizes[j] + 1
    return owner


def phase_profile(shape, workdir):
    from layerwise.submodular.minblock import min_block_greedy

    fl = _load(shape, workdir)
    sub = fl.subproblem(np.arange(4000))
    caps = [200] * 20
    min_block_greedy(sub, caps, "lazy")
    start = time.perf_counter()
    res = min_block_greedy(sub, caps, "lazy")
    fast = time.perf_counter() - start
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    owner = python_lazy_partition(sub, caps)
    prof.disable()
    slow = time.perf_counter() - start
    same = all(np.array_equal(np.sort(np.flatnonzero(np.array(owner) == j)), np.sort(b)) for j, b in enumerate(res.blocks))
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(6)
    top = [ln for ln in out.getvalue().splitlines() if ln.strip()][-7:]
    return {"python": slow, "numba": fast, "same": bool(same), "profile": top}


def phase_apricot(shape, workdir):
    from layerwise.graph.kernels import dense_similarity
    from layerwise.submodular import apricot_peer
    from layerwise.submodular.facility import FacilityLocation
    from layerwise.submodular.minblock import greedy_select

    feats, _ = _features("imagenet")
    sim = dense_similarity(feats[:1300], "cosine")
    fl = FacilityLocation.from_dense(sim)
    greedy_select(fl, 128)
    start = time.perf_counter()
    ours, _ = greedy_select(fl, 128)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = apricot_peer.apricot_select(sim, 128)
    t_cold = time.perf_counter() - start
    apricot_peer.warm_apricot()
    apricot_peer.apricot_select(sim, 128)
    start = time.perf_counter()
    theirs = apricot_peer.apricot_select(sim, 128)
    t_warm = time.perf_counter() - start
    return {"ours": t_ours, "cold": t_cold, "warm": t_warm, "f_ours": fl.value(ours), "f_apricot": fl.value(theirs)}


def run_phase(*args):
    out = subprocess.run([sys.executable, __file__, "--phase", *map(str, args)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"phase {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shapes", nargs="+", default=["cifar100", "imagenet"], choices=list(SHAPES))
    p.add_argument("--workdir", default=None)
    p.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.phase:
        name, shape, workdir, *rest = args.phase
        fn = {"graph": phase_graph, "partition": phase_partition, "slope": phase_slope,
              "profile": phase_profile, "apricot": phase_apricot}[name]
        if name == "partition":
            rest = [json.loads(rest[0]), rest[1]]
        cpu = time.process_time()
        result = fn(shape, workdir, *rest)
        result["cpu_total"] = time.process_time() - cpu  # includes loading inputs; contention-free
        line = json.dumps(result)
        with open(Path(workdir) / "phases.jsonl", "a") as log:
            log.write(json.dumps({"phase": args.phase}) + " " + line + "\n")
        print(line)
        return
    workdir = args.workdir or tempfile.mkdtemp(prefix="partition-bench-")
    print("machine: this run's CPU (2 cores, shared); paper: 16-core CPU for the graph, 1 core for Algorithm 1")
    for shape in args.shapes:
        classes, per = SHAPES[shape]
        n = classes * per
        print(f"\n== {shape} shape: {classes} classes x {per}, d={DIM}, |V|={n}, knn={KNN}, batch {BATCH}")
        g = run_phase("graph", shape, workdir, "knn")
        print(f"graph knn (faiss exact, 2 threads): {g['seconds']:7.2f} s ({g['cpu']:.0f} CPU s)  extra {g['extra_mb']:7.0f} MB   paper (dense, 16 cores): {PAPER[shape]['graph']}")
        if shape == "cifar100":
            d = run_phase("graph", shape, workdir, "dense")
            print(f"graph dense (float16):              {d['seconds']:7.2f} s ({d['cpu']:.0f} CPU s)  extra {d['extra_mb']:7.0f} MB   knn/dense time ratio {g['seconds'] / d['seconds']:.2f}")
        hier = {m: run_phase("partition", shape, workdir, json.dumps(LEVELS[shape]), m) for m in ("onthefly", "lazy")}
        for m, r in hier.items():
            print(f"hierarchical {LEVELS[shape] + [BATCH]} {m:8}: {r['seconds']:7.2f} s ({r['cpu']:.0f} CPU s)  extra {r['extra_mb']:6.0f} MB, peak RSS {r['peak_mb']:6.0f} MB  "
                  f"peak queue {r['peak_queue']:>9}  tau {r['tau']}   paper peak memory: {PAPER[shape]['hier_mem']}")
        print(f"  ratio lazy/on-the-fly: time {hier['lazy']['seconds'] / hier['onthefly']['seconds']:.2f}, "
              f"peak queue {hier['lazy']['peak_queue'] / hier['onthefly']['peak_queue']:.2f}, same min block: "
              f"{hier['lazy']['min_value'] == hier['onthefly']['min_value']}")
        m_flat = -(-n // BATCH)
        if shape == "cifar100":
            flat = run_phase("partition", shape, workdir, "[]", "onthefly")
            print(f"flat (Algorithm 3, m={m_flat}):       {flat['seconds']:7.2f} s ({flat['cpu']:.0f} CPU s)  extra {flat['extra_mb']:6.0f} MB, peak RSS {flat['peak_mb']:6.0f} MB  "
                  f"peak queue {flat['peak_queue']:>9}   paper peak memory: {PAPER[shape]['flat_mem']}")
            h = hier["onthefly"]
            print(f"  ratio flat/hierarchical: time {flat['seconds'] / h['seconds']:.2f}, extra memory {flat['extra_mb'] / max(h['extra_mb'], 1):.1f}, "
                  f"min block {flat['min_value'] / h['min_value']:.3f} (paper memory ratio {234 / 30:.1f})")
            s = run_phase("slope", shape, workdir)
            pts = ", ".join(f"{a}:{b:.3f}s" for a, b in zip(s["n"], s["seconds"]))
            print(f"Figure 5 (m=20, min of 5): {pts}\n  slope {s['slope']:.3f}   paper 1.345")
            prof = run_phase("profile", shape, workdir)
            print(f"pure-Python heapq Algorithm 1 vs compiled (|V|=4000, m=20): {prof['python']:.2f} s vs {prof['numba']:.4f} s "
                  f"= {prof['python'] / prof['numba']:.0f}x, same partition: {prof['same']}")
            print("  cProfile of the Python version (top by own time):\n    " + "\n    ".join(prof["profile"]))
        else:
            gb = m_flat * n * (4 + 12) / 1e9
            print(f"flat (m={m_flat}): not run; its coverage vectors and queues alone need ~{gb:.0f} GB "
                  f"(m*|V|*(4+12) B), paper: {PAPER[shape]['flat_mem']}")
    a = run_phase("apricot", "imagenet", workdir)
    print(f"\nsingle-block greedy n=1300, k=128, d=256: ours {a['ours']:.4f} s; apricot cold {a['cold']:.3f} s "
          f"({a['cold'] / a['ours']:.0f}x), apricot with cached kernels {a['warm']:.4f} s ({a['warm'] / a['ours']:.1f}x); "
          f"f ours {a['f_ours']:.4f} vs apricot {a['f_apricot']:.4f}")


if __name__ == "__main__":
    main()
