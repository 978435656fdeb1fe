"""Mini-batch samplers: ``robust-flat`` (Algorithm 1/3), ``robust-hier`` (Algorithm 2), ``random-s{seed}``.

Every sampler returns the same kind of result -- batches of training indices with
capacities differing by at most one -- plus per-level statistics and the
certificate, so robust and random sequences are compared on the same footing.
"""

import logging
import re
import time

import numpy as np

from layerwise.errors import InputError
from layerwise.submodular import hierarchy
from layerwise.submodular.certificate import certificate
from layerwise.submodular.facility import FacilityLocation

log = logging.getLogger(__name__)
_SAMPLER = re.compile(r"^(robust-flat|robust-hier|random-s(\d+))$")


def parse_sampler(name):
    """``robust-flat`` -> ("robust-flat", None); ``random-s3`` -> ("random", 3)."""
    match = _SAMPLER.match(name)
    if not match:
        raise InputError(
            f"sampler {name!r}: expected robust-flat, robust-hier or random-s<seed> "
            "(config batches.samplers / batches.random_seeds)."
        )
    return ("random", int(match.group(2))) if match.group(2) else (name, None)


def _level_caps(n, block_size, batch_size):
    """Capacities of the blocks of one level (runs of batches, as in hierarchy.partition)."""
    leaf = hierarchy.leaf_capacities(n, batch_size)
    group = block_size // batch_size
    return np.add.reduceat(leaf, np.arange(0, len(leaf), group))


def run_sampler(name, graph, batch_size, levels, method="onthefly"):
    """Returns (batches, values, level dicts, summary attrs) for the graph's training items."""
    kind, seed = parse_sampler(name)
    fl = FacilityLocation.from_graph(graph)
    n = fl.n
    upper = list(levels) if kind == "robust-hier" else []
    hierarchy.check_levels(n, upper, batch_size)
    start = time.perf_counter()
    if kind == "random":
        caps = hierarchy.leaf_capacities(n, batch_size)
        perm = np.random.default_rng(seed).permutation(n)
        batches = np.split(perm, np.cumsum(caps)[:-1])
        values = fl.block_values(batches)
        stats = [hierarchy.LevelStats(batch_size, len(batches), 0, -1, float(values.min()))]
    else:
        result = hierarchy.partition(fl, upper, batch_size, method)
        batches, values, stats = result.batches, result.values, result.levels
    log.info("%s: partition of %d items into %d batches in %.2fs", name, n, len(batches), time.perf_counter() - start)
    level_dicts = []
    for st in stats:
        bound = certificate(fl, _level_caps(n, st.block_size, batch_size))
        d = {k: getattr(st, k) for k in ("block_size", "num_blocks", "calls", "tau", "min_block_value", "peak_queue", "evals")}
        d.update(bound=bound, ratio=st.min_block_value / bound if bound > 0 else 1.0)
        level_dicts.append(d)
    taus = [st.tau for st in stats if st.tau >= 0]
    tau = min(taus) if taus else -1
    attrs = {
        "sampler": name,
        "method": method if kind != "random" else "random",
        "tau": tau,
        "theorem1_factor": hierarchy.theorem1_factor(len(batches)),
        "theorem2_factor": hierarchy.theorem2_factor(tau, len(stats), batch_size, n),
        "certificate_bound": level_dicts[-1]["bound"],
        "certificate_ratio": level_dicts[-1]["ratio"],
        "min_block_value": float(np.min(values)),
    }
    return batches, values, level_dicts, attrs


def format_levels(level_dicts):
    """A plain-text table of the per-level statistics for logs."""
    head = f"{'k_i':>7} {'blocks':>7} {'calls':>6} {'tau':>5} {'min f(A)':>12} {'bound':>12} {'ratio':>7} {'peak queue':>11}"
    rows = [head]
    for d in level_dicts:
        rows.append(
            f"{d['block_size']:>7} {d['num_blocks']:>7} {d['calls']:>6} {d['tau']:>5} "
            f"{d['min_block_value']:>12.5g} {d['bound']:>12.5g} {d['ratio']:>7.4f} {d['peak_queue']:>11}"
        )
    return "\n".join(rows)
