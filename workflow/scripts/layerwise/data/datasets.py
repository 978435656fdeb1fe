"""Torch datasets over ``data.h5``: in-memory pixels, or an ImageNet-style manifest.

Pixel datasets open the HDF5 file lazily, on first access in each DataLoader
worker, and never keep a handle from ``__init__``: h5py handles do not survive
``fork``. Manifests read their paths up front and keep no handle at all.
"""

from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from layerwise.data.imagefolder import load_rgb
from layerwise.data.store import open_data

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_transform(train, size=224):
    """The standard pipelines: RandomResizedCrop(224)+flip, or Resize(256)+CenterCrop(224) (at ``size``)."""
    # imported where used: `import torchvision` pulls in torch._dynamo (~1 CPU-s per job), and the
    # demo's ~100 jobs on in-memory arrays never need it
    from torchvision.transforms import v2

    resize = round(size * 256 / 224)
    crop = (
        [v2.RandomResizedCrop(size), v2.RandomHorizontalFlip()] if train else [v2.Resize(resize), v2.CenterCrop(size)]
    )
    return v2.Compose(
        [v2.PILToTensor(), *crop, v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )


class H5ImageDataset(Dataset):
    """``(uint8 tensor (C, H, W) or transform(it), label)`` of one split of a pixel ``data.h5``."""

    def __init__(self, path, split, transform=None):
        self.path, self.split, self.transform = str(path), split, transform
        with open_data(self.path) as f:  # checked once, then closed: workers reopen
            self.length = len(f[f"splits/{split}"])
        self._file = None

    def __len__(self):
        return self.length

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_file"] = None  # each worker opens its own handle
        return state

    def __getitem__(self, i):
        if self._file is None:
            self._file = h5py.File(self.path, "r")
            self._images = self._file["images"]
            self._rows = self._file[f"splits/{self.split}"][()]
            self._labels = self._file["labels"][()]
        row = self._rows[i]
        image = torch.from_numpy(self._images[row]).permute(2, 0, 1)
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self._labels[row])


class ManifestDataset(Dataset):
    """``(transform(PIL RGB image), label)`` of one split of a manifest ``data.h5``.

    The split's paths are read once into a fixed-width bytes array and the file
    is closed: the array is shared copy-on-write by forked workers (a list of
    Python strings would be copied page by page through reference counts), and
    no HDF5 access remains on the per-image path.
    """

    def __init__(self, path, split, transform=None):
        with open_data(path) as f:
            rows = f[f"splits/{split}"][()]
            self.root = Path(f.attrs["root"])
            self.paths = np.array(f["paths"][()][rows], dtype=np.bytes_)
            self.labels = f["labels"][()][rows]
        self.transform = transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        image = load_rgb(self.root / self.paths[i].decode())
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[i])
