"""Build the similarity graph class by class (paper 000, Appendix A).

Only items of the same class are connected, so memory is one class at a time:
a (n_c, n_c) block for the dense form, (n_c, knn) for the k-nearest-neighbour
form (faiss exact search: inner product on unit vectors for ``cosine``, L2 for
``gaussian``). Edge u -> v with weight w(v, u) means "u covers v": f_NN sums,
over every item v, the best weight of a selected item covering v. In the kNN
form u covers its knn nearest neighbours (itself included), i.e. w(v, u) is the
kernel value when v is among u's neighbours and 0 otherwise -- still a
non-negative matrix, so f_NN stays monotone submodular.
"""

import logging

import faiss
import numpy as np
from tqdm import tqdm

from layerwise.errors import InputError
from layerwise.graph import kernels

log = logging.getLogger(__name__)
FORMS = ("knn", "dense")


def class_members(labels):
    """Training indices grouped by class (stable) and the per-class offsets (C+1,)."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) and labels.min() < 0:
        raise InputError("labels must be non-negative class ids")
    counts = np.bincount(labels) if len(labels) else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return np.argsort(labels, kind="stable").astype(np.int64), offsets


def _knn_block(x, knn, kernel):
    """(n_c, k) neighbour positions and weights of one class by exact faiss search."""
    k = min(knn, len(x))
    if kernel == "cosine":
        z = np.ascontiguousarray(kernels.normalize_rows(x))
        index = faiss.IndexFlatIP(z.shape[1])
        index.add(z)
        sims, nbrs = index.search(z, k)
        weights = np.maximum(sims, 0.0)
    elif kernel == "gaussian":
        z = np.ascontiguousarray(x, dtype=np.float32)
        index = faiss.IndexFlatL2(z.shape[1])
        index.add(z)
        d2, nbrs = index.search(z, k)
        weights = kernels.gaussian_from_sqdist(np.maximum(d2, 0.0), kernels.bandwidth(z))
    else:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {kernels.KERNELS}")
    return nbrs.astype(np.int64), weights.astype(np.float32)


def build_knn(features, labels, knn, kernel, dtype=np.float32, threads=1):
    """CSR (indptr, indices, data) over training indices: row u lists the items u covers."""
    members, offsets = class_members(labels)
    sizes = np.diff(offsets)
    nonempty = sizes[sizes > 0]
    if len(nonempty) and knn > nonempty.min():
        raise InputError(
            f"graph.knn={knn} is larger than the smallest class ({nonempty.min()} training "
            "items); lower graph.knn or use graph.form: dense."
        )
    faiss.omp_set_num_threads(max(1, int(threads)))
    n = len(labels)
    indptr = np.zeros(n + 1, np.int64)
    indptr[1:] = np.cumsum(np.minimum(knn, sizes[labels]))
    indices = np.empty(indptr[-1], np.int32)
    data = np.empty(indptr[-1], dtype)
    for c in tqdm(range(len(sizes)), desc="graph (knn) by class", mininterval=5, disable=None):
        rows = members[offsets[c] : offsets[c + 1]]
        if len(rows) == 0:
            continue
        nbrs, weights = _knn_block(features[rows], knn, kernel)
        pos = indptr[rows][:, None] + np.arange(nbrs.shape[1])[None, :]
        indices[pos] = rows[nbrs]
        data[pos] = weights
    return indptr, indices, data


def build_dense(features, labels, kernel, dtype=np.float32):
    """Flat per-class similarity blocks and their offsets: block c is (n_c, n_c) over members."""
    members, offsets = class_members(labels)
    sizes = np.diff(offsets)
    block_offsets = np.concatenate([[0], np.cumsum(sizes * sizes)]).astype(np.int64)
    data = np.empty(block_offsets[-1], dtype)
    for c in tqdm(range(len(sizes)), desc="graph (dense) by class", mininterval=5, disable=None):
        rows = members[offsets[c] : offsets[c + 1]]
        if len(rows):
            sim = kernels.dense_similarity(features[rows], kernel)
            data[block_offsets[c] : block_offsets[c + 1]] = sim.ravel()
    return data, block_offsets


def dense_to_csr(labels, dense_data, block_offsets):
    """The dense form as CSR over training indices (row u covers every v of its class)."""
    members, offsets = class_members(labels)
    sizes = np.diff(offsets)
    n = len(labels)
    indptr = np.zeros(n + 1, np.int64)
    indptr[1:] = np.cumsum(sizes[labels])
    indices = np.empty(indptr[-1], np.int32)
    data = np.empty(indptr[-1], np.float32)
    for c in range(len(sizes)):
        rows = members[offsets[c] : offsets[c + 1]]
        if len(rows) == 0:
            continue
        # Symmetric kernel: row u of the block lists w(u, v) = w(v, u) for all v.
        block = dense_data[block_offsets[c] : block_offsets[c + 1]].reshape(len(rows), len(rows))
        pos = indptr[rows][:, None] + np.arange(len(rows))[None, :]
        indices[pos] = np.broadcast_to(rows[None, :], block.shape)
        data[pos] = block
    return indptr, indices, data
