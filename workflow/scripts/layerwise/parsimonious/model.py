"""Caffe's "CIFAR-10 quick" network (paper 004 §4.2), with optional dropout and clustering regularisers.

conv5x5-32, max-pool 3/2, ReLU; conv5x5-32, ReLU, avg-pool 3/2; conv5x5-64, ReLU,
avg-pool 3/2; fc 64 (ip1); fc classes (ip2). Pooling rounds up as Caffe does
(32 -> 16 -> 8 -> 4). The regularised representations are the outputs of
conv1..conv3 (one clustering kind) and of ip1 (sample clustering, as §4.2 does
for fully connected layers); ``forward`` returns logits and the sum of
lambda_l * R_l.
"""

import torch.nn as nn
import torch.nn.functional as F

from layerwise.parsimonious.regulariser import ClusterRegulariser

LAYERS = ("conv1", "conv2", "conv3", "ip1")
POOLS = ("max", "avg", "avg")  # Caffe's cifar10_quick


class QuickCNN(nn.Module):
    def __init__(
        self,
        channels,
        size,
        classes,
        dropout=0.0,
        clustering=None,
        lambdas=(0, 0, 0, 0),
        reg_cfg=None,
        seed=0,
        pools=POOLS,
    ):
        super().__init__()
        if len(pools) != 3 or any(p not in ("max", "avg") for p in pools):
            raise ValueError(f"pools must be three of 'max'/'avg', got {pools!r}")
        self.pools = tuple(pools)
        for _ in range(3):  # three 3/2 pools, rounding up like Caffe
            size = -(-(size - 3) // 2) + 1
        self.conv1 = nn.Conv2d(channels, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 32, 5, padding=2)
        self.conv3 = nn.Conv2d(32, 64, 5, padding=2)
        self.ip1 = nn.Linear(64 * size * size, 64)
        self.ip2 = nn.Linear(64, classes)
        self.dropout = dropout
        self.lambdas = dict(zip(LAYERS, lambdas, strict=True))
        self.regs = nn.ModuleDict()
        if clustering is not None:
            for i, name in enumerate(LAYERS):
                if self.lambdas[name] > 0:
                    kind = "sample" if name == "ip1" else clustering
                    self.regs[name] = ClusterRegulariser(
                        kind,
                        reg_cfg["clusters"],
                        reg_cfg["alpha"],
                        reg_cfg["reseed_every"],
                        reg_cfg["reseed_min"],
                        seed * 10 + i,
                    )

    def _reg(self, name, y):
        return self.lambdas[name] * self.regs[name](y) if name in self.regs else 0.0

    def _pool(self, i, h):
        pool = F.max_pool2d if self.pools[i] == "max" else F.avg_pool2d
        return pool(h, 3, 2, ceil_mode=True)

    def features(self, x):
        """ip1 output (the representation whose k-means NMI Table 3 reports) and the regulariser sum."""
        h = F.relu(self._pool(0, self.conv1(x)))
        reg = self._reg("conv1", h)
        h = self._pool(1, F.relu(self.conv2(h)))
        reg = reg + self._reg("conv2", h)
        h = self._pool(2, F.relu(self.conv3(h)))
        reg = reg + self._reg("conv3", h)
        f = self.ip1(h.flatten(1))
        reg = reg + self._reg("ip1", f)
        return f, reg

    def forward(self, x):
        f, reg = self.features(x)
        f = F.dropout(f, self.dropout, self.training) if self.dropout > 0 else f
        return self.ip2(f), reg
