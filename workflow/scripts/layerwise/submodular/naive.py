"""Naive (non-lazy) Algorithm 1 on a dense weight matrix: the reference for the tests.

Every step recomputes the gain of every remaining item for the least-valued open
block. Gains are summed sequentially (np.cumsum) in the same order as the
compiled CSR kernel, so both produce bit-identical values and the partitions
can be compared exactly.
"""

import numpy as np


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
        open_values = np.where([len(b) < c for b, c in zip(blocks, caps)], values, np.inf)
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
