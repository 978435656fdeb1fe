"""The ``data.h5`` format: one file per dataset, written once by ``prepare_data``.

Layout (DESIGN.md, "HDF5 conventions")::

    images         uint8 (N, H, W, C)   pixels; absent for manifests (ImageNet)
    paths          str (N,)             manifests only: paths relative to attrs["root"]
    labels         int64 (N,)
    class_names    str (C,)
    splits/train   int64                row indices of the training split
    splits/test    int64                row indices of the evaluation split
    latents/level{i}, patch_sets/level{i}, prototypes   synthetic ground truth

"Training index i" everywhere downstream means row ``splits/train[i]``.
"""

import h5py
import numpy as np

from layerwise.errors import InputError
from layerwise.h5io import atomic_h5, open_checked

STAGE = "prepare_data"
SPLITS = ("train", "test")
_STR = h5py.string_dtype("utf-8")


def _write_common(f, labels, class_names, splits):
    f.create_dataset("labels", data=np.asarray(labels, dtype=np.int64))
    f.create_dataset("class_names", data=np.asarray(class_names, dtype=object), dtype=_STR)
    for name in SPLITS:
        f.create_dataset(f"splits/{name}", data=np.asarray(splits[name], dtype=np.int64))
    f.attrs["num_classes"] = len(class_names)


def write_arrays(path, images, labels, class_names, splits, params, seed, extra=None):
    """Write an in-memory dataset. ``extra`` maps dataset names to arrays (ground truth)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 (N, H, W, C), got {images.dtype} {images.shape}")
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    with atomic_h5(path, STAGE, params, seed) as f:
        rows = max(1, min(len(images), (1 << 20) // max(1, images[0].size)))
        f.create_dataset("images", data=images, chunks=(rows,) + images.shape[1:])
        _write_common(f, labels, class_names, splits)
        f.attrs["kind"] = "arrays"
        for name, value in (extra or {}).items():
            f.create_dataset(name, data=value)


def write_manifest(path, root, rel_paths, labels, class_names, splits, params, seed):
    """Write an ImageFolder manifest: images stay on disk, decoded by DataLoader workers."""
    with atomic_h5(path, STAGE, params, seed) as f:
        f.create_dataset("paths", data=np.asarray(rel_paths, dtype=object), dtype=_STR)
        _write_common(f, labels, class_names, splits)
        f.attrs["kind"] = "manifest"
        f.attrs["root"] = str(root)


def open_data(path):
    """Open a ``data.h5`` after checking its format; the caller closes it."""
    f = open_checked(path, STAGE, required=("labels", "class_names", "splits/train", "splits/test"))
    if "images" not in f and "paths" not in f:
        f.close()
        raise InputError(f"{path}: neither images nor paths; delete it and rerun prepare_data.")
    return f


def is_manifest(path):
    """True for an ImageNet-style manifest (paths, no pixels)."""
    with open_data(path) as f:
        return "images" not in f


def _check_split(path, split):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def load_split(path, split):
    """Pixels and labels of one split in split order: ``(uint8 (n, H, W, C), int64 (n,))``."""
    _check_split(path, split)
    with open_data(path) as f:
        if "images" not in f:
            raise InputError(
                f"{path} is a manifest (ImageNet-style); load it with "
                "layerwise.data.datasets.ManifestDataset instead of in memory."
            )
        idx = f[f"splits/{split}"][()]
        labels = f["labels"][()][idx]
        images = _take_rows(f["images"], idx)
    return images, labels


def _take_rows(dset, idx):
    """Rows ``idx`` of an HDF5 dataset, reading contiguous runs (fancy indexing is slow)."""
    if len(idx) == 0:
        return np.empty((0,) + dset.shape[1:], dset.dtype)
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    lo, hi = sorted_idx[0], sorted_idx[-1] + 1
    block = dset[lo:hi][sorted_idx - lo]
    out = np.empty_like(block)
    out[order] = block
    return out


def class_names(path):
    with open_data(path) as f:
        return [s.decode() if isinstance(s, bytes) else s for s in f["class_names"][()]]
