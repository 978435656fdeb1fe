"""The CIFAR readers against hand-made pickle batches and ImageFolder trees."""

import pickle

import numpy as np
import pytest
from PIL import Image

from layerwise.data.prepare import prepare, root_fingerprint
from layerwise.data.store import class_names, load_split
from layerwise.errors import InputError


def _batch(rng, n, label_key, num_classes):
    pixels = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    # The distributed layout: one row per image, R plane then G then B.
    rows = pixels.transpose(0, 3, 1, 2).reshape(n, 3072)
    labels = rng.integers(0, num_classes, size=n).tolist()
    return {b"data": rows, label_key: labels, b"batch_label": b"x"}, pixels, np.array(labels)


def make_cifar10(root, rng, n=6):
    root.mkdir(parents=True)
    names = [f"c{i}".encode() for i in range(10)]
    (root / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}))
    pixels, labels = {}, {}
    for split, files in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        parts = [_batch(rng, n, b"labels", 10) for _ in files]
        for fname, (batch, _, _) in zip(files, parts, strict=True):
            (root / fname).write_bytes(pickle.dumps(batch))
        pixels[split] = np.concatenate([p[1] for p in parts])
        labels[split] = np.concatenate([p[2] for p in parts])
    return pixels, labels


def test_cifar10_pickles_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    pixels, labels = make_cifar10(tmp_path / "cifar-10-batches-py", rng)
    out = tmp_path / "data.h5"
    # The root may be the folder above the one the archive unpacks to.
    prepare("cifar10", {"kind": "cifar10", "root": str(tmp_path)}, out)
    for split in ("train", "test"):
        images, lab = load_split(out, split)
        assert np.array_equal(images, pixels[split]) and np.array_equal(lab, labels[split])
    assert class_names(out) == [f"c{i}" for i in range(10)]


def test_cifar100_fine_labels(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "c100"
    root.mkdir()
    (root / "meta").write_bytes(pickle.dumps({b"fine_label_names": [f"f{i}".encode() for i in range(100)]}))
    expected = {}
    for split in ("train", "test"):
        batch, px, lab = _batch(rng, 7, b"fine_labels", 100)
        (root / split).write_bytes(pickle.dumps(batch))
        expected[split] = (px, lab)
    out = tmp_path / "data.h5"
    prepare("cifar100", {"kind": "cifar100", "root": str(root)}, out)
    images, lab = load_split(out, "test")
    assert np.array_equal(images, expected["test"][0]) and np.array_equal(lab, expected["test"][1])


def test_pickle_of_wrong_shape_names_the_file(tmp_path):
    rng = np.random.default_rng(2)
    root = tmp_path / "c10"
    make_cifar10(root, rng)
    batch = pickle.loads((root / "data_batch_3").read_bytes())
    batch[b"data"] = batch[b"data"][:, :1000]
    (root / "data_batch_3").write_bytes(pickle.dumps(batch))
    with pytest.raises(InputError, match=r"data_batch_3: b'data' has shape \(6, 1000\)"):
        prepare("cifar10", {"kind": "cifar10", "root": str(root)}, tmp_path / "d.h5")
    assert not (tmp_path / "d.h5").exists()


def test_cifar_imagefolder_tree(tmp_path):
    rng = np.random.default_rng(3)
    root = tmp_path / "tree"
    expected = {"train": [], "test": []}
    for split in ("train", "test"):
        for label, cls in enumerate(("airplane", "cat")):
            (root / split / cls).mkdir(parents=True)
            for i in range(2):
                px = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
                Image.fromarray(px).save(root / split / cls / f"{i}.png")
                expected[split].append((px, label))
    out = tmp_path / "data.h5"
    prepare("cifar10", {"kind": "cifar10", "root": str(root)}, out)
    images, labels = load_split(out, "train")
    assert np.array_equal(images, np.stack([p for p, _ in expected["train"]]))
    assert labels.tolist() == [label for _, label in expected["train"]]


def test_root_fingerprint_of_pickles_sees_a_replaced_batch(tmp_path):
    rng = np.random.default_rng(0)
    make_cifar10(tmp_path / "cifar-10-batches-py", rng)
    cfg = {"kind": "cifar10", "root": str(tmp_path)}
    first = root_fingerprint("cifar10", cfg)
    assert first.startswith("7 files")
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"the archive, not read")
    assert root_fingerprint("cifar10", cfg) == first
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(pickle.dumps(_batch(rng, 7, b"labels", 10)[0]))
    assert root_fingerprint("cifar10", cfg) != first
