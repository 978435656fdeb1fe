"""FixedBatchSampler replays a mini-batch file exactly; bad files give one clear error."""

import numpy as np
import pytest

from layerwise.distributed import rank_share
from layerwise.errors import InputError
from layerwise.h5io import atomic_h5
from layerwise.training.sampler import FixedBatchSampler, read_batches, real_items


def write_batches(path, batches, stage="partition_batches"):
    batches = np.asarray(batches, dtype=np.int64)
    with atomic_h5(path, stage, {}, 0) as f:
        f["batches"] = batches
        f["sizes"] = (batches != -1).sum(1)
        f.create_group("levels")


def partition(n, size, seed):
    perm = np.random.default_rng(seed).permutation(n)
    m = -(-n // size)
    rows = np.array_split(perm, m)  # capacities differ by at most one
    out = np.full((m, max(len(r) for r in rows)), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def test_fixed_order_yields_exactly_the_file(tmp_path):
    path = tmp_path / "b.h5"
    rows = partition(23, 5, 0)
    write_batches(path, rows)
    batches, sizes = read_batches(path, num_train=23)
    sampler = FixedBatchSampler(batches, "fixed", seed=3)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        got = list(sampler)
        assert len(got) == len(rows) and all(np.array_equal(a, b) for a, b in zip(got, rows))
    items = np.concatenate([real_items(r) for r in got])
    assert sorted(items.tolist()) == list(range(23))  # every item once per epoch, none dropped
    assert sizes.tolist() == [5, 5, 5, 4, 4]


def test_shuffled_order_permutes_rows_per_epoch_from_the_seed(tmp_path):
    rows = partition(40, 4, 1)
    orders = []
    for epoch in range(3):
        sampler = FixedBatchSampler(rows, "shuffled", seed=7)
        sampler.set_epoch(epoch)
        got = [tuple(r) for r in sampler]
        assert sorted(got) == sorted(tuple(r) for r in rows)
        again = FixedBatchSampler(rows, "shuffled", seed=7)
        again.set_epoch(epoch)
        assert got == [tuple(r) for r in again]  # same seed, same order
        orders.append(got)
    assert orders[0] != orders[1]


def test_resume_mid_epoch_skips_done_batches():
    rows = partition(30, 3, 2)
    sampler = FixedBatchSampler(rows, "shuffled", seed=1)
    sampler.set_epoch(4)
    full = [tuple(r) for r in sampler]
    sampler.set_epoch(4, start=6)
    assert [tuple(r) for r in sampler] == full[6:] and len(sampler) == len(full) - 6


def test_rank_shares_of_a_padded_row_cover_the_batch():
    row = partition(10, 4, 0)[-1]  # a one-smaller batch, padded
    shares = [rank_share(row, r, 2) for r in range(2)]
    assert np.array_equal(np.concatenate(shares), real_items(row))


def test_bad_files(tmp_path):
    write_batches(tmp_path / "big.h5", [[0, 1], [2, 99]])
    with pytest.raises(InputError, match="outside the training split"):
        read_batches(tmp_path / "big.h5", num_train=4)
    write_batches(tmp_path / "other.h5", [[0, 1]], stage="build_graph")
    with pytest.raises(InputError, match="partition_batches"):
        read_batches(tmp_path / "other.h5")
    with pytest.raises(InputError, match="batch_order"):
        FixedBatchSampler([[0, 1]], "random")
