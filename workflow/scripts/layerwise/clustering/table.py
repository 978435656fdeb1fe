"""``results/{dataset}_clustering.csv``: paper 001 Figure 3 rows plus the latent-recovery columns."""

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


def clustering_table(dataset, paths):
    """One row per variant file, in the order given."""
    rows = []
    for path in paths:
        r = read_variant(path)
        row = {
            "dataset": dataset,
            "classifier": "FC" if r["head"] == "fc" else "linear",
            "method": NAMES.get(r["method"], r["method"]),
            "train_accuracy": r["train_accuracy"],
            "test_accuracy": r["test_accuracy"],
            "paper_test_accuracy": PAPER_FIGURE3.get((r["head"], r["method"])) if dataset in PAPER_DATASETS else None,
            "svm_train_accuracy": r.get("svm_train_accuracy"),
            "svm_test_accuracy": r.get("svm_test_accuracy"),
            "seconds": r.get("seconds"),
        }
        for level, rec in sorted(r["recovery"].items(), reverse=True):
            row[f"nmi_level{level}"] = rec["embed_nmi"]
            row[f"purity_level{level}"] = rec["embed_purity"]
            row[f"assign_purity_level{level}"] = rec["assign_purity"]
            row[f"assign_nmi_level{level}"] = rec["assign_nmi"]
        rows.append(row)
    return pd.DataFrame(rows)
