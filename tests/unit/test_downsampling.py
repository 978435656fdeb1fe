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
