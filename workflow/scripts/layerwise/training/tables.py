"""Tables of paper 003 from per-layer ``eval.h5`` files: one row per preset and sampler kind,
aggregated over seeds (mean, std, worst, best), with the paper's numbers beside ours.

A run's accuracy is that of its last layer z_J; its ensemble accuracy is that
of Z = sum_j 2^j z_j over all its layers (layer-wise runs; e2e runs have no
ensemble, so the column repeats the single model), summing logits or softmax
probabilities as the profile's ``ensemble`` says (the authors: logits in cifar.py,
probabilities in imagenet.py). Accuracies are in percent.

The paper trained with ordinary reshuffled SGD, so its numbers stand only beside
the ``shuffle`` rows; rows on fixed sequences (robust-*, random) are this
project's extension and say so in ``scope`` and ``note``.

A table is a result only if every run in it trained: a layer whose eval file
holds a non-finite training loss, or whose final *training* accuracy is
within ``CHANCE_MARGIN`` of chance (1/classes), stops the table rule with one
error naming the run (a chance row is a bug report, not a result).
"""

import math

import numpy as np
import pandas as pd

from layerwise.errors import InputError
from layerwise.training.evaluation import ensemble, read_eval, topk

CHANCE_MARGIN = 1.2  # final train top-1 below 1.2 / classes counts as "at chance"

# Paper 003: Table 3 (ImageNet top-1/top-5, ensemble), Table 1 (ImageNet top-5),
# Table 2 and Table 6 (CIFAR-10), and the layer-wise compression paragraph of section 4.3.
PAPER = {
    ("imagenet", "table3"): {
        "simcnn-k1": (58.1, 59.3, 79.7, 80.8),
        "simcnn-k2": (65.7, 67.1, 86.3, 87.0),
        "simcnn-k3": (69.7, 71.6, 88.7, 89.8),
        "vgg11-k3": (67.6, 70.1, 88.0, 89.2),
        "vgg11-e2e": (67.9, None, 88.0, None),
    },
    ("imagenet", "table1"): {
        "simcnn-k3": (None, None, 88.7, None),
        "simcnn-k3-mf512": (None, None, 88.5, None),
    },
    ("cifar10", "table2"): {
        "simcnn-k1": (88.3, 88.4, None, None),
        "simcnn-k2": (90.4, 90.7, None, None),
        "simcnn-k3": (91.7, 92.8, None, None),
        "simcnn-k1-e2e": (89.7, None, None, None),
    },
    ("cifar10", "table6"): {
        "simcnn-k1-strided": (87.8, None, None, None),
        "simcnn-k1": (88.3, None, None, None),
        "simcnn-k1-avgpool": (87.6, None, None, None),
        "simcnn-k1-maxpool": (88.0, None, None, None),
    },
    ("cifar10", "compression"): {
        "simcnn-k3-pruned": (87.6, None, None, None),
        "simcnn-w64-e2e": (87.5, None, None, None),
    },
}
# Notes beside a row where the paper's own numbers disagree with each other.
NOTES = {
    ("imagenet", "table3"): {
        "simcnn-k1": (
            "Table 7 lists SimCNN k=1 (J=6) at 96M parameters, which Table 5's widths do not "
            "reproduce: with its invertible downsampling (4x input channels) J=6 has 145.7M "
            "(J=8: 606.8M), with channel-preserving downsampling 71.3M; params counts the model "
            "as built"
        ),
    },
}
SCORES = ("top1", "top1_ens", "top5", "top5_ens")
COLUMNS = ["model", "k", "train", "sampler", "seeds", *SCORES, "params", "train_seconds",
           "peak_mem_mb", *(f"paper_{s}" for s in SCORES), "scope", "ensemble", "note"]
PAPER_SAMPLER = "shuffle"  # the paper's own training: a fresh permutation every epoch
ARCH_NAMES = {"simcnn": "SimCNN", "vgg11": "VGG-11"}


def check_trained(run, path, ev):
    """InputError unless a layer's training loss stayed finite and its train accuracy beat chance."""
    loss, train = ev["metrics"]["train_loss"], ev["metrics"]["train_top1"]
    chance = 1.0 / ev["logits"].shape[1]
    if not np.isfinite(loss).all():
        raise InputError(f"run {run}: {path} holds a non-finite training loss; it is not a result. "
                         "Delete the run's train/ directory and fix its schedule (lr, warmup_epochs)")
    if len(train) and train[-1] < CHANCE_MARGIN * chance:
        raise InputError(
            f"run {run}: final train accuracy {100 * train[-1]:.1f} % is at chance "
            f"({100 * chance:.1f} %) in {path}; the model did not train, so the table would "
            "report a bug. Fix the preset (lr, warmup_epochs, batchnorm, vgg_dropout) and rerun")


def run_summary(eval_paths, run=None, kind="logits"):
    """Scores of one run from its layers' eval files (in layer order), plus per-layer curves;
    ``kind``: what the ensemble sums (logits or probabilities, evaluation.ensemble)."""
    evals = [read_eval(p) for p in eval_paths]
    for path, ev in zip(eval_paths, evals, strict=True):
        check_trained(run or path, path, ev)
    labels = evals[-1]["labels"]
    per_layer, per_layer_ens = [], []
    for j in range(1, len(evals) + 1):
        per_layer.append(100 * topk(evals[j - 1]["logits"], labels, 1))
        per_layer_ens.append(100 * topk(ensemble([e["logits"] for e in evals[:j]], kind), labels, 1))
    z = ensemble([e["logits"] for e in evals], kind)
    last = evals[-1]["logits"]
    return {
        "top1": 100 * topk(last, labels, 1), "top5": 100 * topk(last, labels, 5),
        "top1_ens": 100 * topk(z, labels, 1), "top5_ens": 100 * topk(z, labels, 5),
        "params": int(evals[-1]["num_params"]),
        "train_seconds": float(sum(e["train_seconds"] for e in evals)),
        "peak_mem_mb": float(max(e["peak_mem_mb"] for e in evals)),
        "layer_peak_mem_mb": [float(e["peak_mem_mb"]) for e in evals],
        "peak_mem_kind": str(evals[-1].get("peak_mem_kind", "")),
        "layer_top1": per_layer, "layer_top1_ens": per_layer_ens,
        "layer_index": [int(e["layer"]) for e in evals],  # an e2e run is one point at layer J
    }


def row_scope(row, paper):
    """``paper`` where the paper quotes this row (shuffled SGD), else ``extension`` (fixed sequences,
    or a preset the paper has no number for)."""
    return "paper" if row["sampler"] == PAPER_SAMPLER and row["preset"] in paper else "extension"


def row_note(dataset, table, row, kind, scope):
    """The note column: what the ensemble sums, whether the paper describes the row, and the
    paper's own inconsistencies or how the row reuses another run's layers."""
    parts = [f"ensemble of {kind}"]
    if scope == "extension":
        why = ("this project's extension: trained on a fixed mini-batch sequence, the paper's numbers "
               "describe reshuffled SGD (the shuffle rows)") if row["sampler"] != PAPER_SAMPLER else (
               f"this project's extension: paper 003 reports no {row['preset']} row on {dataset}")
        parts.append(why)
    if row.get("reused"):
        parts.append(row["reused"])
    if NOTES.get((dataset, table), {}).get(row["preset"]):
        parts.append(NOTES[(dataset, table)][row["preset"]])
    return "; ".join(parts)


def table_rows(dataset, table, rows):
    """DataFrame of a table and the figure's curves (preset, sampler, layers, z_j top-1, ensemble
    top-1); ``rows`` as built by the rule (preset, sampler, model, runs, and optionally
    ensemble: logits | probabilities, reused: the note of a row that reuses layers)."""
    paper = PAPER.get((dataset, table), {})
    records, curves = [], []
    for row in rows:
        kind = row.get("ensemble", "logits")
        runs = [run_summary(paths, name, kind) for name, paths in row["runs"].items()]
        model = row["model"]
        e2e = model["train"] == "e2e"
        rec = {
            "model": ARCH_NAMES.get(model["arch"], model["arch"]),
            "k": "" if e2e else model["k"], "train": model["train"], "sampler": row["sampler"],
            "seeds": len(runs),
        }
        for s in SCORES:
            vals = np.array([r[s] for r in runs])
            rec[s] = vals.mean()
        rec["params"] = runs[0]["params"]
        rec["train_seconds"] = float(np.mean([r["train_seconds"] for r in runs]))
        rec["peak_mem_mb"] = float(np.mean([r["peak_mem_mb"] for r in runs]))
        # per layer (one value for e2e): users pick presets by the largest one
        layer_mem = np.mean([r["layer_peak_mem_mb"] for r in runs], axis=0)
        rec["peak_mem_mb_layers"] = ";".join(f"{m:.1f}" for m in layer_mem)
        rec["peak_mem_kind"] = runs[0]["peak_mem_kind"]
        quoted = paper.get(row["preset"]) if row["sampler"] == PAPER_SAMPLER else None
        for s, value in zip(SCORES, quoted or (None,) * 4, strict=True):
            rec[f"paper_{s}"] = "" if value is None else value
        for s in ("top1", "top1_ens"):
            vals = np.array([r[s] for r in runs])
            rec[f"{s}_std"] = vals.std(ddof=1) if len(vals) > 1 else math.nan
            rec[f"{s}_worst"], rec[f"{s}_best"] = vals.min(), vals.max()
        rec["scope"], rec["ensemble"] = row_scope(row, paper), kind
        rec["note"] = row_note(dataset, table, row, kind, rec["scope"])
        rec["preset"] = row["preset"]
        records.append(rec)
        curves.append((row["preset"], row["sampler"], runs[0]["layer_index"],
                       np.mean([r["layer_top1"] for r in runs], axis=0),
                       np.mean([r["layer_top1_ens"] for r in runs], axis=0)))
    frame = pd.DataFrame.from_records(records)
    extra = [c for c in frame.columns if c not in COLUMNS]
    return frame[COLUMNS + extra], curves


def orderings(frame, within=3.0):
    """Paper 003's orderings per sampler, as printable lines: k=3 >= k=2 >= k=1 (layer-wise
    SimCNN top-1), ensemble >= last layer, end to end within ``within`` points of k=3."""
    lines = []
    for sampler, part in frame.groupby("sampler", sort=False):
        lw = part[(part["train"] == "layerwise") & (part["model"] == "SimCNN")]
        by_k = {int(k): float(t) for k, t in zip(lw["k"], lw["top1"], strict=True)}
        if {1, 2, 3} <= set(by_k):
            ok = by_k[3] >= by_k[2] >= by_k[1]
            lines.append(f"{sampler}: k=3 >= k=2 >= k=1: {ok} ({by_k[3]:.2f}, {by_k[2]:.2f}, {by_k[1]:.2f})")
        for _, row in lw.iterrows():
            lines.append(f"{sampler}: {row['preset']} ensemble >= last layer: "
                         f"{row['top1_ens'] >= row['top1']} ({row['top1_ens']:.2f} vs {row['top1']:.2f})")
        for _, row in part[part["train"] == "e2e"].iterrows():
            if 3 in by_k:
                gap = row["top1"] - by_k[3]
                lines.append(f"{sampler}: {row['preset']} within {within:g} points of k=3 or above: "
                             f"{gap >= -within} ({row['top1']:.2f} vs {by_k[3]:.2f})")
    return lines
