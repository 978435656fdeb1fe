"""``features.h5``: encoder codes of every training image, row i <-> training index i.

Layout (stage attr "extract_features")::

    features          float32 (N_train, D)   row i is row splits/train[i] of data.h5
    recon_loss        float64 (epochs,)      reconstruction loss per epoch: training MSE of
                                             the residual autoencoder; for an augmented
                                             network the test-split image ||x^ - x||^2 of
                                             step 4, else the training U of steps 2-3
                                             (empty without decoders)
    attrs: model (path), kind (residual | augmented), dim, source (data.h5 path);
           residual only: test_mse, test_mse_mean_image, test_mse_image_mean (per-pixel MSE
           of the autoencoder and of the two no-model baselines on the test split)
"""

import numpy as np
import torch
from tqdm import tqdm

from layerwise.autoencoder import inputs
from layerwise.errors import InputError
from layerwise.h5io import atomic_h5, open_checked

STAGE = "extract_features"


@torch.no_grad()
def extract(model, images, batch_size=256, order=None, device="cpu"):
    """Codes of uint8 images (n, C, H, W) visited in ``order`` and written to their own rows."""
    model.eval().to(device)
    n = len(images)
    order = torch.arange(n) if order is None else torch.as_tensor(order)
    if sorted(order.tolist()) != list(range(n)):
        raise ValueError("order must be a permutation of range(len(images))")
    out = None
    for idx in tqdm(order.split(batch_size), desc="features", leave=False):
        codes = model.features(inputs.to_float(images[idx]).to(device)).float().cpu()
        if out is None:
            out = torch.empty((n, codes.shape[1]), dtype=torch.float32)
        out[idx] = codes
    return out.numpy()


@torch.no_grad()
def extract_stream(model, chunks, n, device="cpu"):
    """Codes of uint8 chunks (b, C, H, W) streamed in training-index order (manifests)."""
    model.eval().to(device)
    out, lo = None, 0
    for batch in tqdm(chunks, desc="features", leave=False, mininterval=5):
        codes = model.features(inputs.to_float(batch).to(device)).float().cpu()
        if out is None:
            out = torch.empty((n, codes.shape[1]), dtype=torch.float32)
        out[lo : lo + len(codes)] = codes
        lo += len(codes)
    if lo != n:
        raise InputError(f"streamed {lo} images but the training split has {n}")
    return out.numpy()


def recon_curve(saved):
    """Per-epoch reconstruction loss of a saved model dict (see the module docstring)."""
    history = saved["history"]
    if saved["kind"] == "residual":
        return history["recon_loss"]
    for key in ("finetune/test_recon_loss", "decoders/U"):
        values = history.get(key, [])
        if values and not np.isnan(values).all():
            return values
    return []


def write_features(path, features, recon_loss, params, seed, attrs):
    with atomic_h5(path, STAGE, params, seed) as f:
        f.create_dataset("features", data=np.asarray(features, dtype=np.float32), chunks=True)
        f.create_dataset("recon_loss", data=np.asarray(recon_loss, dtype=np.float64))
        f.attrs["dim"] = features.shape[1]
        for key, value in attrs.items():
            f.attrs[key] = value


def load_features(path, n_train=None):
    """float32 (N_train, D) features; checks the row count against data.h5 when given."""
    with open_checked(path, STAGE, required=("features",)) as f:
        feats = f["features"][()]
    if n_train is not None and len(feats) != n_train:
        raise InputError(
            f"{path}: {len(feats)} feature rows but the training split has {n_train}; "
            "it was built from another data.h5. Delete it and rerun extract_features."
        )
    return feats


def neighbour_agreement(x, labels, k=10):
    """Mean fraction of each row's k nearest neighbours by cosine similarity (itself excluded,
    faiss exact search on centred rows) that share its label: how much of the class
    structure a graph built on these vectors can see; chance is sum_c p_c^2."""
    import faiss

    x = np.asarray(x, dtype=np.float32)
    x = x - x.mean(0)
    x /= np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    _, nbrs = index.search(x, k + 1)
    labels = np.asarray(labels)
    nbrs = np.array([row[row != i][:k] for i, row in enumerate(nbrs)])  # drop the row itself
    return float((labels[nbrs] == labels[:, None]).mean())
