"""Mini-batch files (``results/{dataset}/batches/{sampler}.h5``) and a sampler that replays them.

A file holds ``batches`` int64 (num_batches, max_batch_size) of training
indices padded with -1 and ``sizes`` (num_batches,). :class:`FixedBatchSampler`
yields exactly those batches, once each per epoch, in file order (``fixed``)
or in an order permuted per epoch from the seed (``shuffled``). It yields the
padded rows so a step can cut its rank's share with
``layerwise.distributed.rank_share``; :func:`real_items` drops the padding.

:class:`ShuffleSampler` is ordinary SGD, the baseline of ``shuffle-s<seed>``
runs: a fresh random permutation of the training split every epoch (drawn
from (seed, epoch), so runs and resumes are reproducible), cut into
consecutive batches of ``batch_size`` (the last one smaller). It needs no
mini-batch file.
"""

import json

import numpy as np
import torch

from layerwise.errors import InputError
from layerwise.h5io import open_checked

STAGE = "partition_batches"
SHUFFLE = "shuffle-s"
ORDERS = ("fixed", "shuffled")
PADDING = -1


def _recorded(f):
    """What a mini-batch file was built with: its params (batch_size, levels, key) and sampler name."""
    try:
        params = json.loads(f.attrs.get("params", "{}"))
    except (TypeError, ValueError):
        params = {}
    sampler = f.attrs.get("sampler")
    return params, (sampler.decode() if isinstance(sampler, bytes) else sampler)


def check_built_for(path, recorded, cfg):
    """Refuse a mini-batch file built with other settings than this run's config.

    Snakemake reruns partition_batches when its config changes, but not when a file
    is copied or swapped in by hand: training would then silently take other batches.
    """
    params, sampler = recorded
    key = params.get("key", "batches")
    fix = f"rebuild it with `snakemake --forcerun partition_batches` (or `rm {path}` and rerun)"
    wanted = [("batch_size", f"{key}.batch_size", cfg.get("batch_size"), params.get("batch_size"))]
    if cfg.get("levels") is not None:
        wanted.append(("levels", f"{key}.levels", list(cfg["levels"]), params.get("levels")))
    for _, name, ours, theirs in wanted:
        if ours is not None and theirs is not None and ours != theirs:
            raise InputError(
                f"{path}: built with {name}={theirs} but this run's config has {name}={ours}; {fix}"
            )
    if sampler and cfg.get("sampler") and not shuffle_seed(cfg["sampler"]) and sampler != cfg["sampler"]:
        raise InputError(
            f"{path}: holds the {sampler} sequence but this run ({cfg.get('run', cfg['sampler'])}) uses "
            f"{cfg['sampler']}; {fix}"
        )


def read_batches(path, num_train=None, cfg=None):
    """``(batches, sizes)`` of a mini-batch file after checking it against the training split
    and, given the job's ``cfg``, against its batch size, levels and sampler."""
    with open_checked(path, STAGE, required=("batches", "sizes")) as f:
        batches = f["batches"][()].astype(np.int64)
        sizes = f["sizes"][()].astype(np.int64)
        recorded = _recorded(f)
    if cfg is not None:
        check_built_for(path, recorded, cfg)
    if batches.ndim != 2 or sizes.shape != (len(batches),):
        raise InputError(
            f"{path}: batches must be 2-D with one size per row, got {batches.shape} and "
            f"{sizes.shape}; delete it and rerun partition_batches"
        )
    counted = (batches != PADDING).sum(axis=1)
    if not np.array_equal(counted, sizes):
        raise InputError(f"{path}: sizes disagree with the non-padding items of batches; regenerate it")
    if num_train is not None:
        items = batches[batches != PADDING]
        if items.size and (items.min() < 0 or items.max() >= num_train):
            raise InputError(
                f"{path}: indices outside the training split (0..{num_train - 1}); it was built "
                "for another data.h5: delete it and rerun partition_batches"
            )
    return batches, sizes


def real_items(row):
    """The training indices of one padded row."""
    row = np.asarray(row)
    return row[row != PADDING]


def epoch_order(num_batches, order, seed, epoch):
    """Batch order of one epoch: file order, or a permutation from (seed, epoch)."""
    if order not in ORDERS:
        raise InputError(f"layerwise batch_order: {order!r} is not one of {ORDERS}")
    if order == "fixed":
        return np.arange(num_batches)
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return torch.randperm(num_batches, generator=gen).numpy()


class FixedBatchSampler(torch.utils.data.Sampler):
    """Yields the rows of a mini-batch file (padded with -1) as one epoch.

    ``set_epoch`` picks the epoch's order; ``start`` skips the first batches of
    the epoch (resuming mid-epoch from a checkpoint).
    """

    def __init__(self, batches, order="fixed", seed=0):
        self.batches = np.asarray(batches, dtype=np.int64)
        self.order = order
        self.seed = seed
        self.epoch = 0
        self.start = 0
        epoch_order(len(self.batches), order, seed, 0)  # validates order

    def set_epoch(self, epoch, start=0):
        self.epoch, self.start = epoch, start

    def __len__(self):
        return len(self.batches) - self.start

    def __iter__(self):
        order = epoch_order(len(self.batches), self.order, self.seed, self.epoch)
        for b in order[self.start :]:
            yield self.batches[b]


def shuffle_seed(sampler):
    """The seed of a ``shuffle-s<seed>`` sampler name, else None (a file-backed sequence)."""
    if not sampler.startswith(SHUFFLE) or not sampler[len(SHUFFLE):].isdigit():
        return None
    return int(sampler[len(SHUFFLE):])


class ShuffleSampler(FixedBatchSampler):
    """Yields padded rows of a fresh random partition of range(n) every epoch."""

    def __init__(self, num_train, batch_size, seed):
        if batch_size < 1 or num_train < 1:
            raise InputError(
                f"batches.batch_size must be >= 1 and the training split non-empty "
                f"(got {batch_size}, {num_train} items)"
            )
        self.num_train, self.batch_size, self.seed = int(num_train), int(batch_size), int(seed)
        super().__init__(self._rows(0), "fixed", seed)  # .batches: epoch 0's rows

    def _rows(self, epoch):
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + int(epoch) + 7)
        perm = torch.randperm(self.num_train, generator=gen).numpy()
        rows = np.full((-(-self.num_train // self.batch_size), self.batch_size), PADDING, np.int64)
        rows.reshape(-1)[: self.num_train] = perm
        return rows

    def __iter__(self):
        yield from self._rows(self.epoch)[self.start :]


def make_sampler(cfg, batches_path, num_train):
    """The sampler of a job: ``shuffle-s<seed>`` runs draw their own; others replay their file,
    refused when it was built with another batch size, levels or sampler than ``cfg`` names."""
    seed = shuffle_seed(cfg.get("sampler", ""))
    if seed is not None:
        key = cfg.get("batch_key", "batches.batch_size")
        if cfg["batch_size"] > num_train:
            raise InputError(
                f"{key}={cfg['batch_size']} is larger than the training set ({num_train} images): "
                f"{cfg['sampler']} would train one batch of all of it per epoch; set {key} to at most {num_train}"
            )
        return ShuffleSampler(num_train, cfg["batch_size"], seed)
    if batches_path is None:
        raise InputError(f"run {cfg['run']}: sampler {cfg.get('sampler')!r} needs a --batches file")
    batches, _ = read_batches(batches_path, num_train, cfg)
    return FixedBatchSampler(batches, cfg["batch_order"], cfg["seed"])
