"""Adam on cross-entropy for the trainable part of a model, resumable from a scratch checkpoint.

Used for every gradient-trained piece of this stage: the 1x1 conv + linear of a
deep-layerwise-clustering block, the linear / fully connected heads of §6, and
the CNN baselines of Figure 3. Frozen parameters simply have
``requires_grad=False``. Shuffling uses a generator seeded by ``(seed, epoch)``
so a resumed run sees the same order as an uninterrupted one.
"""

import logging
from pathlib import Path

import numpy as np
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


def validation_split(labels, fraction, seed):
    """(train rows, validation rows) of a stratified split carved from the training set.

    Each class gives round(fraction * its count) rows (at least one when it has
    two or more), drawn with a generator seeded by ``seed``.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        take = int(round(fraction * len(rows)))
        take = min(max(take, 1 if len(rows) > 1 else 0), len(rows) - 1)
        val.append(rng.permutation(rows)[:take])
    val = np.sort(np.concatenate(val)) if val else np.empty(0, dtype=np.int64)
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val


class Budget:
    """The equal step budget and early-stopping rule shared by every gradient-trained model.

    ``max_steps`` Adam steps at most; the validation accuracy is measured every
    ``eval_every`` steps and training stops after ``patience`` evaluations
    without improvement; the weights of the best evaluation are restored.
    """

    def __init__(self, max_steps, eval_every, patience, lr, batch_size):
        self.max_steps, self.eval_every, self.patience = int(max_steps), int(eval_every), int(patience)
        self.lr, self.batch_size = float(lr), int(batch_size)

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg["max_steps"], cfg["eval_every"], cfg["patience"], cfg["lr"], cfg["batch_size"])


@torch.no_grad()
def evaluate(model, inputs, labels, device, batch_size=1024):
    """(mean cross-entropy, accuracy) of ``model`` on ``inputs`` (CPU tensor)."""
    model.eval().to(device)
    labels = torch.as_tensor(labels, dtype=torch.long)
    loss, correct = 0.0, 0
    for i in range(0, len(inputs), batch_size):
        logits = model(inputs[i : i + batch_size].to(device))
        y = labels[i : i + batch_size].to(device)
        loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    n = max(len(inputs), 1)
    return loss / n, correct / n


def train_early_stopping(model, inputs, labels, val_inputs, val_labels, budget, seed, device, checkpoint=None, desc="train"):
    """Adam on cross-entropy with early stopping on the validation loss; returns a history dict.

    Mini-batches come from epochs of a permutation seeded by ``(seed, epoch)``.
    The weights of the evaluation with the lowest validation cross-entropy are
    loaded back into ``model`` (the loss, not the accuracy: a block's embedding
    keeps improving after its accuracy saturates). With ``checkpoint``, the state
    is saved at every evaluation and a killed run resumes from its last
    evaluation, bit for bit. A non-finite loss stops the run with an error.
    """
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    val_loss, val_acc = evaluate(model, val_inputs, val_labels, device)
    history = {"steps": 0, "best_step": 0, "best_val_loss": val_loss, "best_val_accuracy": val_acc, "evals": []}
    if not params:
        return history
    opt = torch.optim.Adam(params, lr=budget.lr)
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    step, stale = 0, 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        best_state, history, step, stale = state["best"], state["history"], state["step"], state["stale"]
        log.info("%s: resumed from %s at step %d", desc, checkpoint, step)
    labels = torch.as_tensor(labels, dtype=torch.long)
    n, per_epoch = len(inputs), -(-len(inputs) // budget.batch_size)
    while step < budget.max_steps and stale < budget.patience:
        model.train()
        epoch, offset = divmod(step, per_epoch)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch))
        torch.manual_seed(seed * 100003 + step)  # dropout masks, reproducible on resume
        idx = order[offset * budget.batch_size : (offset + 1) * budget.batch_size]
        loss = F.cross_entropy(model(inputs[idx].to(device)), labels[idx].to(device))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{desc}: non-finite loss at step {step}; lower the learning rate (clustering.lr)")
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % budget.eval_every == 0 or step == budget.max_steps:
            val_loss, val_acc = evaluate(model, val_inputs, val_labels, device)
            history["evals"].append((step, float(loss.detach()), val_loss, val_acc))
            if val_loss < history["best_val_loss"]:
                history.update(best_val_loss=val_loss, best_val_accuracy=val_acc, best_step=step)
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                stale = 0
            else:
                stale += 1
            log.info("%s step %d: loss %.4f, validation loss %.4f accuracy %.4f", desc, step, float(loss.detach()), val_loss, val_acc)
            if checkpoint is not None:
                with atomic_path(checkpoint) as tmp:
                    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "best": best_state,
                                "history": history, "step": step, "stale": stale}, tmp)
    history["steps"] = step
    model.load_state_dict(best_state)
    model.eval()
    return history
