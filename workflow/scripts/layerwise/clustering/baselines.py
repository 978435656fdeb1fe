"""The comparison networks of paper 001 Figure 3.

* ``cnn``: the TensorFlow CIFAR-10 tutorial CNN (conv5x5-64, ReLU, 3x3/2 max-pool,
  conv5x5-64, ReLU, 3x3/2 max-pool) with either its FC 384-192 head
  ("CNN+(FC+ReLU)^3") or a single linear layer ("CNN+Linear"), trained end to end.
  Local response normalisation is left out: §6 uses none of the usual tricks.
* ``cnn-random``: the same with the conv weights frozen at their random
  initialisation; only the head is trained (Daniely 2017's question).
* ``pixels``: the head directly on standardised pixels (the raw-pixel baseline
  of the synthetic ground-truth check).

Clustering+JL lives in :mod:`layerwise.clustering.dlc` (``fit_dlc(jl=True)``).
"""

import torch
import torch.nn as nn

from layerwise.clustering.dlc import Standardize
from layerwise.clustering.training import make_head


def tutorial_body(channels, width):
    """Conv5x5-width, ReLU, pool, conv5x5-width, ReLU, pool ('SAME' padding as in TensorFlow)."""
    return nn.Sequential(
        nn.Conv2d(channels, width, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.Conv2d(width, width, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
    )


def build_baseline(method, head, images, num_classes, width, hidden, seed):
    """An untrained network ``Standardize -> body -> Flatten -> head`` for ``method``."""
    torch.manual_seed(seed)
    std = Standardize.fit(images)
    if method == "pixels":
        body = nn.Identity()
    elif method in ("cnn", "cnn-random"):
        body = tutorial_body(images.shape[1], width)
    else:
        raise ValueError(f"not a baseline method: {method!r}")
    if method == "cnn-random":
        for p in body.parameters():
            p.requires_grad_(False)
    with torch.no_grad():
        dim = body(std(images[:1])).flatten(1).shape[1]
    return nn.Sequential(std, body, nn.Flatten(), make_head(head, dim, num_classes, hidden))
