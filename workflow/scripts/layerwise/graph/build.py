"""Build the similarity graph class by class (paper 000, Appendix A).

Only items of the same class are connected, so memory is one class at a time:
a (n_c, n_c) block for the dense form, (n_c, knn) for the k-nearest-neighbour
form (faiss exact search: inner product on unit vectors for ``cosine``, L2 for
``gaussian``). Edge u -> v with weight w(v, u) means "u covers v": f_NN sums,
over every item v, the best weight of a selected item covering v. In the kNN
form u covers its knn nearest neighbours (itself included), i.e. w(v, u) is the
kernel value when v is among u's neighbours and 0 otherwise -- still a
non-negative matrix, so f_NN stays monotone submodular, but a smaller one:
f_kNN(A) <= f_dense(A), so it optimises another function than the paper's.

Form ``auto`` (the default) keeps the paper's objective wherever it fits: classes
are taken dense, smallest first, while the sum of their n_c^2 float32 blocks fits
``graph.dense_budget_mb``; only the remaining (larger) classes get the kNN
approximation. CIFAR-10/100 fit the default budget entirely.
"""

import logging

import faiss
import numba
import numpy as np
from tqdm import tqdm

from layerwise.errors import InputError
from layerwise.graph import kernels

log = logging.getLogger(__name__)
FORMS = ("auto", "dense", "knn")


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


def dense_classes(labels, form, budget_mb):
    """Boolean (C,): which classes get the dense n_c^2 block (see the module doc)."""
    sizes = np.bincount(np.asarray(labels, np.int64)) if len(labels) else np.zeros(0, np.int64)
    if form == "dense":
        return np.ones(len(sizes), bool)
    if form == "knn":
        return np.zeros(len(sizes), bool)
    if form != "auto":
        raise InputError(f"graph.form={form!r}: expected one of {FORMS}.")
    order = np.argsort(sizes, kind="stable")  # smallest first, ties by class id
    fits = np.cumsum(sizes[order].astype(np.float64) ** 2 * 4) <= budget_mb * 2**20
    dense = np.zeros(len(sizes), bool)
    dense[order[fits]] = True
    return dense


def build_knn(features, labels, knn, kernel, dtype=np.float32, threads=1, classes=None):
    """CSR (indptr, indices, data) over training indices: row u lists the items u covers.
    ``classes``: boolean (C,) of the classes to build (other classes' rows stay empty)."""
    members, offsets = class_members(labels)
    sizes = np.diff(offsets)
    if classes is None:
        classes = np.ones(len(sizes), bool)
    sizes = np.where(classes, sizes, 0)
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
        if len(rows) == 0 or not classes[c]:
            continue
        nbrs, weights = _knn_block(features[rows], knn, kernel)
        pos = indptr[rows][:, None] + np.arange(nbrs.shape[1])[None, :]
        indices[pos] = rows[nbrs]
        data[pos] = weights
    return indptr, indices, data


def build_dense(features, labels, kernel, dtype=np.float32, classes=None):
    """Flat per-class similarity blocks and their offsets: block c is (n_c, n_c) over members
    (empty for classes outside ``classes``, a boolean (C,))."""
    members, offsets = class_members(labels)
    sizes = np.diff(offsets)
    if classes is not None:
        sizes = np.where(classes, sizes, 0)
    block_offsets = np.concatenate([[0], np.cumsum(sizes * sizes)]).astype(np.int64)
    data = np.empty(block_offsets[-1], dtype)
    for c in tqdm(range(len(sizes)), desc="graph (dense) by class", mininterval=5, disable=None):
        rows = members[offsets[c] : offsets[c + 1]]
        if sizes[c]:
            sim = kernels.dense_similarity(features[rows], kernel)
            data[block_offsets[c] : block_offsets[c + 1]] = sim.ravel()
    return data, block_offsets


def build_graph(features, labels, form, budget_mb, knn, kernel, dtype=np.float32, threads=1):
    """The arrays of a graph file (graph.store.write_graph): dense blocks for the classes
    that fit, kNN CSR for the others, and the features when some class is kNN."""
    dense = dense_classes(labels, form, budget_mb)
    return {
        "class_dense": dense,
        "dense": build_dense(features, labels, kernel, dtype, classes=dense),
        "knn": build_knn(features, labels, knn, kernel, dtype, threads, classes=~dense),
        "features": None if dense.all() else features,
    }


@numba.njit(cache=True, nogil=True)
def _copy_rows(k_ptr, k_idx, k_data, indptr, indices, data):
    """Row u of the kNN CSR to the start of row u of the merged one (no index arrays of nnz size)."""
    for u in range(len(k_ptr) - 1):
        dst = indptr[u]
        for p in range(k_ptr[u], k_ptr[u + 1]):
            indices[dst] = k_idx[p]
            data[dst] = k_data[p]
            dst += 1


def merge_csr(labels, dense_data, block_offsets, knn=None):
    """One CSR over training indices: rows of dense classes cover every item of their class
    (from the flat blocks), the other rows come from the kNN CSR ``knn`` = (indptr, indices, data)."""
    members, offsets = class_members(labels)
    sizes = np.diff(offsets)
    dense = np.diff(block_offsets) > 0
    n = len(labels)
    if knn is not None and not dense.any():
        return knn  # pure kNN: no copy (ImageNet-scale graphs)
    lengths = np.where(dense[labels], sizes[labels], 0)
    if knn is not None:
        lengths = lengths + np.diff(knn[0])
    indptr = np.zeros(n + 1, np.int64)
    indptr[1:] = np.cumsum(lengths)
    indices = np.empty(indptr[-1], np.int32)
    data = np.empty(indptr[-1], np.float32)
    if knn is not None and len(knn[1]):
        _copy_rows(*knn, indptr, indices, data)  # dense rows are empty in the kNN CSR
    for c in np.flatnonzero(dense):  # one block read at a time when dense_data is an h5py dataset
        rows = members[offsets[c] : offsets[c + 1]]
        # Symmetric kernel: row u of the block lists w(u, v) = w(v, u) for all v.
        block = dense_data[block_offsets[c] : block_offsets[c + 1]].reshape(len(rows), len(rows))
        pos = indptr[rows][:, None] + np.arange(len(rows))[None, :]
        indices[pos] = np.broadcast_to(rows[None, :], block.shape)
        data[pos] = block
    return indptr, indices, data


def dense_to_csr(labels, dense_data, block_offsets):
    """The dense form as CSR over training indices (row u covers every v of its class)."""
    return merge_csr(labels, dense_data, block_offsets)
