"""GreedSat (Wei, Iyer and Bilmes, NIPS 2015, Algorithm "GreedSat") with block capacities.

Robust partitioning max_pi min_j f(A_j) through the saturated surrogate
F^c(pi) = (1/m) sum_j min(f(A_j), c): binary search on the level c, and for each c
greedily maximise F^c (the submodular-welfare greedy: the (item, block) pair of
largest truncated gain min(f(u | A_j), c - f(A_j)) among open blocks); c is
feasible when F^c(pi^c) >= alpha c. GreedSat returns pi^c of the largest feasible c.

Adaptation to mini-batches (the paper's version has no capacities): a block takes
items only up to its capacity, and once no open block has a positive truncated
gain (all saturated) the remaining items are placed by Algorithm 1's rule (the
least-valued open block takes its best item), so every item lands in a batch of
the same capacities as robust-flat's. Each block keeps Algorithm 3's lazy queues split by
group (minblock, queues): a best item per group, valid until the block takes an item of that group or
another block takes that item, so looking at every open block each step is cheap.
The search starts from c_max = the certificate (an upper bound on OPT).
"""

from dataclasses import dataclass

import numba
import numpy as np

from layerwise.submodular.certificate import certificate
from layerwise.submodular.facility import commit
from layerwise.submodular.minblock import MAX_GROUPS, _best, _block, _bound, _queues, _state, singleton_order
from layerwise.submodular.queues import groups

ALPHA = 0.5  # the paper's choice of alpha for a 1/2-approximate welfare greedy


@numba.njit(cache=True, nogil=True)
def _saturate(indptr, indices, data, ncols, caps, sing, order, c):
    n = len(indptr) - 1
    group_of, ngroups = groups(indptr, indices, data, ncols, max(1, n // MAX_GROUPS))
    m, total, cov, values, sizes, block_of, seq = _state(n, ncols, caps)
    qs = _queues(m, order, sing, group_of, ngroups, True)
    pend_u = np.empty(n, np.int64)
    pend_g = np.empty(n, np.float64)
    evals = 0
    qsum = 0
    peak = 0
    for step in range(total):
        j = -1
        jt = 0.0
        ju = np.int64(-1)
        jgroup = np.int64(-1)
        jg = 0.0
        for b in range(m):  # phase 1: largest truncated gain among open, unsaturated blocks
            if sizes[b] >= caps[b] or values[b] >= c:
                continue
            q = _block(b, qs)
            u, g, gu, e, d = _best(q, block_of, indptr, indices, data, cov[b], pend_u, pend_g)
            evals += e
            qsum += d
            t = min(gu, c - values[b])
            if t > jt:
                j, jt, ju, jgroup, jg = b, t, u, g, gu
        if j < 0:  # phase 2: every open block saturated -- Algorithm 1's rule
            for b in range(m):
                if sizes[b] < caps[b] and (j < 0 or values[b] < values[j]):
                    j = b
            q = _block(j, qs)
            ju, jgroup, jg, e, d = _best(q, block_of, indptr, indices, data, cov[j], pend_u, pend_g)
            evals += e
            qsum += d
        commit(ju, indptr, indices, data, cov[j])
        block_of[ju] = j
        values[j] += jg
        sizes[j] += 1
        seq[step] = ju
        q = _block(j, qs)
        _bound(jgroup, q)
        if qsum > peak:
            peak = qsum
    return block_of, seq, values, evals, peak


@dataclass
class SatResult:
    blocks: list  # item ids per block, in the order they were added
    values: np.ndarray
    level: float  # the c of the returned partition
    calls: int  # greedy passes of the binary search
    evals: int
    peak_queue: int  # heap entries plus the shared singleton list


def greedsat(fl, caps, alpha=ALPHA, rel_tol=0.01, max_passes=20):
    """GreedSat on ``fl`` with block capacities ``caps`` (sum = fl.n)."""
    caps = np.asarray(caps, np.int64)
    sing = fl.singletons()
    order = singleton_order(sing)
    hi, lo = certificate(fl, caps), 0.0
    best, passes, evals, peak = None, 0, 0, 0

    def run(c):
        nonlocal passes, evals, peak
        out = _saturate(fl.indptr, fl.indices, fl.data, fl.ncols, caps, sing, order, c)
        passes, evals, peak = passes + 1, evals + out[3], max(peak, out[4])
        return out

    while hi - lo > rel_tol * hi and passes < max_passes:
        c = 0.5 * (lo + hi)
        out = run(c)
        if np.minimum(out[2], c).mean() < alpha * c:
            hi = c
        else:
            lo, best = c, (c, out)
    if best is None:  # no level passed: c = 0 is Algorithm 1 itself
        best = (0.0, run(0.0))
    c, (block_of, seq, values, _, _) = best
    owner = block_of[seq]
    blocks = [seq[owner == j] for j in range(len(caps))]
    return SatResult(blocks, values, c, passes, int(evals), int(peak) + fl.n)
