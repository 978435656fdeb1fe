"""Algorithm 2: hierarchical robust partitioning with block sizes k_1 > ... > k_r = batch size.

Capacities are fixed bottom-up so that nothing is dropped or repeated: the
training set of n items gets B = ceil(n / k_r) batches whose capacities differ
by at most one; a level-i block is a run of k_i / k_r consecutive batches (the
last run may be shorter), so every level nests in the one above. Algorithm 1
(or 3) then runs top-down inside every block of the previous level.
"""

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from layerwise.errors import InputError
from layerwise.submodular.minblock import min_block_greedy

log = logging.getLogger(__name__)


def leaf_capacities(n, batch_size):
    """B = ceil(n / batch_size) capacities differing by at most one, summing to n."""
    num = -(-n // batch_size)
    caps = np.full(num, n // num, np.int64)
    caps[: n % num] += 1
    return caps


def check_levels(n, levels, batch_size):
    """Validate config: n items, upper levels ``levels`` (k_1..k_{r-1}), batch size k_r."""
    if batch_size < 1 or batch_size > n:
        raise InputError(
            f"batches.batch_size={batch_size} must be between 1 and the training set size {n}."
        )
    sizes = list(levels) + [batch_size]
    for i in range(len(sizes) - 1):
        key = f"batches.levels[{i}]"
        if sizes[i] <= sizes[i + 1]:
            raise InputError(
                f"{key}={sizes[i]} must be larger than the next level size {sizes[i + 1]} "
                "(levels decrease strictly down to batches.batch_size)."
            )
        if sizes[i] % sizes[i + 1]:
            raise InputError(
                f"{key}={sizes[i]} is not a multiple of the next level size {sizes[i + 1]}; "
                "blocks must split into whole sub-blocks (e.g. 1024, 512, 128)."
            )
    if levels and levels[0] >= n:
        raise InputError(
            f"batches.levels[0]={levels[0]} does not fit: it must be smaller than the "
            f"training set size {n} (drop that level or lower it)."
        )
    return sizes


@dataclass
class LevelStats:
    block_size: int
    num_blocks: int = 0
    calls: int = 0
    tau: int = -1  # min over calls of t(A); -1 when no call split anything
    min_block_value: float = np.inf
    peak_queue: int = 0
    evals: int = 0
    seconds: float = 0.0


@dataclass
class Hierarchy:
    batches: list  # arrays of item ids (global), greedy order inside each batch
    values: np.ndarray  # f of every batch
    levels: list = field(default_factory=list)

    @property
    def tau(self):
        taus = [s.tau for s in self.levels if s.tau >= 0]
        return min(taus) if taus else -1


def theorem2_factor(tau, r, batch_size, n):
    """((tau-1)/(2 tau-1))^r * k_r/|V| (Theorem 2; meaningful for tau >= 2)."""
    if tau < 2:
        return 0.0
    return ((tau - 1) / (2 * tau - 1)) ** r * batch_size / n


def theorem1_factor(m):
    """(e-1)/((e-1) m + 1) (Theorem 1)."""
    e1 = np.e - 1
    return e1 / (e1 * m + 1)


def partition(fl, levels, batch_size, method="onthefly"):
    """Algorithm 2 over all items of ``fl``; ``levels=[]`` is the flat Algorithm 1/3."""
    n = fl.n
    sizes = check_levels(n, levels, batch_size)
    leaf_caps = leaf_capacities(n, batch_size)
    blocks = [(np.arange(n, dtype=np.int64), 0, len(leaf_caps), None)]
    stats = []
    for k in sizes:
        group = k // batch_size  # batches per block at this level
        st = LevelStats(block_size=k)
        start = time.perf_counter()
        new = []
        for items, l0, l1, value in tqdm(blocks, desc=f"level k={k}", mininterval=5, disable=None, leave=False):
            cuts = list(range(l0, l1, group)) + [l1]
            if len(cuts) == 2:  # one child: nothing to split at this level
                new.append((items, l0, l1, fl.value(items) if value is None else value))
                continue
            caps = [int(leaf_caps[a:b].sum()) for a, b in zip(cuts[:-1], cuts[1:])]
            res = min_block_greedy(fl.subproblem(items), caps, method)
            st.calls += 1
            st.tau = res.t if st.tau < 0 else min(st.tau, res.t)
            st.peak_queue = max(st.peak_queue, res.peak_queue)
            st.evals += res.evals
            for c, blk in enumerate(res.blocks):
                new.append((items[blk], cuts[c], cuts[c + 1], float(res.values[c])))
        blocks = new
        st.num_blocks = len(blocks)
        st.min_block_value = min(v for *_, v in blocks)
        st.seconds = time.perf_counter() - start
        log.info("level k=%d: %d blocks, %d calls, tau=%d, min block value %.6g, %.2fs",
                 k, st.num_blocks, st.calls, st.tau, st.min_block_value, st.seconds)
        stats.append(st)
    return Hierarchy([b[0] for b in blocks], np.array([b[3] for b in blocks]), stats)
