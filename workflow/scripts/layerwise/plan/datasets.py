"""Split sizes, image shape and classes of the datasets a plan's jobs read.

Order of sources: ``--sizes NAME=TRAIN,TEST`` (e.g. the known ILSVRC-2012 1,281,167 /
50,000 when planning on a generated tree), an existing results/{dataset}/data.h5, the
dataset entry that the DAG's prepare_data job carries (synthetic: n_train / n_test and the
side m0 * s^levels; CIFAR: 50,000 / 10,000; ImageNet-style: the files under the root's
split folders, counted without stat as the DAG has just listed them).
"""

import os
from dataclasses import dataclass
from pathlib import Path

import h5py

CIFAR = {"cifar10": (50000, 10000, 10), "cifar100": (50000, 10000, 100)}


@dataclass
class DatasetInfo:
    name: str
    kind: str
    n_train: int
    n_test: int
    channels: int
    side: int  # image side of the stored images (ImageNet: the training crop, from the job params)
    num_classes: int
    source: str  # where the sizes came from (printed)
    manifest: bool = False


def parse_sizes(items):
    """``["imagenet=1281167,50000,1000"]`` -> {"imagenet": (1281167, 50000, 1000)} (classes optional)."""
    out = {}
    for item in items or ():
        name, _, sizes = item.partition("=")
        numbers = [int(v) for v in sizes.split(",")]
        out[name] = (numbers + [None])[:3]
    return out


def _count_split(root, names):
    for name in names:
        split = Path(root) / name
        if split.is_dir():
            dirs = [e for e in os.scandir(split) if e.is_dir()]
            return sum(len(os.listdir(d.path)) for d in dirs), len(dirs)
    return 0, 0


def from_data_file(name, path):
    with h5py.File(path, "r") as f:
        n_train, n_test = len(f["splits/train"]), len(f["splits/test"])
        classes = int(f.attrs.get("num_classes", len(f["class_names"])))
        if "images" in f:
            _, h, _, c = f["images"].shape
            return DatasetInfo(name, "arrays", n_train, n_test, c, h, classes, f"{path}")
    return DatasetInfo(name, "imagenet", n_train, n_test, 3, 224, classes, f"{path}", manifest=True)


def from_entry(name, cfg):
    """From a dataset's config entry (the prepare_data job's params)."""
    kind = cfg["kind"]
    if kind == "synthetic":
        s = cfg["synthetic"]
        side = s["semantic_size"] * s["patch_size"] ** len(s["classes_per_level"])
        return DatasetInfo(name, kind, s["n_train"], s["n_test"], s["channels"], side, s["num_classes"],
                           "config (synthetic n_train / n_test)")
    if kind in CIFAR:
        n_train, n_test, classes = CIFAR[kind]
        return DatasetInfo(name, kind, n_train, n_test, 3, 32, classes, f"the {kind} split sizes")
    n_train, classes = _count_split(cfg["root"], ["train"])
    n_test, _ = _count_split(cfg["root"], ["val"])
    return DatasetInfo(name, kind, n_train, n_test, 3, 224, classes, f"files under {cfg['root']}", manifest=True)


def resolve(jobs, directory, overrides):
    """DatasetInfo per dataset name that a job of the plan names."""
    entries = {j.wildcards["dataset"]: j.params for j in jobs if j.rule == "prepare_data"}
    names = sorted({j.wildcards["dataset"] for j in jobs if "dataset" in j.wildcards})
    out = {}
    for name in names:
        path = Path(directory) / "results" / name / "data.h5"
        if name in entries and "kind" in entries[name]:
            info = from_entry(name, entries[name])
        elif path.exists():
            info = from_data_file(name, path)
        else:
            info = DatasetInfo(name, "unknown", 0, 0, 3, 32, 10, "unknown (no data.h5, no prepare_data job)")
        if name in overrides:
            info.n_train, info.n_test, classes = overrides[name]
            info.num_classes = classes or info.num_classes
            info.source = "--sizes"
        kinds = {j.params.get("image_size") for j in jobs if j.wildcards.get("dataset") == name}
        kinds.discard(None)
        if kinds and info.manifest:
            info.side = max(kinds)
        out[name] = info
    return out
