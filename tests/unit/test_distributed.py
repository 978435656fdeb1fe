"""rank_share / loss_scale against brute force: the union of shares is the batch, and the
rank-averaged scaled gradients equal the one-process gradient of the global-batch mean."""

import numpy as np
import pytest
import torch

from layerwise import distributed
from layerwise.errors import InputError


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("n_items", [12, 11, 10, 9])
def test_shares_partition_the_batch_contiguously(world, n_items):
    capacity = 12
    row = np.full(capacity, -1, dtype=np.int64)
    row[:n_items] = np.random.default_rng(n_items).permutation(100)[:n_items]
    shares = [distributed.rank_share(row, r, world) for r in range(world)]
    # concatenated in rank order: exactly the batch, padding removed, nothing dropped
    np.testing.assert_array_equal(np.concatenate(shares), row[:n_items])
    sizes = [len(s) for s in shares]
    assert max(sizes) - min(sizes) <= 1
    assert sum(sizes) == n_items


def test_capacity_that_does_not_split_names_the_key():
    with pytest.raises(InputError, match=r"train\.batch_size.*10 items.*3 ranks"):
        distributed.rank_share(np.arange(10), 0, 3, key="train.batch_size")


def test_a_rank_without_items_is_an_error():
    with pytest.raises(InputError, match="without data"):
        distributed.rank_share(np.array([4, 7, 9, -1]), 0, 4, key="train.batch_size")


def test_scaled_rank_gradients_average_to_the_global_mean_gradient():
    """What DDP computes (mean over ranks of each rank's gradient) equals one process."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    x, y = torch.randn(40, 5), torch.randint(0, 3, (40,))
    row = np.array([3, 17, 5, 22, 9, 31, 0, 12, 27, -1])  # a one-smaller batch of a file
    items = torch.as_tensor(row[row >= 0])

    def grads(loss):
        model.zero_grad()
        loss.backward()
        return [p.grad.clone() for p in model.parameters()]

    reference = grads(torch.nn.functional.cross_entropy(model(x[items]), y[items]))
    for world in (2, 5):
        per_rank = []
        for r in range(world):
            share = torch.as_tensor(distributed.rank_share(row, r, world))
            summed = torch.nn.functional.cross_entropy(model(x[share]), y[share], reduction="sum")
            per_rank.append(grads(summed * distributed.loss_scale(row, world)))
        averaged = [torch.stack(g).mean(0) for g in zip(*per_rank, strict=True)]
        for a, b in zip(averaged, reference, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_single_process_defaults(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    rank, world, device = distributed.init_from_env()
    assert (rank, world) == (0, 1)
    assert distributed.is_main(rank) and not distributed.is_main(1)
    module = torch.nn.Linear(2, 2)
    assert distributed.wrap_model(module, device) is module
    distributed.barrier()  # no process group: no-ops
    distributed.cleanup()
