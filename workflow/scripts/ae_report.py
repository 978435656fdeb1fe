"""Paper 002 Table 1 for one dataset (CSV), the reconstruction figure and the training curves."""

import argparse

from layerwise.autoencoder.evaluate import read_eval
from layerwise.autoencoder.report import ae_table, curves_figure, reconstruction_figure
from layerwise.errors import run_cli
from layerwise.h5io import atomic_path


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--evals", nargs="+", required=True, help="eval.h5 of baseline and variants, in row order"
    )
    parser.add_argument("--dataset", required=True, help="dataset name (for the table)")
    parser.add_argument(
        "--kind", required=True, help="dataset kind: the paper's numbers are shown for imagenet"
    )
    parser.add_argument("--table", required=True, help="CSV to write")
    parser.add_argument("--recon-fig", required=True, help="reconstruction figure (png)")
    parser.add_argument("--curves-fig", required=True, help="training curves figure (png)")
    return parser


def main(args):
    evals = [read_eval(p) for p in args.evals]
    table = ae_table(evals, args.dataset, args.kind)
    print(table.to_string(index=False))
    with atomic_path(args.table) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(args.recon_fig) as tmp:
        reconstruction_figure(evals, tmp)
    with atomic_path(args.curves_fig) as tmp:
        curves_figure(evals, tmp)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
