"""Residual convolutional autoencoder of paper 000, Appendix G, Table 1.

Layer groups (kernel, stride, channels) x blocks, as in the table::

    conv1  3x3, 2, 64            deconv9   [3x3, 3x3], 1, 8   x1 (residual)
    conv2  [3x3, 3x3], 1, 64 x3  deconv10  3x3, 2*, 64
    conv3  3x3, 2, 64            deconv11  [3x3, 3x3], 1, 64  x3
    conv4  [3x3, 3x3], 1, 64 x3  deconv12  3x3, 2, 64
    conv5  3x3, 2, 64            deconv13  [3x3, 3x3], 1, 64  x3
    conv6  [3x3, 3x3], 1, 64 x3  deconv14  3x3, 2, 64
    conv7  3x3, 2, 8             deconv15  [3x3, 3x3], 1, 64  x3
    conv8  [3x3, 3x3], 1, 8  x1  deconv16  3x3, 2, 3

Choices the table leaves open (documented here, see docs/autoencoder.md):

* Normalisation/activation: every convolution except the last is followed by
  BatchNorm and ReLU (bias-free convolutions, since BN has its own shift).
  Residual blocks are He et al.'s basic block: conv-BN-ReLU-conv-BN, identity
  shortcut, ReLU after the sum.
* *deconv10 uses stride 2, not the table's 1. The encoder halves the side four
  times (conv1/3/5/7) but the table's decoder doubles it only three times, which
  would give a 16x16 output for a 32x32 input; stride 2 mirrors conv7. The
  parameter count does not depend on strides.
* Strided "deconvolutions" are ConvTranspose2d(3, stride 2, padding 1,
  output_padding 1), which exactly doubles the side.
* The output layer deconv16 is linear (no BN, no ReLU); the loss is MSE against
  pixels scaled to [0, 1].
* The bottleneck code (the feature vector) is conv8's output flattened:
  8 x H/16 x W/16 values (32 for CIFAR's 32x32).
* ``width`` scales the 64-channel groups (not the 8-channel bottleneck) so small
  demos can use a narrow network; width 1 is the table.
* Inputs are centred on the training set's mean image (buffer ``center``, set by
  the trainer) and the output adds it back; the trainer zero-initialises deconv16,
  so an untrained model reconstructs every image as the mean image, the best
  input-independent output, and training starts from that baseline instead of
  from random outputs (on noisy data the uncentred model never got back to it).
* A side that is not a multiple of 16 (27x27 digits) is zero-padded at the
  bottom/right after centring (zero = the mean image) and the reconstruction
  cropped back; the code is then 8 x ceil(H/16) x ceil(W/16).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from layerwise.errors import InputError

DOWNSAMPLING = 16  # four stride-2 layers


class BasicBlock(nn.Module):
    """conv-BN-ReLU-conv-BN + identity, then ReLU (He et al. 2016)."""

    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(x + self.body(x))


def _conv(cin, cout, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _deconv(cin, cout, stride):
    if stride == 1:
        conv = nn.ConvTranspose2d(cin, cout, 3, stride=1, padding=1, bias=False)
    else:
        conv = nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _residual(channels, blocks):
    return nn.Sequential(*[BasicBlock(channels) for _ in range(blocks)])


class ResidualAutoencoder(nn.Module):
    """Table 1 autoencoder; ``encode`` gives the conv8 code, ``forward`` the reconstruction."""

    def __init__(self, in_channels=3, width=1.0, code_channels=8, image_size=(32, 32)):
        super().__init__()
        c = max(1, round(64 * width))
        b = code_channels
        h, w = image_size
        self.config = {"in_channels": in_channels, "width": width, "code_channels": b, "image_size": [h, w]}
        # the training mean image in [0, 1] pixels (zeros until set_center)
        self.register_buffer("center", torch.zeros(in_channels, h, w))
        self.encoder = nn.Sequential(
            _conv(in_channels, c, 2),  # conv1
            _residual(c, 3),  # conv2
            _conv(c, c, 2),  # conv3
            _residual(c, 3),  # conv4
            _conv(c, c, 2),  # conv5
            _residual(c, 3),  # conv6
            _conv(c, b, 2),  # conv7
            _residual(b, 1),  # conv8
        )
        self.decoder = nn.Sequential(
            _residual(b, 1),  # deconv9
            _deconv(b, c, 2),  # deconv10 (stride 2, see module docstring)
            _residual(c, 3),  # deconv11
            _deconv(c, c, 2),  # deconv12
            _residual(c, 3),  # deconv13
            _deconv(c, c, 2),  # deconv14
            _residual(c, 3),  # deconv15
            # deconv16: linear output layer, bias kept (no BN follows)
            nn.ConvTranspose2d(c, in_channels, 3, stride=2, padding=1, output_padding=1),
        )

    def check_input(self, shape, source="input"):
        """One clear error when images differ in channels or size from those the model was built for."""
        want = (self.config["in_channels"], *self.config["image_size"])
        if tuple(shape[-3:]) != want:
            raise InputError(
                f"{source}: images are {tuple(shape[-3:])} (C, H, W) but this residual autoencoder "
                f"was built for {want}; train it on this dataset (rule train_autoencoder)."
            )

    def set_center(self, mean_image):
        """Centre inputs on ``mean_image`` (C, H, W) in [0, 1] and start reconstructing it
        exactly: the linear output layer deconv16 is zeroed (see the module docstring)."""
        self.center.copy_(mean_image)
        nn.init.zeros_(self.decoder[-1].weight)
        nn.init.zeros_(self.decoder[-1].bias)

    def encode(self, x):
        h, w = x.shape[-2:]
        pad_h = math.ceil(h / DOWNSAMPLING) * DOWNSAMPLING - h
        pad_w = math.ceil(w / DOWNSAMPLING) * DOWNSAMPLING - w
        return self.encoder(F.pad(x - self.center, (0, pad_w, 0, pad_h)))

    def forward(self, x):
        h, w = x.shape[-2:]
        return self.decoder(self.encode(x))[..., :h, :w] + self.center

    def features(self, x):
        """Flattened bottleneck codes, float32 (n, D)."""
        return torch.flatten(self.encode(x), 1)
