"""Classification networks augmented with decoding pathways (paper 002, section 3).

The classification pathway is a VGG-style stack of *macro-layers* (3x3
convolutions + ReLU, then 2x2 max-pooling; eq. 1), followed by the rest of the
network f_{L+1} (two inner-product layers). Each macro-layer l has a mirrored
decoder f_l^dec: 2x2 unpooling, then the same number of 3x3 convolutions with
the channel sequence reversed, ending at the macro-layer's input channels.

Unpooling comes in the two kinds the paper compares:

* ``fixed`` switches (SAE): every value goes to the top-left of its 2x2 cell.
* ``known`` switches (SWWAE): every value goes back where the encoder's
  max-pooling found its maximum (``max_pool2d(return_indices=True)`` indices).

Wiring (``decode``): *stacked* decoders start from the top pooled map,
a^_L = a_L, a^_{l-1} = f_l^dec(a^_l) (SAE/SWWAE-first and -all, eq. 3);
*layer-wise* decoders invert each clean activation, a^_{l-1} = f_l^dec(a_l).
Both use the same decoder modules, which is what lets step 3 of section 4.1
initialise first/all from the layer-wise decoders.

Choices the paper leaves open here: BatchNorm after every hidden convolution
(``batch_norm``; the paper's pretrained VGG had none, but we train small nets
from scratch); the last convolution of decoder l > 1 ends in ReLU because its
target a_{l-1} is a post-ReLU pooled map, decoder 1 is linear (the target is the
image in [0, 1]); the input is standardised inside the network (buffers) so
a_0 = x stays the [0, 1] image the reconstruction loss is measured on.
"""

import torch
import torch.nn.functional as F
from torch import nn

from layerwise.errors import InputError

# Channels of the convolutions of each macro-layer (torchvision's VGG "A" and "D").
VGG_MACRO_LAYERS = {
    "vgg11": [[64], [128], [256, 256], [512, 512], [512, 512]],
    "vgg16": [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
}
SWITCHES = ("fixed", "known")


def unpool_fixed(x, output_size):
    """2x2 unpooling with fixed switches: each value to the top-left of its cell, zeros elsewhere."""
    out = x.new_zeros(x.shape[:-2] + tuple(output_size))
    out[..., ::2, ::2] = x
    return out


def unpool_known(x, indices, output_size):
    """2x2 unpooling with the encoder's switches (Zeiler et al. 2011; SWWAE)."""
    return F.max_unpool2d(x, indices, 2, 2, output_size=tuple(output_size))


def _conv_block(cin, cout, batch_norm):
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU(inplace=True))
    return layers


class MacroLayer(nn.Module):
    """3x3 convolutions then 2x2 max-pooling that also returns its switches."""

    def __init__(self, cin, channels, batch_norm):
        super().__init__()
        layers = []
        for cout in channels:
            layers += _conv_block(cin, cout, batch_norm)
            cin = cout
        self.convs = nn.Sequential(*layers)

    def forward(self, x):
        return F.max_pool2d(self.convs(x), 2, 2, return_indices=True)


class MacroDecoder(nn.Module):
    """Mirror of one macro-layer: unpool, then the convolutions in reverse channel order."""

    def __init__(self, cin, channels, batch_norm, switches, output_relu):
        super().__init__()
        self.switches = switches
        seq = list(reversed(channels)) + [cin]  # e.g. [256, 256] from 128 -> 256, 256, 128
        layers = []
        for a, b in zip(seq[:-2], seq[1:-1], strict=True):
            layers += _conv_block(a, b, batch_norm)
        layers.append(nn.Conv2d(seq[-2], seq[-1], 3, padding=1))
        if output_relu:
            layers.append(nn.ReLU(inplace=True))
        self.convs = nn.Sequential(*layers)

    def forward(self, x, indices, output_size):
        if self.switches == "known":
            x = unpool_known(x, indices, output_size)
        else:
            x = unpool_fixed(x, output_size)
        return self.convs(x)


class AugmentedNet(nn.Module):
    """VGG-style classifier with optional decoding pathways (``switches`` None, fixed or known)."""

    def __init__(
        self,
        arch="vgg16",
        in_channels=3,
        num_classes=1000,
        image_size=(224, 224),
        width=1.0,
        batch_norm=True,
        switches=None,
        mean=None,
        std=None,
    ):
        super().__init__()
        if arch not in VGG_MACRO_LAYERS:
            raise InputError(f"autoencoder.augmented.arch: {arch!r} is not one of {sorted(VGG_MACRO_LAYERS)}")
        if switches not in (None,) + SWITCHES:
            raise ValueError(f"switches must be None, 'fixed' or 'known', got {switches!r}")
        macro = [[max(1, round(c * width)) for c in group] for group in VGG_MACRO_LAYERS[arch]]
        self.config = {
            "arch": arch,
            "in_channels": in_channels,
            "num_classes": num_classes,
            "image_size": list(image_size),
            "width": width,
            "batch_norm": batch_norm,
            "switches": switches,
        }
        self.num_macro = len(macro)
        self.check_input((in_channels,) + tuple(image_size), "image_size")
        mean = torch.zeros(in_channels) if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        std = torch.ones(in_channels) if std is None else torch.as_tensor(std, dtype=torch.float32)
        self.register_buffer("mean", mean.reshape(1, -1, 1, 1).clone())
        self.register_buffer("std", std.reshape(1, -1, 1, 1).clone())
        inputs = [in_channels] + [group[-1] for group in macro[:-1]]
        self.macro = nn.ModuleList(MacroLayer(cin, group, batch_norm) for cin, group in zip(inputs, macro, strict=True))
        side = (image_size[0] >> self.num_macro) * (image_size[1] >> self.num_macro)
        hidden = max(8, round(512 * width))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(macro[-1][-1] * side, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )
        self.decoders = None
        if switches is not None:
            self.decoders = nn.ModuleList(
                MacroDecoder(cin, group, batch_norm, switches, output_relu=(i > 0))
                for i, (cin, group) in enumerate(zip(inputs, macro, strict=True))
            )

    def check_input(self, shape, source="input"):
        """One clear error when the side cannot be halved once per macro-layer."""
        step = 1 << self.num_macro
        h, w = shape[-2], shape[-1]
        if h % step or w % step:
            raise InputError(
                f"{source}: images are {h}x{w} but {self.config['arch']} has {self.num_macro} "
                f"2x2 max-pooling layers, so height and width must be multiples of {step}."
            )
        if shape[-3] != self.config["in_channels"]:
            raise InputError(
                f"{source}: images have {shape[-3]} channels, the model expects "
                f"{self.config['in_channels']}."
            )

    def encode(self, x):
        """Activations [a_0 = x, a_1, ..., a_L] (pooled maps) and the switches of every pooling."""
        acts, switches = [x], []
        h = (x - self.mean) / self.std
        for layer in self.macro:
            h, idx = layer(h)
            acts.append(h)
            switches.append(idx)
        return acts, switches

    def classify(self, top):
        return self.head(top)

    def forward(self, x):
        return self.classify(self.encode(x)[0][-1])

    def features(self, x):
        """Flattened top pooled map a_L (the encoder output), float32 (n, D)."""
        return torch.flatten(self.encode(x)[0][-1], 1)

    def decode(self, acts, switches, wiring):
        """Reconstructions [a^_0, ..., a^_{L-1}] by ``stacked`` or ``layerwise`` decoders."""
        if self.decoders is None:
            raise ValueError("this network has no decoding pathway (switches=None)")
        L = self.num_macro
        recon = [None] * L
        if wiring == "layerwise":
            for layer in range(1, L + 1):
                recon[layer - 1] = self.decoders[layer - 1](
                    acts[layer], switches[layer - 1], acts[layer - 1].shape[-2:]
                )
        elif wiring == "stacked":
            h = acts[L]
            for layer in range(L, 0, -1):
                h = self.decoders[layer - 1](h, switches[layer - 1], acts[layer - 1].shape[-2:])
                recon[layer - 1] = h
        else:
            raise ValueError(f"wiring must be 'stacked' or 'layerwise', got {wiring!r}")
        return recon

    def reconstruct(self, x):
        """Image reconstruction from the top pooled map through the stacked decoders."""
        acts, switches = self.encode(x)
        return self.decode(acts, switches, "stacked")[0]
