"""Unpooling of paper 002: known switches (SWWAE) against max_pool2d's own indices, fixed (SAE) top-left."""

import torch
import torch.nn.functional as F

from layerwise.models.augmented import unpool_fixed, unpool_known


def test_known_switches_put_every_max_back_where_it_came_from():
    gen = torch.Generator().manual_seed(0)
    for shape in [(2, 3, 8, 8), (1, 5, 16, 12), (4, 1, 2, 2)]:
        x = torch.randn(shape, generator=gen)
        pooled, idx = F.max_pool2d(x, 2, 2, return_indices=True)
        out = unpool_known(pooled, idx, x.shape[-2:])
        # brute force: for every 2x2 cell the argmax position holds the max, the rest is zero
        expected = torch.zeros_like(x)
        n, c, h, w = x.shape
        for b in range(n):
            for ch in range(c):
                for i in range(0, h, 2):
                    for j in range(0, w, 2):
                        cell = x[b, ch, i : i + 2, j : j + 2]
                        k = int(cell.flatten().argmax())
                        expected[b, ch, i + k // 2, j + k % 2] = cell.max()
        assert torch.equal(out, expected)
        # reading the unpooled map at the switches gives the pooled values back exactly
        assert torch.equal(out.flatten(-2).gather(-1, idx.flatten(-2)), pooled.flatten(-2))


def test_fixed_switches_put_every_value_top_left():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5) + 1
    out = unpool_fixed(x, (8, 10))
    assert out.shape == (2, 3, 8, 10)
    for i in range(8):
        for j in range(10):
            if i % 2 == 0 and j % 2 == 0:
                assert torch.equal(out[..., i, j], x[..., i // 2, j // 2])
            else:
                assert not out[..., i, j].any()
