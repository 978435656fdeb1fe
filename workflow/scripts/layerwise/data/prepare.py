"""The data stage: any configured dataset into ``data.h5`` (see :mod:`layerwise.data.store`)."""

import hashlib
import os
import sys
from pathlib import Path

from layerwise.data import store, synthetic
from layerwise.data.cifar import LAYOUTS, pickle_dir, read_cifar
from layerwise.data.imagefolder import find_split_dir, scan_tree, verify_images, walk_files
from layerwise.errors import InputError

LAYOUT_HINT = {
    "cifar10": "data_batch_1..5, test_batch, batches.meta (python pickles) or train/<class>/*.png with test/ or val/",
    "cifar100": "train, test, meta (python pickles) or train/<class>/*.png with test/ or val/",
    "imagenet": "train/<wnid>/*.JPEG and val/<wnid>/*.JPEG",
}


def check_root(name, cfg):
    """The dataset root as a Path; a missing one names the config key and the layout."""
    key = f"datasets.{name}.root"
    root = cfg.get("root")
    if not root:
        raise InputError(
            f"{key} is not set. Point it to a local copy holding {LAYOUT_HINT[cfg['kind']]} (nothing is downloaded)."
        )
    if not Path(root).is_dir():
        raise InputError(f"{key}: {root} is not a directory. Expected it to hold {LAYOUT_HINT[cfg['kind']]}.")
    return Path(root)


# Split folders each kind reads (the first existing evaluation folder counts).
EVAL_SPLITS = {"cifar10": ["test", "val"], "cifar100": ["test", "val"], "imagenet": ["val"]}


def root_files(root, kind):
    """The files ``prepare`` reads from ``root`` (a generator): the pickle batches, or the split
    folders' files."""
    directory = pickle_dir(root, kind) if kind in LAYOUTS else None
    if directory is not None:
        layout = LAYOUTS[kind]
        names = [layout["meta"], *layout["train"], *layout["test"]]
        yield from (directory / n for n in names if (directory / n).exists())
        return
    for names in (["train"], EVAL_SPLITS[kind]):
        if any((root / n).is_dir() for n in names):
            yield from walk_files(find_split_dir(root, names, ""))


# Files after which the digest says what it is doing: ImageNet's 1.35 M take ~20 s at DAG time.
LARGE_TREE = 100_000


def root_fingerprint(name, cfg, large=LARGE_TREE):
    """A digest of the root's listing (paths, sizes, modification times), '' for synthetic data.

    Rule prepare_data takes it as a param: Snakemake reruns a job whose params
    changed, so images added, removed or replaced under the root rebuild data.h5.
    It stats every file (no reads): about a second per 100k files on a local disk, so
    once ``large`` files are counted one line on stderr says what the wait is.
    """
    if cfg["kind"] == "synthetic":
        return ""
    root = check_root(name, cfg)
    skip = len(str(root).rstrip("/")) + 1  # relative paths: the same tree elsewhere digests the same
    rows = []
    for count, path in enumerate(map(str, root_files(root, cfg["kind"])), 1):
        if count == large:
            print(f"datasets.{name}: listing {root} to see whether data.h5 is current ({large:,} files so far, "
                  "about 1 s per 100,000 on a local disk; ImageNet's 1.35 M take ~20 s) ...",
                  file=sys.stderr, flush=True)
        try:
            st = os.stat(path)
        except OSError as err:  # a broken symlink, or a file removed while listing
            raise InputError(f"{path}: cannot stat ({err.strerror}); remove it or fix its link target.") from None
        rows.append(f"{path[skip:]}\0{st.st_size}\0{st.st_mtime_ns}\n")
    return f"{len(rows)} files, sha256 {hashlib.sha256(''.join(rows).encode()).hexdigest()[:16]}"


def prepare(name, cfg, output, threads=1):
    """Build ``output`` (data.h5) for dataset ``name`` with config entry ``cfg``."""
    kind = cfg["kind"]
    if kind == "synthetic":
        params = cfg["synthetic"]
        sample = synthetic.generate(params)
        store.write_arrays(
            output, sample["images"], sample["labels"], sample["class_names"], sample["splits"],
            params=cfg, seed=params["seed"], extra=synthetic.ground_truth(sample),
        )
        return
    root = check_root(name, cfg)
    key = f"datasets.{name}.root"
    if kind in ("cifar10", "cifar100"):
        images, labels, names, splits = read_cifar(root, kind, key)
        store.write_arrays(output, images, labels, names, splits, params=cfg, seed=0)
        return
    classes, items, splits = scan_tree(root, ["val"], key)
    rel_paths = [p for p, _ in items]
    verify_images(root, rel_paths, cfg.get("verify_images", "header"), threads)
    labels = [label for _, label in items]
    store.write_manifest(output, root, rel_paths, labels, classes, splits, params=cfg, seed=0)
