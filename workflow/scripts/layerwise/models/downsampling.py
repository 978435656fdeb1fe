"""Downsampling operators P of paper 003 (section 3.1 and Table 6).

``invertible`` is the invertible downsampling of Dinh et al. (2017): each 2x2
spatial neighbourhood is folded into channels, so (C, H, W) becomes
(4C, H/2, W/2) and no information is lost. ``avgpool``/``maxpool`` are 2x2
pools (channels unchanged); ``strided`` is not a separate operator but makes
the block's 3x3 convolution use stride 2 (see :func:`make_downsampling`).
"""

import torch.nn.functional as F
from torch import nn

from layerwise.errors import InputError

KINDS = ("invertible", "strided", "avgpool", "maxpool")


def invertible_downsample(x):
    """(N, C, H, W) -> (N, 4C, H/2, W/2); channel c*4 + 2*di + dj holds x[c, 2i+di, 2j+dj]."""
    n, c, h, w = x.shape
    if h % 2 or w % 2:
        raise InputError(
            f"invertible downsampling needs even spatial sizes, got {h}x{w}; choose "
            "layerwise downsample_at positions (or an image size) that keep sizes even"
        )
    # the same tensor as reshape(n, c, h/2, 2, w/2, 2).permute(0, 1, 3, 5, 2, 4), in one kernel
    # that keeps a channels_last input channels_last (the reshape made three copies in NCHW)
    return F.pixel_unshuffle(x, 2)


def invertible_upsample(y):
    """Exact inverse of :func:`invertible_downsample`."""
    n, c4, h, w = y.shape
    c = c4 // 4
    y = y.reshape(n, c, 2, 2, h, w)
    return y.permute(0, 1, 4, 2, 5, 3).reshape(n, c, h * 2, w * 2)


class InvertibleDownsampling(nn.Module):
    def forward(self, x):
        return invertible_downsample(x)


def channel_factor(kind):
    """How a downsampling of ``kind`` multiplies the channel count."""
    if kind not in KINDS:
        raise InputError(f"layerwise downsample: unknown kind {kind!r}; use one of {KINDS}")
    return 4 if kind == "invertible" else 1


def make_downsampling(kind):
    """``(module applied before the conv, stride of the conv)`` for one downsampling block."""
    channel_factor(kind)  # validates the name
    if kind == "invertible":
        return InvertibleDownsampling(), 1
    if kind == "avgpool":
        return nn.AvgPool2d(2), 1
    if kind == "maxpool":
        return nn.MaxPool2d(2), 1
    return nn.Identity(), 2


def output_size(size, kind):
    """Spatial size after one downsampling of ``kind`` (3x3 conv, padding 1 for strided)."""
    if kind == "invertible" and size % 2:
        raise InputError(
            f"invertible downsampling of an odd spatial size {size}; change the layerwise "
            "model's downsample_at (or input_downsample) so every downsampled size is even"
        )
    return (size + 1) // 2 if kind == "strided" else size // 2

