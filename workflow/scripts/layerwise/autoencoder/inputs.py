"""Images of ``data.h5`` as float tensors, seeded epoch orders and the optional flip/crop augmentation.

Everything is held in memory as uint8 and converted per batch: the synthetic and
CIFAR training sets are small, and per-epoch orders come from a generator
seeded by (seed, phase, epoch) so an interrupted run resumes bit for bit.
"""

import zlib

import numpy as np
import torch

from layerwise.data.store import load_split


def load_images(path, split):
    """uint8 tensor (n, C, H, W) and int64 labels of one split, in split order."""
    images, labels = load_split(path, split)
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))), torch.from_numpy(labels)


def to_float(batch):
    """uint8 pixels -> float32 in [0, 1] (the scale every reconstruction loss is measured on)."""
    return batch.float().div_(255.0)


def channel_stats(images):
    """Per-channel mean and std of uint8 images (n, C, H, W) on the [0, 1] scale."""
    x = images.double().div(255.0)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return mean.float(), std.float()


def generator(seed, *tags):
    """A torch.Generator seeded from the config seed and a tag path (phase name, epoch)."""
    key = zlib.crc32(":".join(str(t) for t in (seed,) + tags).encode())
    return torch.Generator().manual_seed(key)


def subsample(n, size, seed):
    """Sorted training indices of an explicit, seeded subsample (``size`` None: all of them)."""
    if size is None or size >= n:
        return torch.arange(n)
    perm = torch.randperm(n, generator=generator(seed, "subsample"))
    return perm[:size].sort().values


def batches(n, batch_size, gen):
    """Index batches over a permutation drawn from ``gen`` (the last batch may be smaller)."""
    perm = torch.randperm(n, generator=gen)
    return list(perm.split(batch_size))


def augment(x, gen, pad=4):
    """Random horizontal flips and random crops of the zero-padded image (CIFAR-style)."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


def holdout(labels, fraction, seed):
    """(fit rows, validation rows) of a seeded, stratified carve-out (``fraction`` of each class)."""
    fit, val = [], []
    for c in torch.unique(labels).tolist():
        rows = torch.nonzero(labels == c).flatten()
        rows = rows[torch.randperm(len(rows), generator=generator(seed, "holdout", c))]
        take = int(round(fraction * len(rows)))
        if fraction > 0 and not 0 < take < len(rows):
            raise ValueError(f"validation fraction {fraction} leaves class {c} ({len(rows)} images) empty on one side")
        val.append(rows[:take])
        fit.append(rows[take:])
    return torch.cat(fit).sort().values, torch.cat(val).sort().values
