"""Speed and memory of the graph and partition stages at CIFAR-100 and ImageNet shape.

    .venv/bin/python benchmarks/partition.py [--shapes cifar100 imagenet] [--workdir DIR]
    .venv/bin/python benchmarks/partition.py --default-only [--threads 2]

First, the configuration users get (printed alone with --default-only): the default
graph.form auto at ImageNet shape, whose dense budget keeps the 158 smallest classes
dense (289 M graph entries), through the build_graph and partition_batches code paths
(robust-hier, the ImageNet levels), with each job's peak RSS, time and declared mem_mb.

Features are synthetic (per-class Gaussian clusters, d=256, seeded): the shape is
what matters for speed. CIFAR-100 shape partitions the dense f_NN graph (the
default graph.form auto keeps it dense); ImageNet shape (1000 x 1300, levels
32768/16384/8192/4096, batch 256 as in paper 003) the kNN graph, since its dense
blocks (6.4 GiB) exceed graph.dense_budget_mb; its level calls run in 2 threads.
Figure 5's slope is measured on real features: the shared CIFAR-10 subset's pixels
(projected as graph.features: pixels does), dense graph, m = 20, min of 5 runs.
Every phase runs in a fresh subprocess so its peak RSS
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
BATCHES = {"cifar100": 128, "imagenet": 256}
FORMS = {"cifar100": "dense", "imagenet": "knn"}
THREADS = {"cifar100": 1, "imagenet": 2}
SUBSET = Path("/work/shared/data/cifar10-subset")
PAPER = {
    "cifar100": {"graph": "3 min", "flat_mem": "234 MB", "hier_mem": "30 MB"},
    "imagenet": {"graph": "89 min", "flat_mem": "151 GB", "hier_mem": "4.6 GB"},
}
KNN, DIM = 20, 256


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
        feats[c * per : (c + 1) * per] = rng.standard_normal((per, DIM), dtype=np.float32) + rng.standard_normal(
            DIM, dtype=np.float32
        )
    return feats, labels


def phase_graph(shape, workdir, form):
    from layerwise.graph import build

    feats, labels = _features(shape)
    base = _rss_mb("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    if form == "knn":
        indptr, indices, data = build.build_knn(feats, labels, KNN, "cosine", np.float32, threads=2)
        secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    else:
        dense, offsets = build.build_dense(feats, labels, "cosine", np.float32)
        secs, cpu = time.perf_counter() - start, time.process_time() - cpu
        indptr, indices, data = build.dense_to_csr(labels, dense, offsets)
    if form == FORMS[shape]:
        np.savez(Path(workdir) / f"{shape}.npz", indptr=indptr, indices=indices, data=data, labels=labels)
    return {"seconds": secs, "cpu": cpu, "extra_mb": _rss_mb("VmHWM") - base, "peak_mb": _rss_mb("VmHWM")}


def _load(shape, workdir):
    from layerwise.submodular.facility import FacilityLocation

    z = np.load(Path(workdir) / f"{shape}.npz")
    return FacilityLocation(z["indptr"], z["indices"], z["data"], ncols=len(z["labels"]))


def phase_partition(shape, workdir, levels, method):
    import hashlib

    from layerwise.submodular import hierarchy

    fl = _load(shape, workdir)
    hierarchy.partition(fl.subproblem(np.arange(2000)), [], 100, method)  # compile/load numba cache
    base = _rss_mb("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    res = hierarchy.partition(fl, levels, BATCHES[shape], method, threads=THREADS[shape])
    secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    digest = hashlib.sha256(b"".join(np.asarray(b, np.int64).tobytes() + b"|" for b in res.batches)).hexdigest()[:16]
    return {
        "seconds": secs,
        "cpu": cpu,
        "extra_mb": _rss_mb("VmHWM") - base,
        "peak_mb": _rss_mb("VmHWM"),
        "tau": res.tau,
        "min_value": float(res.values.min()),
        "peak_queue": max(s.peak_queue for s in res.levels),
        "level_seconds": [s.seconds for s in res.levels],
        "sha": digest,
    }


def phase_default_graph(shape, workdir, threads):
    """build_graph as users get it: graph.form auto (dense_budget_mb 1024, knn 20, cosine, float32)
    on the generated features, written to default.h5 as the rule writes it."""
    from layerwise.graph import build
    from layerwise.graph.store import write_graph

    feats, labels = _features(shape)
    params = {"form": "auto", "dense_budget_mb": 1024, "knn": KNN, "kernel": "cosine", "dtype": "float32",
              "features": "pixels", "projection_dim": DIM, "seed": 0}
    base = _rss_mb("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    arrays = build.build_graph(feats, labels, "auto", 1024, KNN, "cosine", np.float32, int(threads))
    write_graph(Path(workdir) / "default.h5", labels, "auto", arrays, params, 0)
    path = Path(workdir) / "default.h5"
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "extra_mb": _rss_mb("VmHWM") - base, "peak_mb": _rss_mb("VmHWM"),
            "dense_classes": int(arrays["class_dense"].sum()), "file_mb": path.stat().st_size / 2**20}


def phase_default_partition(shape, workdir, threads):
    """The partition_batches entry point on default.h5: robust-hier with the ImageNet levels,
    load, partition, dense scoring and the batches file; peak RSS of the whole job."""
    import hashlib
    import logging
    from types import SimpleNamespace

    import h5py

    import partition_batches

    params = {"batch_size": BATCHES[shape], "levels": LEVELS[shape], "method": "onthefly", "key": "batches"}
    out = Path(workdir) / "default_batches.h5"
    start, cpu = time.perf_counter(), time.process_time()
    partition_batches.main(SimpleNamespace(graph=str(Path(workdir) / "default.h5"), sampler="robust-hier",
                                           output=str(out), params=json.dumps(params), threads=int(threads)))
    secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    logging.shutdown()
    with h5py.File(out, "r") as f:
        digest = hashlib.sha256(f["batches"][()].tobytes()).hexdigest()[:16]
        levels = [float(f[f"levels/{k}"][()].min()) for k in ("min_block_value", "dense_min_block_value")]
    return {"seconds": secs, "cpu": cpu, "peak_mb": _rss_mb("VmHWM"), "sha": digest,
            "min_value": levels[0], "dense_min": levels[1]}


ONE_HEAP = "9c443b7"  # one 8-byte heap per block, before the queues were split by group


def _old_minblock(commit, workdir):
    import importlib.util

    src = subprocess.run(["git", "show", f"{commit}:workflow/scripts/layerwise/submodular/minblock.py"],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], check=True).stdout
    path = Path(workdir) / f"minblock_{commit}.py"
    path.write_text(src.replace("cache=True", "cache=False"))  # a cache of a file-loaded module fails to reload
    spec = importlib.util.spec_from_file_location(f"minblock_{commit}", path)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    return old


def phase_same(shape, workdir, commit="6022b79", classes=None):
    """The level-1 call of the hierarchy with an older kernel (git ``commit``) and now: the same
    blocks, item for item. 6022b79: 16-byte (float64, float64) heap entries, before issue 12;
    ONE_HEAP: one heap per block. ``classes``: only the first classes (same level-1 shape: m=40)."""
    from layerwise.submodular import hierarchy
    from layerwise.submodular.minblock import min_block_greedy

    old = _old_minblock(commit, workdir)
    fl = _load(shape, workdir)
    leaf, bounds = hierarchy.level_layout(fl.n, LEVELS[shape], BATCHES[shape])
    caps = hierarchy.level_capacities(leaf, bounds[0])
    if classes:  # the same m, so a block takes as many items per class as at full size
        fl = fl.subproblem(np.arange(int(classes) * SHAPES[shape][1]))
        caps = hierarchy.even_split(fl.n, len(caps))
    out = {}
    for name, fn in (("old", old.min_block_greedy), ("new", min_block_greedy)):
        fn(fl.subproblem(np.arange(2000)), [100] * 20, "onthefly")
        start, cpu = time.perf_counter(), time.process_time()
        out[name] = fn(fl, caps, "onthefly")
        out[name + "_s"], out[name + "_cpu"] = time.perf_counter() - start, time.process_time() - cpu
    same = all(np.array_equal(a, b) for a, b in zip(out["old"].blocks, out["new"].blocks, strict=True))
    return {"same": bool(same), "old_s": out["old_s"], "new_s": out["new_s"], "old_cpu": out["old_cpu"],
            "new_cpu": out["new_cpu"], "m": len(caps), "n": fl.n, "evals_old": out["old"].evals,
            "evals_new": out["new"].evals, "queue_old": out["old"].peak_queue, "queue_new": out["new"].peak_queue}


def phase_slope(shape, workdir):
    """Figure 5 on real features: the CIFAR-10 subset's projected pixels, dense f_NN graph."""
    from layerwise.data.cifar import pickle_dir, read_pickles
    from layerwise.graph import build, features
    from layerwise.submodular import figures
    from layerwise.submodular.facility import FacilityLocation

    images, labels, _, splits = read_pickles(pickle_dir(SUBSET, "cifar10"), "cifar10")  # prepare_data's reader
    images, labels = images[splits["train"]], labels[splits["train"]]
    feats = features.project_pixels(images, DIM, 0)
    fl = FacilityLocation(*build.dense_to_csr(labels, *build.build_dense(feats, labels, "cosine")), ncols=len(labels))
    figures.runtime_curve(fl, [400], 20, 1, 0, 400)  # warm the compiled code
    c = figures.runtime_curve(fl, [1000, 2000, 4000, 6000, 10000], 20, 5, 0, 2000)
    return {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in c.items()} | {"items": len(labels)}


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
        # float64 terms summed in row order, as the compiled kernel does (a float32 or
        # pairwise sum rounds differently and can flip near-ties on dense rows)
        terms = np.maximum(dat[lo:hi].astype(np.float64) - c[idx[lo:hi]].astype(np.float64), 0)
        return float(np.cumsum(terms)[-1]) if hi > lo else 0.0

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
    same = all(
        np.array_equal(np.sort(np.flatnonzero(np.array(owner) == j)), np.sort(b)) for j, b in enumerate(res.blocks)
    )
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


def _print_one_heap(r):
    print(f"level-1 call (m={r['m']}, |V|={r['n']}), one heap per block (git {ONE_HEAP}) vs heaps per (block, class): "
          f"{r['old_s']:.2f} s vs {r['new_s']:.2f} s wall, {r['old_cpu']:.2f} vs {r['new_cpu']:.2f} CPU s "
          f"(CPU ratio {r['old_cpu'] / r['new_cpu']:.2f}), evaluations {r['evals_old']} vs {r['evals_new']}, "
          f"peak queue {r['queue_old']} vs {r['queue_new']}, same blocks item for item: {r['same']}")


def run_phase(*args):
    out = subprocess.run([sys.executable, __file__, "--phase", *map(str, args)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"phase {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_default(workdir, threads):
    """What `snakemake --cores 2 results/imagenet/batches/robust-hier.h5` runs at ImageNet shape:
    build_graph with the default graph.form auto, then the partition_batches entry point."""
    from layerwise.submodular.memory import partition_mem_mb

    classes, per = SHAPES["imagenet"]
    print(f"\n== default configuration at ImageNet shape: {classes} x {per} generated features (d={DIM}), "
          f"graph.form auto (dense_budget_mb 1024, knn {KNN}), robust-hier {LEVELS['imagenet']} + "
          f"{BATCHES['imagenet']}, {threads} threads")
    g = run_phase("default_graph", "imagenet", workdir, threads)
    print(f"build_graph: {g['dense_classes']} of {classes} classes dense, {g['seconds']:.1f} s ({g['cpu']:.0f} CPU s), "
          f"peak RSS {g['peak_mb']:.0f} MB, file {g['file_mb']:.0f} MB   paper (dense, 16 cores): "
          f"{PAPER['imagenet']['graph']}")
    declared = partition_mem_mb(Path(workdir) / "default.h5", "robust-hier", BATCHES["imagenet"], LEVELS["imagenet"])
    r = run_phase("default_partition", "imagenet", workdir, threads)
    print(f"partition_batches robust-hier: {r['seconds']:.1f} s ({r['cpu']:.0f} CPU s), peak RSS {r['peak_mb']:.0f} MB "
          f"(declared mem_mb {declared}), min block {r['min_value']:.6g} (dense f_NN {r['dense_min']:.6g}), "
          f"batches sha {r['sha']}   target <= 300 s, <= 3 GB; paper peak memory: {PAPER['imagenet']['hier_mem']}")
    print("load:", Path("/proc/loadavg").read_text().strip())


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shapes", nargs="+", default=["cifar100", "imagenet"], choices=list(SHAPES))
    p.add_argument("--workdir", default=None)
    p.add_argument("--default-only", action="store_true",
                   help="only the configuration users get: default graph.form at ImageNet shape, robust-hier")
    p.add_argument("--threads", type=int, default=2, help="threads of the default-configuration jobs")
    p.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.phase:
        name, shape, workdir, *rest = args.phase
        fn = {"graph": phase_graph, "partition": phase_partition, "slope": phase_slope,
              "profile": phase_profile, "apricot": phase_apricot, "same": phase_same,
              "default_graph": phase_default_graph, "default_partition": phase_default_partition}[name]
        if name == "partition":
            rest = [json.loads(rest[0]), rest[1]]
        if name == "same" and len(rest) > 1:
            rest = [rest[0], int(rest[1])]
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
    print("load at start:", Path("/proc/loadavg").read_text().strip())
    run_default(workdir, args.threads)
    if args.default_only:
        return
    for shape in args.shapes:
        classes, per = SHAPES[shape]
        n, bs = classes * per, BATCHES[shape]
        print(f"\n== {shape} shape: {classes} classes x {per}, d={DIM}, |V|={n}, knn={KNN}, batch {bs}, "
              f"partitioned graph: {FORMS[shape]}")
        g = run_phase("graph", shape, workdir, "knn")
        print(
            f"graph knn (faiss exact, 2 threads): {g['seconds']:7.2f} s ({g['cpu']:.0f} CPU s)  extra "
            f"{g['extra_mb']:7.0f} MB   paper (dense, 16 cores): {PAPER[shape]['graph']}"
            + ("   target <= 15 s" if shape == "imagenet" else "")
        )
        if shape == "cifar100":
            d = run_phase("graph", shape, workdir, "dense")
            print(
                f"graph dense (float32):              {d['seconds']:7.2f} s ({d['cpu']:.0f} CPU s)  extra "
                f"{d['extra_mb']:7.0f} MB   knn/dense time ratio {g['seconds'] / d['seconds']:.2f}"
            )
        else:
            print(
                f"graph dense: not built: {classes * per * per * 4 / 2**30:.1f} GiB of float32 blocks > "
                "graph.dense_budget_mb "
                "(1 GiB), so graph.form auto makes every class kNN (an approximation; batches files score it under the "
                "dense f_NN)"
            )
        methods = ("onthefly", "lazy") if shape == "cifar100" else ("onthefly",)
        hier = {m: run_phase("partition", shape, workdir, json.dumps(LEVELS[shape]), m) for m in methods}
        for m, r in hier.items():
            lv = "/".join(f"{x:.1f}" for x in r["level_seconds"])
            print(
                f"hierarchical {LEVELS[shape] + [bs]} {m:8} ({THREADS[shape]} threads): {r['seconds']:7.2f} s "
                f"({r['cpu']:.0f} CPU s; levels {lv} s)  "
                f"extra {r['extra_mb']:6.0f} MB, peak RSS {r['peak_mb']:6.0f} MB  peak queue {r['peak_queue']:>9}  tau "
                f"{r['tau']}  "
                f"partition sha {r['sha']}   paper peak memory: {PAPER[shape]['hier_mem']}"
                + ("   target <= 60 s, <= 800 MB" if shape == "imagenet" else "")
            )
        if "lazy" in hier:
            print(f"  ratio lazy/on-the-fly: time {hier['lazy']['seconds'] / hier['onthefly']['seconds']:.2f}, "
                  f"peak queue {hier['lazy']['peak_queue'] / hier['onthefly']['peak_queue']:.2f}, same partition: "
                  f"{hier['lazy']['sha'] == hier['onthefly']['sha']}")
        m_flat = -(-n // bs)
        if shape == "cifar100":
            same = run_phase("same", shape, workdir)
            print(f"level-1 call (m={same['m']}), code before issue 12 (16-byte heap entries) vs now (8-byte): "
                  f"{same['old_s']:.2f} s vs {same['new_s']:.2f} s (ratio {same['old_s'] / same['new_s']:.2f}), "
                  f"evaluations {same['evals_old']} vs {same['evals_new']}, same blocks item for item: {same['same']}")
        # baseline in this command: the previous kernel (ImageNet shape: level 1 of 200 classes, m=40)
        _print_one_heap(
            run_phase("same", shape, workdir, ONE_HEAP, SHAPES[shape][0] // 5 if shape == "imagenet" else 0)
        )
        if shape == "cifar100":
            flat = run_phase("partition", shape, workdir, "[]", "onthefly")
            print(
                f"flat (Algorithm 3, m={m_flat}):       {flat['seconds']:7.2f} s ({flat['cpu']:.0f} CPU s)  extra "
                f"{flat['extra_mb']:6.0f} MB, peak RSS {flat['peak_mb']:6.0f} MB  "
                f"peak queue {flat['peak_queue']:>9}   paper peak memory: {PAPER[shape]['flat_mem']}"
            )
            h = hier["onthefly"]
            print(
                f"  ratio flat/hierarchical: time {flat['seconds'] / h['seconds']:.2f}, extra memory "
                f"{flat['extra_mb'] / max(h['extra_mb'], 1):.1f}, "
                f"min block {flat['min_value'] / h['min_value']:.3f} (paper memory ratio {234 / 30:.1f})"
            )
            if SUBSET.exists():
                s = run_phase("slope", shape, workdir)
                pts = ", ".join(
                    f"{a}:{b:.3f}s/{e / a:.1f}ev" for a, b, e in zip(s["n"], s["seconds"], s["evals"], strict=True)
                )
                eager = ", ".join(f"{a}:{b:.3f}s" for a, b in zip(s["eager_n"], s["eager_seconds"], strict=True))
                print(
                    f"Figure 5 on the CIFAR-10 subset's pixels ({s['items']} items, dense f_NN, m=20, min of 5, one "
                    "thread; "
                    f"|V|: seconds/evaluations per item): {pts}\n  non-lazy baseline: {eager} (slope "
                    f"{s['eager_slope']:.2f})"
                    f"\n  slope {s['slope']:.3f} +- {s['slope_se']:.3f} over |V| {min(s['n'])}-{max(s['n'])}   paper "
                    "1.345"
                )
            else:
                print(f"Figure 5: skipped ({SUBSET} not found)")
            prof = run_phase("profile", shape, workdir)
            print(
                f"pure-Python heapq Algorithm 1 vs compiled (|V|=4000, m=20): {prof['python']:.2f} s vs "
                f"{prof['numba']:.4f} s "
                f"= {prof['python'] / prof['numba']:.0f}x, same partition: {prof['same']}"
            )
            print("  cProfile of the Python version (top by own time):\n    " + "\n    ".join(prof["profile"]))
        else:
            gb = m_flat * n * (4 + 8) / 1e9
            print(f"flat (m={m_flat}): not run; its coverage vectors and queues alone need ~{gb:.0f} GB "
                  f"(m*|V|*(4+8) B), paper: {PAPER[shape]['flat_mem']}")
        print("load:", Path("/proc/loadavg").read_text().strip())
    a = run_phase("apricot", "imagenet", workdir)
    print(
        f"\nsingle-block greedy n=1300, k=128, d=256: ours {a['ours']:.4f} s; apricot cold {a['cold']:.3f} s "
        f"({a['cold'] / a['ours']:.0f}x), apricot with cached kernels {a['warm']:.4f} s "
        f"({a['warm'] / a['ours']:.1f}x); "
        f"f ours {a['f_ours']:.4f} vs apricot {a['f_apricot']:.4f}"
    )


if __name__ == "__main__":
    main()
