"""Write results/{dataset}_decoupled.csv (sequential greedy vs decoupled sync/async vs end to end,
see layerwise.training.decoupled_table) and the figure of test top-1 against training wall time."""

import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from layerwise.errors import run_cli
from layerwise.h5io import atomic_path
from layerwise.training.decoupled_table import comparisons, decoupled_rows, train_size


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, help="dataset name")
    parser.add_argument("--data", required=True, help="results/{dataset}/data.h5 (training-set size)")
    parser.add_argument("--rows", required=True, help="JSON list of {preset, sampler, model, runs}")
    parser.add_argument("--output", required=True, help="output CSV")
    parser.add_argument("--figure", required=True, help="output PNG: test top-1 against wall time")
    return parser


def plot(curves, path, title):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, seconds, top1 in curves:
        ax.plot(seconds, top1, marker="o", ms=3, label=label)
    ax.set_xlabel("training wall time (s)")
    ax.set_ylabel("test top-1 (%) of the block in training / last block")
    ax.set_title(title)
    ax.legend(fontsize=6)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def main(args):
    frame, curves = decoupled_rows(json.loads(args.rows), train_size(args.data))
    with atomic_path(args.output) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.2f")
    plot(curves, args.figure, f"{args.dataset}: decoupled vs sequential greedy")
    print(frame.to_string(index=False))
    print("\n".join(comparisons(frame)))


if __name__ == "__main__":
    run_cli(main, get_args_parser())
