"""ImageNet input pipeline: the training-image store against torchvision ImageFolder + PIL,
and the cost of the graph features (pixels vs autoencoder) per 10 000 images.

    .venv/bin/python benchmarks/imagenet_loader.py [--images 400] [--workers 2] [--features]
    .venv/bin/python benchmarks/imagenet_loader.py --root /data/imagenet-subset   # a real tree

Both loaders deliver the same training batches (RandomResizedCrop 224 + flip,
normalised float) from the same images with the same DataLoader workers; the
printed ratio is store / ImageFolder (target >= 3x on CPU, issue 10). Without
--root a tree of full-size-ish JPEGs (500 x 375, smooth content plus noise and
shapes, compressing like photographs) is generated in a temporary folder.
With CUDA the store is also read with GPU decoding (decode_jpeg(device="cuda")
+ batched crop on the GPU; target >= 7,500 images/s per GPU).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from layerwise.data.crops import IMAGENET_MEAN, IMAGENET_STD, crop_resize, random_resized_boxes
from layerwise.data.imagestore import StoreReader, build_store
from layerwise.data.prepare import prepare
from layerwise.training.sampler import FixedBatchSampler
from layerwise.training.storesource import StoreSource, loader_workers


def make_tree(root, images, width, height, classes=10, seed=0):
    """train/ and val/ (1 val image per 10) of photo-like JPEGs at quality 90."""
    rng = np.random.default_rng(seed)
    xs, ys = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    for i in range(images):
        split = "val" if (i // classes) % 10 == 9 else "train"
        folder = root / split / f"n{i % classes:08d}"
        folder.mkdir(parents=True, exist_ok=True)
        a, b, c = rng.uniform(0, 255, 3)
        base = np.stack([a * xs + (255 - a) * ys, b * ys, c * (1 - xs)], -1)
        img = Image.fromarray((base + rng.normal(0, 6, base.shape)).clip(0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(6):
            x0, y0 = rng.integers(0, width - 40), rng.integers(0, height - 40)
            draw.ellipse([x0, y0, x0 + rng.integers(20, 200), y0 + rng.integers(20, 200)],
                         fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        img.save(folder / f"{i}.JPEG", quality=90)
    # val/ needs every class
    for k in range(classes):
        if not (root / "val" / f"n{k:08d}").exists():
            src = next((root / "train" / f"n{k:08d}").iterdir())
            (root / "val" / f"n{k:08d}").mkdir(parents=True)
            Image.open(src).save(root / "val" / f"n{k:08d}" / src.name)


def imagefolder_passes(train_dir, workers, batch, size):
    transform = v2.Compose([v2.PILToTensor(), v2.RandomResizedCrop(size, antialias=True),
                            v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32, scale=True),
                            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    loader = DataLoader(ImageFolder(train_dir, transform=transform), batch_size=batch, shuffle=True,
                        num_workers=workers, persistent_workers=workers > 0)
    return lambda: (x for x, _ in loader)


def threads_for(workers, data):
    """The job threads whose training loader gets ``workers`` DataLoader workers (loader_workers)."""
    with h5py.File(data, "r") as f:
        n_train, n_test = len(f["splits/train"]), len(f["splits/test"])
    threads = 1
    while loader_workers(threads, n_train, n_test)[0] < workers and threads < 4 * workers + 2:
        threads += 1
    return threads


def store_passes(data, store, params, workers, batch, size, gpu):
    src = StoreSource(data, {"path": str(store), **params}, size, seed=0, threads=threads_for(workers, data),
                      decode_device="cuda" if gpu else None)
    n = len(src.train_labels)
    order = np.random.default_rng(0).permutation(n)
    rows = [order[s : s + batch] for s in range(0, n - batch + 1, batch)]
    sampler = FixedBatchSampler(np.stack(rows), "fixed", 0)
    src.attach(sampler, 0, 1)
    epoch = [0]

    def one_pass():
        sampler.set_epoch(epoch[0])
        for i, row in enumerate(sampler):
            yield src.train_batch(row, epoch[0], i)
        epoch[0] += 1

    return one_pass


def best_rates(loaders, passes, sync=False):
    """Best images/s (wall clock, and per CPU second of this process) of each loader over
    ``passes`` full passes, the loaders taking turns so a shared machine's load hits all alike."""
    best = {name: (0.0, 0.0) for name in loaders}
    for _ in range(passes):
        for name, make_pass in loaders.items():
            wall, cpu, n = time.perf_counter(), time.process_time(), 0
            for x in make_pass():
                n += len(x)
            if sync:
                torch.cuda.synchronize()
            rates = (n / (time.perf_counter() - wall), n / max(1e-9, time.process_time() - cpu))
            best[name] = tuple(max(a, b) for a, b in zip(best[name], rates, strict=True))
    return best


def random_read_rates(store, reads=2000, passes=3):
    """Images/s of random single-row store reads through HDF5's default 1 MiB chunk cache and
    without it (``rdcc_nbytes=0``, StoreReader's default); best of ``passes``, turns alternating."""
    rows = np.random.default_rng(0).integers(0, StoreReader(store).offsets.size - 1, reads)
    best = {}
    for _ in range(passes):
        for name, cache in (("1 MiB cache", 1 << 20), ("no cache", 0)):
            reader = StoreReader(store, chunk_cache=cache)
            start = time.perf_counter()
            for r in rows:
                reader.read([r])
            best[name] = max(best.get(name, 0.0), reads / (time.perf_counter() - start))
    return best


def upsampling_shares(sizes, short_sides, size=224, draws=20_000):
    """Share of RandomResizedCrop(``size``) draws that upsample, per store short side.

    ``sizes``: (h, w) of the original images; each is stored as build_store does
    (short side bounded to S) and ``draws`` boxes are drawn per image size with
    the training box function. A crop upsamples when its box is smaller than
    ``size`` on an axis ("any") or in area ("area"). ``None`` = the originals.
    """
    out = {}
    g = torch.Generator().manual_seed(0)
    sizes = np.asarray(sizes)
    picks = sizes[np.random.default_rng(0).integers(0, len(sizes), draws)]
    for side in short_sides:
        h, w = picks[:, 0].astype(float), picks[:, 1].astype(float)
        if side is not None:
            scale = np.minimum(1.0, side / np.minimum(h, w))
            h, w = np.maximum(1, np.round(h * scale)), np.maximum(1, np.round(w * scale))
        boxes, _ = random_resized_boxes(h, w, g)
        bh, bw = boxes[:, 2], boxes[:, 3]
        out[side] = (float(((bh < size) | (bw < size)).double().mean()), float((bh * bw < size * size).double().mean()))
    return out


def antialias_cost(images, size, device, batch=64, passes=3):
    """Seconds per batch of the device crop (crops.crop_resize) with and without antialiasing."""
    ims = [im.to(device) for im in images[:batch]]
    boxes, flip = random_resized_boxes([i.shape[1] for i in ims], [i.shape[2] for i in ims],
                                       torch.Generator().manual_seed(0))
    best = {}
    for _ in range(passes):
        for aa in (False, True):
            start = time.perf_counter()
            crop_resize(ims, boxes, size, flip, antialias=aa)
            if device.type == "cuda":
                torch.cuda.synchronize()
            best[aa] = min(best.get(aa, 1e9), time.perf_counter() - start)
    return best


def features_rates(data, workers, n_train):
    """Images/s of the two graph features on the manifest: pixels (side 32) and resae (side 64)."""
    from layerwise.autoencoder.features import extract_stream
    from layerwise.autoencoder.residual import train_residual_stream
    from layerwise.data.lowres import low_res_chunks
    from layerwise.graph.features import load_features

    start = time.perf_counter()
    load_features("pixels", data, None, 256, 0, side=32, workers=workers)
    pixels = n_train / (time.perf_counter() - start)
    cfg = {"width": 0.125, "epochs": 1, "batch_size": 128, "optimizer": "adam", "lr": 0.003,
           "momentum": 0.9, "weight_decay": 0.0, "seed": 0}
    start = time.perf_counter()
    model, _ = train_residual_stream(data, 64, workers, cfg, None, torch.device("cpu"))
    epoch = n_train / (time.perf_counter() - start)
    start = time.perf_counter()
    extract_stream(model, low_res_chunks(data, "train", 64, 256, workers), n_train)
    encode = n_train / (time.perf_counter() - start)
    return pixels, epoch, encode


def graph_seconds_per_10k(threads):
    """knn graph (k=20, cosine, faiss exact) of 10 000 items in classes of 1 300, D = 256."""
    from layerwise.graph.build import build_knn

    rng = np.random.default_rng(0)
    feats = rng.standard_normal((10_000, 256), dtype=np.float32)
    labels = np.arange(10_000) // 1300
    start = time.perf_counter()
    build_knn(feats, labels, 20, "cosine", np.float32, threads)
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None, help="an ImageNet-layout tree (default: generate one)")
    p.add_argument("--images", type=int, default=400, help="generated images (train + val)")
    p.add_argument("--width", type=int, default=500)
    p.add_argument("--height", type=int, default=375)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=224, help="training crop side")
    p.add_argument("--short-side", type=int, default=320, help="store short side (the config's default)")
    p.add_argument("--quality", type=int, default=90, help="store JPEG quality")
    p.add_argument("--passes", type=int, default=2, help="passes per loader (best is printed)")
    p.add_argument("--features", action="store_true", help="also time the graph features and graph")
    p.add_argument("--random-reads", action="store_true",
                   help="also time random single-image store reads with and without HDF5's chunk cache")
    p.add_argument("--upsampling", action="store_true",
                   help="also print the share of upsampling crops per store short side and the antialias cost")
    p.add_argument("--no-folder", action="store_true", help="skip the ImageFolder baseline (store rates only)")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"CUDA: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = Path(args.root) if args.root else tmp / "tree"
        if not args.root:
            make_tree(root, args.images, args.width, args.height)
        data, store = tmp / "data.h5", tmp / "store.h5"
        prepare("imagenet", {"kind": "imagenet", "root": str(root), "verify_images": "header"}, data)
        params = {"short_side": args.short_side, "quality": args.quality}
        start = time.perf_counter()
        stats = build_store(data, store, params, threads=args.workers)
        build = stats["images"] / (time.perf_counter() - start)
        tree_bytes = sum(f.stat().st_size for f in root.rglob("*.JPEG")) / stats["images"]
        print(f"images: {stats['images']}; original {tree_bytes / 1024:.1f} KiB/image; store "
              f"(short side {args.short_side}, q{args.quality}) {stats['bytes_per_image'] / 1024:.1f} KiB/image "
              f"({stats['bytes_per_image'] / tree_bytes:.2f}x); store built at {build:.0f} images/s "
              f"with {args.workers} threads")
        loaders = {"store": store_passes(data, store, params, args.workers, args.batch, args.size, gpu=False)}
        if not args.no_folder:
            loaders["folder"] = imagefolder_passes(root / "train", args.workers, args.batch, args.size)
        rates = best_rates(loaders, args.passes)
        cpu, cpu_cpu = rates["store"]
        print(f"training images/s, {args.workers} workers, batch {args.batch}, crop {args.size}:")
        if not args.no_folder:
            folder, folder_cpu = rates["folder"]
            print(f"  ImageFolder + PIL (RandomResizedCrop+flip)   {folder:8.0f}   1.00x")
            print(f"  store, CPU decode                            {cpu:8.0f}   {cpu / folder:.2f}x  (target >= 3x)")
            if args.workers == 0:  # everything runs in this process: CPU time is load-independent
                print(f"  per CPU second: ImageFolder {folder_cpu:.0f}, store {cpu_cpu:.0f} images "
                      f"({cpu_cpu / folder_cpu:.2f}x)")
        else:
            print(f"  store, CPU decode                            {cpu:8.0f}")
        print(f"RESULT store_cpu_images_per_s={cpu:.0f}")
        if torch.cuda.is_available():
            gpu = best_rates({"gpu": store_passes(data, store, params, args.workers, args.batch,
                                                  args.size, gpu=True)}, args.passes, sync=True)["gpu"][0]
            print(f"  store, GPU decode + GPU crop                 {gpu:8.0f}   {gpu / cpu:.2f}x of CPU decode  "
                  "(target >= 7,500/s per GPU)")
            print(f"RESULT store_gpu_images_per_s={gpu:.0f}")
        if args.random_reads:
            reads = random_read_rates(store)
            cached, direct = reads["1 MiB cache"], reads["no cache"]
            print(f"random single-image store reads (warm page cache): HDF5 1 MiB chunk cache {cached:.0f}/s, "
                  f"rdcc_nbytes=0 {direct:.0f}/s ({direct / cached:.2f}x)")
        if args.upsampling:
            with h5py.File(data, "r") as f:
                paths = [root / p.decode() for p in f["paths"][f["splits/train"][()]]]
            sizes = [Image.open(q).size[::-1] for q in paths]
            sides = [None, 256, 288, 320, 352, 384]
            shares = upsampling_shares(sizes, sides, args.size)
            print(f"RandomResizedCrop({args.size}) draws that upsample, on {len(sizes)} training images "
                  f"of original size {sorted(set(sizes))[:3]}{' ...' if len(set(sizes)) > 3 else ''}:")
            for side in sides:
                name = "original images" if side is None else f"store short side {side}"
                extra = " (default)" if side == args.short_side else ""
                print(f"  {name:24s} smaller than {args.size} on an axis {shares[side][0]:6.1%}, "
                      f"in area {shares[side][1]:6.1%}{extra}")
            from torchvision.io import ImageReadMode, decode_jpeg

            reader = StoreReader(store)
            images = [decode_jpeg(d, mode=ImageReadMode.RGB) for d in reader.read(range(min(64, stats["images"])))]
            devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
            for device in devices:
                cost = antialias_cost(images, args.size, device)
                print(f"  device crop of {len(images)} images on {device.type}: antialias off "
                      f"{cost[False] * 1e3:.1f} ms, on {cost[True] * 1e3:.1f} ms ({cost[True] / cost[False]:.2f}x)")
        if args.features:
            n_train = len(list((root / "train").rglob("*.JPEG")))
            pixels, ae_epoch, ae_encode = features_rates(data, args.workers, n_train)
            graph = graph_seconds_per_10k(args.workers)
            print(f"graph features on the manifest, {args.workers} workers (per 10 000 images):")
            print(f"  pixels (side 32, 256-d projection)   {pixels:6.0f} images/s  {1e4 / pixels:7.1f} s")
            print(f"  ae:resae (side 64) one training epoch {ae_epoch:6.0f} images/s  {1e4 / ae_epoch:7.1f} s "
                  "per epoch; encoding "
                  f"{ae_encode:.0f} images/s {1e4 / ae_encode:.1f} s")
            print(f"  knn graph (k 20, faiss exact, D 256) {graph:.1f} s per 10 000 images "
                  f"(paper 000 App. A: 89 min on 16 cores for 1000 dense 1300^2 blocks)")


if __name__ == "__main__":
    main()
