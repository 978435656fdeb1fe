"""Where training images come from: in-memory pixels, or an ImageNet-style manifest.

Both give normalised float batches for a list of training indices (with the
configured augmentation) and, without augmentation, whole splits in chunks.
Manifests read the training-image store (``layerwise.training.storesource``,
the default) or decode the original JPEGs with PIL in DataLoader workers
(ImageNet pipelines of ``layerwise.data.datasets``: RandomResizedCrop + flip for
training, Resize + CenterCrop otherwise); a step's batch is prefetched by a
persistent loader that follows the mini-batch file in the sampler's order.
"""

import torch
from torch.utils.data import DataLoader, Subset

from layerwise.data.datasets import ManifestDataset, imagenet_transform
from layerwise.data.store import open_data
from layerwise.distributed import rank_share
from layerwise.errors import InputError
from layerwise.training.inputs import (
    AUGMENTS,
    augment,
    load_arrays,
    normalise,
    step_generator,
)
from layerwise.training.storesource import Keys, StoreSource


class PixelSource:
    def __init__(self, data_path, augment_kind, seed):
        self.arrays = load_arrays(data_path)
        self.augment_kind, self.seed = augment_kind, seed
        self.train_labels, self.test_labels = self.arrays.train_labels, self.arrays.test_labels
        self.num_classes, self.image_shape = self.arrays.num_classes, self.arrays.image_shape
        self.cacheable = augment_kind == "none"

    def attach(self, sampler, rank, world):
        """Pixel sources need no view of the batch order."""

    def train_batch(self, idx, epoch, step):
        images = self.arrays.train_images[torch.as_tensor(idx, dtype=torch.long)]
        if self.augment_kind == "flip_crop":
            images = augment(images, step_generator(self.seed, epoch, step))
        return normalise(images, self.arrays)

    def chunks(self, split, idx=None, chunk=256):
        images = self.arrays.train_images if split == "train" else self.arrays.test_images
        if idx is not None:
            images = images[torch.as_tensor(idx)]
        for s in range(0, len(images), chunk):
            yield normalise(images[s : s + chunk], self.arrays)


class ManifestSource:
    """Full-size JPEGs decoded by PIL in DataLoader workers (``datasets.<name>.loader: manifest``).

    Slower than the store (benchmarks/imagenet_loader.py) but needs no copy of the tree.
    One persistent loader is built per job; its batch sampler follows the epoch.
    """

    cacheable = False  # random crops: every epoch sees new inputs

    def __init__(self, data_path, workers, size=224):
        self.workers = workers
        self.train = ManifestDataset(data_path, "train", imagenet_transform(True, size))
        self.plain = {"train": ManifestDataset(data_path, "train", imagenet_transform(False, size)),
                      "test": ManifestDataset(data_path, "test", imagenet_transform(False, size))}
        self.train_labels = torch.as_tensor(self.train.labels, dtype=torch.long)
        self.test_labels = torch.as_tensor(self.plain["test"].labels, dtype=torch.long)
        with open_data(data_path) as f:
            self.num_classes = int(len(f["class_names"]))
        self.image_shape = (3, size, size)
        self.sampler, self.rank, self.world = None, 0, 1
        self._iter, self._next, self._shares = None, None, Keys()
        self._loader = DataLoader(self.train, batch_sampler=self._shares, num_workers=workers,
                                  persistent_workers=workers > 0, pin_memory=torch.cuda.is_available())

    def attach(self, sampler, rank, world):
        self.sampler, self.rank, self.world = sampler, rank, world

    def train_batch(self, idx, epoch, step):
        if self._iter is None or self._next != (epoch, step):
            # the sampler is at (epoch, step): prefetch the rest of this epoch's shares
            sampler, rank, world = self.sampler, self.rank, self.world
            self._shares.make = lambda: (rank_share(row, rank, world).tolist() for row in sampler)
            self._iter = iter(self._loader)
        x, _ = next(self._iter)
        self._next = (epoch, step + 1)
        return x

    def chunks(self, split, idx=None, chunk=256):
        data = self.plain[split] if idx is None else Subset(self.plain[split], list(map(int, idx)))
        for x, _ in DataLoader(data, batch_size=chunk, num_workers=self.workers):
            yield x


def open_source(data_path, augment_kind, seed, workers, cfg=None):
    """PixelSource for pixel data.h5 files; for manifests the store (``cfg["store"]``) or PIL."""
    if augment_kind not in AUGMENTS:
        raise InputError(f"layerwise profile augment: {augment_kind!r} is not one of {AUGMENTS}")
    cfg = cfg or {}
    with open_data(data_path) as f:
        manifest = "images" not in f
    if not manifest:
        return PixelSource(data_path, augment_kind, seed)
    size = cfg.get("image_size", 224)
    if cfg.get("store"):
        return StoreSource(data_path, cfg["store"], size, seed, workers)
    return ManifestSource(data_path, workers, size)
