"""``results/{dataset}_parsimonious.csv``: mean +- std over seeds per method, beside paper 004 Tables 2-3."""

import json

import pandas as pd

from layerwise.h5io import atomic_h5, open_checked

STAGE = "train_parsimonious"
# Paper 004 Table 2 (accuracy %, mean and std over 4 trials): (train, train_std, test, test_std).
PAPER_TABLE2 = {
    "cifar10": {
        "baseline": (94.87, 0.14, 76.32, 0.17),
        "weight-decay": (95.34, 0.27, 76.79, 0.31),
        "dropout": (99.10, 0.17, 77.45, 0.21),
        "sample": (89.93, 0.19, 81.05, 0.41),
        "spatial": (90.50, 0.05, 81.02, 0.12),
        "channel": (89.26, 0.25, 80.65, 0.23),
    },
    "cifar100": {
        "baseline": (68.01, 0.64, 46.21, 0.34),
        "weight-decay": (69.32, 0.51, 46.93, 0.42),
        "dropout": (60.77, 0.47, 48.70, 0.38),
        "sample": (63.60, 0.55, 50.50, 0.38),
        "spatial": (64.38, 0.38, 50.18, 0.49),
        "channel": (63.42, 1.34, 49.80, 0.25),
    },
}
# Paper 004 Table 3 (CIFAR-100, ip1 features, k-means K = 100): NMI mean over 10 runs.
PAPER_TABLE3 = {"cifar100": {"baseline": 0.4122, "sample": 0.4914}}
METRICS = (
    "train_accuracy",
    "val_accuracy",
    "test_accuracy",
    "nmi",
    "purity",
    "final_regulariser",
    "best_epoch",
    "epochs_run",
    "num_classes",
)


def write_run(path, results, params, seed):
    with atomic_h5(path, STAGE, params, seed) as f:
        f.attrs["method"] = results["method"]
        for key in METRICS:
            f.attrs[key] = float(results[key])
        f.attrs["results"] = json.dumps(results)


def read_run(path):
    with open_checked(path, STAGE) as f:
        return {
            "method": str(f.attrs["method"]),
            **{k: float(f.attrs[k]) for k in METRICS},
            "params": json.loads(f.attrs["params"]),
        }


def _note(row, margin=5.0):
    """Explains a row whose test accuracy is within ``margin`` points of chance."""
    if row["test_accuracy_mean"] > row["chance_accuracy"] + margin:
        return ""
    if row["train_accuracy_mean"] > row["chance_accuracy"] + margin:
        return f"test at chance, train {row['train_accuracy_mean']:.1f} %: memorised the training images"
    return (
        f"at chance on training images too within {row['epochs_max']} epochs: the quick CNN has not left "
        "the ln(classes) plateau on this data (it learns learnable data: tests/unit/test_parsimonious_learning.py)"
    )


def parsimonious_table(dataset, paths):
    runs = pd.DataFrame([read_run(p) for p in paths])
    rows = []
    for method, part in runs.groupby("method", sort=False):
        row = {"dataset": dataset, "method": method, "seeds": len(part)}
        for key in ("train_accuracy", "val_accuracy", "test_accuracy", "nmi"):
            scale = 1 if key == "nmi" else 100
            row[f"{key}_mean"] = scale * part[key].mean()
            row[f"{key}_std"] = scale * part[key].std(ddof=0)
        row["best_epoch_mean"] = part["best_epoch"].mean()
        row["epochs_max"] = int(part["params"].iloc[0]["epochs"])
        row["chance_accuracy"] = 100 / part["num_classes"].iloc[0]
        paper = PAPER_TABLE2.get(dataset, {}).get(method)
        row["paper_train"], row["paper_train_std"], row["paper_test"], row["paper_test_std"] = paper or (None,) * 4
        row["paper_nmi"] = PAPER_TABLE3.get(dataset, {}).get(method)
        row["note"] = _note(row)
        rows.append(row)
    return pd.DataFrame(rows)
