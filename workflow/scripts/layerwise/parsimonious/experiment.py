"""Paper 004 §4.2: the quick CIFAR CNN with baseline, weight decay, dropout and the three clusterings.

One run = one method and seed: SGD with momentum on cross-entropy + sum_l lambda_l R_l
on the training split minus a stratified validation part (``val_fraction``, the same
for every method and seed), at most ``epochs`` epochs (equal step budgets), keeping the
epoch of best validation accuracy and stopping after ``patience`` epochs without a
gain; scratch checkpoint after every epoch (a killed job resumes). Then train/val/test
accuracy and the NMI of Table 3: k-means (K = number of classes, fixed seed) on the
ip1 representation of the test images, each cluster labelled with its most frequent
class, NMI of those labels against the truth.
"""

import logging
import math

import numpy as np
import torch
import torch.nn.functional as F

from layerwise.clustering.dlc import Standardize
from layerwise.clustering.kmeans import kmeans
from layerwise.clustering.metrics import contingency, nmi, purity
from layerwise.data.store import load_split
from layerwise.errors import InputError
from layerwise.parsimonious.model import QuickCNN
from layerwise.training.loop import EarlyStop, Task, fit

METHODS = ("baseline", "weight-decay", "dropout", "sample", "spatial", "channel")
log = logging.getLogger(__name__)


def resolve(cfg, kind):
    """The settings a run uses: ``preset: paper`` overlays ``paper_settings[kind]`` (config, §4.2)."""
    cfg = dict(cfg)
    if cfg["preset"] == "paper":
        table = cfg.get("paper_settings") or {}
        if kind not in table:
            raise InputError(
                f"parsimonious.preset: paper, but parsimonious.paper_settings has no entry for dataset kind {kind!r} "
                f"(it has {sorted(table)}); add one or use preset: custom"
            )
        cfg.update(table[kind])
    return cfg


def validation_split(labels, fraction, seed):
    """(train rows, validation rows): a stratified, seeded carve-out of the training split."""
    labels = np.asarray(labels)
    if fraction <= 0:
        return np.arange(len(labels)), np.arange(0)
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        take = max(1, int(round(fraction * len(rows))))
        if take >= len(rows):
            raise InputError(f"parsimonious.val_fraction={fraction} leaves no training image of class {c}; lower it")
        val.append(rng.permutation(rows)[:take])
    val = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(len(labels)), val), val


def build(method, cfg, channels, size, classes, seed):
    if method not in METHODS:
        raise InputError(f"parsimonious.methods: unknown method {method!r}; choose from {METHODS}")
    torch.manual_seed(seed)
    clustering = method if method in ("sample", "spatial", "channel") else None
    dropout = cfg["dropout"] if method == "dropout" else 0.0
    return QuickCNN(
        channels, size, classes, dropout, clustering, cfg["lambdas"], cfg, seed, cfg.get("pools", ("max", "avg", "avg"))
    )


def _weight_decay(method, cfg):
    return cfg["strong_weight_decay"] if method == "weight-decay" else cfg["weight_decay"]


def train(model, std, xtr, ytr, method, cfg, seed, device, scratch=None, val=None):
    """SGD(momentum) with step decay and early stopping on ``val`` = (images, labels).

    Leaves the model at its best-validation epoch (the last one without ``val``) and
    returns {final_regulariser, best_epoch, epochs_run, val_accuracy}. With
    ``scratch`` (checkpoint.Scratch) a killed run resumes after its last epoch.
    """
    model.to(device)
    opt = torch.optim.SGD(
        model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=_weight_decay(method, cfg)
    )
    sched = torch.optim.lr_scheduler.StepLR(opt, cfg["lr_step"], cfg["lr_decay"])
    y = torch.as_tensor(ytr)
    bs = cfg["batch_size"]

    def batches(epoch, start):
        order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(seed * 100003 + epoch))
        torch.manual_seed(seed * 100003 + epoch)  # dropout and clustering randomness, reproducible on resume
        return [order[lo : lo + bs] for lo in range(start * bs, len(xtr), bs)]

    def step(idx, at):
        logits, reg = model(std(xtr[idx].to(device)))
        loss = F.cross_entropy(logits, y[idx].to(device)) + reg
        return loss, {"regulariser": float(reg.detach() if torch.is_tensor(reg) else reg)}, 1

    def validate(at, loss):
        return {"val_accuracy": evaluate(model, std, *val, device)[0]}

    task = Task(model, opt, batches, step, epochs=cfg["epochs"], scheduler=sched,
                evaluate=None if val is None else validate,
                early_stop=None if val is None else EarlyStop("val_accuracy", "max", cfg.get("patience", 0)),
                desc=f"{method} seed {seed}", hint="Lower parsimonious.lr or the lambdas")
    result = fit(task, scratch, "model", {**cfg, "method": method, "seed": seed})
    regs = result.history.get("regulariser", [0.0])
    return {
        "final_regulariser": regs[-1],
        "best_epoch": result.epochs if val is None or result.best is None else result.best + 1,
        "epochs_run": result.epochs,
        "val_accuracy": math.nan if val is None else result.best_value,
    }


@torch.no_grad()
def evaluate(model, std, x, y, device, batch_size=500):
    """(accuracy, ip1 features float32 (n, 64))."""
    model.eval()
    preds, feats = [], []
    for lo in range(0, len(x), batch_size):
        f, _ = model.features(std(x[lo : lo + batch_size].to(device)))
        preds.append(model.ip2(f).argmax(1).cpu())
        feats.append(f.cpu())
    acc = float((torch.cat(preds) == torch.as_tensor(y)).float().mean())
    return acc, torch.cat(feats).numpy()


def majority_labels(truth, clusters):
    """Each item gets the most frequent true class of its cluster (Table 3's protocol)."""
    classes = np.unique(truth)
    _, inverse = np.unique(clusters, return_inverse=True)
    table = contingency(truth, clusters)
    return classes[table.argmax(0)][inverse]


def representation_nmi(features, labels, seed):
    km = kmeans(features, len(np.unique(labels)), seed, iterations=100, cosine=False)
    return nmi(labels, majority_labels(labels, km.labels)), purity(labels, km.labels)


def run(data_path, kind, method, seed, cfg, device, scratch=None):
    """Train one (method, seed) and measure it; returns (dict of metrics, the settings used).

    ``scratch``: the job's checkpoint.Scratch (None: no checkpoints)."""
    cfg = resolve(cfg, kind)
    xtr, ytr = load_split(data_path, "train")
    keep, held = validation_split(ytr, cfg["val_fraction"], cfg["split_seed"])
    xte, yte = load_split(data_path, "test")
    xtr = torch.from_numpy(np.ascontiguousarray(xtr.transpose(0, 3, 1, 2)))
    xte = torch.from_numpy(np.ascontiguousarray(xte.transpose(0, 3, 1, 2)))
    if xtr.shape[2] != xtr.shape[3]:
        raise InputError(f"{data_path}: the quick CNN needs square images, got {tuple(xtr.shape[2:])}")
    classes = int(max(ytr.max(), yte.max()) + 1)
    xval, yval = xtr[held], ytr[held]
    xtr, ytr = xtr[keep], ytr[keep]
    std = Standardize.fit(xtr).to(device)
    model = build(method, cfg, xtr.shape[1], xtr.shape[2], classes, seed)
    fit = train(model, std, xtr, ytr, method, cfg, seed, device, scratch, (xval, yval) if len(held) else None)
    train_acc, _ = evaluate(model, std, xtr, ytr, device)
    test_acc, feats = evaluate(model, std, xte, yte, device)
    rep_nmi, rep_purity = representation_nmi(feats, yte, cfg["nmi_seed"])
    results = {
        "method": method,
        "seed": seed,
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "nmi": rep_nmi,
        "purity": rep_purity,
        "num_classes": classes,
        **fit,
    }
    return results, cfg
