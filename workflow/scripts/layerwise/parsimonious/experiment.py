"""Paper 004 §4.2: the quick CIFAR CNN with baseline, weight decay, dropout and the three clusterings.

One run = one method and seed: SGD with momentum on cross-entropy + sum_l lambda_l R_l,
scratch checkpoint after every epoch (a killed job resumes), then train/test
accuracy and the NMI of Table 3: k-means (K = number of classes, fixed seed)
on the ip1 representation of the test images, each cluster labelled with its
most frequent class, NMI of those labels against the truth.
"""

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
# Paper 004 §4.2 settings (cross-validated there), applied by `preset: paper`.
PAPER_SETTINGS = {
    "cifar10": {"clusters": 100, "lambdas": [1e-3, 1e-3, 1e-2, 1e-2], "alpha": 0.9},
    "cifar100": {"clusters": 100, "lambdas": [10.0, 1.0, 1.0, 1.0], "alpha": 0.95},
}
log = logging.getLogger(__name__)


def resolve(cfg, kind):
    cfg = dict(cfg)
    if cfg["preset"] == "paper":
        if kind not in PAPER_SETTINGS:
            raise InputError(f"parsimonious.preset: paper settings exist for cifar10/cifar100 only, not {kind!r}; use preset: custom")
        cfg.update(PAPER_SETTINGS[kind])
    return cfg


def build(method, cfg, channels, size, classes, seed):
    if method not in METHODS:
        raise InputError(f"parsimonious.methods: unknown method {method!r}; choose from {METHODS}")
    torch.manual_seed(seed)
    clustering = method if method in ("sample", "spatial", "channel") else None
    dropout = cfg["dropout"] if method == "dropout" else 0.0
    return QuickCNN(channels, size, classes, dropout, clustering, cfg["lambdas"], cfg, seed)


def _weight_decay(method, cfg):
    return cfg["strong_weight_decay"] if method == "weight-decay" else cfg["weight_decay"]


def train(model, std, xtr, ytr, method, cfg, seed, device, checkpoint=None):
    """SGD(momentum) with step decay; returns the mean regulariser value of the last epoch."""
    model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=_weight_decay(method, cfg))
    sched = torch.optim.lr_scheduler.StepLR(opt, cfg["lr_step"], cfg["lr_decay"])
    start, reg_mean = 0, 0.0
    if checkpoint is not None and Path(checkpoint).exists():
        state = torchfile.load(checkpoint, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start = int(state["epoch"])
        model.to(device)
    y = torch.as_tensor(ytr)
    for epoch in range(start, cfg["epochs"]):
        model.train()
        order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(seed * 100003 + epoch))
        torch.manual_seed(seed * 100003 + epoch)
        reg_sum, steps = 0.0, 0
        for lo in tqdm(range(0, len(xtr), cfg["batch_size"]), desc=f"{method} epoch {epoch + 1}", leave=False, mininterval=5):
            idx = order[lo : lo + cfg["batch_size"]]
            logits, reg = model(std(xtr[idx].to(device)))
            loss = F.cross_entropy(logits, y[idx].to(device)) + reg
            opt.zero_grad()
            loss.backward()
            opt.step()
            reg_sum, steps = reg_sum + float(reg.detach() if torch.is_tensor(reg) else reg), steps + 1
        sched.step()
        reg_mean = reg_sum / max(steps, 1)
        log.info("%s seed %d epoch %d/%d: regulariser %.4g", method, seed, epoch + 1, cfg["epochs"], reg_mean)
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "epoch": epoch + 1}, tmp)
    return reg_mean


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
    """Train one (method, seed) and measure it; returns a dict of metrics."""
    cfg = resolve(cfg, kind)
    xtr, ytr = load_split(data_path, "train")
    xte, yte = load_split(data_path, "test")
    xtr = torch.from_numpy(np.ascontiguousarray(xtr.transpose(0, 3, 1, 2)))
    xte = torch.from_numpy(np.ascontiguousarray(xte.transpose(0, 3, 1, 2)))
    if xtr.shape[2] != xtr.shape[3]:
        raise InputError(f"{data_path}: the quick CNN needs square images, got {tuple(xtr.shape[2:])}")
    classes = int(max(ytr.max(), yte.max()) + 1)
    std = Standardize.fit(xtr).to(device)
    model = build(method, cfg, xtr.shape[1], xtr.shape[2], classes, seed)
    ckpt = None if scratch is None else f"{scratch}/model.pt"
    reg = train(model, std, xtr, ytr, method, cfg, seed, device, ckpt)
    train_acc, _ = evaluate(model, std, xtr, ytr, device)
    test_acc, feats = evaluate(model, std, xte, yte, device)
    rep_nmi, rep_purity = representation_nmi(feats, yte, cfg["nmi_seed"])
    return {
        "method": method,
        "seed": seed,
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "nmi": rep_nmi,
        "purity": rep_purity,
        "final_regulariser": reg,
    }
