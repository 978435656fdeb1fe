"""``results/{dataset}_clustering.csv``: paper 001 Figure 3, mean ± std over seeds, paper numbers beside ours.

One row per (head, method). The headline is the linear SVM on each method's
final frozen representation (``svm_test_mean``); the Adam-trained head of §6
follows (``head_test_mean``). ``paper_test_accuracy`` quotes Figure 3 on
CIFAR-10 (the FC row for the FC head, the linear row for the linear head);
``note`` explains rows that are not above chance and the settings that differ
from the paper's.
"""

import numpy as np
import pandas as pd

from layerwise.clustering.experiment import read_variant

# Paper 001 Figure 3 (CIFAR-10 test accuracy).
PAPER_FIGURE3 = {
    ("fc", "cnn"): 0.759,
    ("fc", "cnn-random"): 0.645,
    ("fc", "jl"): 0.586,
    ("fc", "dlc"): 0.734,
    ("linear", "cnn"): 0.735,
    ("linear", "cnn-random"): 0.616,
    ("linear", "jl"): 0.588,
    ("linear", "dlc"): 0.689,
}
NAMES = {
    "cnn": "CNN",
    "cnn-random": "CNN (random)",
    "jl": "Clustering+JL",
    "dlc": "deep layerwise clustering",
    "pixels": "raw pixels",
}
PAPER_DATASETS = ("cifar10",)
CHANCE_MARGIN = 0.05  # a row within 5 points of chance is "at chance"


def _stats(values):
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if len(values) == 0:
        return np.nan, np.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else np.nan  # no spread from one seed


def _note(method, svm_mean, chance, synthetic):
    if not np.isfinite(svm_mean) or svm_mean > chance + CHANCE_MARGIN:
        return ""
    if method == "pixels" and synthetic:
        return "at chance by design: the moment-matched last level gives every label the same pixel mean"
    return "AT CHANCE: check results/logs/cluster for this method"


def clustering_table(dataset, paths, num_classes, synthetic=False):
    """Rows aggregated over the seeds of each (head, method), in the order first seen."""
    runs = [read_variant(p) for p in paths]
    order = list(dict.fromkeys((r["head"], r["method"]) for r in runs))
    chance = 1.0 / num_classes
    rows = []
    for head, method in order:
        group = [r for r in runs if (r["head"], r["method"]) == (head, method)]
        svm_mean, svm_std = _stats([r.get("svm_test_accuracy") for r in group])
        head_mean, head_std = _stats([r.get("test_accuracy") for r in group])
        row = {
            "dataset": dataset,
            "classifier": "FC" if head == "fc" else "linear",
            "method": NAMES.get(method, method),
            "seeds": len(group),
            "svm_test_mean": svm_mean,
            "svm_test_std": svm_std,
            "head_test_mean": head_mean,
            "head_test_std": head_std,
            "paper_test_accuracy": PAPER_FIGURE3.get((head, method)) if dataset in PAPER_DATASETS else None,
            "svm_train_mean": _stats([r.get("svm_train_accuracy") for r in group])[0],
            "head_train_mean": _stats([r.get("train_accuracy") for r in group])[0],
            "steps_mean": _stats([r.get("steps") for r in group])[0],
            "seconds_mean": _stats([r.get("seconds") for r in group])[0],
            "chance": chance,
            "note": _note(method, svm_mean, chance, synthetic),
        }
        levels = sorted({lv for r in group for lv in r["recovery"]}, reverse=True)
        for level in levels:
            row[f"nmi_level{level}"] = _stats([r["recovery"].get(level, {}).get("embed_nmi") for r in group])[0]
            row[f"assign_purity_level{level}"] = _stats([r["recovery"].get(level, {}).get("assign_purity") for r in group])[0]
        rows.append(row)
    return pd.DataFrame(rows)
