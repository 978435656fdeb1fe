r"""A posteriori upper bounds on OPT for robust partitioning of f_NN (no anchor has these).

OPT_m = max over partitions pi of V into m blocks (any capacities) of min_i f(pi_i).
Two bounds, both valid for every capacity vector; the certificate is their minimum
and the achieved ratio is min_i f(A_i) / certificate (a lower bound on the true
approximation ratio of the partition found).

**Top-m averaging bound.** For facility location f(A) = sum_v max_{a in A} w(v, a)
and any partition pi_1..pi_m,

    min_i f(pi_i) <= (1/m) sum_i f(pi_i) = (1/m) sum_v sum_i max_{a in pi_i} w(v, a)
                  <= (1/m) sum_v (sum of the m largest entries of w(v, .)),

because the blocks are disjoint, so the m maxima for a fixed v are attained at m
distinct items a, whose weights sum to at most the m largest weights of row v.
(With fewer than m non-zero weights the whole row sum is used.) It never exceeds
the mean singleton sum (1/m) sum_u f({u}), which is the same argument with
subadditivity instead of disjoint maxima.

**Lemma 2 bound.** Paper 000, Lemma 2: OPT <= max_{Y subset V \ X, |Y| <= k} f(Y) for
any X with |X| = m - 1, k = the largest capacity. We take X = the m - 1 items of
largest singleton value and bound the inner maximum g* on V' = V \ X by
Nemhauser et al. (1978): after lazy greedy picks S with |S| = k,
g* <= f(S) / (1 - 1/e), and for every monotone submodular f and any Y with |Y| <= k,
f(Y) <= f(S) + sum_{y in Y} f(y | S) <= f(S) + (sum of the k largest gains f(.|S))
(submodularity and monotonicity); also g* <= sum of the k largest singletons on V'.
"""

import numba
import numpy as np
import scipy.sparse as sp

from layerwise.submodular.facility import all_gains, commit
from layerwise.submodular.minblock import greedy_select


@numba.njit(cache=True, nogil=True)
def _topm_column_sums(indptr, data, m):
    total = 0.0
    for v in range(len(indptr) - 1):
        col = data[indptr[v] : indptr[v + 1]]
        if len(col) <= m:
            total += col.astype(np.float64).sum()
        else:
            total += np.sort(col)[len(col) - m :].astype(np.float64).sum()
    return total


def topm_bound(fl, m):
    """(1/m) sum_v (sum of the m largest w(v, .)) >= OPT_m."""
    cover = sp.csr_matrix((fl.data, fl.indices, fl.indptr), shape=(fl.n, fl.ncols))
    by_v = cover.tocsc()  # column v lists w(v, u) for every u covering v
    by_v.sort_indices()
    return _topm_column_sums(by_v.indptr.astype(np.int64), by_v.data.astype(np.float32), int(m)) / m


def _topk_sum(x, k):
    k = min(k, len(x))
    return float(np.sort(x)[len(x) - k :].sum()) if k > 0 else 0.0


def lemma2_bound(fl, m, k):
    """Lemma 2 with X = the m-1 best singletons and the greedy bounds of Nemhauser et al."""
    sing = fl.singletons()
    order = np.lexsort((np.arange(fl.n), -sing))
    rest = np.sort(order[m - 1 :])
    if len(rest) == 0:
        return 0.0
    k = min(k, len(rest))
    sub = fl.subproblem(rest)
    chosen, value = greedy_select(sub, k)
    cov = np.zeros(sub.ncols, np.float32)
    for u in chosen:
        commit(u, sub.indptr, sub.indices, sub.data, cov)
    gains = all_gains(sub.indptr, sub.indices, sub.data, cov)
    return min(value / (1 - 1 / np.e), value + _topk_sum(gains, k), _topk_sum(sub.singletons(), k))


def certificate(fl, caps):
    """Upper bound on OPT for partitioning all items of ``fl`` into blocks of ``caps``."""
    m = len(caps)
    return min(topm_bound(fl, m), lemma2_bound(fl, m, int(max(caps))))
