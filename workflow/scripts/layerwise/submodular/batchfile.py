"""The mini-batch file ``results/{dataset}/batches/{sampler}.h5`` (stage ``partition_batches``).

Layout::

    batches   int64 (num_batches, max_batch_size)  training indices, -1 pads a batch one smaller
    sizes     int64 (num_batches,)
    values    float64 (num_batches,)                f_NN of every batch
    levels/   one entry per hierarchy level (top first): block_size, num_blocks, calls,
              tau, min_block_value, bound (certificate: upper bound on OPT for blocks of
              that level's capacities), ratio (min_block_value / bound), peak_queue, evals,
              bound_topm / bound_kmin / bound_lemma2 (the certificate's three bounds),
              min_capacity, max_capacity, min_batches, max_batches (block sizes in items
              and in batches), dense_min_block_value (min block under the dense f_NN when
              the graph uses kNN classes, else NaN)

attrs: sampler, method, tau, theorem1_factor, theorem2_factor, certificate_bound,
certificate_ratio, min_block_value, graph_approximate, dense_min_block_value. Wall times go
to the log, not the file, so the
same config gives a bit-identical file.
"""

import numpy as np

from layerwise.errors import InputError
from layerwise.h5io import atomic_h5, open_checked

STAGE = "partition_batches"
LEVEL_FIELDS = ("block_size", "num_blocks", "calls", "tau", "min_block_value", "bound", "ratio", "peak_queue", "evals",
                "bound_topm", "bound_kmin", "bound_lemma2", "min_capacity", "max_capacity", "min_batches",
                "max_batches", "dense_min_block_value")
_FLOAT_FIELDS = (
    "min_block_value",
    "bound",
    "ratio",
    "bound_topm",
    "bound_kmin",
    "bound_lemma2",
    "dense_min_block_value",
)


def pad_batches(batches):
    """List of index arrays -> ((B, max) int64 padded with -1, sizes)."""
    sizes = np.array([len(b) for b in batches], np.int64)
    out = np.full((len(batches), int(sizes.max(initial=0))), -1, np.int64)
    for i, b in enumerate(batches):
        out[i, : len(b)] = b
    return out, sizes


def write_batches(path, batches, values, levels, attrs, params, seed):
    """``levels``: list of dicts with LEVEL_FIELDS; ``attrs``: scalar summary."""
    padded, sizes = pad_batches(batches)
    with atomic_h5(path, STAGE, params, seed) as f:
        f.create_dataset("batches", data=padded)
        f.create_dataset("sizes", data=sizes)
        f.create_dataset("values", data=np.asarray(values, np.float64))
        for name in LEVEL_FIELDS:
            dtype = np.float64 if name in _FLOAT_FIELDS else np.int64
            f.create_dataset(f"levels/{name}", data=np.array([lv[name] for lv in levels], dtype))
        for key, value in attrs.items():
            f.attrs[key] = value


def load_batches(path, n_train=None):
    """(batches (B, max) int64 padded with -1, sizes (B,)); checks it is a partition of
    range(n_train) when ``n_train`` is given."""
    with open_checked(path, STAGE, required=("batches", "sizes", "levels")) as f:
        batches, sizes = f["batches"][()], f["sizes"][()]
    if n_train is not None:
        flat = (
            np.concatenate([b[:s] for b, s in zip(batches, sizes, strict=False)])
            if len(sizes)
            else np.zeros(0, np.int64)
        )
        if len(flat) != n_train or not np.array_equal(np.sort(flat), np.arange(n_train)):
            raise InputError(
                f"{path}: batches are not a partition of the {n_train} training indices "
                "(was it built for another data.h5?); delete it and rerun partition_batches."
            )
    return batches, sizes
