"""Blocks of a partition scored under the paper's dense f_NN, class by class.

A kNN graph optimises f_kNN <= f_dense (issue: another function than paper 000's).
For such a partition the batches file also reports every level's minimum block
under the dense f_NN. The graph only links items of one class, so
f_dense(A) = sum_c sum_{v in c} max_{a in A, a in c} w(v, a): one (n_c, n_c)
similarity block in memory at a time. A compiled pass reads each row v once per level and
keeps v's best cover in every block (numpy's column gather + reduceat took 75 s of CPU at
ImageNet shape, this 10 s); sums run over v in row order, as numpy's did.
"""

from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _class_block_sums(sim, local, nloc):
    """acc[l, b] = sum over rows v of max over items u of block b (local[l, u] == b) of sim[v, u]."""
    levels, n = local.shape
    acc = np.zeros((levels, max(1, nloc.max())), np.float64)
    best = np.empty(acc.shape[1], np.float32)
    for lvl in range(levels):
        k = nloc[lvl]
        for v in range(n):
            best[:k] = -np.inf
            for u in range(n):
                b = local[lvl, u]
                if sim[v, u] > best[b]:
                    best[b] = sim[v, u]
            for b in range(k):
                acc[lvl, b] += np.float64(best[b])
    return acc


def dense_block_values(view, block_of, num_blocks, threads=1):
    """f_dense of every block; ``block_of[i]`` is the block of training item i
    (several labellings at once: ``block_of`` of shape (L, N) gives (L, num_blocks)).
    Classes are scored in ``threads`` threads, at most two per thread in memory, and added
    in class order (the same sums for any thread count)."""
    block_of = np.atleast_2d(np.asarray(block_of, np.int64))
    out = np.zeros((len(block_of), num_blocks), np.float64)
    pending = deque()

    def add(ids, future):
        acc = future.result()
        for lvl, uniq in enumerate(ids):
            out[lvl, uniq] += acc[lvl, : len(uniq)]

    with ThreadPoolExecutor(max(1, int(threads))) as pool:
        for rows, sim in view.blocks():
            ids, local = [], np.empty((len(block_of), len(rows)), np.int64)
            for lvl, owner in enumerate(block_of):
                uniq, local[lvl] = np.unique(owner[rows], return_inverse=True)
                ids.append(uniq)
            # sim[v, u] = w(v, u): v's best cover in a block is the max over the block's columns.
            nloc = np.array([len(i) for i in ids])
            pending.append((ids, pool.submit(_class_block_sums, np.ascontiguousarray(sim, np.float32), local, nloc)))
            if len(pending) > 2 * max(1, int(threads)):
                add(*pending.popleft())
        while pending:
            add(*pending.popleft())
    return out
