r"""A posteriori upper bounds on OPT for robust partitioning of f_NN (no anchor has these).

OPT_m = max over partitions pi of V into m blocks (any capacities) of min_i f(pi_i).
Three bounds, all valid for every capacity vector; the certificate is their minimum
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

**Smallest-blocks bound (capacity-aware Lemma 2).** Paper 000, Lemma 2 says
OPT <= max_{Y subset V \ X, |Y| <= k} f(Y) for any X with |X| = m - 1 when every block
has capacity k. With capacities c_(1) <= ... <= c_(m) the same argument gives, for
every j, OPT <= max_{Y subset V \ X, |Y| <= c_(j)} f(Y) for any X with |X| = j - 1: the
j blocks of least capacity are disjoint, so one of them avoids X, and its value
bounds the optimum's minimum. j = 1 is OPT <= max_{|Y| <= k_min} f(Y); j = m is Lemma 2
with k = k_max. We use j = the number of blocks of least capacity (k = k_min, the
most items removed at that k) and j = m, with X = the j - 1 items of largest
singleton value.

**Inner maximum.** g* = max_{|Y| <= k} g(Y) on V' = V \ X is bounded from one run of
lazy greedy S_0 subset S_1 ... subset S_k: g* <= g(S_k) / (1 - (1 - 1/k)^k) (Nemhauser et
al. 1978; tighter than 1 - 1/e at finite k), and at every prefix S_t,
g* <= g(S_t) + (sum of the k largest gains g(.|S_t)) (Minoux 1978; submodularity and
monotonicity). The prefix bound is taken at t = 0 (the k largest singletons),
1, 2, 4, ... and k.
"""

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from layerwise.submodular.facility import all_gains, commit
from layerwise.submodular.minblock import greedy_select

# Entries of w transposed at a time by topm_bound: 128 MiB of float32 whatever the graph's size
# (a whole transposed copy, with scipy's, was 3.5 GB at ImageNet shape, where the dense classes hold 289 M entries).
_TOPM_CHUNK = 1 << 25


@numba.njit(cache=True, nogil=True)
def _column_offsets(indices, ncols):
    """CSC column pointer of the CSR graph (entries per covered item v)."""
    ptr = np.zeros(ncols + 1, np.int64)
    for c in indices:
        ptr[c + 1] += 1
    for v in range(ncols):
        ptr[v + 1] += ptr[v]
    return ptr


@numba.njit(cache=True, nogil=True)
def _topm_columns(indptr, indices, data, colptr, v0, v1, ms, buf, totals):
    """Adds the top-m sums of columns v0..v1-1 to ``totals`` (one per m in ``ms``), in column
    order; a column's entries are gathered in row order (what scipy's tocsc gave) and sorted
    once for every m, so each sum is bit-identical to a pass per m."""
    base = colptr[v0]
    fill = colptr[v0:v1] - base
    for u in range(len(indptr) - 1):
        for p in range(indptr[u], indptr[u + 1]):
            c = indices[p]
            if c >= v0 and c < v1:
                buf[fill[c - v0]] = data[p]
                fill[c - v0] += 1
    for v in range(v0, v1):
        col = buf[colptr[v] - base : colptr[v + 1] - base]
        whole = col.astype(np.float64).sum()
        srt = np.sort(col) if len(col) > ms.min() else col
        for i in range(len(ms)):
            if len(col) <= ms[i]:
                totals[i] += whole
            else:
                totals[i] += srt[len(col) - ms[i] :].astype(np.float64).sum()


def topm_bounds(fl, ms):
    """topm_bound for every m in ``ms`` from one chunked transpose (one per level of a hierarchy)."""
    ms = np.asarray(ms, np.int64)
    colptr = _column_offsets(fl.indices, fl.ncols)
    buf = np.empty(min(int(colptr[-1]), max(_TOPM_CHUNK, int(np.diff(colptr).max(initial=0)))), np.float32)
    totals = np.zeros(len(ms), np.float64)
    v0 = 0
    while v0 < fl.ncols:
        v1 = min(fl.ncols, max(v0 + 1, int(np.searchsorted(colptr, colptr[v0] + len(buf), side="right")) - 1))
        _topm_columns(fl.indptr, fl.indices, fl.data, colptr, v0, v1, ms, buf, totals)
        v0 = v1
    return [float(t) / m for t, m in zip(totals, ms, strict=True)]


def topm_bound(fl, m):
    """(1/m) sum_v (sum of the m largest w(v, .)) >= OPT_m; columns transposed a chunk at a time."""
    return topm_bounds(fl, [m])[0]


def _topk_sum(x, k):
    k = min(k, len(x))
    return float(np.sort(x)[len(x) - k :].sum()) if k > 0 else 0.0


def _prefixes(k):
    """0, 1, 2, 4, ..., k: the greedy prefixes where Minoux's bound is evaluated."""
    out = [0] + [1 << i for i in range(max(k, 1).bit_length()) if (1 << i) < k] + [k]
    return sorted(set(out))


@numba.njit(cache=True, nogil=True)
def _first_seen_columns(indptr, indices, items, ncols):
    """Columns the rows ``items`` cover, in first-seen order: the column order of
    ``fl.subproblem(items)``, so sums over a coverage vector add in the same order."""
    seen = np.zeros(ncols, np.bool_)
    out = np.empty(ncols, np.int64)
    k = 0
    for u in items:
        for p in range(indptr[u], indptr[u + 1]):
            c = indices[p]
            if not seen[c]:
                seen[c] = True
                out[k] = c
                k += 1
    return out[:k]


def greedy_upper_bound(fl, k, candidates=None):
    """Upper bound on max_{|Y| <= k, Y subset candidates} f(Y) from one lazy greedy run (see the
    module doc). ``candidates`` (sorted item ids, default all) are searched in place: the same
    numbers as on ``fl.subproblem(candidates)``, without its copy of the graph."""
    size = fl.n if candidates is None else len(candidates)
    k = min(int(k), size)
    if k <= 0:
        return 0.0
    chosen, value = greedy_select(fl, k, candidates)
    best = value / (1 - (1 - 1 / k) ** k)
    cov = np.zeros(fl.ncols, np.float32)
    cols = None if candidates is None else _first_seen_columns(fl.indptr, fl.indices, candidates, fl.ncols)
    done = 0
    for t in _prefixes(k):
        for u in chosen[done:t]:
            commit(u, fl.indptr, fl.indices, fl.data, cov)
        done = t
        gains = all_gains(fl.indptr, fl.indices, fl.data, cov)
        covered = cov if cols is None else cov[cols]
        if candidates is not None:
            gains = gains[candidates]
        best = min(best, float(covered.astype(np.float64).sum()) + _topk_sum(gains, k))
    return best


def lemma2_bound(fl, j, k):
    r"""OPT <= max_{Y subset V \ X, |Y| <= k} f(Y) with X = the j - 1 best singletons."""
    sing = fl.singletons()
    order = np.lexsort((np.arange(fl.n), -sing))
    rest = np.sort(order[j - 1 :])
    if len(rest) == 0:
        return 0.0
    return greedy_upper_bound(fl, min(k, len(rest)), rest)


def certificate_parts(fl, caps):
    """The three upper bounds on OPT for blocks of capacities ``caps`` (all valid)."""
    return certificate_parts_many(fl, [caps])[0]


def certificate_parts_many(fl, caps_list, threads=1):
    """certificate_parts for several capacity vectors (the levels of a hierarchy): one top-m pass
    for all, the greedy bounds in ``threads`` threads (compiled kernels release the GIL); the
    same numbers as one vector at a time."""
    shapes = []
    for caps in caps_list:
        caps = np.asarray(caps, np.int64)
        shapes.append((len(caps), int(caps.min()), int(caps.max()), int((caps == caps.min()).sum())))
    with ThreadPoolExecutor(max(1, int(threads))) as pool:
        topm = pool.submit(topm_bounds, fl, [m for m, *_ in shapes])
        kmin = [pool.submit(lemma2_bound, fl, j, lo) for _, lo, _, j in shapes]
        kmax = [None if hi == lo else pool.submit(lemma2_bound, fl, m, hi) for m, lo, hi, _ in shapes]
        out = []
        for t, a, b in zip(topm.result(), kmin, kmax, strict=True):
            parts = {"topm": t, "kmin": a.result()}
            parts["lemma2"] = parts["kmin"] if b is None else b.result()
            out.append(parts)
    return out


def certificate(fl, caps):
    """Upper bound on OPT for partitioning all items of ``fl`` into blocks of ``caps``."""
    return min(certificate_parts(fl, caps).values())
