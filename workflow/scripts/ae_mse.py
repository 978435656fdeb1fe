"""Paper 000's residual autoencoders on one dataset: test MSE against the reconstructions that
need no model and against PCA with as many numbers (CSV), and the training curves (png)."""

import argparse
from pathlib import Path

from layerwise.autoencoder.features import STAGE
from layerwise.autoencoder.report import mse_table, residual_figure
from layerwise.errors import InputError, run_cli
from layerwise.h5io import atomic_path, open_checked

MSE_KEYS = ("test_mse", "test_mse_mean_image", "test_mse_image_mean", "test_mse_pca")
GRAPH_KEYS = ("knn10_agreement", "knn10_agreement_pixels", "knn10_agreement_chance")


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residual", nargs="+", required=True, help="features.h5 of residual autoencoders")
    parser.add_argument("--dataset", required=True, help="dataset name (for the table)")
    parser.add_argument("--table", required=True, help="CSV to write")
    parser.add_argument("--figure", required=True, help="training curves figure (png)")
    return parser


def main(args):
    curves, attrs = {}, {}
    for path in args.residual:
        name = Path(path).parent.name
        with open_checked(path, STAGE, required=("recon_loss",)) as f:
            missing = [k for k in MSE_KEYS if k not in f.attrs]
            if missing:
                raise InputError(
                    f"{path}: no {', '.join(missing)} attribute (built by an older extract_features, or "
                    "from an ImageNet-style manifest, whose test split is not re-decoded); delete it and rerun"
                )
            curves[name] = f["recon_loss"][()]
            attrs[name] = {k: float(f.attrs[k]) for k in MSE_KEYS + GRAPH_KEYS if k in f.attrs}
    table = mse_table(attrs, args.dataset)
    print(table.to_string(index=False))
    with atomic_path(args.table) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
    with atomic_path(args.figure) as tmp:
        residual_figure(curves, table, tmp)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
