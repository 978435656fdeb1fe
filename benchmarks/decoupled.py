"""Decoupled greedy training vs sequential greedy, in one run on the same data (issue 22).

On the shared CIFAR-10 subset (real images, a seeded subset of it for a short run) with
flip+crop augmentation (nothing cacheable: every step of sequential layer j runs the
frozen layers 1..j-1), the reduced-width SimCNN k=3 of config/cifar10_subset.yaml (J=4),
the same shuffle sequence, schedule and epochs per block, it trains

  1. sequential greedy: train_layer for j = 1..J, one after another (one process);
  2. decoupled sync: every block at once in one process (train_decoupled, mode sync);
  3. decoupled async: two block-group processes joined by a queue (mode async, 2 groups);

and prints wall time per epoch of all blocks, the ratios against sequential and sync,
top-1 of the last layer and of the ensemble, and the arithmetic each does per training
image (forward passes through frozen blocks counted), measured with
torch.utils.flop_counter on one batch; also for the ImageNet J=8 presets (simcnn-k3,
vgg11-k3 at 224 px). Targets (issue 22): sync within 2 points of sequential top-1 at
<= 0.75x its wall time; async <= 0.65x sync.

    nice -n 10 .venv/bin/python benchmarks/decoupled.py [--train 4000 --test 1000 --epochs 3 --threads 1]

One thread per process by default: on a shared machine two OpenMP threads per process spin
against the other jobs (measured 10x slower), which would flatter the 2-process async run.
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow/scripts"))

from layerwise.data.cifar import read_cifar  # noqa: E402
from layerwise.data.store import write_arrays  # noqa: E402
from layerwise.models.simcnn import block_widths, make_block, make_head, make_stem, spec_from_config  # noqa: E402
from layerwise.training.decoupled import train_decoupled  # noqa: E402
from layerwise.training.evaluation import ensemble, read_eval, topk  # noqa: E402
from layerwise.training.greedy import train_layer  # noqa: E402

SUBSET = ROOT.parent / "shared/data/cifar10-subset"
CIFAR_K3 = {"k": 3, "layers": 4, "width": 8, "aux_width": 16, "downsample_at": [2], "input_downsample": False,
            "batchnorm": True}  # config/cifar10_subset.yaml's simcnn-k3
IMAGENET = {
    "simcnn-k3": {"k": 3, "layers": 8, "width": 128, "aux_width": 256, "aux_width_final": 2048,
                  "downsample_at": [2, 4, 6], "batchnorm": True},
    "vgg11-k3": {"arch": "vgg11", "k": 3, "width": 64, "aux_width": 256, "aux_growth": "constant",
                 "aux_downsample": True, "batchnorm": True},
}


def make_data(root, n_train, n_test, folder):
    images, labels, names, splits = read_cifar(root, "cifar10", "datasets.cifar10.root")
    rng = np.random.default_rng(0)
    train = np.sort(rng.choice(splits["train"], n_train, replace=False))
    test = np.sort(rng.choice(splits["test"], n_test, replace=False))
    keep = np.concatenate([train, test])
    path = folder / "data.h5"
    write_arrays(path, images[keep], labels[keep], names,
                 {"train": np.arange(n_train), "test": np.arange(n_train, n_train + n_test)}, params={}, seed=0)
    return path


def config(args, mode=None, groups=1):
    cfg = {"run": "bench", "dataset": "cifar10", "preset": "simcnn-k3", "seed": 0, "sampler": "shuffle-s0",
           "batch_size": 128, "batch_order": "fixed", "augment": "flip_crop", "cache_frozen": True,
           "precision": "fp32", "eval": {"pooled_size": 2, "feature_subsample": 200, "logits_dtype": "float32"},
           "schedule": {"epochs": args.epochs, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
                        "lr_decay": 0.2, "lr_step": max(1, args.epochs // 3 or 1), "checkpoint_every": 0},
           "model": dict(CIFAR_K3)}
    if mode is not None:
        cfg["model"].update(train="decoupled", decoupled={"mode": mode, "groups": groups, "buffer": 2})
    return cfg


def scores(evals):
    runs = [read_eval(p) for p in evals]
    labels = runs[-1]["labels"]
    return 100 * topk(runs[-1]["logits"], labels, 1), 100 * topk(ensemble([r["logits"] for r in runs]), labels, 1)


def seconds(evals, key):
    return sum(float(read_eval(p)[key]) for p in evals) if key == "train_seconds" else float(read_eval(evals[0])[key])


def cpu_seconds():
    """CPU time of this process and its finished children (async groups): load-independent work."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_sequential(args, data, out):
    cfg, J = config(args), CIFAR_K3["layers"]
    weights = [out / f"seq/layer{j}/weights.pt" for j in range(1, J + 1)]
    evals = [out / f"seq/layer{j}/eval.h5" for j in range(1, J + 1)]
    tick, cpu = time.perf_counter(), cpu_seconds()
    for j in range(1, J + 1):
        train_layer({**cfg, "layer": j}, data, None, weights[: j - 1], weights[j - 1], evals[j - 1])
    job = time.perf_counter() - tick
    return job, seconds(evals, "train_seconds"), scores(evals), cpu_seconds() - cpu


def run_decoupled(args, data, out, mode, groups):
    cfg, J = config(args, mode, groups), CIFAR_K3["layers"]
    weights = [out / f"{mode}/layer{j}/weights.pt" for j in range(1, J + 1)]
    evals = [out / f"{mode}/layer{j}/eval.h5" for j in range(1, J + 1)]
    tick, cpu = time.perf_counter(), cpu_seconds()
    train_decoupled(cfg, data, None, weights, evals, device="cpu")
    job = time.perf_counter() - tick
    return job, seconds(evals, "run_train_seconds"), scores(evals), cpu_seconds() - cpu


def flops(spec, size, batch=1):
    """Per image: (forward FLOPs of each block, forward of each aux head, backward of block+aux).

    On the meta device: the counter reads shapes only, so ImageNet sizes cost nothing."""
    meta = torch.device("meta")
    x = make_stem(spec)(torch.empty(batch, spec.in_channels, size, size, device=meta))
    y = torch.zeros(batch, dtype=torch.long, device=meta)
    fb, fa, bw = [], [], []
    for j in range(spec.layers):
        block = make_block(spec, j, pruned=False).to(meta).eval()
        head = make_head(spec, j, block_widths(spec)[j]).to(meta).eval()
        with FlopCounterMode(display=False) as c:
            z = block(x)
        fb.append(c.get_total_flops() / batch)
        with FlopCounterMode(display=False) as c:
            loss = torch.nn.functional.cross_entropy(head(z), y)
        fa.append(c.get_total_flops() / batch)
        with FlopCounterMode(display=False) as c:
            loss.backward()
        bw.append(c.get_total_flops() / batch)
        x = z.detach()
    return fb, fa, bw


def arithmetic(name, spec, size):
    fb, fa, bw = flops(spec, size)
    J = len(fb)
    trained = sum(fb) + sum(fa) + sum(bw)  # every block once forward, its aux, both backward
    frozen = sum(sum(fb[:j]) for j in range(J))  # sequential layer j re-runs blocks 1..j-1
    frozen_passes = J * (J - 1) // 2
    print(f"  {name} (J={J}, {size}px): per image per epoch of all blocks: decoupled {trained / 1e9:.3f} GFLOP, "
          f"sequential {(trained + frozen) / 1e9:.3f} GFLOP (+{frozen / 1e9:.3f} in {frozen_passes} frozen "
          f"block-forwards of {J + frozen_passes} block-forwards); decoupled/sequential "
          f"{trained / (trained + frozen):.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(SUBSET), help="CIFAR-10 pickles (the shared subset)")
    parser.add_argument("--train", type=int, default=4000, help="training images (seeded subset)")
    parser.add_argument("--test", type=int, default=1000, help="test images (seeded subset)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per block")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads of sequential and sync; async runs 2 processes of max(1, threads // 2)")
    parser.add_argument("--skip-train", action="store_true", help="only print the arithmetic")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {os.cpu_count()} CPUs, torch threads {args.threads}, load {os.getloadavg()}")
    print("arithmetic (torch.utils.flop_counter, forward + backward):")
    arithmetic("CIFAR-10 reduced simcnn-k3", spec_from_config(CIFAR_K3, 10, 3, 32), 32)
    for name, model in IMAGENET.items():
        arithmetic(f"ImageNet {name}", spec_from_config(model, 1000, 3, 224), 224)
    if args.skip_train:
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        data = make_data(args.root, args.train, args.test, out)
        print(f"\nCIFAR-10 subset: {args.train} train / {args.test} test images, flip+crop, batch 128, "
              f"{args.epochs} epochs per block, SimCNN k=3 J=4 M=8 M~=16")
        results = {"sequential": run_sequential(args, data, out),
                   "sync": run_decoupled(args, data, out, "sync", 1),
                   "async": run_decoupled(args, data, out, "async", 2)}
    print(f"load after: {os.getloadavg()}")
    print("job s: the whole job (start-up, evaluation, outputs); train s: training only; cpu s: CPU time of\n"
          "the job and its processes (on a loaded machine two processes also get two scheduler shares)")
    print(f"{'method':<11} {'job s':>8} {'train s':>8} {'s/epoch':>8} {'cpu s':>8} {'top1':>6} {'ens':>6} "
          f"{'vs seq':>7} {'vs sync':>7}")
    seq, sync = results["sequential"][1], results["sync"][1]
    for name, (job, train, (top1, ens), cpu) in results.items():
        print(f"{name:<11} {job:8.1f} {train:8.1f} {train / args.epochs:8.2f} {cpu:8.1f} {top1:6.2f} {ens:6.2f} "
              f"{train / seq:7.2f} {train / sync:7.2f}")
    print(json.dumps({k: {"train_s": v[1], "top1": v[2][0]} for k, v in results.items()}))
    gap = results["sync"][2][0] - results["sequential"][2][0]
    print(f"targets: sync within 2 points of sequential ({gap:+.2f}) at <= 0.75x ({sync / seq:.2f}); "
          f"async <= 0.65x sync ({results['async'][1] / sync:.2f})")


if __name__ == "__main__":
    main()
