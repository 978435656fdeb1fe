"""Feature vectors the graph is built on: a seeded random projection of pixels, or AE features.

``graph.features`` is ``pixels`` or ``ae:{name}``; the graph file stem replaces the
colon by a dash (``ae-{name}``) so it is a plain path component.
"""

import re

import numpy as np

from layerwise.data.lowres import low_res_chunks
from layerwise.data.store import load_split, open_data
from layerwise.errors import InputError
from layerwise.h5io import open_checked

_AE = re.compile(r"^ae:([A-Za-z0-9_.]+)$")
_CHUNK = 4096


def feature_stem(spec):
    """``pixels`` -> ``pixels``; ``ae:conv`` -> ``ae-conv`` (the graph file name)."""
    if spec == "pixels":
        return "pixels"
    match = _AE.match(spec)
    if not match:
        raise InputError(
            f"graph.features={spec!r}: expected 'pixels' or 'ae:<name>' "
            "(letters, digits, '_' or '.'), e.g. graph.features: ae:resae"
        )
    return f"ae-{match.group(1)}"


def train_labels(data_path):
    """Labels of the training split in split order (training index i -> labels[i])."""
    with open_data(data_path) as f:
        return f["labels"][()][f["splits/train"][()]]


def project_pixels(images, dim, seed):
    """Random Gaussian projection of centred pixel vectors, in row chunks.

    Centring by the mean training image matters for the cosine kernel: raw
    pixel vectors are all non-negative, so their cosines would all be near 1.
    The projection matrix is N(0, 1/dim), drawn from ``seed`` (Johnson-Lindenstrauss).
    """
    n = len(images)
    flat = images.reshape(n, -1)
    mean = np.zeros(flat.shape[1], np.float64)
    for lo in range(0, n, _CHUNK):
        mean += flat[lo : lo + _CHUNK].sum(axis=0, dtype=np.float64)
    mean = (mean / max(n, 1) / 255.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    proj = rng.standard_normal((flat.shape[1], dim), dtype=np.float32) / np.float32(np.sqrt(dim))
    out = np.empty((n, dim), np.float32)
    for lo in range(0, n, _CHUNK):
        block = flat[lo : lo + _CHUNK].astype(np.float32) / np.float32(255.0) - mean
        out[lo : lo + _CHUNK] = block @ proj
    return out


def project_stream(chunks, n, dim, seed):
    """:func:`project_pixels` of uint8 (b, H, W, C) chunks streamed once, in bounded memory.

    Centring is linear, (x - m) P = x P - m P, so the mean is subtracted after
    the single pass instead of needing a first pass over all images.
    """
    out, total, proj, lo = None, None, None, 0
    for block in chunks:
        flat = np.asarray(block).reshape(len(block), -1)
        if proj is None:
            rng = np.random.default_rng(seed)
            proj = rng.standard_normal((flat.shape[1], dim), dtype=np.float32) / np.float32(np.sqrt(dim))
            out, total = np.empty((n, dim), np.float32), np.zeros(flat.shape[1], np.float64)
        total += flat.sum(axis=0, dtype=np.float64)
        out[lo : lo + len(flat)] = (flat.astype(np.float32) / np.float32(255.0)) @ proj
        lo += len(flat)
    if lo != n:
        raise InputError(f"streamed {lo} images but the training split has {n}")
    mean = (total / max(n, 1) / 255.0).astype(np.float32)
    out -= mean @ proj
    return out


def load_features(spec, data_path, features_path, dim, seed, side=32, workers=0):
    """Training-split features float32 (N_train, D), row i = training index i.

    Manifests (ImageNet) are projected from a ``side`` x ``side`` low-resolution
    view streamed in chunks by ``workers`` DataLoader workers.
    """
    n_train = len(train_labels(data_path))
    if spec == "pixels":
        with open_data(data_path) as f:
            manifest = "images" not in f
        if manifest:
            chunks = low_res_chunks(data_path, "train", side, 256, workers)
            return project_stream((c.permute(0, 2, 3, 1).numpy() for c in chunks), n_train, dim, seed)
        images, _ = load_split(data_path, "train")
        return project_pixels(images, dim, seed)
    feature_stem(spec)
    with open_checked(features_path, "extract_features", required=("features",)) as f:
        feats = f["features"][()]
    if feats.ndim != 2 or len(feats) != n_train:
        raise InputError(
            f"{features_path}: features has shape {feats.shape}, expected "
            f"({n_train}, D) (one row per training index); rerun extract_features."
        )
    return np.ascontiguousarray(feats, dtype=np.float32)
