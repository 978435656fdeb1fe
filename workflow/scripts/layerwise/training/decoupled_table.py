"""results/{dataset}_decoupled.csv: sequential greedy vs decoupled (sync, async) vs end to end.

Rows are the presets of ``layerwise.profiles.<dataset>.tables.decoupled`` per sampler kind
(the same architecture and mini-batch sequences), read from the runs' eval.h5 files:
top-1 of the last layer and of the 2^j ensemble (tables.run_summary), epochs per block,
wall time of training (sequential: the sum over its J jobs; decoupled: the job's time,
the groups running concurrently), training images per second (epochs per block x training
images / wall time: images pushed through *all* blocks per second) and peak memory per
device (sequential and e2e: the largest job step; decoupled: a group's blocks summed on
CPU, where every stage's tally is exact, the largest CUDA allocation on GPU).
"""

import h5py
import numpy as np
import pandas as pd

from layerwise.training.evaluation import read_eval
from layerwise.training.tables import run_summary

METHODS = {"layerwise": "sequential greedy", "e2e": "end to end"}
COLUMNS = ["method", "preset", "model", "k", "sampler", "seeds", "top1", "top1_ens", "epochs_per_block",
           "wall_seconds", "images_per_s", "devices", "peak_mem_mb_per_device", "peak_mem_kind"]


def train_size(data_path):
    """Training images of a data.h5 (pixel file or manifest)."""
    with h5py.File(data_path, "r") as f:
        return int(f["splits/train"].shape[0])


def _attrs(path):
    with h5py.File(path, "r") as f:
        return {k: f.attrs[k] for k in f.attrs if k != "params"}


def run_record(paths, name, n_train):
    """One run's scores, timing, memory and accuracy-vs-time curve."""
    summary = run_summary(paths, name)
    evals = [read_eval(p) for p in paths]
    attrs = [_attrs(p) for p in paths]
    mode = str(attrs[0].get("decoupled_mode", ""))
    epochs = len(evals[0]["metrics"]["test_top1"])
    if mode:  # one job trained every layer: its time, and the blocks of each group on one device
        wall = float(attrs[0]["run_train_seconds"])
        groups = {}
        for a in attrs:
            groups.setdefault(int(a["group"]), []).append(float(a["peak_mem_mb"]))
        cuda = str(attrs[0]["peak_mem_kind"]).startswith("cuda")
        mem = max(max(v) if cuda else sum(v) for v in groups.values())
        devices = len(groups)
        acc = np.array(evals[-1]["metrics"]["test_top1"]) * 100
        times = wall * np.arange(1, epochs + 1) / epochs
    else:  # sequential jobs (or one e2e job): layer j starts where layer j-1 ended
        wall, mem, devices = summary["train_seconds"], summary["peak_mem_mb"], 1
        times, acc, done = [], [], 0.0
        for ev, a in zip(evals, attrs, strict=True):
            n = len(ev["metrics"]["test_top1"])
            times += list(done + float(a["train_seconds"]) * np.arange(1, n + 1) / n)
            acc += list(np.array(ev["metrics"]["test_top1"]) * 100)
            done += float(a["train_seconds"])
        times, acc = np.array(times), np.array(acc)
    return {"top1": summary["top1"], "top1_ens": summary["top1_ens"], "epochs": epochs, "wall": wall,
            "images_per_s": epochs * n_train / wall if wall > 0 else float("nan"), "devices": devices,
            "mem": mem, "mem_kind": summary["peak_mem_kind"], "mode": mode, "curve": (times, acc)}


def decoupled_rows(rows, n_train):
    """(DataFrame of the table, curves [(label, seconds, top-1 %)]) from the rule's rows."""
    records, curves = [], []
    for row in rows:
        runs = [run_record(paths, name, n_train) for name, paths in row["runs"].items()]
        model = row["model"]
        method = f"decoupled {runs[0]['mode']}" if model["train"] == "decoupled" else METHODS[model["train"]]
        records.append({
            "method": method, "preset": row["preset"], "model": model["arch"],
            "k": "" if model["train"] == "e2e" else model["k"], "sampler": row["sampler"], "seeds": len(runs),
            "top1": np.mean([r["top1"] for r in runs]), "top1_ens": np.mean([r["top1_ens"] for r in runs]),
            "epochs_per_block": runs[0]["epochs"], "wall_seconds": np.mean([r["wall"] for r in runs]),
            "images_per_s": np.mean([r["images_per_s"] for r in runs]), "devices": runs[0]["devices"],
            "peak_mem_mb_per_device": np.mean([r["mem"] for r in runs]), "peak_mem_kind": runs[0]["mem_kind"],
        })
        curves.append((f"{method}: {row['preset']} ({row['sampler']})", *runs[0]["curve"]))
    return pd.DataFrame.from_records(records, columns=COLUMNS), curves


def comparisons(frame):
    """Printable lines: each decoupled row against sequential greedy of the same model and sampler."""
    lines = []
    for (_model, _k, sampler), part in frame.groupby(["model", "k", "sampler"], sort=False):
        seq = part[part["method"] == "sequential greedy"]
        if seq.empty:
            continue
        base = seq.iloc[0]
        for _, row in part[part["method"].str.startswith("decoupled")].iterrows():
            lines.append(f"{sampler}: {row['preset']} vs {base['preset']}: top-1 {row['top1']:.2f} vs "
                         f"{base['top1']:.2f} ({row['top1'] - base['top1']:+.2f} points), wall time "
                         f"x{row['wall_seconds'] / base['wall_seconds']:.2f}")
    return lines
