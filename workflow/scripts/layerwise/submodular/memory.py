"""Memory a partition_batches job needs, from its graph file (the rule's ``mem_mb``).

The job holds the merged CSR graph (graph.store.load_csr: 4-byte column + 4-byte float32
weight per entry, dense classes' n_c^2 entries and kNN rows alike), a few arrays per item
(labels, class members, singletons, orders, queues' shared list: ~100 bytes), and, in the
largest call (the whole training set into the first level's m blocks), a float32 coverage
vector and an 8-byte queue slot per (block, item). Later levels and the certificate work
on pieces (certificate.py transposes 128 MiB at a time). ``benchmarks/partition.py``
prints the measured peak beside this estimate.
"""

import math

import h5py

from layerwise.errors import InputError
from layerwise.submodular import hierarchy
from layerwise.submodular.samplers import parse_sampler

PER_ENTRY = 8  # bytes per graph entry: int32 column + float32 weight
PER_ITEM = 100  # bytes per item outside the graph and the first call's queues
PER_SLOT = 12  # bytes per (block, item) in the first call: float32 coverage + uint64 queue entry
BASE_MB = 400  # interpreter, numpy, numba, h5py
FALLBACK_MB = 4000  # before the graph exists (dry runs); Snakemake asks again once it does


def first_call_blocks(n, sampler, batch_size, levels):
    """Blocks of the largest call: the first level's for robust-hier, every batch for the flat
    samplers, none for random sequences (they only score their batches)."""
    kind, _ = parse_sampler(sampler)
    if kind == "random":
        return 0
    batches = math.ceil(n / batch_size)
    if kind == "robust-hier" and levels:
        return len(hierarchy.level_layout(n, list(levels), batch_size)[1][0]) - 1
    return batches


def partition_mem_mb(graph_path, sampler, batch_size, levels):
    """Estimated peak of the job in MB (1.2x margin); FALLBACK_MB while the file does not exist."""
    try:
        with h5py.File(graph_path, "r") as f:
            n = len(f["labels"])
            entries = int(f["dense/offsets"][-1]) + int(f["indptr"][-1])
    except (OSError, KeyError):
        return FALLBACK_MB
    try:
        m = first_call_blocks(n, sampler, batch_size, levels) if n else 0
    except InputError:  # bad sizes: the job itself stops with the one error naming the key
        return FALLBACK_MB
    need = entries * PER_ENTRY + n * PER_ITEM + m * n * PER_SLOT
    return int(1.2 * (need / 2**20 + BASE_MB))
