"""Algorithm 1 (min-block greedy with lazy evaluation) and Algorithm 3 (on-the-fly queues).

At every step the block of least value among those not full takes the
remaining item of largest gain for that block (paper 000, Appendix C). Ties are
broken deterministically: the block with the smallest index, the item with the
smallest index. Lazy evaluation keeps one max-priority queue per block of
upper bounds on gains (valid by submodularity); an item is taken when its fresh
gain beats the best stale bound left in the queue.

A block's queue is split by group (the graph's components, i.e. the classes of
f_NN; queues.py): a heap per (block, group) and a winner tree over the groups'
leaves, each the group's top bound or its best item with the exact gain. f_NN
decomposes over groups, so a group's exact best stays valid until the block
takes an item of that group or another block takes that item. The root is the
exact argmax over the block's queue -- the same choice the one-heap queue makes,
so the partitions are the same item for item (checked against git 9c443b7 in
benchmarks/partition.py); a group refreshed at the root is evaluated in a run,
with its heap and coverage in cache (ImageNet-shape level 1: 2.1x less CPU, 13 %
more gain evaluations).

``method="lazy"`` initialises every queue with all singleton values (the
"ordinary" lazy evaluation; m*n entries at the start). ``method="onthefly"``
is Algorithm 3: one shared list of singleton values sorted once, a pointer per
block into it, and per-block queues that only hold items whose gain for that
block was re-evaluated. Block j's virtual queue -- its heap plus the shared
list from its pointer on -- holds exactly the entries the ordinary queue would,
so both give the same partition; only memory differs (Figure 6).

Why compiled: ``benchmarks/partition.py`` runs the same lazy Algorithm 1 with
heapq and Python loops (|V|=4000, m=20, CIFAR-100-shape knn graph): 5.76 s vs
0.25 s compiled (23x, same partition; shared 2-core machine). cProfile of the
Python version: 2.8 s in gain evaluation (small numpy calls), 1.5 s in heappop,
1.1 s in the loop itself -- interpreter overhead everywhere, nothing to vectorise,
so the whole loop is numba-compiled.
"""

from dataclasses import dataclass

import numba
import numpy as np

from layerwise.submodular.facility import commit, gain
from layerwise.submodular.queues import (
    better,
    group_lists,
    group_top,
    groups,
    heap_pop,
    heap_push,
    item,
    key,
    pack,
    tree_build,
    tree_update,
)

METHODS = ("lazy", "onthefly")
# Split queues by group only when a block takes several items of a group: a group's
# refresh then evaluates a run of its items with its heap and coverage in cache
# (ImageNet-shape level 1: 33 per class per block, 2.0x less CPU); with ~1 per group
# (flat CIFAR-100 shape) each take would refresh a new group, so one queue per block.
TAKES_PER_GROUP = 4
MAX_GROUPS = 4096  # groups of at least n / MAX_GROUPS items: bounds the m x groups arrays


@numba.njit(cache=True, nogil=True)
def _refresh(g, heap, base, hs, lp, lend, gorder, lpack, block_of, indptr, indices, data, cov, pend_u, pend_g):
    """Lazy evaluation inside one group of one block (its rows of the queue arrays): (the group's
    best item, its exact gain, evaluations, change of heap entries); item -1: the group is spent.
    Candidates are popped best bound first and evaluated; the best fresh one wins once it
    beats the best bound left. Fresh losers wait in ``pend`` and go back into the heap
    (rounded-up float32 keys) only after the choice, so a rounded key never competes with
    the exact gain it came from.
    """
    dq = 0
    evals = 0
    npend = 0
    bu = np.int64(-1)
    bg = 0.0
    while True:
        while hs[g] > 0 and block_of[item(heap[base])] >= 0:  # drop assigned items on top
            hs[g] = heap_pop(heap, base, hs[g])
            dq -= 1
        while lp[g] < lend and block_of[gorder[lp[g]]] >= 0:
            lp[g] += 1
        e = group_top(heap, base, hs[g], lpack, lp[g], lend)
        if e == 0:
            break
        u1 = item(e)
        k1 = key(e)
        if bu >= 0 and better(bg, bu, k1, u1):
            break
        if hs[g] > 0 and heap[base] == e:
            hs[g] = heap_pop(heap, base, hs[g])
            dq -= 1
        else:
            lp[g] += 1
        gu = gain(u1, indptr, indices, data, cov)
        evals += 1
        if bu < 0 or better(gu, u1, bg, bu):
            if bu >= 0:
                pend_u[npend] = bu
                pend_g[npend] = bg
                npend += 1
            bu = u1
            bg = gu
        else:
            pend_u[npend] = u1
            pend_g[npend] = gu
            npend += 1
    for p in range(npend):
        hs[g] = heap_push(heap, base, hs[g], pack(pend_g[p], pend_u[p]))
    return bu, bg, evals, dq + npend


@numba.njit(cache=True, nogil=True)
def _bound(g, q):
    """Leaf g becomes the top bound of group g's queue (after the block took the group's best)."""
    heap, hs, lp, tree, leaves, leafu, leafv, exact, goff, gorder, lpack = q
    e = group_top(heap, goff[g], hs[g], lpack, lp[g], goff[g + 1])
    leafu[g] = item(e) if e != 0 else -1
    leafv[g] = key(e)
    exact[g] = False
    tree_update(tree, leaves, g, leafu, leafv)


@numba.njit(cache=True, nogil=True)
def _best(q, block_of, indptr, indices, data, cov, pend_u, pend_g):
    """Block's best remaining item: (item, group, exact gain, evaluations, change of heap entries).

    A group's leaf is either its top bound or, once the group reached the root and was
    refreshed, its best item with the exact gain; an exact leaf stays valid until the
    block takes an item of that group (the caller then calls _bound) or another block
    takes that item. An exact leaf at the root precedes every bound, so it is the exact
    argmax over the block's queue; a bound at the root is refreshed, like a stale key. (Refreshing
    only while the group's bounds beat the runner-up's leaf evaluates as few items as one
    heap per block does, but switching groups every few evaluations cost 2x more CPU.)
    """
    heap, hs, lp, tree, leaves, leafu, leafv, exact, goff, gorder, lpack = q
    evals = 0
    dq = 0
    while True:
        g = tree[1]
        u = leafu[g]
        if u < 0 or (exact[g] and block_of[u] < 0):
            return u, g, leafv[g], evals, dq
        u, gu, e, d = _refresh(g, heap, goff[g], hs, lp, goff[g + 1], gorder, lpack, block_of,
                               indptr, indices, data, cov, pend_u, pend_g)
        evals += e
        dq += d
        leafu[g] = u
        leafv[g] = gu
        exact[g] = True
        tree_update(tree, leaves, g, leafu, leafv)


@numba.njit(cache=True, nogil=True)
def _state(n, ncols, caps):
    """Empty partition state of m blocks over n items: the kernels' shared start."""
    m = len(caps)
    total = 0
    for c in caps:
        total += c
    cov = np.zeros((m, ncols), np.float32)
    values = np.zeros(m, np.float64)
    sizes = np.zeros(m, np.int64)
    block_of = np.full(n, -1, np.int64)
    seq = np.empty(total, np.int64)
    return m, total, cov, values, sizes, block_of, seq


@numba.njit(cache=True, nogil=True)
def _queues(m, order, sing, group_of, ngroups, onthefly):
    """Every block's queues: a heap and a shared-list pointer per group, the groups' leaves
    (top bound or exact best) and the winner tree over them. Block j's heap for group g
    lives in heap[j, goff[g]:goff[g+1]]; untouched pages cost no memory (on-the-fly)."""
    n = len(order)
    goff, gorder, lpack = group_lists(order, group_of, ngroups, sing)
    leaves = 1
    while leaves < ngroups:
        leaves *= 2
    heap = np.empty((m, n), np.uint64)
    hs = np.zeros((m, ngroups), np.int64)
    lp = np.empty((m, ngroups), np.int64)
    tree = np.zeros((m, 2 * leaves), np.int64)
    leafu = np.full((m, ngroups + 1), -1, np.int64)  # column ngroups: the empty padding leaf
    leafv = np.zeros((m, ngroups + 1), np.float64)
    exact = np.zeros((m, ngroups + 1), np.bool_)
    for j in range(m):
        for g in range(ngroups):
            if onthefly:
                lp[j, g] = goff[g]
            else:  # ordinary lazy: every queue starts with all singletons (sorted is a valid heap)
                heap[j, goff[g]:goff[g + 1]] = lpack[goff[g]:goff[g + 1]]
                hs[j, g] = goff[g + 1] - goff[g]
                lp[j, g] = goff[g + 1]
            if goff[g + 1] > goff[g]:
                leafu[j, g] = item(lpack[goff[g]])
                leafv[j, g] = key(lpack[goff[g]])
        tree_build(tree[j], leaves, ngroups, leafu[j], leafv[j])
    return goff, gorder, lpack, leaves, heap, hs, lp, tree, leafu, leafv, exact


@numba.njit(cache=True, nogil=True)
def _block(j, qs):
    goff, gorder, lpack, leaves, heap, hs, lp, tree, leafu, leafv, exact = qs
    return heap[j], hs[j], lp[j], tree[j], leaves, leafu[j], leafv[j], exact[j], goff, gorder, lpack


@numba.njit(cache=True, nogil=True)
def _partition(indptr, indices, data, ncols, caps, sing, order, onthefly):
    n = len(indptr) - 1
    m = len(caps)
    group_of, ngroups = groups(indptr, indices, data, ncols, max(1, n // MAX_GROUPS))
    if caps.sum() < TAKES_PER_GROUP * m * ngroups:  # few items of a group per block: one queue per block
        group_of[:] = 0
        ngroups = 1
    m, total, cov, values, sizes, block_of, seq = _state(n, ncols, caps)
    qs = _queues(m, order, sing, group_of, ngroups, onthefly)
    pend_u = np.empty(n, np.int64)
    pend_g = np.empty(n, np.float64)
    qsum = qs[5].sum()
    evals = 0
    trace = np.empty(total, np.int64)
    stop_step = -1
    stop_sizes = np.zeros(m, np.int64)
    for step in range(total):
        j = -1
        for b in range(m):
            if sizes[b] < caps[b] and (j < 0 or values[b] < values[j]):
                j = b
        q = _block(j, qs)
        u, g, gu, e, dq = _best(q, block_of, indptr, indices, data, cov[j], pend_u, pend_g)
        commit(u, indptr, indices, data, cov[j])
        block_of[u] = j
        values[j] += gu
        sizes[j] += 1
        seq[step] = u
        _bound(g, q)
        evals += e
        qsum += dq
        trace[step] = qsum
        if stop_step < 0:  # Appendix C: first time a full block attains the minimum
            mn = values.min()
            for b in range(m):
                if sizes[b] == caps[b] and values[b] == mn:
                    stop_step = step + 1
                    stop_sizes[:] = sizes
                    break
    return block_of, seq, values, sizes, stop_step, stop_sizes, trace, evals


@dataclass
class Partition:
    """Result of one call: blocks in greedy order (local item ids) and the Appendix C record."""

    blocks: list
    values: np.ndarray  # f(A_j), accumulated gains
    stop_step: int  # number of assignments at the early-stop point
    stop_sizes: np.ndarray  # |A-bar_j| there
    trace: np.ndarray  # sum of queue sizes after every assignment
    evals: int  # gain evaluations
    shared_list: int  # entries of the shared singleton list (on-the-fly), else 0

    @property
    def t(self):
        """t(A) = min_j |A-bar_j| (Definition 6)."""
        return int(self.stop_sizes.min())

    @property
    def peak_queue(self):
        """Peak queue entries, the shared list included; the initial m*n for ordinary lazy."""
        init = self.trace[0] + 1 if len(self.trace) else 0
        return int(max(self.trace.max(initial=0), init) + self.shared_list)


def singleton_order(sing):
    """Items sorted by singleton value, best first, ties by smaller index."""
    return np.lexsort((np.arange(len(sing)), -sing)).astype(np.int64)


def min_block_greedy(fl, caps, method="lazy", candidates=None):
    """Partition items of ``fl`` into blocks of capacities ``caps`` (sum <= n) by Algorithm 1/3.
    ``candidates`` (sorted item ids, default all): only these enter the queues, the same
    choices as on ``fl.subproblem(candidates)`` (ids keep their order) with global ids."""
    caps = np.asarray(caps, np.int64)
    size = fl.n if candidates is None else len(candidates)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if len(caps) == 0 or caps.min() < 1 or caps.sum() > size:
        raise ValueError(f"capacities {caps.tolist()} do not fit {size} items")
    sing = fl.singletons()
    order = singleton_order(sing)
    if candidates is not None:
        keep = np.zeros(fl.n, bool)
        keep[candidates] = True
        order = order[keep[order]]
    onthefly = method == "onthefly"
    block_of, seq, values, _, stop, stop_sizes, trace, evals = _partition(
        fl.indptr, fl.indices, fl.data, fl.ncols, caps, sing, order, onthefly
    )
    owner = block_of[seq]
    blocks = [seq[owner == j] for j in range(len(caps))]
    return Partition(blocks, values, int(stop), stop_sizes, trace, int(evals), size if onthefly else 0)


def greedy_select(fl, k, candidates=None):
    """Classic lazy greedy: k items maximising f (one block of capacity k), among ``candidates``."""
    res = min_block_greedy(fl, [k], "lazy", candidates)
    return res.blocks[0], float(res.values[0])
