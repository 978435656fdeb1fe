"""The facility-location ("nearest neighbour") function f_NN on a CSR graph.

f(A) = sum_v max_{a in A} w(v, a), with w >= 0 and max over the empty set = 0.
It is monotone submodular and decomposes by class because the graph only links
items of one class. A block keeps a "current best" vector cov[v] = max_{a in A}
w(v, a); the gain of u is sum over the items u covers of max(0, w(v, u) - cov[v]),
so a gain costs O(row length of u), not O(|V|).
"""

import threading

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def gain(u, indptr, indices, data, cov):
    """f(u | A) for the block whose current-best vector is ``cov``."""
    g = 0.0
    for p in range(indptr[u], indptr[u + 1]):
        d = np.float64(data[p]) - np.float64(cov[indices[p]])
        if d > 0.0:
            g += d
    return g


@numba.njit(cache=True, nogil=True)
def commit(u, indptr, indices, data, cov):
    """Add u to the block: raise the current-best entries u covers."""
    for p in range(indptr[u], indptr[u + 1]):
        c = indices[p]
        if data[p] > cov[c]:
            cov[c] = data[p]


@numba.njit(cache=True, nogil=True)
def all_gains(indptr, indices, data, cov):
    """f(u | A) for every row u."""
    out = np.empty(len(indptr) - 1, np.float64)
    for u in range(len(out)):
        out[u] = gain(u, indptr, indices, data, cov)
    return out


@numba.njit(cache=True, nogil=True)
def singletons(indptr, data):
    """f({u}) for every row (the plain row sums; weights are non-negative)."""
    n = len(indptr) - 1
    out = np.empty(n, np.float64)
    for u in range(n):
        g = 0.0
        for p in range(indptr[u], indptr[u + 1]):
            if data[p] > 0.0:
                g += np.float64(data[p])
        out[u] = g
    return out


@numba.njit(cache=True, nogil=True)
def _extract(indptr, indices, data, items, colmap):
    """Rows ``items`` with columns renumbered 0..ncols-1 (``colmap`` is all -1 on entry and exit)."""
    nnz = 0
    for u in items:
        nnz += indptr[u + 1] - indptr[u]
    sub_ptr = np.zeros(len(items) + 1, np.int64)
    sub_idx = np.empty(nnz, np.int32)
    sub_data = np.empty(nnz, np.float32)
    cols = np.empty(nnz, np.int64)
    ncols = 0
    q = 0
    for r in range(len(items)):
        u = items[r]
        for p in range(indptr[u], indptr[u + 1]):
            c = indices[p]
            if colmap[c] < 0:
                colmap[c] = ncols
                cols[ncols] = c
                ncols += 1
            sub_idx[q] = colmap[c]
            sub_data[q] = data[p]
            q += 1
        sub_ptr[r + 1] = q
    for i in range(ncols):
        colmap[cols[i]] = -1
    return sub_ptr, sub_idx, sub_data, ncols


class FacilityLocation:
    """f_NN over the rows of a CSR graph; ``ncols`` is the number of covered items."""

    def __init__(self, indptr, indices, data, ncols=None):
        self.indptr = np.ascontiguousarray(indptr, np.int64)
        self.indices = np.ascontiguousarray(indices, np.int32)
        self.data = np.ascontiguousarray(data, np.float32)
        if len(self.data) and self.data.min() < 0:
            raise ValueError("facility location needs non-negative weights")
        self.n = len(self.indptr) - 1
        self.ncols = int(ncols) if ncols is not None else (int(self.indices.max()) + 1 if len(self.indices) else 0)
        self._scratch = threading.local()  # one colmap per thread: level calls run in parallel

    @classmethod
    def from_graph(cls, graph):
        return cls(graph.indptr, graph.indices, graph.data, ncols=graph.n)

    @classmethod
    def from_dense(cls, w):
        """From a dense matrix W with W[v, u] = w(v, u) (rows are covered items v)."""
        cover = np.ascontiguousarray(np.asarray(w, np.float32).T)
        n, ncols = cover.shape
        indptr = np.arange(n + 1, dtype=np.int64) * ncols
        indices = np.tile(np.arange(ncols, dtype=np.int32), n)
        return cls(indptr, indices, cover.ravel(), ncols=ncols)

    def subproblem(self, items):
        """f restricted to candidates ``items`` (local ids 0..len-1); values are unchanged
        because every item a candidate covers is kept as a column."""
        items = np.asarray(items, np.int64)
        if len(items) == self.n and self.ncols == self.n and np.array_equal(items, np.arange(self.n)):
            return self  # the whole ground set: no copy (saves a graph's worth of memory at level 1)
        colmap = getattr(self._scratch, "colmap", None)
        if colmap is None:
            colmap = self._scratch.colmap = np.full(self.ncols, -1, np.int64)
        ptr, idx, data, ncols = _extract(self.indptr, self.indices, self.data, items, colmap)
        return FacilityLocation(ptr, idx, data, ncols=ncols)

    def singletons(self):
        return singletons(self.indptr, self.data)

    def value(self, items):
        """f(items) from scratch."""
        cov = np.zeros(self.ncols, np.float32)
        for u in np.asarray(items, np.int64):
            commit(u, self.indptr, self.indices, self.data, cov)
        return float(cov.astype(np.float64).sum())

    def block_values(self, blocks):
        return np.array([self.value(b) for b in blocks], np.float64)
