"""One run of paper 001 Figure 3: a method (dlc, jl, cnn, cnn-random, pixels), a head (linear, fc), a seed.

Every method is compared on the same terms:

* its own settings: the shared keys of the config section, then the method's
  block (``clustering.dlc``, ``clustering.jl``, ``clustering.cnn``), then under
  ``preset: paper`` the block ``clustering.paper.{method}-{head}`` (Appendix C,
  Figure 4). The resolved settings are what the job logs and stores;
* a validation split carved from the training split (``validation_fraction``,
  stratified, drawn from the seed); every gradient-trained piece (each dlc
  block, each head, the CNN end to end) gets the same step budget with early
  stopping on it (:class:`~layerwise.clustering.training.Budget`);
* features standardised with training statistics before every head;
* the headline: a linear SVM on the final frozen representation of every
  method (Algorithm 1's classifier), its C chosen on the validation split;
  the Adam-trained linear / FC head of §6 is reported beside it.

On data with stored latents the dlc/jl blocks are also scored against the
semantic images (see recovery.py). ``write_variant`` stores everything in
``clustering/{method}-{head}-s{seed}.h5``.
"""

import json
import logging
import time

import numpy as np
import torch

from layerwise.clustering import baselines, dlc, recovery, svm
from layerwise.clustering.standardize import standardized_head
from layerwise.clustering.training import Budget, accuracy, make_head, train_early_stopping, validation_split
from layerwise.data.store import load_split, open_data
from layerwise.errors import InputError
from layerwise.h5io import atomic_h5, open_checked

STAGE = "cluster"
METHODS = ("dlc", "jl", "cnn", "cnn-random", "pixels")
HEADS = ("linear", "fc")
OWN_SETTINGS = {"dlc": "dlc", "jl": "jl", "cnn": "cnn", "cnn-random": "cnn", "pixels": None}

log = logging.getLogger(__name__)


def settings(cfg, method, head, seed):
    """The flat settings of one run: shared keys < the method's block < the paper block under preset paper."""
    if method not in METHODS or head not in HEADS:
        raise InputError(f"clustering run {method}-{head}: method must be one of {METHODS}, head one of {HEADS}")
    out = {k: v for k, v in cfg.items() if k not in ("dlc", "jl", "cnn", "paper", "methods", "heads", "seeds")}
    own = OWN_SETTINGS[method]
    if own is not None:
        out.update(cfg[own])
    if cfg["preset"] == "paper" and own is not None:
        # Only the method's own keys: the schema fills every paper block with all defaults.
        block = (cfg.get("paper") or {}).get(f"{method}-{head}", {})
        out.update({k: v for k, v in block.items() if k in cfg[own]})
    out.update(method=method, head=head, seed=int(seed))
    return out


def _nchw(images):
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def _latents(data_path, split):
    """Latent images and grid offsets of ``split`` ((list by level, offsets) or None without ground truth)."""
    with open_data(data_path) as f:
        if "latents" not in f:
            return None
        idx = f[f"splits/{split}"][()]
        names = sorted(f["latents"].keys(), key=lambda s: int(s.removeprefix("level")))
        offsets = f["offsets"][()][idx] if "offsets" in f else np.zeros((len(idx), 2), dtype=np.int64)
        return [f[f"latents/{name}"][()][idx] for name in names], offsets


def _subset(labels, size):
    """Rows of a stratified subset of ``size`` training rows (fixed seed 0: the same data for every run)."""
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    _, rows = validation_split(labels, size / len(labels), seed=0)
    return rows


@torch.no_grad()
def _features(body, x, device):
    return dlc.representation(body, x, device).flatten(1)


def label_variance_share(features, labels):
    """Share of the standardised features' total variance between the class means (eta^2), and the share
    that labels independent of the features give in expectation, (classes - 1) / (n - 1).

    A diagnostic of rows at chance: when the first equals the second, the class means of the features
    do not differ and a linear head has nothing first-order to read.
    """
    f = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    f = f - f.mean(0)
    scale = f.std(0)
    f = f[:, scale > 0] / scale[scale > 0]
    labels = np.asarray(labels)
    classes = np.unique(labels)
    between = sum((labels == c).sum() * (f[labels == c].mean(0) ** 2).sum() for c in classes)
    return float(between / max((f**2).sum(), 1e-300)), (len(classes) - 1) / max(len(labels) - 1, 1)


def _svm(ftr, ytr, fval, yval, fte, yte, s, device):
    """Linear SVM on standardised features, C picked on validation (first best): its scores."""
    best = None
    for c in s["svm_C"]:
        model = svm.fit_svm(ftr.numpy(), ytr, c, s["svm_solver"], device=str(device), tol=1e-4)
        val = model.accuracy(fval.numpy(), yval)
        if best is None or val > best[0]:
            best = (val, c, model)
    val, c, model = best
    return {
        "svm_C": c,
        "svm_train_accuracy": model.accuracy(ftr.numpy(), ytr),
        "svm_val_accuracy": val,
        "svm_test_accuracy": model.accuracy(fte.numpy(), yte),
    }


def _head(ftr, ytr, fval, yval, fte, yte, s, budget, device, scratch):
    """The §6 head (linear or FC) on standardised frozen features, early-stopped: model and scores."""
    torch.manual_seed(s["seed"])
    top = standardized_head(make_head(s["head"], ftr.shape[1], int(ytr.max()) + 1, s["fc_hidden"]), ftr)
    hist = train_early_stopping(top, ftr, ytr, fval, yval, budget, s["seed"], device, scratch, "head")
    scores = {
        "train_accuracy": accuracy(top, ftr, ytr, device),
        "val_accuracy": hist["best_val_accuracy"],
        "test_accuracy": accuracy(top, fte, yte, device),
    }
    return top, scores, hist["steps"]


def run_variant(data_path, method, head, seed, cfg, device, scratch=None):
    """Train and evaluate one run; returns ``(state_dict, results dict, resolved settings)``.

    ``scratch``: the job's checkpoint.Scratch, one checkpoint per trained piece (None: none)."""
    s = settings(cfg, method, head, seed)
    xtr, ytr = load_split(data_path, "train")
    xte, yte = load_split(data_path, "test")
    if len(xtr) == 0 or len(xte) == 0:
        raise InputError(f"{data_path}: empty train or test split; rerun prepare_data with n_train/n_test > 0")
    classes = int(max(ytr.max(), yte.max()) + 1)
    keep = _subset(ytr, s["train_size"])
    fit, val = validation_split(ytr[keep], s["validation_fraction"], s["seed"])
    fit, val = keep[fit], keep[val]
    x = _nchw(xtr)
    xfit, yfit, xval, yval, xte = x[fit], ytr[fit], x[val], ytr[val], _nchw(xte)
    budget = Budget.from_config(s)
    torch.manual_seed(s["seed"])
    results = {"method": method, "head": head, "seed": int(seed), "blocks": [], "recovery": {},
               "n_fit": len(fit), "n_val": len(val)}
    start = time.perf_counter()
    steps = 0
    if method in ("dlc", "jl"):
        net, results["blocks"] = dlc.fit_dlc(
            xfit, yfit, xval, yval, classes, s, budget, device, jl=method == "jl", scratch=scratch
        )
        steps += sum(b.get("steps", 0) for b in results["blocks"])
        body = net
    elif method == "cnn":
        torch.manual_seed(s["seed"])
        full = baselines.build_baseline("cnn", head, xfit, classes, s["width"], s["fc_hidden"], s["seed"])
        hist = train_early_stopping(full, xfit, yfit, xval, yval, budget, s["seed"], device, scratch, "cnn")
        steps += hist["steps"]
        results.update(train_accuracy=accuracy(full, xfit, yfit, device), val_accuracy=hist["best_val_accuracy"],
                       test_accuracy=accuracy(full, xte, yte, device), best_step=hist["best_step"])
        if hist["evals"]:  # the last training loss: did it fit the training images while validation did not?
            results["last_train_loss"] = hist["evals"][-1][1]
        body = torch.nn.Sequential(*list(full)[:2])  # Standardize, trained conv body
    else:  # cnn-random, pixels: a frozen body
        body = baselines.build_baseline(method, head, xfit, classes, s.get("width", 1), s["fc_hidden"], s["seed"])
        body = torch.nn.Sequential(*list(body)[:2])
    ffit, fval, fte = (_features(body, xs, device) for xs in (xfit, xval, xte))
    results["feature_dim"] = int(ffit.shape[1])
    results["label_share"], results["label_share_noise"] = label_variance_share(fte.numpy(), yte)
    state = {f"body.{k}": v for k, v in body.state_dict().items()}
    if method != "cnn":  # the CNN's head trained end to end with its body
        top, scores, head_steps = _head(ffit, yfit, fval, yval, fte, yte, s, budget, device, scratch)
        results.update(scores)
        steps += head_steps
        state.update({f"head.{k}": v for k, v in top.state_dict().items()})
    else:
        state.update({f"net.{k}": v for k, v in full.state_dict().items()})
    results.update(_svm(ffit, yfit, fval, yval, fte, yte, s, device))
    results["steps"] = steps
    if method in ("dlc", "jl"):
        truth = _latents(data_path, "test")
        if truth is not None:
            results["recovery"] = recovery.latent_recovery(
                net, xte, truth[0], len(s["clusters"]), device, s["recovery_points"], s["seed"], offsets=truth[1]
            )
    results["seconds"] = time.perf_counter() - start
    return state, results, s


SCALARS = ("train_accuracy", "val_accuracy", "test_accuracy", "svm_C", "svm_train_accuracy", "svm_val_accuracy",
           "svm_test_accuracy", "seconds", "steps", "best_step", "last_train_loss", "n_fit", "n_val", "feature_dim",
           "label_share", "label_share_noise", "seed")


def write_variant(path, state, results, params, seed):
    """The run's HDF5: metrics as attributes of ``metrics``, recovery per level, weights."""
    with atomic_h5(path, STAGE, params, seed) as f:
        f.attrs["method"], f.attrs["head"] = results["method"], results["head"]
        f.attrs["blocks"] = json.dumps(results["blocks"])
        metrics = f.create_group("metrics")
        for key in SCALARS:
            if key in results:
                metrics.attrs[key] = float(results[key])
        for level, values in results["recovery"].items():
            group = f.create_group(f"recovery/level{level}")
            for key, value in values.items():
                group.attrs[key] = value
        for name, tensor in state.items():
            f.create_dataset(f"weights/{name}", data=tensor.detach().cpu().numpy())


def read_variant(path):
    """``{method, head, metrics..., blocks, recovery: {level: {...}}}`` from a run file."""
    with open_checked(path, STAGE, required=("metrics",)) as f:
        out = {
            "method": f.attrs["method"],
            "head": f.attrs["head"],
            **{k: float(v) for k, v in f["metrics"].attrs.items()},
        }
        out["blocks"] = json.loads(f.attrs["blocks"])
        out["recovery"] = {}
        if "recovery" in f:
            for name, group in f["recovery"].items():
                out["recovery"][int(name.removeprefix("level"))] = {k: _plain(v) for k, v in group.attrs.items()}
    return out


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
