"""Paper 002 Table 1 layout, the reconstruction figure (as Figure A-3) and training curves."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from layerwise.autoencoder.names import DISPLAY

# Paper 002 Table 1 (ImageNet ILSVRC-2012 validation, 16-layer VGGNet, single crop, %),
# and Figure A-3 (L2 reconstruction loss from pool5, RGB in [0, 1], finetuned models).
PAPER = {
    "baseline": (29.05, 10.07, None),
    "sae_first": (27.70, 9.28, None),
    "sae_all": (27.54, 9.17, None),
    "sae_layerwise": (27.60, 9.19, None),
    "swwae_first": (27.60, 9.23, 462.2),
    "swwae_all": (27.39, 9.06, 493.0),
    "swwae_layerwise": (27.53, 9.10, None),
}


def ae_table(evals, dataset, kind):
    """One row per network: our single-crop test errors (%), train/validation errors and
    reconstruction loss, with the paper's ImageNet numbers beside them on every dataset
    (paper 002 reports no other dataset); ``top1_gain`` (ours) and ``paper_top1_gain`` are
    the baseline's top-1 error minus the row's, so their signs say whether a variant helps
    here as it did in the paper."""
    rows = []
    base = next((ev["metrics"]["top1_err"] for ev in evals if ev["name"] == "baseline"), None)
    for ev in evals:
        name, m = ev["name"], ev["metrics"]
        paper = PAPER[name]
        fit = ev.get("fit", {})
        chance = 100 * (1 - 1 / fit["num_classes"]) if "num_classes" in fit else None
        rows.append(
            {
                "model": DISPLAY[name],
                "top1_err_single_crop": round(100 * m["top1_err"], 2),
                "top5_err_single_crop": round(100 * m["top5_err"], 2),
                "train_top1_err": round(100 * fit["train_top1_err"], 2) if "train_top1_err" in fit else None,
                "val_top1_err": round(100 * fit["val_top1_err"], 2) if "val_top1_err" in fit else None,
                "chance_top1_err": None if chance is None else round(chance, 2),
                "note": _note(m, fit, chance),
                "recon_loss": None if math.isnan(m["recon_loss"]) else round(m["recon_loss"], 3),
                "top1_gain": None if base is None else round(100 * (base - m["top1_err"]), 2),
                "paper_top1_err_val": paper[0],
                "paper_top5_err_val": paper[1],
                "paper_top1_gain": round(PAPER["baseline"][0] - paper[0], 2),
                "paper_recon_loss": paper[2],
                "paper_dataset": "ImageNet val, VGG-16",
                "dataset": dataset,
            }
        )
    return pd.DataFrame(rows)


def _note(metrics, fit, chance, margin=5.0):
    """Flags a row whose test error is within ``margin`` points of chance (a dead classifier)."""
    if chance is None or 100 * metrics["top1_err"] < chance - margin:
        return ""
    train = fit.get("train_top1_err")
    if train is not None and 100 * train < chance - margin:
        return "test error at chance while training error is not: the network memorised the training images"
    return "at chance on training and test images: the classifier did not learn within the epoch budget"


def mse_table(residual, dataset):
    """Paper 000's autoencoder against the reconstructions that need no model (test split,
    per-pixel MSE of [0, 1] pixels). ``residual`` maps names to features.h5 attrs. Paper 000
    gives the architecture (Appendix G Table 1), no reconstruction error, so there is no paper
    column; ``gain_vs_mean_image`` is the fraction of the mean-image MSE the model removes;
    ``pca_mse`` is the best linear code with as many numbers as the model's (scikit-learn PCA).
    ``knn10_agreement*``: share of the 10 cosine neighbours of a training image with its label,
    on the codes (what the graph of ``graph.features: ae:<name>`` is built from), on raw pixels,
    and by chance."""
    rows = []
    for name, attrs in residual.items():
        mse, mean_image, image_mean = attrs["test_mse"], attrs["test_mse_mean_image"], attrs["test_mse_image_mean"]
        pca = attrs.get("test_mse_pca")
        note = ""
        if mse >= mean_image:
            note = "no better than the mean image: the code carries nothing (see docs/autoencoder.md)"
        elif pca is not None and mse > pca:
            note = "between the mean image and PCA: the linear code of the same size still reconstructs better"
        rows.append(
            {
                "dataset": dataset,
                "model": name,
                "test_mse": mse,
                "mean_image_mse": mean_image,
                "image_mean_mse": image_mean,
                "pca_mse": pca,
                "gain_vs_mean_image": 1.0 - mse / mean_image,
                "gain_vs_image_mean": 1.0 - mse / image_mean,
                "knn10_agreement": attrs.get("knn10_agreement"),
                "knn10_agreement_pixels": attrs.get("knn10_agreement_pixels"),
                "knn10_agreement_chance": attrs.get("knn10_agreement_chance"),
                "note": note,
            }
        )
    return pd.DataFrame(rows)


def _tile(img):
    return img[..., 0] if img.shape[-1] == 1 else img


def reconstruction_figure(evals, path):
    """Ground truth in the first row, then each variant's reconstruction from the top pooled map."""
    with_dec = [ev for ev in evals if ev["reconstructions"] is not None]
    originals = with_dec[0]["originals"] if with_dec else evals[0]["originals"]
    rows = [("ground truth", originals)] + [(DISPLAY[ev["name"]], ev["reconstructions"]) for ev in with_dec]
    n = len(originals)
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n + 1.6, 1.1 * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(_tile(images[c]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle("Reconstruction from the top pooled map (test split)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def curves_figure(evals, path):
    """Test top-1 error and test reconstruction loss per fine-tuning epoch for every network."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for i, ev in enumerate(evals):
        h = ev["history"]
        style = {"marker": "o", "label": DISPLAY[ev["name"]], "color": f"C{i}"}  # same colour per network
        top1 = h.get("finetune/test_top1_err")
        if top1 is not None:
            axes[0].plot(np.arange(1, len(top1) + 1), 100 * top1, **style)
        recon = h.get("finetune/test_recon_loss")
        if recon is not None and not np.isnan(recon).all():
            axes[1].plot(np.arange(1, len(recon) + 1), recon, **style)
    axes[0].set(title="step 4: test top-1 error", xlabel="fine-tuning epoch", ylabel="%")
    axes[1].set(title="step 4: test ||x^ - x||^2 per image", xlabel="fine-tuning epoch")
    _finish(fig, axes, path)


def residual_figure(curves, table, path):
    """Training MSE per epoch of each residual autoencoder (paper 000), with its test MSE and
    the test MSE of the mean image and of PCA at the code's size as horizontal lines."""
    fig, axes = plt.subplots(1, 1, figsize=(5.5, 3.6), squeeze=False)
    ax = axes[0, 0]
    for i, row in enumerate(table.itertuples()):
        losses = curves[row.model]
        ax.plot(np.arange(1, len(losses) + 1), losses, marker="o", color=f"C{i}", label=f"{row.model} (training)")
        ax.axhline(row.test_mse, color=f"C{i}", ls="-.", lw=1, label=f"{row.model} test")
        if i == 0:
            ax.axhline(row.mean_image_mse, color="grey", ls="--", lw=1, label="mean image, test")
            if row.pca_mse is not None and not pd.isna(row.pca_mse):
                ax.axhline(row.pca_mse, color="black", ls=":", lw=1, label="PCA (as many numbers), test")
    ax.set(title=f"residual autoencoder (paper 000), {table['dataset'].iloc[0]}", xlabel="epoch",
           ylabel="per-pixel MSE, [0, 1] pixels")
    _finish(fig, axes.ravel(), path)


def _finish(fig, axes, path):
    for ax in axes:
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
