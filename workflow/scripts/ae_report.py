"""Paper 002 Table 1 for one dataset (CSV), the reconstruction figure and the training curves."""

import argparse
from pathlib import Path

from layerwise.autoencoder.evaluate import read_eval
from layerwise.autoencoder.features import STAGE
from layerwise.autoencoder.report import ae_table, curves_figure, mse_table, reconstruction_figure
from layerwise.errors import InputError, run_cli
from layerwise.h5io import atomic_path, open_checked

MSE_KEYS = ("test_mse", "test_mse_mean_image", "test_mse_image_mean")
GRAPH_KEYS = ("knn10_agreement", "knn10_agreement_pixels", "knn10_agreement_chance")


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--evals", nargs="+", required=True, help="eval.h5 of baseline and variants, in row order"
    )
    parser.add_argument("--residual", nargs="*", default=[], help="features.h5 of residual autoencoders")
    parser.add_argument("--dataset", required=True, help="dataset name (for the table)")
    parser.add_argument(
        "--kind", required=True, help="dataset kind: the paper's numbers are shown for imagenet"
    )
    parser.add_argument("--table", required=True, help="CSV to write")
    parser.add_argument("--recon-fig", required=True, help="reconstruction figure (png)")
    parser.add_argument("--curves-fig", required=True, help="training curves figure (png)")
    parser.add_argument("--mse-table", required=True, help="CSV: residual AE test MSE vs no-model baselines")
    return parser


def main(args):
    evals = [read_eval(p) for p in args.evals]
    residual, mse = {}, {}
    for path in args.residual:
        with open_checked(path, STAGE, required=("recon_loss",)) as f:
            residual[Path(path).parent.name] = f["recon_loss"][()]
            if "test_mse" not in f.attrs:
                raise InputError(
                    f"{path}: no test_mse attribute (built by an older extract_features); delete it and rerun"
                )
            mse[Path(path).parent.name] = {k: float(f.attrs[k]) for k in MSE_KEYS + GRAPH_KEYS if k in f.attrs}
    mse_rows = mse_table(mse, args.dataset)
    print(mse_rows.to_string(index=False))
    with atomic_path(args.mse_table) as tmp:
        mse_rows.to_csv(tmp, index=False, float_format="%.6f")
    table = ae_table(evals, args.dataset, args.kind)
    print(table.to_string(index=False))
    with atomic_path(args.table) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(args.recon_fig) as tmp:
        reconstruction_figure(evals, tmp)
    with atomic_path(args.curves_fig) as tmp:
        curves_figure(evals, residual, tmp)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
