"""Where training images come from: in-memory pixels, or an ImageNet-style manifest.

Both give normalised float batches for a list of training indices (with the
configured augmentation) and, without augmentation, whole splits in chunks.
Manifests read the training-image store (``layerwise.training.storesource``,
the default) or decode the original JPEGs with PIL in DataLoader workers
(ImageNet pipelines of ``layerwise.data.datasets``: RandomResizedCrop + flip for
training, Resize + CenterCrop otherwise); a step's batch is prefetched by a
persistent loader that follows the mini-batch file in the sampler's order.
"""

from types import SimpleNamespace

import torch
from torch.utils.data import DataLoader, Subset

from layerwise.data.datasets import ManifestDataset, imagenet_transform
from layerwise.data.store import open_data
from layerwise.distributed import rank_share
from layerwise.errors import InputError
from layerwise.training.inputs import AUGMENTS, CROP_PAD, crop_indices, load_arrays, normalise, step_generator
from layerwise.training.storesource import Keys, StoreSource, loader_workers

RESIDENT_SHARE = 0.25  # at most this share of the GPU's memory holds a dataset's pixels


def flip_crop(images, generator):
    """``inputs.augment`` (pad, random crop, flip) where ``images`` live, with the same draws.

    The offsets and flips are drawn on the host from the (seed, epoch, step)
    generator exactly as ``inputs.augment`` draws them, then the gather runs on
    the images' device: on CPU the result is bit for bit ``inputs.augment``'s.
    """
    b, _, h, w = images.shape
    rows, cols = crop_indices(b, h, w, generator)
    rows, cols = _to(rows, images.device), _to(cols, images.device)
    padded = torch.nn.functional.pad(images, (CROP_PAD,) * 4)
    bidx = torch.arange(b, device=images.device).view(b, 1, 1)
    out = padded.permute(0, 2, 3, 1)[bidx, rows.view(b, h, 1), cols.view(b, 1, w)]
    return out.permute(0, 3, 1, 2).contiguous()


def _to(x, device):
    """Host tensor to ``device``: from pinned memory without blocking on CUDA."""
    if device.type != "cuda":
        return x
    return x.pin_memory().to(device, non_blocking=True)


def resident_device(arrays, device="auto"):
    """The CUDA device that holds the pixels (CIFAR-size data on a GPU), else the CPU."""
    if device == "auto":
        device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type != "cuda":
        return torch.device("cpu")
    nbytes = arrays.train_images.nbytes + arrays.test_images.nbytes
    fits = nbytes <= RESIDENT_SHARE * torch.cuda.get_device_properties(device).total_memory
    return device if fits else torch.device("cpu")


class PixelSource:
    """In-memory pixels (``data.h5`` images). On CUDA, when they fit (``RESIDENT_SHARE``), the
    uint8 images live on the GPU and augmentation and normalisation run there: a step copies
    nothing but its indices. On CPU everything is as ``inputs.augment``/``normalise``."""

    def __init__(self, data_path, augment_kind, seed, device="auto"):
        self.arrays = load_arrays(data_path)
        self.augment_kind, self.seed = augment_kind, seed
        self.train_labels, self.test_labels = self.arrays.train_labels, self.arrays.test_labels
        self.num_classes, self.image_shape = self.arrays.num_classes, self.arrays.image_shape
        self.cacheable = augment_kind == "none"
        self.device = resident_device(self.arrays, device)
        arrays = self.arrays
        self.images = {"train": arrays.train_images.to(self.device), "test": arrays.test_images.to(self.device)}
        self.stats = SimpleNamespace(mean=arrays.mean.to(self.device), std=arrays.std.to(self.device))

    def attach(self, sampler, rank, world):
        """Pixel sources need no view of the batch order."""

    def train_batch(self, idx, epoch, step):
        images = self.images["train"][_to(torch.as_tensor(idx, dtype=torch.long), self.device)]
        if self.augment_kind == "flip_crop":
            images = flip_crop(images, step_generator(self.seed, epoch, step))
        return normalise(images, self.stats)

    def chunks(self, split, idx=None, chunk=256):
        images = self.images[split]
        if idx is not None:
            images = images[_to(torch.as_tensor(idx, dtype=torch.long), self.device)]
        for s in range(0, len(images), chunk):
            yield normalise(images[s : s + chunk], self.stats)


class ManifestSource:
    """Full-size JPEGs decoded by PIL in DataLoader workers (``datasets.<name>.loader: manifest``).

    Slower than the store (benchmarks/imagenet_loader.py) but needs no copy of the tree.
    One persistent loader is built per job; its batch sampler follows the epoch.
    """

    cacheable = False  # random crops: every epoch sees new inputs

    def __init__(self, data_path, workers, size=224):
        """``workers``: the job's threads, split into DataLoader workers by ``loader_workers``."""
        self.train = ManifestDataset(data_path, "train", imagenet_transform(True, size))
        self.plain = {"train": ManifestDataset(data_path, "train", imagenet_transform(False, size)),
                      "test": ManifestDataset(data_path, "test", imagenet_transform(False, size))}
        workers = loader_workers(workers, len(self.train), len(self.plain["test"]))
        self.workers = dict(zip(("train", "eval"), workers, strict=True))
        self.train_labels = torch.as_tensor(self.train.labels, dtype=torch.long)
        self.test_labels = torch.as_tensor(self.plain["test"].labels, dtype=torch.long)
        with open_data(data_path) as f:
            self.num_classes = int(len(f["class_names"]))
        self.image_shape = (3, size, size)
        self.sampler, self.rank, self.world = None, 0, 1
        self._iter, self._next, self._shares = None, None, Keys()
        self._loader = DataLoader(self.train, batch_sampler=self._shares, num_workers=self.workers["train"],
                                  persistent_workers=self.workers["train"] > 0, pin_memory=torch.cuda.is_available())

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
        for x, _ in DataLoader(data, batch_size=chunk, num_workers=self.workers["eval"]):
            yield x


def open_source(data_path, augment_kind, seed, workers, cfg=None, device="auto"):
    """PixelSource for pixel data.h5 files; for manifests the store (``cfg["store"]``) or PIL.

    ``workers`` is the job's thread count (``cfg["workers"]``); the DataLoader
    workers of manifests follow from it and the splits' sizes (``loader_workers``).
    ``device``: where pixel datasets live (``auto``: the current CUDA device when
    they fit, else the CPU); pass the training device to pin it.
    """
    if augment_kind not in AUGMENTS:
        raise InputError(f"layerwise profile augment: {augment_kind!r} is not one of {AUGMENTS}")
    cfg = cfg or {}
    with open_data(data_path) as f:
        manifest = "images" not in f
    if not manifest:
        return PixelSource(data_path, augment_kind, seed, device)
    size = cfg.get("image_size", 224)
    if cfg.get("store"):
        return StoreSource(data_path, cfg["store"], size, seed, workers)
    return ManifestSource(data_path, workers, size)
