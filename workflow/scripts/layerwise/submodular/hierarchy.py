"""Algorithm 2: hierarchical robust partitioning with block sizes k_1 > ... > k_r = batch size.

Capacities are fixed first so that nothing is dropped or repeated and no block
is a runt: the n training items get B = ceil(n / k_r) batches whose capacities
differ by at most one item. Level 1 has M_1 = ceil(B / (k_1 / k_r)) blocks (so
none holds more than k_1 items) and every level-i block splits into
m_i = k_i / k_{i+1} children; batch counts are split as evenly as possible at
every step, so at every level the blocks' batch counts differ by at most one
(an even split of counts q or q+1 into m parts gives parts floor(q/m) .. ceil((q+1)/m),
which differ by at most one). When k_i | n everything divides and the blocks
are exactly the paper's |V|/k_i blocks of size k_i. Algorithm 1 (or 3) then
runs top-down inside every block of the previous level; the independent calls
of one level run in parallel threads (the compiled kernels release the GIL).
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
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


def even_split(total, parts):
    """``parts`` non-negative integers differing by at most one, summing to ``total`` (first ones larger)."""
    out = np.full(parts, total // parts, np.int64)
    out[: total % parts] += 1
    return out


def check_levels(n, levels, batch_size, key="batches"):
    """Validate config: n items, upper levels ``levels`` (k_1..k_{r-1}), batch size k_r.
    ``key`` names the config section in messages (batches or batches.datasets.<name>)."""
    if batch_size < 1 or batch_size > n:
        raise InputError(
            f"{key}.batch_size={batch_size} must be between 1 and the training set size {n}."
        )
    sizes = list(levels) + [batch_size]
    for i in range(len(sizes) - 1):
        name = f"{key}.levels[{i}]"
        if sizes[i] <= sizes[i + 1]:
            raise InputError(
                f"{name}={sizes[i]} must be larger than the next level size {sizes[i + 1]} "
                f"(levels decrease strictly down to {key}.batch_size)."
            )
        if sizes[i] % sizes[i + 1]:
            raise InputError(
                f"{name}={sizes[i]} is not a multiple of the next level size {sizes[i + 1]}; "
                "blocks must split into whole sub-blocks (e.g. 1024, 512, 128)."
            )
    if levels and levels[0] >= n:
        raise InputError(
            f"{key}.levels[0]={levels[0]} does not fit: it must be smaller than the "
            f"training set size {n} (drop that level or lower it)."
        )
    return sizes


def level_layout(n, levels, batch_size, key="batches"):
    """Batch boundaries of every level, top first, the batch level last.

    Returns (leaf capacities (B,), [bounds_1, ..., bounds_r]) where bounds_i (M_i + 1,)
    are the cumulative batch counts of the level-i blocks (bounds_r = arange(B + 1)).
    """
    sizes = check_levels(n, levels, batch_size, key)
    leaf = leaf_capacities(n, batch_size)
    num = len(leaf)
    counts = None
    bounds = []
    for i, k in enumerate(sizes[:-1]):
        if counts is None:
            counts = even_split(num, -(-num // (k // batch_size)))
        else:
            m = sizes[i - 1] // k
            counts = np.concatenate([even_split(int(q), m) for q in counts])
        if counts.min() < 1:
            raise InputError(
                f"{key}.levels[{i}]={k}: {len(counts)} blocks at this level but only {num} "
                f"batches of {batch_size}; drop the level or lower {key}.levels[0]."
            )
        bounds.append(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
    bounds.append(np.arange(num + 1, dtype=np.int64))
    return leaf, bounds


def level_capacities(leaf, bounds):
    """Item capacities of one level's blocks from its batch boundaries."""
    return np.add.reduceat(leaf, bounds[:-1]) if len(bounds) > 1 else np.zeros(0, np.int64)


def batch_to_block(bounds):
    """Level block id of every batch."""
    return np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))


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
    bounds: list = field(default_factory=list)  # batch boundaries of every level (level_layout)

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


def _split(fl, items, caps, method):
    return min_block_greedy(fl.subproblem(items), caps, method)


def partition(fl, levels, batch_size, method="onthefly", threads=1, key="batches"):
    """Algorithm 2 over all items of ``fl``; ``levels=[]`` is the flat Algorithm 1/3."""
    n = fl.n
    sizes = check_levels(n, levels, batch_size, key)
    leaf, all_bounds = level_layout(n, levels, batch_size, key)
    blocks = [(np.arange(n, dtype=np.int64), 0, len(leaf), None)]
    stats = []
    with ThreadPoolExecutor(max(1, int(threads))) as pool:
        for k, bounds in zip(sizes, all_bounds, strict=True):
            st = LevelStats(block_size=k)
            start = time.perf_counter()
            jobs = []
            for items, l0, l1, value in blocks:
                cuts = bounds[(bounds >= l0) & (bounds <= l1)]
                caps = [int(leaf[a:b].sum()) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
                jobs.append((items, cuts, value, caps))
            # Calls are independent; results are consumed in order, so the partition does not
            # depend on the thread count.
            futures = [
                pool.submit(_split, fl, items, caps, method) if len(caps) > 1 else None
                for items, _, _, caps in jobs
            ]
            new = []
            for (items, cuts, value, _caps), fut in tqdm(
                list(zip(jobs, futures, strict=True)), desc=f"level k={k}", mininterval=5, disable=None, leave=False
            ):
                if fut is None:  # one child: nothing to split at this level
                    new.append((items, int(cuts[0]), int(cuts[-1]), fl.value(items) if value is None else value))
                    continue
                res = fut.result()
                st.calls += 1
                st.tau = res.t if st.tau < 0 else min(st.tau, res.t)
                st.peak_queue = max(st.peak_queue, res.peak_queue)
                st.evals += res.evals
                for c, blk in enumerate(res.blocks):
                    new.append((items[blk], int(cuts[c]), int(cuts[c + 1]), float(res.values[c])))
            blocks = new
            st.num_blocks = len(blocks)
            st.min_block_value = min(v for *_, v in blocks)
            st.seconds = time.perf_counter() - start
            log.info("level k=%d: %d blocks, %d calls, tau=%d, min block value %.6g, %.2fs",
                     k, st.num_blocks, st.calls, st.tau, st.min_block_value, st.seconds)
            stats.append(st)
    return Hierarchy([b[0] for b in blocks], np.array([b[3] for b in blocks]), stats, all_bounds)
