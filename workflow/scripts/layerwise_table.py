"""Write a paper-003 table (results/{dataset}_{table}.csv, e.g. table3) from the runs' eval.h5
files, and the per-layer accuracy figure (paper 003 Figure 2) of the same runs."""

import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from layerwise.errors import run_cli
from layerwise.h5io import atomic_path
from layerwise.training.tables import orderings, table_rows


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, help="dataset name (paper columns for imagenet/cifar10)")
    parser.add_argument("--table", required=True, help="table name: table3, table2, table6, table1, compression")
    parser.add_argument("--rows", required=True, help="JSON list of {preset, sampler, model, runs}")
    parser.add_argument("--output", required=True, help="output CSV")
    parser.add_argument("--figure", required=True, help="output PNG: top-1 per layer")
    return parser


def figure(curves, title):
    """One panel per preset (shared y axis), one colour per sampler kind in every panel."""
    presets = list(dict.fromkeys(c[0] for c in curves))
    samplers = list(dict.fromkeys(c[1] for c in curves))
    colours = {s: f"C{i}" for i, s in enumerate(samplers)}
    cols = min(3, len(presets))
    rows = -(-len(presets) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.9 * rows), squeeze=False, sharey=True)
    for ax, preset in zip(axes.flat, presets, strict=False):
        for _, sampler, layers, single, ens in (c for c in curves if c[0] == preset):
            one = len(single) == 1  # an e2e run: one point at its depth
            ax.plot(layers, single, marker="*" if one else "o", ms=7, color=colours[sampler], label=sampler)
            if not one:
                ax.plot(layers, ens, ls="--", color=colours[sampler])
        ax.set_title(preset, fontsize=9)
        ax.set_xlabel("layer j")
        ax.set_xticks(sorted({j for c in curves if c[0] == preset for j in c[2]}))  # the layers, no 1.5
        ax.legend(fontsize=7)
    for ax in axes.flat[len(presets):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("test top-1 (%)")
    fig.suptitle(f"{title}\nsolid: z_j, dashed: ensemble of layers 1..j", fontsize=9)
    fig.tight_layout()
    return fig


def plot(curves, path, title):
    fig = figure(curves, title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def main(args):
    frame, curves = table_rows(args.dataset, args.table, json.loads(args.rows))
    with atomic_path(args.output) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.2f")
    plot(curves, args.figure, f"{args.dataset}: per-layer accuracy ({args.table})")
    print(frame.to_string(index=False))
    print("\n".join(orderings(frame)))  # paper 003's orderings, checked in the log


if __name__ == "__main__":
    run_cli(main, get_args_parser())
