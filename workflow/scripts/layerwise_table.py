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


def plot(curves, path, title):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, layers, single, ens in curves:
        line = ax.plot(layers, single, marker="o" if len(single) > 1 else "*", ms=7, label=label)[0]
        if len(single) > 1:
            ax.plot(layers, ens, ls="--", color=line.get_color())
    ax.set_xlabel("layer j")
    ax.set_ylabel("test top-1 (%)  solid: z_j, dashed: ensemble")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
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
