"""VGG-11 (configuration "A" of Simonyan & Zisserman) in the block form of simcnn.py.

VGG-11 is 64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M followed by a
classifier with two hidden layers. As blocks "P_j then conv": the max-pools
after convs 0, 1, 3, 5 become P_j of blocks 1, 2, 4, 6 (kind ``maxpool``),
the input image is used at full size (no invertible stem) and the final
max-pool belongs to the classifier, which is the last block's auxiliary head
(paper 003 section 4.3, "Comparison to end-to-end VGG"). ``width`` scales the
channel counts (64 gives the original network). ``vgg_dropout`` is the
classifier's dropout probability: 0.5 in VGG, but with a narrow classifier
(tens of hidden units, the demo) dropout at lr 0.1 kills the first hidden
ReLU within an epoch and end-to-end training stalls at chance, so narrow
presets set it to 0.
"""

import dataclasses

from torch import nn

VGG11_WIDTHS = (1, 2, 4, 4, 8, 8, 8, 8)  # multiples of the first width (64)
VGG11_POOLED_BLOCKS = (1, 2, 4, 6)


def vgg11_layout(spec):
    """``spec`` with VGG-11's widths, max-pool positions and head (keeps k, width, batchnorm)."""
    return dataclasses.replace(
        spec,
        layers=len(VGG11_WIDTHS),
        widths=[spec.width * m for m in VGG11_WIDTHS],
        downsample_at=list(VGG11_POOLED_BLOCKS),
        downsample="maxpool",
        input_downsample=False,
        final_head="vgg",
    )


class VGGHead(nn.Module):
    """VGG's max-pool, adaptive average to pool x pool, and 2-hidden-layer classifier."""

    def __init__(self, in_channels, num_classes, hidden, pool, dropout=0.5):
        super().__init__()
        self.pool = nn.Sequential(nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(pool))
        self.classifier = nn.Sequential(
            nn.Linear(in_channels * pool * pool, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.pool(x).flatten(1))
