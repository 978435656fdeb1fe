"""One row pair of paper 001 Figure 3: a method (dlc, jl, cnn, cnn-random, pixels) with a head (linear, fc).

``run_variant`` trains it on the training split of a ``data.h5`` and measures
train/test accuracy; for the clustering methods and the pixel baseline the
``linear`` variant also fits the linear SVM head of Algorithm 1 on the final
representation, and on
data with stored latents it measures latent recovery (see recovery.py).
``write_variant`` stores everything in ``clustering/{method}-{head}.h5``.
"""

import json
import logging
import time

import numpy as np
import torch

from layerwise.clustering import baselines, dlc, recovery, svm
from layerwise.clustering.training import accuracy, make_head, train_classifier
from layerwise.data.store import load_split, open_data
from layerwise.errors import InputError
from layerwise.h5io import atomic_h5, open_checked

STAGE = "cluster"
METHODS = ("dlc", "jl", "cnn", "cnn-random", "pixels")
HEADS = ("linear", "fc")

# Paper 001 Appendix C, Figure 4: N, k1, n1, k2, n2, b found by random search on CIFAR-10.
PAPER_FIGURE4 = {
    ("dlc", "fc"): (47509, 1377, 155, 3534, 216, -0.14),
    ("dlc", "linear"): (32124, 1384, 97, 2576, 211, -0.63),
    ("jl", "fc"): (12369, 39, 39, 184, 184, 0.84),
    ("jl", "linear"): (57893, 5004, 345, 6813, 407, -0.01),
}

log = logging.getLogger(__name__)


def resolve(cfg, method, head):
    """The clustering config for one variant, with the ``paper`` preset (Figure 4) applied."""
    if method not in METHODS or head not in HEADS:
        raise InputError(f"clustering variant {method}-{head}: method must be one of {METHODS}, head one of {HEADS}")
    cfg = dict(cfg)
    if cfg["preset"] == "paper" and (method, head) in PAPER_FIGURE4:
        n, k1, n1, k2, n2, b = PAPER_FIGURE4[(method, head)]
        cfg.update(num_patches=n, clusters=[k1, k2], channels=[n1, n2], bias=b, patch_size=3, stride="paper")
    return cfg


def _nchw(images):
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def _latents(data_path, split):
    """Latent images of ``split`` (list by level) or None when the file has no ground truth."""
    with open_data(data_path) as f:
        if "latents" not in f:
            return None
        idx = f[f"splits/{split}"][()]
        names = sorted(f["latents"].keys(), key=lambda s: int(s.removeprefix("level")))
        return [f[f"latents/{name}"][()][idx] for name in names]


def _svm_scores(ftr, ytr, fte, yte, cfg, device):
    model = svm.fit_svm(ftr, ytr, cfg["svm_C"], cfg["svm_solver"], device=str(device))
    return {"svm_train_accuracy": model.accuracy(ftr, ytr), "svm_test_accuracy": model.accuracy(fte, yte)}


def run_variant(data_path, method, head, cfg, device, scratch=None):
    """Train and evaluate one variant; returns ``(net state_dict, results dict)``."""
    cfg = resolve(cfg, method, head)
    xtr, ytr = load_split(data_path, "train")
    xte, yte = load_split(data_path, "test")
    if len(xtr) == 0 or len(xte) == 0:
        raise InputError(f"{data_path}: empty train or test split; rerun prepare_data with n_train/n_test > 0")
    classes = int(max(ytr.max(), yte.max()) + 1)
    xtr, xte = _nchw(xtr), _nchw(xte)
    torch.manual_seed(cfg["seed"])
    results = {"method": method, "head": head, "blocks": [], "recovery": {}}
    start = time.perf_counter()
    if method in ("dlc", "jl"):
        net, results["blocks"] = dlc.fit_dlc(xtr, ytr, classes, cfg, device, jl=method == "jl", checkpoint_dir=scratch)
        ftr = dlc.representation(net, xtr, device).flatten(1)
        fte = dlc.representation(net, xte, device).flatten(1)
        torch.manual_seed(cfg["seed"])
        top = make_head(head, ftr.shape[1], classes, cfg["fc_hidden"])
        ckpt = None if scratch is None else f"{scratch}/head.pt"
        train_classifier(top, ftr, ytr, cfg["head_epochs"], cfg["head_lr"], cfg["batch_size"], cfg["seed"], device, ckpt, "head")
        results.update(train_accuracy=accuracy(top, ftr, ytr, device), test_accuracy=accuracy(top, fte, yte, device))
        if head == "linear":  # the SVM does not depend on the head: fit it once per method
            results.update(_svm_scores(ftr.numpy(), ytr, fte.numpy(), yte, cfg, device))
        latents = _latents(data_path, "test")
        if latents is not None:
            results["recovery"] = recovery.latent_recovery(
                net, xte, latents, len(cfg["clusters"]), device, cfg["recovery_points"], cfg["seed"]
            )
        state = {**net.state_dict(), **{f"head.{k}": v for k, v in top.state_dict().items()}}
    else:
        net = baselines.build_baseline(method, head, xtr, classes, cfg["cnn_width"], cfg["fc_hidden"], cfg["seed"])
        ckpt = None if scratch is None else f"{scratch}/net.pt"
        epochs = cfg["head_epochs"] if method == "pixels" else cfg["cnn_epochs"]
        lr = cfg["head_lr"] if method == "pixels" else cfg["cnn_lr"]
        train_classifier(net, xtr, ytr, epochs, lr, cfg["batch_size"], cfg["seed"], device, ckpt, method)
        results.update(train_accuracy=accuracy(net, xtr, ytr, device), test_accuracy=accuracy(net, xte, yte, device))
        if method == "pixels" and head == "linear":
            flat_tr, flat_te = net[0](xtr).flatten(1).numpy(), net[0](xte).flatten(1).numpy()
            results.update(_svm_scores(flat_tr, ytr, flat_te, yte, cfg, device))
        state = net.state_dict()
    results["seconds"] = time.perf_counter() - start
    return state, results


def write_variant(path, state, results, params, seed):
    """The variant's HDF5: metrics as attributes of ``metrics``, recovery per level, weights."""
    with atomic_h5(path, STAGE, params, seed) as f:
        f.attrs["method"], f.attrs["head"] = results["method"], results["head"]
        f.attrs["blocks"] = json.dumps(results["blocks"])
        metrics = f.create_group("metrics")
        for key in ("train_accuracy", "test_accuracy", "svm_train_accuracy", "svm_test_accuracy", "seconds"):
            if key in results:
                metrics.attrs[key] = float(results[key])
        for level, values in results["recovery"].items():
            group = f.create_group(f"recovery/level{level}")
            for key, value in values.items():
                group.attrs[key] = value
        for name, tensor in state.items():
            f.create_dataset(f"weights/{name}", data=tensor.detach().cpu().numpy())


def read_variant(path):
    """``{method, head, metrics..., recovery: {level: {...}}}`` from a variant file."""
    with open_checked(path, STAGE, required=("metrics",)) as f:
        out = {"method": f.attrs["method"], "head": f.attrs["head"], **{k: float(v) for k, v in f["metrics"].attrs.items()}}
        out["recovery"] = {}
        if "recovery" in f:
            for name, group in f["recovery"].items():
                out["recovery"][int(name.removeprefix("level"))] = {k: _plain(v) for k, v in group.attrs.items()}
    return out


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value

