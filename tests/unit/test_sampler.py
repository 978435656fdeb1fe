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
        assert len(got) == len(rows) and all(np.array_equal(a, b) for a, b in zip(got, rows, strict=True))
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


def test_shuffle_sampler_is_a_fresh_permutation_every_epoch():
    """shuffle-s<seed>: each epoch covers every item once in batches of batch_size (the last
    smaller), a new order each epoch, the same orders for the same seed."""
    from layerwise.training.sampler import ShuffleSampler, make_sampler, shuffle_seed

    n, b = 103, 16
    s = ShuffleSampler(n, b, seed=3)
    epochs = []
    for epoch in range(3):
        s.set_epoch(epoch)
        rows = list(s)
        assert len(rows) == len(s) == -(-n // b)
        items = np.concatenate([real_items(r) for r in rows])
        assert sorted(items.tolist()) == list(range(n))
        assert [len(real_items(r)) for r in rows] == [b] * (n // b) + [n % b]
        epochs.append(items)
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    again = ShuffleSampler(n, b, seed=3)
    again.set_epoch(1, start=2)  # a resumed epoch skips the batches already seen
    assert np.array_equal(np.concatenate([real_items(r) for r in again]), epochs[1][2 * b:])
    other = ShuffleSampler(n, b, seed=4)
    assert not np.array_equal(np.concatenate([real_items(r) for r in other]), epochs[0])
    assert shuffle_seed("shuffle-s12") == 12 and shuffle_seed("random-s1") is None
    picked = make_sampler({"sampler": "shuffle-s3", "batch_size": b, "run": "r"}, None, n)
    assert np.array_equal(np.concatenate([real_items(r) for r in picked]), epochs[0])
    with pytest.raises(InputError, match="needs a --batches file"):
        make_sampler({"sampler": "robust-hier", "run": "r"}, None, n)
