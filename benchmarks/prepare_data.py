"""Data-stage speed: synthetic generation rate, and manifest decoding against ImageFolder.

    .venv/bin/python benchmarks/prepare_data.py [--images 2000] [--side 256]

Both loaders decode the same generated JPEG tree through a DataLoader with the
same workers and the evaluation transform (Resize(256)+CenterCrop(224)); the
printed ratio is ours / torchvision.datasets.ImageFolder (target >= 1.0).
Building our manifest also replaces ImageFolder's directory scan at start-up,
so the time to construct each dataset is printed too.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from layerwise.data import synthetic
from layerwise.data.datasets import ManifestDataset, imagenet_transform
from layerwise.data.prepare import prepare


def synthetic_rate(n):
    params = {
        "semantic": "random", "num_classes": 10, "semantic_size": 8, "patch_size": 2,
        "classes_per_level": [8, 8], "patches_per_class": 4, "prototypes_per_class": 4,
        "resample_prob": 0.05, "channels": 3, "noise_std": 4.0, "n_train": n, "n_test": 0, "seed": 0,
    }
    start = time.perf_counter()
    synthetic.generate(params)
    return n / (time.perf_counter() - start)


def make_tree(root, images, side, classes=10):
    rng = np.random.default_rng(0)
    smooth = np.linspace(0, 255, side, dtype=np.float32)
    for i in range(images):
        for split in ("train", "val"):
            folder = root / split / f"n{i % classes:08d}"
            folder.mkdir(parents=True, exist_ok=True)
            # Smooth gradients plus noise compress like photographs, unlike pure noise.
            arr = (smooth[None, :, None] + rng.normal(0, 20, size=(side, side, 3))).clip(0, 255)
            Image.fromarray(arr.astype(np.uint8)).save(folder / f"{i}.JPEG", quality=90)


def throughput(dataset, workers, batch):
    loader = DataLoader(dataset, batch_size=batch, num_workers=workers)
    start, n = time.perf_counter(), 0
    for images, _ in loader:
        n += len(images)
    return n / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="JPEGs per split")
    parser.add_argument("--side", type=int, default=320, help="JPEG side in pixels")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    rate = synthetic_rate(20000)
    print(f"synthetic generation (10 classes, 32x32x3): {rate:,.0f} images/s")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        make_tree(root, args.images, args.side)
        t0 = time.perf_counter()
        prepare("imagenet", {"kind": "imagenet", "root": str(root), "verify_images": "header"}, Path(tmp) / "d.h5")
        t_manifest = time.perf_counter() - t0
        transform = imagenet_transform(train=False)
        t0 = time.perf_counter()
        ours = ManifestDataset(Path(tmp) / "d.h5", "train", transform)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = ImageFolder(str(root / "train"), transform)
        t_ref = time.perf_counter() - t0
        print(f"manifest build (scan + header check, once per dataset): {t_manifest:.2f} s")
        print(f"dataset construction: ours {t_ours * 1e3:.1f} ms, ImageFolder {t_ref * 1e3:.1f} ms")
        rows = []
        for rep in range(args.repeats):  # interleaved, alternating who goes first; best of n
            if rep % 2:
                b, a = throughput(ref, args.workers, 64), throughput(ours, args.workers, 64)
            else:
                a, b = throughput(ours, args.workers, 64), throughput(ref, args.workers, 64)
            rows.append((a, b))
        best_ours, best_ref = max(r[0] for r in rows), max(r[1] for r in rows)
        print(
            f"decode + eval transform, {args.images} JPEGs {args.side}px, {args.workers} workers (best of "
            f"{args.repeats}):"
        )
        print(f"  ours (ManifestDataset)   {best_ours:8.1f} images/s")
        print(f"  torchvision ImageFolder  {best_ref:8.1f} images/s")
        print(f"  ratio ours/ImageFolder   {best_ours / best_ref:8.2f}  (target >= 1.0)")


if __name__ == "__main__":
    main()
