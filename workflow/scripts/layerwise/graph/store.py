"""The graph file ``results/{dataset}/graph/{features}.h5`` (stage ``build_graph``).

Layout::

    labels          int64 (N,)      class of training index i
    class_members   int64 (N,)      training indices grouped by class
    class_offsets   int64 (C+1,)    class c owns class_members[off[c]:off[c+1]]
    form "knn":     indptr int64 (N+1,), indices int32, data float16|float32
                    (CSR over training indices; row u lists the items u covers)
    form "dense":   dense/data (flat per-class (n_c, n_c) blocks over class_members order),
                    dense/offsets int64 (C+1,)

attrs: ``form``, ``kernel``, ``knn``. Readers get CSR in both forms via :func:`load_csr`.
"""

from dataclasses import dataclass

import numpy as np

from layerwise.errors import InputError
from layerwise.graph.build import class_members, dense_to_csr
from layerwise.h5io import atomic_h5, open_checked

STAGE = "build_graph"


@dataclass
class CSRGraph:
    """Row u = the items u covers (indices) and the weights w(v, u) (data, float32)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    labels: np.ndarray

    @property
    def n(self):
        return len(self.indptr) - 1


def write_graph(path, labels, form, arrays, params, seed):
    """``arrays``: (indptr, indices, data) for knn, (data, offsets) for dense."""
    members, offsets = class_members(labels)
    with atomic_h5(path, STAGE, params, seed) as f:
        f.create_dataset("labels", data=np.asarray(labels, np.int64))
        f.create_dataset("class_members", data=members)
        f.create_dataset("class_offsets", data=offsets)
        f.attrs["form"] = form
        f.attrs["kernel"] = params.get("kernel", "")
        f.attrs["knn"] = int(params.get("knn", 0))
        if form == "knn":
            indptr, indices, data = arrays
            f.create_dataset("indptr", data=indptr)
            f.create_dataset("indices", data=indices, chunks=True, compression="lzf")
            f.create_dataset("data", data=data, chunks=True, compression="lzf")
        else:
            data, block_offsets = arrays
            f.create_dataset("dense/data", data=data, chunks=True)
            f.create_dataset("dense/offsets", data=block_offsets)


def load_csr(path):
    """The graph as a :class:`CSRGraph` (float32 weights), whichever form is stored."""
    with open_checked(path, STAGE, required=("labels", "class_offsets")) as f:
        labels = f["labels"][()]
        form = f.attrs["form"]
        if form == "knn":
            if "indptr" not in f or "indices" not in f or "data" not in f:
                raise InputError(f"{path}: knn graph without indptr/indices/data; rerun build_graph.")
            indptr, indices = f["indptr"][()], f["indices"][()]
            data = f["data"][()].astype(np.float32, copy=False)
        elif form == "dense":
            indptr, indices, data = dense_to_csr(labels, f["dense/data"][()], f["dense/offsets"][()])
        else:
            raise InputError(f"{path}: unknown graph form {form!r}; rerun build_graph.")
    if len(indptr) != len(labels) + 1:
        raise InputError(f"{path}: indptr has {len(indptr)} entries for {len(labels)} items; rerun build_graph.")
    return CSRGraph(indptr, indices, data, labels)
