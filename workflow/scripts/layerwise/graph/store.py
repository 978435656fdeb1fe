"""The graph file ``results/{dataset}/graph/{features}.h5`` (stage ``build_graph``).

Layout::

    labels          int64 (N,)      class of training index i
    class_members   int64 (N,)      training indices grouped by class
    class_offsets   int64 (C+1,)    class c owns class_members[off[c]:off[c+1]]
    class_dense     uint8 (C,)      1: the class's dense n_c^2 block is stored (paper's f_NN)
    dense/data      float16|32      flat per-class (n_c, n_c) blocks over class_members order
    dense/offsets   int64 (C+1,)    (empty blocks for kNN classes)
    indptr int64 (N+1,), indices int32, data float16|float32
                    CSR over training indices of the kNN classes (row u lists the items u
                    covers; rows of dense classes are empty)
    knn_features    float32 (N, D)  the features in class_members order, only when some class
                    is kNN: the batches stage scores kNN partitions under the dense f_NN

attrs: ``form`` (auto | dense | knn), ``kernel``, ``knn``, ``dense_budget_mb``. Readers get
one CSR via :func:`load_csr` and per-class dense blocks via :class:`DenseView`.
"""

from dataclasses import dataclass

import h5py
import numpy as np

from layerwise.errors import InputError
from layerwise.graph import kernels
from layerwise.graph.build import class_members, merge_csr
from layerwise.h5io import atomic_h5, open_checked

STAGE = "build_graph"
_WRITE_ROWS = 65536  # knn_features rows per write (not a second copy of the features: 1.3 GB at ImageNet shape)
_REQUIRED = ("labels", "class_offsets", "class_members", "class_dense", "dense/data", "dense/offsets",
             "indptr", "indices", "data")


@dataclass
class CSRGraph:
    """Row u = the items u covers (indices) and the weights w(v, u) (data, float32)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    labels: np.ndarray
    class_dense: np.ndarray = None  # bool (C,); None: every class dense

    @property
    def n(self):
        return len(self.indptr) - 1

    @property
    def approximate(self):
        """True when some class uses the kNN approximation of f_NN."""
        return self.class_dense is not None and not bool(np.all(self.class_dense))


def write_graph(path, labels, form, arrays, params, seed):
    """``arrays``: dict with class_dense (C,), dense (data, offsets), knn (indptr, indices, data)
    and, when some class is kNN, features (N, D)."""
    members, offsets = class_members(labels)
    with atomic_h5(path, STAGE, params, seed) as f:
        f.create_dataset("labels", data=np.asarray(labels, np.int64))
        f.create_dataset("class_members", data=members)
        f.create_dataset("class_offsets", data=offsets)
        f.create_dataset("class_dense", data=np.asarray(arrays["class_dense"], np.uint8))
        f.attrs["form"] = form
        f.attrs["kernel"] = params.get("kernel", "")
        f.attrs["knn"] = int(params.get("knn", 0))
        f.attrs["dense_budget_mb"] = float(params.get("dense_budget_mb", 0))
        data, block_offsets = arrays["dense"]
        f.create_dataset("dense/data", data=data, chunks=True if len(data) else None)
        f.create_dataset("dense/offsets", data=block_offsets)
        indptr, indices, kdata = arrays["knn"]
        f.create_dataset("indptr", data=indptr)
        f.create_dataset(
            "indices", data=indices, chunks=True if len(indices) else None, compression="lzf" if len(indices) else None
        )
        f.create_dataset(
            "data", data=kdata, chunks=True if len(kdata) else None, compression="lzf" if len(kdata) else None
        )
        if arrays.get("features") is not None:  # class by class, contiguous; copied a slice at a time
            feats = arrays["features"]
            out = f.create_dataset("knn_features", (len(members), feats.shape[1]), np.float32,
                                   chunks=(min(len(members), 1024), feats.shape[1]))
            for lo in range(0, len(members), _WRITE_ROWS):
                out[lo : lo + _WRITE_ROWS] = np.asarray(feats[members[lo : lo + _WRITE_ROWS]], np.float32)


def _check(path, f):
    missing = [k for k in _REQUIRED if k not in f]
    if missing:
        raise InputError(f"{path}: graph without {', '.join(missing)} (older format?); rerun build_graph.")


def load_csr(path):
    """The graph as a :class:`CSRGraph` (float32 weights), dense and kNN classes merged."""
    with open_checked(path, STAGE, required=("labels", "class_offsets")) as f:
        _check(path, f)
        labels = f["labels"][()]
        class_dense = f["class_dense"][()].astype(bool)
        knn = (f["indptr"][()], f["indices"][()], f["data"][()].astype(np.float32, copy=False))
        if len(knn[0]) != len(labels) + 1:
            raise InputError(f"{path}: indptr has {len(knn[0])} entries for {len(labels)} items; rerun build_graph.")
        # the dense blocks are read class by class into the merged CSR (not all at once: 1 GiB
        # beside the merged 2.3 GB at ImageNet shape)
        indptr, indices, data = merge_csr(labels, f["dense/data"], f["dense/offsets"][()], knn)
    return CSRGraph(indptr, indices, data, labels, class_dense)


class DenseView:
    """The paper's dense f_NN class by class: stored blocks for dense classes, recomputed
    from ``knn_features`` (same kernel function as build_dense) for kNN classes."""

    def __init__(self, path):
        self.path = path
        with open_checked(path, STAGE, required=("labels", "class_offsets")) as f:
            _check(path, f)
            self.labels = f["labels"][()]
            self.members, self.offsets = f["class_members"][()], f["class_offsets"][()]
            self.class_dense = f["class_dense"][()].astype(bool)
            self.block_offsets = f["dense/offsets"][()]
            self.kernel = str(f.attrs["kernel"])
            if not self.class_dense.all() and "knn_features" not in f:
                raise InputError(f"{path}: kNN classes without knn_features; rerun build_graph.")

    def blocks(self):
        """Yields (class members, (n_c, n_c) float32 similarity) for every non-empty class."""
        with h5py.File(self.path, "r") as f:
            for c in range(len(self.offsets) - 1):
                rows = self.members[self.offsets[c] : self.offsets[c + 1]]
                if len(rows) == 0:
                    continue
                if self.class_dense[c]:
                    flat = f["dense/data"][self.block_offsets[c] : self.block_offsets[c + 1]]
                    sim = flat.astype(np.float32).reshape(len(rows), len(rows))
                else:  # a contiguous slice: features are stored in class_members order
                    x = f["knn_features"][self.offsets[c] : self.offsets[c + 1]]
                    sim = kernels.dense_similarity(x, self.kernel)
                yield rows, sim
