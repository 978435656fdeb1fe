"""Entry point of rule plot_samples: a grid of training images per class, and for
synthetic data the latent semantic images of every level beside each image."""

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from layerwise.data.store import open_data
from layerwise.errors import run_cli
from layerwise.h5io import atomic_path


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="data.h5")
    parser.add_argument("--output", required=True, help="PNG to write")
    parser.add_argument("--per-class", type=int, default=4, help="examples per class")
    parser.add_argument("--max-classes", type=int, default=10, help="classes shown")
    return parser


def _examples(f, per_class, max_classes):
    train = f["splits/train"][()]
    labels = f["labels"][()][train]
    rows = []
    for c in range(min(int(f.attrs["num_classes"]), max_classes)):
        rows.append(np.sort(train[labels == c][:per_class]))
    return rows


def main(args):
    with open_data(args.data) as f:
        if "images" not in f:
            raise SystemExit("plot_samples: manifests (ImageNet) are not plotted")
        names = [n.decode() if isinstance(n, bytes) else n for n in f["class_names"][()]]
        levels = sorted(k for k in f.get("latents", {}))
        rows = _examples(f, args.per_class, args.max_classes)
        cols = 1 + len(levels)
        fig, axes = plt.subplots(len(rows), args.per_class * cols, squeeze=False,
                                 figsize=(1.1 * args.per_class * cols, 1.2 * len(rows)))
        for r, idx in enumerate(rows):
            for j, row in enumerate(idx):
                panels = [f[f"latents/{lv}"][row] for lv in levels] + [f["images"][row]]
                for k, panel in enumerate(panels):
                    ax = axes[r, j * cols + k]
                    if panel.ndim == 2:  # latent classes: a categorical colour map
                        ax.imshow(panel, cmap="tab20", vmin=0, vmax=19, interpolation="nearest")
                    else:
                        ax.imshow(panel.squeeze(), cmap="gray" if panel.shape[-1] == 1 else None,
                                  interpolation="nearest")
                    ax.set_xticks([])
                    ax.set_yticks([])
            axes[r, 0].set_ylabel(names[r], rotation=0, ha="right", va="center")
        title = "training images per class"
        if levels:
            title += " (each: latent " + ", ".join(levels) + ", then pixels)"
        fig.suptitle(title)
        fig.tight_layout()
    with atomic_path(args.output) as tmp:
        fig.savefig(tmp, dpi=80, format="png")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
