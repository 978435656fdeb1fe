"""Single-crop classification errors and image reconstruction loss of an augmented network."""

import numpy as np
import torch

from layerwise.autoencoder import inputs
from layerwise.h5io import atomic_h5, open_checked


def topk_errors(logits, labels, ks=(1, 5)):
    """Fraction of rows whose label is not among the k highest scores (k capped at #classes)."""
    ranked = logits.argsort(dim=1, descending=True)
    out = {}
    for k in ks:
        hit = (ranked[:, : min(k, logits.shape[1])] == labels[:, None]).any(dim=1)
        out[k] = 1.0 - hit.double().mean().item()
    return out


@torch.no_grad()
def evaluate(net, images, labels, batch_size=256, device="cpu", reconstruct=True):
    """top1_err, top5_err and recon_loss (mean per-image ||x^ - x||^2, pixels in [0, 1]; NaN
    without decoders) over uint8 images (n, C, H, W), as 002 Table 1 / Figure A-3 report them."""
    net.eval().to(device)
    logits, sse = [], 0.0
    has_dec = reconstruct and net.decoders is not None
    for idx in torch.arange(len(images)).split(batch_size):
        x = inputs.to_float(images[idx]).to(device)
        acts, switches = net.encode(x)
        logits.append(net.classify(acts[-1]).float().cpu())
        if has_dec:
            recon = net.decode(acts, switches, "stacked")[0]
            sse += ((recon - x) ** 2).sum().item()
    errs = topk_errors(torch.cat(logits), labels)
    return {
        "top1_err": errs[1],
        "top5_err": errs[5],
        "recon_loss": sse / len(images) if has_dec else float("nan"),
    }


@torch.no_grad()
def reconstructions(net, images, device="cpu"):
    """uint8 (n, H, W, C) stacked-decoder reconstructions of uint8 images (n, C, H, W)."""
    net.eval().to(device)
    recon = net.reconstruct(inputs.to_float(images).to(device)).clamp(0, 1).cpu()
    return (recon * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy().astype(np.uint8)


EVAL_STAGE = "train_augmented"


def write_eval(path, name, metrics, history, weights, originals, recon, params, seed):
    """``eval.h5`` of one augmented network: test metrics (attrs), per-epoch history/<phase>/<key>,
    the loss weights, and the first test images with their reconstructions (uint8 (n, H, W, C))."""
    with atomic_h5(path, EVAL_STAGE, params, seed) as f:
        f.attrs["name"] = name
        for key, value in metrics.items():
            f.attrs[key] = value
        for key, values in history.items():
            f.create_dataset(f"history/{key}", data=np.asarray(values, dtype=np.float64))
        f.create_dataset("loss_weights", data=np.asarray(weights or [], dtype=np.float64))
        f.create_dataset("originals", data=originals)
        if recon is not None:
            f.create_dataset("reconstructions", data=recon)


def read_eval(path):
    """dict with name, metrics, history, originals, reconstructions (None without decoders)."""
    with open_checked(path, EVAL_STAGE, required=("history", "originals")) as f:
        history = {}
        f["history"].visititems(lambda k, d: history.__setitem__(k, d[()]) if hasattr(d, "shape") else None)
        return {
            "name": f.attrs["name"],
            "metrics": {k: float(f.attrs[k]) for k in ("top1_err", "top5_err", "recon_loss")},
            "fit": {k: float(f.attrs[k]) for k in ("train_top1_err", "val_top1_err", "num_classes") if k in f.attrs},
            "history": history,
            "originals": f["originals"][()],
            "reconstructions": f["reconstructions"][()] if "reconstructions" in f else None,
        }
