"""Adam on cross-entropy for the trainable part of a model, resumable from a scratch checkpoint.

Used for every gradient-trained piece of this stage: the 1x1 conv + linear of a
deep-layerwise-clustering block, the linear / fully connected heads of §6, and
the CNN baselines of Figure 3. Frozen parameters simply have
``requires_grad=False``. Shuffling uses a generator seeded by ``(seed, epoch)``
so a resumed run sees the same order as an uninterrupted one.
"""

import logging
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from layerwise import torchfile
from layerwise.h5io import atomic_path

log = logging.getLogger(__name__)


def linear_head(dim, classes):
    return nn.Linear(dim, classes)


def fc_head(dim, classes, hidden=(384, 192)):
    """Three fully connected layers (the TensorFlow CIFAR-10 tutorial's FC 384-192 then classes)."""
    layers, prev = [], dim
    for width in hidden:
        layers += [nn.Linear(prev, width), nn.ReLU()]
        prev = width
    return nn.Sequential(*layers, nn.Linear(prev, classes))


def make_head(kind, dim, classes, hidden=(384, 192)):
    if kind == "linear":
        return linear_head(dim, classes)
    if kind == "fc":
        return fc_head(dim, classes, hidden)
    raise ValueError(f"head must be 'linear' or 'fc', got {kind!r}")


def _load(checkpoint, model, opt):
    state = torchfile.load(checkpoint, weights_only=True)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    return int(state["epoch"])


def train_classifier(model, inputs, labels, epochs, lr, batch_size, seed, device, checkpoint=None, desc="train"):
    """Train ``model`` (its parameters with requires_grad) on ``inputs`` -> ``labels``.

    ``inputs`` is a tensor (n, ...) on CPU; ``model`` maps a batch of it to
    logits. With ``checkpoint`` (a path), state is saved after every epoch and a
    run that finds one resumes after its last epoch.
    """
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        return model
    opt = torch.optim.Adam(params, lr=lr)
    start = 0
    if checkpoint is not None and Path(checkpoint).exists():
        start = _load(checkpoint, model, opt)
        log.info("%s: resumed from %s after epoch %d", desc, checkpoint, start)
    labels = torch.as_tensor(labels, dtype=torch.long)
    n = len(inputs)
    for epoch in range(start, epochs):
        model.train()
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch))
        torch.manual_seed(seed * 100003 + epoch)  # dropout masks, reproducible on resume
        total, batches = 0.0, range(0, n, batch_size)
        for start_i in tqdm(batches, desc=f"{desc} epoch {epoch + 1}/{epochs}", leave=False, mininterval=5):
            idx = order[start_i : start_i + batch_size]
            x, y = inputs[idx].to(device), labels[idx].to(device)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        log.info("%s epoch %d/%d: loss %.4f", desc, epoch + 1, epochs, total / n)
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch + 1}, tmp)
    model.eval()
    return model


@torch.no_grad()
def predict(model, inputs, device, batch_size=1024):
    """Argmax predictions of ``model`` on ``inputs`` (CPU tensor), as a CPU int64 tensor."""
    model.eval().to(device)
    out = [model(inputs[i : i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(inputs), batch_size)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def accuracy(model, inputs, labels, device):
    pred = predict(model, inputs, device)
    return float((pred == torch.as_tensor(labels)).float().mean())
