"""Invertible downsampling (Dinh et al.) against torch's pixel_unshuffle, and the Table 6 operators."""

import pytest
import torch
import torch.nn.functional as F

from layerwise.errors import InputError
from layerwise.models.downsampling import (
    channel_factor,
    invertible_downsample,
    invertible_upsample,
    make_downsampling,
    output_size,
)


def test_invertible_equals_pixel_unshuffle_and_is_a_bijection():
    x = torch.randn(3, 5, 8, 6, generator=torch.Generator().manual_seed(0))
    y = invertible_downsample(x)
    assert y.shape == (3, 20, 4, 3)
    assert torch.equal(y, F.pixel_unshuffle(x, 2))
    assert torch.equal(invertible_upsample(y), x)
    assert torch.equal(invertible_upsample(y), F.pixel_shuffle(y, 2))
    # a permutation of the entries: nothing lost, nothing duplicated
    assert torch.equal(torch.sort(y.flatten()).values, torch.sort(x.flatten()).values)


def reference_invertible(x):
    """The reshape the project used before pixel_unshuffle (written out as the reference)."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // 2, 2, w // 2, 2)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(n, c * 4, h // 2, w // 2)


@pytest.mark.parametrize("channels_last", [False, True])
def test_invertible_equals_the_reference_reshape_and_keeps_the_layout(channels_last):
    x = torch.randn(2, 3, 6, 10, generator=torch.Generator().manual_seed(1))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = invertible_downsample(x)
    assert torch.equal(y, reference_invertible(x))
    # by hand: channel c*4 + 2*di + dj of pixel (i, j) is x[c, 2i+di, 2j+dj]
    assert y[1, 2 * 4 + 2 * 1 + 0, 2, 3] == x[1, 2, 5, 6]
    if channels_last:
        assert y.is_contiguous(memory_format=torch.channels_last)


def test_invertible_rejects_odd_sizes():
    with pytest.raises(InputError, match="even"):
        invertible_downsample(torch.zeros(1, 1, 5, 4))
    with pytest.raises(InputError, match="downsample_at"):
        output_size(7, "invertible")


@pytest.mark.parametrize("kind", ["invertible", "strided", "avgpool", "maxpool"])
def test_every_kind_halves_the_resolution(kind):
    x = torch.randn(2, 3, 8, 8)
    module, stride = make_downsampling(kind)
    conv = torch.nn.Conv2d(3 * channel_factor(kind), 4, 3, stride=stride, padding=1)
    out = conv(module(x))
    assert out.shape == (2, 4, 4, 4) == (2, 4, output_size(8, kind), output_size(8, kind))


def test_pools_match_torch_functional():
    x = torch.randn(2, 3, 6, 6)
    assert torch.equal(make_downsampling("avgpool")[0](x), F.avg_pool2d(x, 2))
    assert torch.equal(make_downsampling("maxpool")[0](x), F.max_pool2d(x, 2))
    with pytest.raises(InputError, match="downsample"):
        make_downsampling("bilinear")
