"""Exact robust partitioning on tiny instances: enumeration and the Appendix E binary program.

Both maximise min_i f(A_i) over partitions of n items into m blocks of size k
(n = m k, the setting of Theorem 1); the binary program also takes unequal
capacities. They exist to check Algorithms 1-3 and the certificate; enumeration
is exponential, use n <= 12; HiGHS solves the program up to n ~ 16 in seconds.
"""

import itertools

import highspy
import numpy as np


def enumerate_opt(value, n, k):
    """max over balanced partitions of min block value; ``value(tuple_of_items)`` is f."""
    if n % k:
        raise ValueError(f"n={n} is not a multiple of k={k}")
    cache = {c: value(c) for c in itertools.combinations(range(n), k)}
    best = -np.inf

    def rec(remaining, current_min):
        nonlocal best
        if not remaining:
            best = max(best, current_min)
            return
        if current_min <= best:  # cannot improve: the min only decreases
            return
        first, rest = remaining[0], remaining[1:]
        for others in itertools.combinations(rest, k - 1):
            block = (first,) + others
            left = tuple(x for x in rest if x not in others)
            rec(left, min(current_min, cache[block]))

    rec(tuple(range(n)), np.inf)
    return float(best)


def milp_opt(w, k, modular=None):
    """Appendix E with HiGHS. Facility location from ``w[v, a]``, or a modular f from
    per-item weights ``modular``. ``k``: the block size (n = m k, constraint (21)) or a
    list of block capacities summing to n. Item 0 is put in the first block of the
    largest capacity to break the symmetry between interchangeable blocks."""
    n = len(modular) if modular is not None else w.shape[1]
    caps = [k] * (n // k) if np.isscalar(k) else [int(c) for c in k]
    if sum(caps) != n:
        raise ValueError(f"capacities {caps} do not sum to n={n}")
    m = len(caps)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.0)
    col = 0

    def var(lb, ub, integer=False):
        nonlocal col
        h.addVar(lb, ub)
        if integer:
            h.changeColIntegrality(col, highspy.HighsVarType.kInteger)
        col += 1
        return col - 1

    inf = highspy.kHighsInf
    z = var(-inf, inf)
    h.changeColCost(z, 1.0)
    x = np.array([[var(0, 1, True) for _ in range(m)] for _ in range(n)])
    for a in range(n):  # partition constraint (20)
        h.addRow(1, 1, m, x[a].astype(np.int32), np.ones(m))
    for i in range(m):  # mini-batch size constraint (21)
        h.addRow(caps[i], caps[i], n, x[:, i].astype(np.int32), np.ones(n))
    h.changeColBounds(x[0, int(np.argmax(caps))], 1, 1)
    for i in range(m):
        terms = {}
        if modular is not None:
            for a in range(n):
                terms[x[a, i]] = float(modular[a])
        else:
            for v in range(w.shape[0]):  # y[v,a,i] <= x[a,i], sum_a y[v,a,i] <= 1
                ys = []
                for a in np.flatnonzero(w[v] > 0):
                    y = var(0, 1)
                    h.addRow(-inf, 0, 2, np.array([y, x[a, i]], np.int32), np.array([1.0, -1.0]))
                    ys.append(y)
                    terms[y] = float(w[v, a])
                if ys:
                    h.addRow(-inf, 1, len(ys), np.array(ys, np.int32), np.ones(len(ys)))
        idx = np.array([z] + list(terms), np.int32)
        val = np.array([1.0] + [-c for c in terms.values()])
        h.addRow(-inf, 0, len(idx), idx, val)  # z <= f(X[:, i])
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"HiGHS did not reach optimality: {h.getModelStatus()}")
    return float(h.getInfo().objective_function_value)
