"""Entry point of rule parsimonious_table: run files into results/{dataset}_parsimonious.csv."""

import argparse

from layerwise.errors import run_cli
from layerwise.h5io import atomic_path
from layerwise.parsimonious.table import parsimonious_table


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--inputs", nargs="+", required=True, help="parsimonious/{method}-s{seed}.h5 files")
    parser.add_argument("--output", required=True)
    return parser


def main(args):
    table = parsimonious_table(args.dataset, args.inputs)
    with atomic_path(args.output) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    print(table.to_string(index=False))


if __name__ == "__main__":
    run_cli(main, get_args_parser())
