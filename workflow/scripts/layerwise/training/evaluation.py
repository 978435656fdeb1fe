"""Per-layer evaluation (``eval.h5``): accuracies, logits, the 2^j ensemble, pooled features.

Layout of ``results/{dataset}/train/{run}/layer{j}/eval.h5`` (stage "train_layer")::

    logits                  (n_test, C) float32 or float16, z_j on the test split
    labels                  int64 (n_test,)
    metrics/train_loss, metrics/train_top1, metrics/test_top1, metrics/test_top5   float64 (epochs,)
    features/train, features/test      float32 (n_sub, channels, p, p): x_j averaged to p x p
    features/train_index, features/test_index    int64, indices into splits/train, splits/test
    features/train_labels, features/test_labels  int64
    attrs: layer, run, preset, layers, train_seconds, peak_mem_mb, peak_mem_kind, num_params

Accuracies are fractions in [0, 1]. End-to-end runs write the same layout (``e2e/eval.h5``).

Bounded memory at any split size: logits and features are *streams* of chunks.
Each chunk stays on the device until it is reduced (:func:`accuracy` counts
hits there) or written (:func:`write_eval` copies it into its preallocated
dataset's rows and drops it), so the host holds one chunk, never a split's
features or logits (benchmarks/layerwise.py --eval-memory measures it at two
split sizes). Identical inputs give identical bytes: no object timestamps.
"""

import numpy as np
import torch
import torch.nn.functional as F

from layerwise.h5io import atomic_h5, open_checked
from layerwise.training import precision

STAGE = "train_layer"
METRICS = ("train_loss", "train_top1", "test_top1", "test_top5")


def topk(logits, labels, k):
    """Fraction of rows whose label is among the k largest logits."""
    logits, labels = torch.as_tensor(logits).float(), torch.as_tensor(labels)
    if len(labels) == 0:
        return float("nan")
    k = min(k, logits.shape[1])
    hits = (logits.topk(k, dim=1).indices == labels.view(-1, 1)).any(1)
    return float(hits.double().mean())


ENSEMBLES = ("logits", "probabilities")


def ensemble(layer_logits, kind="logits"):
    """Z = sum_j 2^j z_j over layers j = 1..n (paper 003 section 4) for the given z_1..z_n.

    ``kind`` says what is summed: ``logits`` (the authors' cifar.py) or ``probabilities``,
    softmax(z_j) with the weights 2^j normalised to sum 1 (their imagenet.py). The two
    can rank classes differently; the normalisation does not change any top-k.
    """
    if kind not in ENSEMBLES:
        raise ValueError(f"ensemble kind must be one of {ENSEMBLES} (got {kind!r})")
    total, norm = None, 0.0
    for j, z in enumerate(layer_logits, start=1):
        z = torch.as_tensor(z).double()
        if kind == "probabilities":
            z = torch.softmax(z, dim=1)
        term = z * 2.0**j
        norm += 2.0**j
        total = term if total is None else total + term
    return total / norm if kind == "probabilities" else total


def outputs(fn, chunks, device):
    """``fn`` applied to every chunk of inputs: a generator of float32 results on ``device``."""
    for x in chunks:
        with torch.no_grad():
            yield fn(precision.to_device(x, device)).float()


@torch.no_grad()
def accuracy(fn, chunks, labels, device, ks=(1, 5)):
    """Top-k fractions of ``fn``'s logits over the chunks; hits are counted on the device and
    read once at the end (one host synchronisation per evaluation)."""
    labels = torch.as_tensor(labels)
    hits, start = torch.zeros(len(ks), dtype=torch.long, device=device), 0
    for z in outputs(fn, chunks, device):
        y = labels[start : start + len(z)].to(device, non_blocking=True)
        top = z.topk(min(max(ks), z.shape[1]), dim=1).indices == y.view(-1, 1)
        hits += torch.stack([top[:, :k].any(1).sum() for k in ks])
        start += len(z)
    if start != len(labels):
        raise ValueError(f"{start} predictions for {len(labels)} labels")
    if not len(labels):
        return tuple(float("nan") for _ in ks)
    return tuple(float(h) / len(labels) for h in hits.cpu())


def subsample(n, count, seed):
    """Sorted indices of a seeded subsample of ``count`` of ``n`` items (all if count is None or >= n)."""
    if count is None or count >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=count, replace=False)).astype(np.int64)


def pooled(features, size):
    """Adaptive average pooling to size x size (the 2x2 representation probes and SVMs read)."""
    return F.adaptive_avg_pool2d(torch.as_tensor(features), size).float()


def _write_rows(f, name, rows, n, dtype):
    """Dataset ``name`` of ``n`` rows from ``rows`` (an array or an iterable of chunks), one chunk
    on the host at a time; preallocated from the first chunk's shape."""
    if isinstance(rows, (np.ndarray, torch.Tensor)):
        rows = [rows]
    dset, start = None, 0
    for chunk in rows:
        chunk = np.asarray(chunk.detach().cpu() if torch.is_tensor(chunk) else chunk, dtype=dtype)
        if dset is None:
            dset = f.create_dataset(name, shape=(n, *chunk.shape[1:]), dtype=dtype)
        if start + len(chunk) > n:
            raise ValueError(f"{name}: more than the {n} rows expected")
        dset[start : start + len(chunk)] = chunk
        start += len(chunk)
    if dset is None:
        dset = f.create_dataset(name, shape=(n,), dtype=dtype)
    if start != n:
        raise ValueError(f"{name}: {start} rows written, {n} expected")


def write_eval(path, *, params, seed, layer, run, logits, labels, metrics, features, attrs,
               logits_dtype="float32"):
    """Write ``eval.h5`` atomically. ``logits`` is an (n_test, C) array or an iterable of its row
    chunks (tensors may be on the GPU); ``features`` maps train/test -> (array or chunks, index,
    labels) in the same way. Nothing is held beyond one chunk."""
    labels = np.asarray(labels, dtype=np.int64)
    with atomic_h5(path, STAGE, params, seed) as f:
        _write_rows(f, "logits", logits, len(labels), np.dtype(logits_dtype))
        f.create_dataset("labels", data=labels)
        for name in METRICS:
            f.create_dataset(f"metrics/{name}", data=np.asarray(metrics[name], dtype=np.float64))
        for split, (feats, index, labs) in features.items():
            index = np.asarray(index, dtype=np.int64)
            _write_rows(f, f"features/{split}", feats, len(index), np.dtype(np.float32))
            f.create_dataset(f"features/{split}_index", data=index)
            f.create_dataset(f"features/{split}_labels", data=np.asarray(labs, dtype=np.int64))
        f.attrs["layer"] = int(layer)
        f.attrs["run"] = str(run)
        for key, value in attrs.items():
            f.attrs[key] = value


def read_eval(path):
    """logits (float32), labels and the scalar attributes of an ``eval.h5``."""
    with open_checked(path, STAGE, required=("logits", "labels", "metrics/test_top1")) as f:
        out = {
            "logits": f["logits"][()].astype(np.float32),
            "labels": f["labels"][()],
            "metrics": {name: f[f"metrics/{name}"][()] for name in METRICS},
        }
        out.update({key: f.attrs[key] for key in f.attrs if key != "params"})
    return out
