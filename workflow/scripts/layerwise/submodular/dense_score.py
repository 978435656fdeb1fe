"""Blocks of a partition scored under the paper's dense f_NN, class by class.

A kNN graph optimises f_kNN <= f_dense (issue: another function than paper 000's).
For such a partition the batches file also reports every level's minimum block
under the dense f_NN. The graph only links items of one class, so
f_dense(A) = sum_c sum_{v in c} max_{a in A, a in c} w(v, a): one (n_c, n_c)
similarity block in memory at a time, each block's columns reduced with a max.
"""

import numpy as np


def dense_block_values(view, block_of, num_blocks):
    """f_dense of every block; ``block_of[i]`` is the block of training item i
    (several labellings at once: ``block_of`` of shape (L, N) gives (L, num_blocks))."""
    block_of = np.atleast_2d(np.asarray(block_of, np.int64))
    out = np.zeros((len(block_of), num_blocks), np.float64)
    for rows, sim in view.blocks():
        for lvl, owner in enumerate(block_of):
            blk = owner[rows]
            order = np.argsort(blk, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(blk[order]) != 0])
            # sim[v, u] = w(v, u): the max over a block's columns is v's best cover in that block.
            best = np.maximum.reduceat(sim[:, order], starts, axis=1)
            out[lvl, blk[order][starts]] += best.sum(axis=0, dtype=np.float64)
    return out
