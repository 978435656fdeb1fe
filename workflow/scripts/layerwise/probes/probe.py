"""Linear and CNN-p separability of one layer's pooled features (paper 003 §4.2, Figure 3).

Input: a layer's ``eval.h5`` (stage ``train_layer``) with ``features/train`` and
``features/test`` float32 (n, channels, h, w), already averaged to h = w =
``pooled_size`` (2 in the paper), and their labels. Probes, each trained on the
train features and scored on both splits:

* ``linear``: one-versus-rest logistic regression (the paper's linear probe),
  solved exactly (L-BFGS, see layerwise.clustering.svm);
* ``cnn1``, ``cnn2``: p = 1, 2 conv3x3 (+BatchNorm, ReLU) layers of ``width``
  channels then a linear layer, trained with Adam (CNN-p separability);
* ``svm``: the linear SVM head (squared hinge, as LinearSVC) beside them.
"""

import numpy as np
import torch
import torch.nn as nn

from layerwise.clustering.svm import fit_linear_ovr, fit_svm
from layerwise.clustering.training import accuracy, train_classifier
from layerwise.h5io import atomic_h5, open_checked

STAGE = "probe_layer"
PROBES = ("linear", "cnn1", "cnn2", "svm")
_REQUIRED = ("features/train", "features/test", "features/train_labels", "features/test_labels")


def load_features(path):
    """``(xtr, ytr, xte, yte, attrs)`` from a layer's eval.h5."""
    with open_checked(path, "train_layer", required=_REQUIRED) as f:
        out = [f[name][()] for name in _REQUIRED]
        attrs = {k: f.attrs[k] for k in ("run", "layer") if k in f.attrs}
    xtr, xte, ytr, yte = out
    return xtr.astype(np.float32), ytr.astype(np.int64), xte.astype(np.float32), yte.astype(np.int64), attrs


def cnn_probe(p, channels, width, spatial, classes):
    """p conv3x3-BN-ReLU layers (padding 1, spatial size kept) then a linear classifier."""
    layers, prev = [], channels
    for _ in range(p):
        layers += [nn.Conv2d(prev, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        prev = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(prev * spatial, classes))


def _standardize(xtr, xte):
    mean = xtr.mean((0, 2, 3), keepdims=True)
    std = xtr.std((0, 2, 3), keepdims=True) + 1e-6
    return (xtr - mean) / std, (xte - mean) / std


def run_probes(xtr, ytr, xte, yte, cfg, device):
    """``{probe: (train_accuracy, test_accuracy)}`` for the probes named in ``cfg["probes"]``."""
    results = {}
    classes = int(max(ytr.max(), yte.max()) + 1)
    flat_tr, flat_te = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    for name in cfg["probes"]:
        if name == "linear":
            model = fit_linear_ovr(flat_tr, ytr, c=cfg["linear_C"], loss="logistic", device=str(device))
            results[name] = (model.accuracy(flat_tr, ytr), model.accuracy(flat_te, yte))
        elif name == "svm":
            model = fit_svm(flat_tr, ytr, cfg["svm_C"], cfg["svm_solver"], device=str(device))
            results[name] = (model.accuracy(flat_tr, ytr), model.accuracy(flat_te, yte))
        else:
            p = int(name.removeprefix("cnn"))
            str_, ste = (torch.from_numpy(a) for a in _standardize(xtr, xte))
            torch.manual_seed(cfg["seed"] + p)
            net = cnn_probe(p, xtr.shape[1], cfg["cnn_width"], xtr.shape[2] * xtr.shape[3], classes)
            train_classifier(
                net, str_, ytr, cfg["epochs"], cfg["lr"], cfg["batch_size"], cfg["seed"] + p, device, desc=name
            )
            results[name] = (accuracy(net, str_, ytr, device), accuracy(net, ste, yte, device))
    return results


def write_probes(path, results, attrs, params, seed):
    with atomic_h5(path, STAGE, params, seed) as f:
        for key, value in attrs.items():
            f.attrs[key] = value
        for name, (train, test) in results.items():
            group = f.create_group(name)
            group.attrs["train_accuracy"], group.attrs["test_accuracy"] = float(train), float(test)


def read_probes(path):
    """``(attrs, {probe: (train, test)})`` of a probe file."""
    with open_checked(path, STAGE) as f:
        attrs = {k: f.attrs[k] for k in ("run", "layer") if k in f.attrs}
        results = {name: (float(g.attrs["train_accuracy"]), float(g.attrs["test_accuracy"])) for name, g in f.items()}
    return attrs, results
