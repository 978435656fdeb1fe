"""Naive (non-lazy) Algorithm 1 on a dense weight matrix: the reference for the tests.

Every step recomputes the gain of every remaining item for the least-valued open
block. Gains are summed sequentially (np.cumsum) in the same order as the
compiled CSR kernel, so both produce bit-identical values and the partitions
can be compared exactly. ``eager_partition`` is the compiled non-lazy Algorithm 1,
the O(|V|^2)-evaluation baseline of Figure 5.
"""

import numba
import numpy as np

from layerwise.submodular.facility import commit, gain


def naive_partition(w, caps):
    """``w[v, u]`` = w(v, u) >= 0. Returns (blocks in greedy order, block values)."""
    w = np.asarray(w, np.float32).astype(np.float64)
    caps = np.asarray(caps, np.int64)
    m, n = len(caps), w.shape[1]
    cov = np.zeros((m, w.shape[0]), np.float64)
    values = np.zeros(m)
    blocks = [[] for _ in range(m)]
    taken = np.zeros(n, bool)
    for _ in range(int(caps.sum())):
        open_values = np.where([len(b) < c for b, c in zip(blocks, caps, strict=True)], values, np.inf)
        j = int(np.argmin(open_values))
        terms = np.maximum(w - cov[j][:, None], 0.0)
        gains = np.cumsum(terms, axis=0)[-1] if len(terms) else np.zeros(n)
        gains[taken] = -np.inf
        u = int(np.argmax(gains))
        blocks[j].append(u)
        taken[u] = True
        values[j] += gains[u]
        cov[j] = np.maximum(cov[j], w[:, u])
    return [np.array(b, np.int64) for b in blocks], values


@numba.njit(cache=True, nogil=True)
def _eager(indptr, indices, data, ncols, caps):
    n = len(indptr) - 1
    m = len(caps)
    cov = np.zeros((m, ncols), np.float32)
    values = np.zeros(m)
    sizes = np.zeros(m, np.int64)
    taken = np.zeros(n, np.bool_)
    evals = 0
    for _ in range(caps.sum()):
        j = -1
        for b in range(m):
            if sizes[b] < caps[b] and (j < 0 or values[b] < values[j]):
                j = b
        best, bu = -1.0, -1
        for u in range(n):  # every remaining item, every step: O(|V|^2) evaluations
            if not taken[u]:
                g = gain(u, indptr, indices, data, cov[j])
                evals += 1
                if g > best:
                    best, bu = g, u
        commit(bu, indptr, indices, data, cov[j])
        taken[bu] = True
        values[j] += best
        sizes[j] += 1
    return values, evals


def eager_partition(fl, caps):
    """Algorithm 1 without lazy evaluation (compiled): the baseline of Figure 5.
    Returns (block values, gain evaluations)."""
    return _eager(fl.indptr, fl.indices, fl.data, fl.ncols, np.asarray(caps, np.int64))
