"""CIFAR-10/100 from a local root: the python pickle batches as distributed, or an ImageFolder tree."""

import pickle
from pathlib import Path

import numpy as np
from tqdm import tqdm

from layerwise.data.imagefolder import load_rgb, scan_tree
from layerwise.errors import InputError

# Per kind: training files, test files, meta file, label key, label-name key.
LAYOUTS = {
    "cifar10": {
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": "batches.meta",
        "labels": b"labels",
        "names": b"label_names",
        "folder": "cifar-10-batches-py",
    },
    "cifar100": {
        "train": ["train"],
        "test": ["test"],
        "meta": "meta",
        "labels": b"fine_labels",
        "names": b"fine_label_names",
        "folder": "cifar-100-python",
    },
}


def _unpickle(path):
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh, encoding="bytes")
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as err:
        raise InputError(
            f"{path}: not a readable CIFAR pickle batch ({err}); replace it with the original file"
        ) from None


def read_batch(path, label_key):
    """``(uint8 (n, 32, 32, 3), int64 (n,))`` of one pickle batch, with its shape checked."""
    batch = _unpickle(path)
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        raise InputError(f"{path}: expected a dict with b'data' and {label_key!r}; is this the right CIFAR variant?")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise InputError(
            f"{path}: b'data' has shape {data.shape} and dtype {data.dtype}; CIFAR batches are uint8 (n, 3072)"
        )
    if len(labels) != len(data):
        raise InputError(f"{path}: {len(data)} images but {len(labels)} labels")
    # Stored channel-major (R plane, G plane, B plane) per row.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def pickle_dir(root, kind):
    """The folder holding the batches: ``root`` itself or the folder the archive unpacks to."""
    layout = LAYOUTS[kind]
    for candidate in (Path(root), Path(root) / layout["folder"]):
        if (candidate / layout["meta"]).exists():
            return candidate
    return None


def read_pickles(directory, kind):
    layout = LAYOUTS[kind]
    meta = _unpickle(directory / layout["meta"])
    names = [n.decode() for n in meta[layout["names"]]]
    parts = {}
    for split in ("train", "test"):
        missing = [f for f in layout[split] if not (directory / f).exists()]
        if missing:
            raise InputError(f"{directory}: missing {', '.join(missing)} (expected {', '.join(layout[split])})")
        pairs = [read_batch(directory / f, layout["labels"]) for f in layout[split]]
        parts[split] = (np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]))
    bad = [
        f"{s}: {int(labels.max())}" for s, (_, labels) in parts.items() if len(labels) and labels.max() >= len(names)
    ]
    if bad:
        raise InputError(f"{directory}: labels beyond the {len(names)} classes of {layout['meta']} ({bad})")
    return _join(parts, names)


def _join(parts, names):
    images = np.concatenate([parts["train"][0], parts["test"][0]])
    labels = np.concatenate([parts["train"][1], parts["test"][1]])
    n_train = len(parts["train"][1])
    splits = {"train": np.arange(n_train), "test": np.arange(n_train, len(labels))}
    return images, labels, names, splits


def read_imagefolder(root, key):
    """Decode a CIFAR-style ImageFolder tree fully into memory (all images one size)."""
    classes, items, splits = scan_tree(root, ["test", "val"], key)
    images, shape = [], None
    for rel, _ in tqdm(items, desc="decode images", mininterval=5):
        arr = np.asarray(load_rgb(Path(root) / rel))
        if shape is None:
            shape = arr.shape
        elif arr.shape != shape:
            raise InputError(
                f"{Path(root) / rel}: size {arr.shape[:2]} differs from {shape[:2]}; CIFAR-style trees need one image "
                "size"
            )
        images.append(arr)
    labels = np.array([label for _, label in items], dtype=np.int64)
    return np.stack(images), labels, classes, {k: np.asarray(v) for k, v in splits.items()}


def read_cifar(root, kind, key):
    """Images, labels, class names and splits of a local CIFAR copy (pickles preferred)."""
    directory = pickle_dir(root, kind)
    if directory is not None:
        return read_pickles(directory, kind)
    return read_imagefolder(root, key)
