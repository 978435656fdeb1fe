"""Mini-batch samplers: ``robust-flat`` (Algorithm 1/3), ``robust-hier`` (Algorithm 2),
``robust-sat`` (GreedSat, Wei, Iyer and Bilmes 2015) and ``random-s{seed}``.

Every sampler returns the same kind of result -- batches of training indices with
capacities differing by at most one -- plus per-level statistics and the
certificate, so robust and random sequences are compared on the same footing.
When the graph uses the kNN approximation for some classes, every level's
minimum block is also scored under the paper's dense f_NN (dense_min_block_value).
"""

import logging
import re
import time

import numpy as np

from layerwise.errors import InputError
from layerwise.submodular import greedsat, hierarchy
from layerwise.submodular.certificate import certificate_parts_many
from layerwise.submodular.dense_score import dense_block_values
from layerwise.submodular.facility import FacilityLocation

log = logging.getLogger(__name__)
_SAMPLER = re.compile(r"^(robust-flat|robust-hier|robust-sat|random-s(\d+))$")


def parse_sampler(name):
    """``robust-flat`` -> ("robust-flat", None); ``random-s3`` -> ("random", 3)."""
    match = _SAMPLER.match(name)
    if not match:
        raise InputError(
            f"sampler {name!r}: expected robust-flat, robust-hier, robust-sat or random-s<seed> "
            "(config batches.samplers / batches.random_seeds)."
        )
    return ("random", int(match.group(2))) if match.group(2) else (name, None)


def run_sampler(name, graph, batch_size, levels, method="onthefly", threads=1, dense_view=None, key="batches"):
    """Returns (batches, values, level dicts, summary attrs) for the graph's training items.
    ``dense_view`` (a graph.store.DenseView) scores the levels under the dense f_NN."""
    kind, seed = parse_sampler(name)
    fl = FacilityLocation.from_graph(graph)
    n = fl.n
    upper = list(levels) if kind == "robust-hier" else []
    leaf, bounds = hierarchy.level_layout(n, upper, batch_size, key)
    start = time.perf_counter()
    if kind == "random":
        perm = np.random.default_rng(seed).permutation(n)
        batches = np.split(perm, np.cumsum(leaf)[:-1])
        values = fl.block_values(batches)
        stats = [hierarchy.LevelStats(batch_size, len(batches), 0, -1, float(values.min()))]
    elif kind == "robust-sat":
        res = greedsat.greedsat(fl, leaf)
        batches, values = res.blocks, res.values
        stats = [hierarchy.LevelStats(batch_size, len(batches), res.calls, -1, float(values.min()),
                                      res.peak_queue, res.evals)]
    else:
        result = hierarchy.partition(fl, upper, batch_size, method, threads, key)
        batches, values, stats = result.batches, result.values, result.levels
    log.info("%s: partition of %d items into %d batches in %.2fs", name, n, len(batches), time.perf_counter() - start)
    batch_of = np.empty(n, np.int64)
    for b, items in enumerate(batches):
        batch_of[items] = b
    owners = [hierarchy.batch_to_block(bd)[batch_of] for bd in bounds]
    dense_min = np.full(len(stats), np.nan)
    if dense_view is not None and graph.approximate:
        start = time.perf_counter()
        dense_vals = dense_block_values(dense_view, owners, len(batches), threads)
        dense_min = [float(dv[: len(bd) - 1].min()) for dv, bd in zip(dense_vals, bounds, strict=True)]
        log.info("scored under the dense f_NN in %.2fs", time.perf_counter() - start)
    level_dicts = []
    start = time.perf_counter()
    all_parts = certificate_parts_many(fl, [hierarchy.level_capacities(leaf, bd) for bd in bounds], threads)
    for st, bd, dmin, parts in zip(stats, bounds, dense_min, all_parts, strict=True):
        bound = min(parts.values())
        d = {
            k: getattr(st, k)
            for k in ("block_size", "num_blocks", "calls", "tau", "min_block_value", "peak_queue", "evals")
        }
        caps = hierarchy.level_capacities(leaf, bd)
        d.update(bound=bound, ratio=st.min_block_value / bound if bound > 0 else 1.0,
                 bound_topm=parts["topm"], bound_kmin=parts["kmin"], bound_lemma2=parts["lemma2"],
                 min_capacity=int(caps.min()), max_capacity=int(caps.max()),
                 min_batches=int(np.diff(bd).min()), max_batches=int(np.diff(bd).max()),
                 dense_min_block_value=float(dmin))
        level_dicts.append(d)
    log.info("certificates of %d levels in %.2fs", len(stats), time.perf_counter() - start)
    taus = [st.tau for st in stats if st.tau >= 0]
    tau = min(taus) if taus else -1
    attrs = {
        "sampler": name,
        "method": {"random": "random", "robust-sat": "greedsat"}.get(kind, method),
        "tau": tau,
        "theorem1_factor": hierarchy.theorem1_factor(len(batches)),
        "theorem2_factor": hierarchy.theorem2_factor(tau, len(stats), batch_size, n),
        "certificate_bound": level_dicts[-1]["bound"],
        "certificate_ratio": level_dicts[-1]["ratio"],
        "min_block_value": float(np.min(values)),
        "graph_approximate": bool(graph.approximate),
        "dense_min_block_value": level_dicts[-1]["dense_min_block_value"],
    }
    return batches, values, level_dicts, attrs


def format_levels(level_dicts):
    """A plain-text table of the per-level statistics for logs."""
    head = (f"{'k_i':>7} {'blocks':>7} {'batches/blk':>11} {'capacity':>11} {'calls':>6} {'tau':>5} "
            f"{'min f(A)':>12} {'dense f_NN':>12} {'bound':>12} {'ratio':>7} {'peak queue':>11}")
    rows = [head]
    for d in level_dicts:
        dense = "-" if np.isnan(d["dense_min_block_value"]) else f"{d['dense_min_block_value']:.5g}"
        rows.append(
            f"{d['block_size']:>7} {d['num_blocks']:>7} {str(d['min_batches']) + '-' + str(d['max_batches']):>11} "
            f"{str(d['min_capacity']) + '-' + str(d['max_capacity']):>11} {d['calls']:>6} {d['tau']:>5} "
            f"{d['min_block_value']:>12.5g} {dense:>12} {d['bound']:>12.5g} {d['ratio']:>7.4f} {d['peak_queue']:>11}"
        )
    return "\n".join(rows)
