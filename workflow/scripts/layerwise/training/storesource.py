"""Training images from the store (``results/{dataset}/store.h5``), the ImageNet default.

A work item is a whole batch: ``(split, epoch, step, training indices)``. The
worker reads the batch's JPEG bytes from the store, draws RandomResizedCrop +
flip boxes from the stored image sizes with the (seed, epoch, step) generator,
and

* on CPU decodes (``torchvision.io.decode_jpeg``) and crops the batch itself
  (torchvision's antialiased resized_crop per image);
* on CUDA returns the batch's bytes as one tensor (pinned by the loader), and
  the job decodes the batch on the GPU (``decode_jpeg(device="cuda")``) and
  crops each image there into the fixed output (``crops.crop_resize``).

Either way a prefetch thread (``layerwise.training.prefetch``, with its own
CUDA stream) finishes the next batches while the current step computes. One
persistent DataLoader per purpose (training steps, evaluation chunks) is built
once per job; the job's threads are shared between them (``loader_workers``:
one thread stays with the training loop, and a small split gets few workers).

Evaluation items (``epoch`` None) use the single centre crop: Resize to
``image_size * 256 / 224`` then CenterCrop ``image_size`` (paper 003 section 4).
"""

import math

import h5py
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from layerwise.data import crops
from layerwise.data.imagestore import StoreReader, check_store
from layerwise.data.store import open_data
from layerwise.distributed import rank_share
from layerwise.training.inputs import step_generator
from layerwise.training.prefetch import Prefetcher

PER_WORKER = 512  # images a DataLoader worker must have to earn its start-up (fork, store open)


def loader_workers(threads, train_items, eval_items, per_worker=PER_WORKER):
    """(training, evaluation) DataLoader workers of a job with ``threads`` threads.

    One thread runs the training loop; the others are split between the two
    persistent loaders, evaluation getting a quarter (rounded up, none with one
    spare thread: it runs between steps, and on the GPU path its workers only
    read bytes), and a loader gets no more workers than its split has
    ``per_worker`` images. So a job never runs more than ``threads`` processes,
    and a 12-image tree gets one worker, not sixteen.
    """
    spare = max(0, int(threads) - 1)
    evaluation = min(math.ceil(spare / 4) if spare >= 2 else 0, math.ceil(eval_items / per_worker))
    return min(spare - evaluation, math.ceil(train_items / per_worker)), evaluation


def eval_resize(size):
    """The Resize side before CenterCrop(size): 256 for 224 (the standard ratio)."""
    return round(size * 256 / 224)


def decode_crop(data, boxes, flip, size, device=None):
    """JPEG bytes (list of uint8 tensors) -> crops (n, 3, size, size).

    ``device`` None (in a CPU worker): uint8 crops, per image, normalised by the
    job (workers pass 4x fewer bytes). A device (the job, normally CUDA): the
    batch is decoded there and each image resized into the output, normalised float.
    """
    # imported where used: `import torchvision` pulls in torch._dynamo (~1 CPU-s per job), and the
    # demo's ~100 jobs on in-memory arrays never need it
    from torchvision.io import ImageReadMode, decode_jpeg

    if device is None:
        images = decode_jpeg(data, mode=ImageReadMode.RGB)
        return crops.crop_resize_each(images, boxes, size, flip)
    images = decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
    return crops.normalise(crops.crop_resize(images, boxes, size, flip))


class StoreBatches(Dataset):
    """Map-style dataset whose keys are whole batches (see the module docstring)."""

    def __init__(self, store_path, size, seed, decode_in_worker):
        self.reader = StoreReader(store_path)
        with h5py.File(store_path, "r") as f:  # checked by check_store; closed before fork
            self.rows = {s: f[f"splits/{s}"][()] for s in ("train", "test")}
        self.size, self.seed, self.decode_in_worker = size, seed, decode_in_worker

    def __len__(self):  # only keys from the sampler are used
        return 0

    def __getitem__(self, key):
        split, epoch, step, idx = key
        rows = self.rows[split][np.asarray(idx, dtype=np.int64)]
        h, w = self.reader.heights[rows], self.reader.widths[rows]
        if epoch is None:
            boxes, flip = crops.center_boxes(h, w, self.size, eval_resize(self.size)), None
        else:
            boxes, flip = crops.random_resized_boxes(h, w, step_generator(self.seed, epoch, step))
        data = self.reader.read(rows)
        if self.decode_in_worker:
            return decode_crop(data, boxes, flip, self.size)
        # one tensor crosses to the job, not one shared-memory segment per image
        lengths = torch.tensor([len(d) for d in data], dtype=torch.int64)
        return torch.cat(data), lengths, boxes, flip


class Keys(Sampler):
    """The loader's work items, from a callable reset before each ``iter(loader)``."""

    def __init__(self):
        self.make = lambda: iter(())

    def __iter__(self):
        return iter(self.make())


class StoreSource:
    cacheable = False  # random crops: every epoch sees new inputs

    def __init__(self, data_path, store, size, seed, threads, decode_device="auto"):
        """``threads``: the job's (split into DataLoader workers by :func:`loader_workers`).
        ``decode_device``: ``auto`` = CUDA when present, else None (decoding in the workers)."""
        check_store(store["path"], data_path, store)
        with open_data(data_path) as f:
            labels = f["labels"][()]
            self.train_labels = torch.as_tensor(labels[f["splits/train"][()]], dtype=torch.long)
            self.test_labels = torch.as_tensor(labels[f["splits/test"][()]], dtype=torch.long)
            self.num_classes = int(len(f["class_names"]))
        self.image_shape = (3, size, size)
        self.size = size
        if decode_device == "auto":
            decode_device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else None
        self.decode_device = decode_device
        dataset = StoreBatches(store["path"], size, seed, decode_in_worker=decode_device is None)
        self.keys = {"train": Keys(), "eval": Keys()}
        self.workers = dict(zip(("train", "eval"), loader_workers(
            threads, len(self.train_labels), len(self.test_labels)), strict=True))
        self.loaders = {
            name: DataLoader(dataset, sampler=keys, batch_size=None, num_workers=self.workers[name],
                             persistent_workers=self.workers[name] > 0,
                             pin_memory=decode_device is not None and torch.device(decode_device).type == "cuda",
                             prefetch_factor=4 if self.workers[name] > 0 else None)
            for name, keys in self.keys.items()
        }
        self.sampler, self.rank, self.world = None, 0, 1
        self._iter, self._next = None, None

    def attach(self, sampler, rank, world):
        self.sampler, self.rank, self.world = sampler, rank, world

    def _finish(self, item):
        if self.decode_device is None:
            return crops.normalise(item)
        blob, lengths, boxes, flip = item
        data = list(torch.split(blob, lengths.tolist()))  # views of the pinned batch
        return decode_crop(data, boxes, flip, self.size, self.decode_device)

    def train_batch(self, idx, epoch, step):
        if self._iter is None or self._next != (epoch, step):
            # the sampler is at (epoch, step): prefetch the rest of this epoch's shares
            sampler, rank, world = self.sampler, self.rank, self.world
            start = sampler.start

            def make():
                for i, row in enumerate(sampler, start=start):
                    yield ("train", epoch, i, tuple(rank_share(row, rank, world).tolist()))

            self.keys["train"].make = make
            if self._iter is not None:
                self._iter.close()
            self._iter = Prefetcher(iter(self.loaders["train"]), self._finish, self.decode_device)
        self._next = (epoch, step + 1)
        return next(self._iter)

    def chunks(self, split, idx=None, chunk=256):
        n = len(self.train_labels if split == "train" else self.test_labels)
        idx = np.arange(n) if idx is None else np.asarray(idx, dtype=np.int64)
        items = [(split, None, None, tuple(idx[s : s + chunk].tolist())) for s in range(0, len(idx), chunk)]
        self.keys["eval"].make = lambda: items
        batches = Prefetcher(iter(self.loaders["eval"]), self._finish, self.decode_device)
        try:
            yield from batches
        finally:  # a consumer that stops early (one chunk of the split) ends the thread
            batches.close()
