"""Training inputs: in-memory pixels, normalisation, augmentation and cached frozen inputs.

When augmentation is off the frozen layers 1..j-1 see the same images every
epoch, so their output x_{j-1} is computed once for the whole split and reused
(benchmarks/layerwise.py measures the saving). With augmentation on, every
step runs the frozen stack on the augmented batch.
"""

from dataclasses import dataclass

import numpy as np
import torch

from layerwise.data.store import load_split, open_data
from layerwise.errors import InputError
from layerwise.training import precision

AUGMENTS = ("none", "flip_crop")
CROP_PAD = 4  # the standard CIFAR augmentation: 4-pixel zero padding, random crop, flip


@dataclass
class SplitArrays:
    """uint8 images (n, C, H, W) and int64 labels of the train and test splits."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    num_classes: int
    mean: torch.Tensor
    std: torch.Tensor

    @property
    def image_shape(self):
        return tuple(self.train_images.shape[1:])


def load_arrays(data_path):
    """Both splits of a ``data.h5`` in memory, with per-channel statistics of the training split."""
    with open_data(data_path) as f:
        manifest = "images" not in f
        num_classes = int(len(f["class_names"]))
    if manifest:
        raise InputError(f"{data_path} is an image manifest; read it with training.sources.ManifestSource")
    xtr, ytr = load_split(data_path, "train")
    xte, yte = load_split(data_path, "test")
    if ytr.size and (ytr.min() < 0 or max(ytr.max(), yte.max(initial=0)) >= num_classes):
        raise InputError(f"{data_path}: labels outside 0..{num_classes - 1}; regenerate it")
    train = torch.from_numpy(np.ascontiguousarray(xtr.transpose(0, 3, 1, 2)))
    test = torch.from_numpy(np.ascontiguousarray(xte.transpose(0, 3, 1, 2)))
    pixels = train.double().div_(255).transpose(0, 1).reshape(train.shape[1], -1)
    mean, std = pixels.mean(1).float(), pixels.std(1).clamp_min(1e-6).float()
    return SplitArrays(
        train, torch.from_numpy(ytr), test, torch.from_numpy(yte), num_classes, mean, std
    )


def normalise(images, data):
    """uint8 (b, C, H, W) -> float32 standardised with the training split's statistics."""
    x = images.float().div_(255)
    return (x - data.mean.view(1, -1, 1, 1)) / data.std.view(1, -1, 1, 1)


def crop_indices(b, h, w, generator):
    """Rows and columns (b, h), (b, w) of padded images that a random crop + flip gathers;
    the offsets and flips drawn from ``generator`` on the host, in this order."""
    dy = torch.randint(0, 2 * CROP_PAD + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * CROP_PAD + 1, (b,), generator=generator)
    flip = torch.rand(b, generator=generator) < 0.5
    rows = dy.view(b, 1) + torch.arange(h).view(1, h)
    cols = dx.view(b, 1) + torch.arange(w).view(1, w)
    return rows, torch.where(flip.view(b, 1), cols.flip(1), cols)


def augment(images, generator):
    """Random crop after zero padding and horizontal flip, drawn from ``generator``."""
    b, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (CROP_PAD,) * 4)
    rows, cols = crop_indices(b, h, w, generator)
    bidx = torch.arange(b).view(b, 1, 1)
    out = padded.permute(0, 2, 3, 1)[bidx, rows.view(b, h, 1), cols.view(b, 1, w)]
    return out.permute(0, 3, 1, 2).contiguous()


def step_generator(seed, epoch, step):
    """Independent augmentation randomness per (seed, epoch, step): resumes bit for bit."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + epoch) * 1_000_003 + step)


class LayerInputs:
    """Inputs of the trained block: the frozen stack applied to a source's images.

    ``cache=True`` (only for sources without augmentation) precomputes the
    frozen output of the whole training split once; otherwise the frozen stack
    runs on every step's batch. ``frozen=nn.Identity()`` gives the images
    themselves (end-to-end training).
    """

    def __init__(self, frozen, source, device, cache):
        self.frozen, self.source, self.device = frozen, source, device
        self.cached = None
        if cache and source.cacheable:
            self.cached = self._fill(self._through_frozen(source.chunks("train")), len(source.train_labels))

    @staticmethod
    def _fill(chunks, n):
        """The chunks' rows in one preallocated CPU tensor (never the split twice: no list + cat)."""
        out, start = None, 0
        for y in chunks:
            if out is None:
                out = torch.empty((n, *y.shape[1:]), dtype=y.dtype)
            out[start : start + len(y)].copy_(y)
            start += len(y)
        return out

    @torch.no_grad()
    def _through_frozen(self, chunks):
        """The frozen stack on each chunk; results stay on the device (the caller reduces or
        writes them there and drops them: no round trip through the host)."""
        self.frozen.eval()
        for x in chunks:
            yield self.frozen(precision.to_device(x, self.device))

    def train_batch(self, idx, epoch, step):
        if self.cached is not None:
            return self.cached[torch.as_tensor(idx, dtype=torch.long)].to(self.device)
        x = self.source.train_batch(idx, epoch, step)
        with torch.no_grad():
            self.frozen.eval()
            return self.frozen(precision.to_device(x, self.device))

    def chunks(self, name, idx=None, chunk=256):
        """Frozen inputs (no augmentation) of split ``name``, all rows or rows ``idx``, in chunks."""
        if name == "train" and self.cached is not None:
            idx = torch.arange(len(self.cached)) if idx is None else torch.as_tensor(idx)
            return (self.cached[idx[s : s + chunk]] for s in range(0, len(idx), chunk))
        return self._through_frozen(self.source.chunks(name, idx, chunk))
