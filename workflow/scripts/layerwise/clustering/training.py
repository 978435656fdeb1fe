"""Adam on cross-entropy for the trainable part of a model, through the one loop (training/loop.py).

Used for every gradient-trained piece of this stage: the 1x1 conv + linear of a
deep-layerwise-clustering block, the linear / fully connected heads of §6, the
CNN baselines of Figure 3, and the CNN probes. Frozen parameters simply have
``requires_grad=False``. Shuffling uses a generator seeded by ``(seed, epoch)``
so a resumed run sees the same order as an uninterrupted one.
"""

import logging

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from layerwise.training.loop import EarlyStop, Task, fit

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


def _order(n, seed, epoch):
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch))


def train_classifier(model, inputs, labels, epochs, lr, batch_size, seed, device, scratch=None, desc="train"):
    """Train ``model`` (its parameters with requires_grad) on ``inputs`` -> ``labels`` for ``epochs``.

    ``inputs`` is a tensor (n, ...) on CPU; ``model`` maps a batch of it to
    logits. With ``scratch`` (checkpoint.Scratch), a killed run resumes after its last epoch.
    """
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        return model
    labels = torch.as_tensor(labels, dtype=torch.long)
    n = len(inputs)

    def batches(epoch, start):
        order = _order(n, seed, epoch)
        torch.manual_seed(seed * 100003 + epoch)  # dropout masks, reproducible on resume
        return [order[i : i + batch_size] for i in range(start * batch_size, n, batch_size)]

    def step(idx, at):
        loss = F.cross_entropy(model(inputs[idx].to(device)), labels[idx].to(device))
        return loss, {"loss": float(loss.detach()) * len(idx)}, len(idx)

    task = Task(model, torch.optim.Adam(params, lr=lr), batches, step, epochs=epochs, desc=desc,
                hint="Lower probes.lr")  # the probes are its one caller
    fit(task, scratch, desc.replace(" ", "-"), {"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed})
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


def train_early_stopping(model, inputs, labels, val_inputs, val_labels, budget, seed, device, scratch=None,
                         desc="train"):
    """Adam on cross-entropy with early stopping on the validation loss; returns a history dict.

    Mini-batches come from epochs of a permutation seeded by ``(seed, epoch)``.
    The weights of the evaluation with the lowest validation cross-entropy (the
    untrained model included) are loaded back into ``model`` (the loss, not the
    accuracy: a block's embedding keeps improving after its accuracy saturates).
    With ``scratch`` (checkpoint.Scratch), the state is saved at every evaluation
    and a killed run resumes from its last one, bit for bit; checkpoint name: ``desc``.
    """
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    val_loss, val_acc = evaluate(model, val_inputs, val_labels, device)
    history = {"steps": 0, "best_step": 0, "best_val_loss": val_loss, "best_val_accuracy": val_acc, "evals": []}
    if not params:
        return history
    labels = torch.as_tensor(labels, dtype=torch.long)
    n, bs = len(inputs), budget.batch_size

    def batches(epoch, start):
        order = _order(n, seed, epoch)
        return [order[i : i + bs] for i in range(start * bs, n, bs)]

    def step(idx, at):
        torch.manual_seed(seed * 100003 + at.step)  # dropout masks, reproducible on resume
        return F.cross_entropy(model(inputs[idx].to(device)), labels[idx].to(device)), {}, len(idx)

    def validate(at, loss):
        v_loss, v_acc = evaluate(model, val_inputs, val_labels, device)
        return {"step": at.step, "loss": loss, "val_loss": v_loss, "val_accuracy": v_acc}

    task = Task(model, torch.optim.Adam(params, lr=budget.lr), batches, step, max_steps=budget.max_steps,
                evaluate=validate, eval_every=budget.eval_every,
                early_stop=EarlyStop("val_loss", "min", budget.patience, baseline=val_loss),
                desc=desc, hint="Lower clustering.lr")
    result = fit(task, scratch, desc.replace(" ", "-"), vars(budget) | {"seed": seed})
    h = result.history
    history["evals"] = list(
        zip(h.get("step", []), h.get("loss", []), h.get("val_loss", []), h.get("val_accuracy", []), strict=False)
    )
    if result.best is not None:
        history.update(best_step=h["step"][result.best], best_val_loss=h["val_loss"][result.best],
                       best_val_accuracy=h["val_accuracy"][result.best])
    history["steps"] = result.steps
    model.eval()
    return history
