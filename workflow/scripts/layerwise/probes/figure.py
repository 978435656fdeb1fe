"""One figure per dataset: probe test accuracy against layer depth, one panel per probe (003 Figure 3)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

from layerwise.probes.probe import read_probes

TITLES = {"linear": "linear", "cnn1": "CNN-1", "cnn2": "CNN-2", "svm": "linear SVM"}


def probe_frame(paths, groups=None):
    """Long table: run, preset, group, layer, probe, train_accuracy, test_accuracy.

    ``groups`` maps a preset to its curve (paper 003 Figure 3 averages runs of equal k
    over M and seeds); presets not in it are their own curve.
    """
    groups = groups or {}
    rows = []
    for path in paths:
        attrs, results = read_probes(path)
        run = str(attrs["run"])
        for probe, (train, test) in results.items():
            preset = run.split(".")[0]
            rows.append({"run": run, "preset": preset, "group": groups.get(preset, preset),
                         "layer": int(attrs["layer"]),
                         "probe": probe, "train_accuracy": train, "test_accuracy": test})
    return pd.DataFrame(rows)


def figure(frame, dataset):
    """Mean over the runs of each group (presets of equal k, seeds), test accuracy per layer."""
    probes = [p for p in TITLES if p in set(frame["probe"])]
    fig, axes = plt.subplots(1, len(probes), figsize=(3.2 * len(probes), 3), squeeze=False, sharey=True)
    mean = frame.groupby(["group", "probe", "layer"], as_index=False)["test_accuracy"].mean()
    for ax, probe in zip(axes[0], probes, strict=True):
        for group, part in mean[mean["probe"] == probe].groupby("group"):
            ax.plot(part["layer"], part["test_accuracy"], marker="o", label=group)
        ax.set_title(TITLES[probe])
        ax.set_xlabel("layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no 1.5, 2.5 between layers
    axes[0][0].set_ylabel(f"{dataset} test accuracy")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot(frame, dataset, output):
    fig = figure(frame, dataset)
    fig.savefig(output, dpi=120, format="png")
    plt.close(fig)
