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

import copy
import math

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from layerwise.clustering.dlc import Standardize
from layerwise.clustering.kmeans import kmeans
from layerwise.clustering.metrics import contingency, nmi, purity
from layerwise.data.store import load_split
from layerwise import torchfile
from layerwise.errors import InputError
from layerwise.h5io import atomic_path
from layerwise.parsimonious.model import QuickCNN

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
    return QuickCNN(channels, size, classes, dropout, clustering, cfg["lambdas"], cfg, seed, cfg.get("pools", ("max", "avg", "avg")))


def _weight_decay(method, cfg):
    return cfg["strong_weight_decay"] if method == "weight-decay" else cfg["weight_decay"]


def train(model, std, xtr, ytr, method, cfg, seed, device, checkpoint=None, val=None):
    """SGD(momentum) with step decay and early stopping on ``val`` = (images, labels).

    Leaves the model at its best-validation epoch (the last one without ``val``) and
    returns {final_regulariser, best_epoch, epochs_run, val_accuracy}.
    """
    model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=_weight_decay(method, cfg))
    sched = torch.optim.lr_scheduler.StepLR(opt, cfg["lr_step"], cfg["lr_decay"])
    start, reg_mean = 0, 0.0
    best = {"acc": -1.0, "epoch": 0, "state": None}
    if checkpoint is not None and Path(checkpoint).exists():
        state = torchfile.load(checkpoint, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start, reg_mean = int(state["epoch"]), float(state["reg"])
        best = {"acc": float(state["best_acc"]), "epoch": int(state["best_epoch"]), "state": state["best_model"]}
        model.to(device)
    y = torch.as_tensor(ytr)
    patience = cfg.get("patience", 0)
    for epoch in range(start, cfg["epochs"]):
        if val is not None and patience and epoch - best["epoch"] >= patience:
            log.info("%s seed %d: no validation gain for %d epochs, stopping after epoch %d", method, seed, patience, epoch)
            break
        model.train()
        order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(seed * 100003 + epoch))
        torch.manual_seed(seed * 100003 + epoch)
        reg_sum, steps = 0.0, 0
        for lo in tqdm(range(0, len(xtr), cfg["batch_size"]), desc=f"{method} epoch {epoch + 1}", leave=False, mininterval=5):
            idx = order[lo : lo + cfg["batch_size"]]
            logits, reg = model(std(xtr[idx].to(device)))
            loss = F.cross_entropy(logits, y[idx].to(device)) + reg
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{method} seed {seed}: non-finite loss at epoch {epoch + 1}; lower parsimonious.lr or the lambdas"
                )
            opt.zero_grad()
            loss.backward()
            opt.step()
            reg_sum, steps = reg_sum + float(reg.detach() if torch.is_tensor(reg) else reg), steps + 1
        sched.step()
        reg_mean = reg_sum / max(steps, 1)
        acc = evaluate(model, std, *val, device)[0] if val is not None else float(epoch)
        if acc > best["acc"]:
            best = {"acc": acc, "epoch": epoch + 1, "state": copy.deepcopy({k: v.cpu() for k, v in model.state_dict().items()})}
        log.info("%s seed %d epoch %d/%d: regulariser %.4g, validation accuracy %.4f", method, seed, epoch + 1, cfg["epochs"], reg_mean, acc)
        if checkpoint is not None:
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "epoch": epoch + 1, "reg": reg_mean}
            state.update(best_acc=best["acc"], best_epoch=best["epoch"], best_model=best["state"])
            with atomic_path(checkpoint) as tmp:
                torch.save(state, tmp)
        last = epoch + 1
    else:
        last = cfg["epochs"]
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    return {
        "final_regulariser": reg_mean,
        "best_epoch": best["epoch"],
        "epochs_run": last,
        "val_accuracy": best["acc"] if val is not None else math.nan,
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
    """Train one (method, seed) and measure it; returns (dict of metrics, the settings used)."""
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
    ckpt = None if scratch is None else f"{scratch}/model.pt"
    fit = train(model, std, xtr, ytr, method, cfg, seed, device, ckpt, (xval, yval) if len(held) else None)
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
