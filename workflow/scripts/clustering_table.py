"""Entry point of rule clustering_table: run files into results/{dataset}_clustering.csv (mean ± std over seeds)."""

import argparse

from layerwise.clustering.table import clustering_table
from layerwise.data.store import open_data
from layerwise.errors import run_cli
from layerwise.h5io import atomic_path, read_params


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data", required=True, help="results/{dataset}/data.h5 (class count, ground truth)")
    parser.add_argument("--inputs", nargs="+", required=True, help="clustering/{method}-{head}-s{seed}.h5 files")
    parser.add_argument("--output", required=True, help="CSV to write")
    return parser


def main(args):
    with open_data(args.data) as f:
        num_classes = len(f["class_names"])
        model = read_params(f).get("synthetic") if "latents" in f else None  # the generative model's parameters
    table = clustering_table(args.dataset, args.inputs, num_classes, model)
    with atomic_path(args.output) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    print(table.to_string(index=False))


if __name__ == "__main__":
    run_cli(main, get_args_parser())
