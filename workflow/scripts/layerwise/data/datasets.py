"""Torch datasets over ``data.h5``: in-memory pixels, or an ImageNet-style manifest.

Both open the HDF5 file lazily, on first access in each DataLoader worker, and
never keep a handle from ``__init__``: h5py handles do not survive ``fork``.
"""

from pathlib import Path

import h5py
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from layerwise.data.imagefolder import load_rgb
from layerwise.data.store import open_data

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_transform(train):
    """The standard pipelines: RandomResizedCrop(224)+flip, or Resize(256)+CenterCrop(224)."""
    crop = [v2.RandomResizedCrop(224), v2.RandomHorizontalFlip()] if train else [v2.Resize(256), v2.CenterCrop(224)]
    return v2.Compose(
        [v2.PILToTensor(), *crop, v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )


class _LazyH5(Dataset):
    def __init__(self, path, split):
        self.path, self.split = str(path), split
        with open_data(self.path) as f:  # checked once, then closed: workers reopen
            self.length = len(f[f"splits/{split}"])
        self._file = None

    def __len__(self):
        return self.length

    def _open(self):
        if self._file is None:
            self._file = h5py.File(self.path, "r")
            self._rows = self._file[f"splits/{self.split}"][()]
            self._labels = self._file["labels"][()]
        return self._file

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_file"] = None  # each worker opens its own handle
        return state


class H5ImageDataset(_LazyH5):
    """``(uint8 tensor (C, H, W) or transform(it), label)`` of one split of a pixel ``data.h5``."""

    def __init__(self, path, split, transform=None):
        super().__init__(path, split)
        self.transform = transform

    def __getitem__(self, i):
        f = self._open()
        row = self._rows[i]
        image = torch.from_numpy(f["images"][row]).permute(2, 0, 1)
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self._labels[row])


class ManifestDataset(_LazyH5):
    """``(transform(PIL RGB image), label)`` of one split of a manifest ``data.h5``."""

    def __init__(self, path, split, transform=None):
        super().__init__(path, split)
        self.transform = transform

    def __getitem__(self, i):
        f = self._open()
        row = self._rows[i]
        rel = f["paths"][row]
        rel = rel.decode() if isinstance(rel, bytes) else rel
        image = load_rgb(Path(f.attrs["root"]) / rel)
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self._labels[row])
