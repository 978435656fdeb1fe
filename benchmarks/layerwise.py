"""Layer-wise training speed and memory, as ratios against baselines measured in the same run.

1. images/s of training layer j with cached frozen inputs vs re-running the frozen
   layers 1..j-1 at every step (no augmentation; the cache is built once per job,
   its time is included).
2. peak memory of one training step, layer-wise (worst layer) vs end to end, for
   the CIFAR-10 k=1 SimCNN of paper 003 (J=5, M=256, downsampling at 2, 3) at
   batch 128; the paper reports ~5x more GPU memory end to end (section 4.1).
3. optionally (--demo) the wall time of the whole `make demo` DAG in a scratch copy
   of the workflow (target: 15 minutes on 2 CPU cores).

Modes of issue 19 (given any of them, only those run):

--eval-memory  peak host memory (VmHWM above the RSS before it) of a layer job's
               evaluation pass (logits + pooled features of both splits into
               eval.h5) at two training-split sizes: bounded means independent of n.
--eval-disk    the default Table 3's eval.h5 files at ImageNet size in total, from
               config/config.yaml (target < 50 GB).
--throughput   a real train_layer's training images/s on CPU against a bare loop of
               the same model, batches and optimiser (target >= 0.9x).

    .venv/bin/python benchmarks/layerwise.py [--demo] [--eval-memory] [--eval-disk] [--throughput]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow/scripts"))

from layerwise.models.simcnn import LayeredCNN, make_block, make_head, make_stem, spec_from_config  # noqa: E402
from layerwise.training.greedy import Trainable  # noqa: E402
from layerwise.training.memory import step_peak_mb  # noqa: E402

PAPER_MEMORY_RATIO = 5.0


def cache_speed(n, batch, epochs, layer, device):
    spec = spec_from_config({"k": 2, "layers": 4, "width": 32, "aux_width": 64,
                             "downsample_at": [1], "batchnorm": True}, 10, 3, 32)
    torch.manual_seed(0)
    frozen = torch.nn.Sequential(make_stem(spec), *[make_block(spec, j) for j in range(layer - 1)])
    frozen = frozen.to(device).eval().requires_grad_(False)
    images = torch.randn(n, 3, 32, 32)
    labels = torch.randint(0, 10, (n,))
    results = {}
    for cached in (False, True):
        torch.manual_seed(1)
        net = Trainable(make_block(spec, layer - 1), make_head(spec, layer - 1)).to(device)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        start = time.perf_counter()
        if cached:
            with torch.no_grad():
                inputs = torch.cat([frozen(images[s:s + 256].to(device)) for s in range(0, n, 256)])
        for _ in range(epochs):
            for s in range(0, n, batch):
                if cached:
                    x = inputs[s:s + batch]
                else:
                    with torch.no_grad():
                        x = frozen(images[s:s + batch].to(device))
                loss = torch.nn.functional.cross_entropy(net(x), labels[s:s + batch].to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
        results[cached] = n * epochs / (time.perf_counter() - start)
    return results


def memory(batch, device):
    # the CIFAR-10 k=1 preset of Table 2: no input downsampling (paper 003 uses it on ImageNet only)
    spec = spec_from_config({"k": 1, "layers": 5, "width": 256, "downsample_at": [2, 3],
                             "input_downsample": False}, 10, 3, 32)
    torch.manual_seed(0)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    stem = make_stem(spec).to(device)
    blocks = [make_block(spec, j).to(device) for j in range(spec.layers)]
    per_layer = []
    for j in range(spec.layers):
        frozen = torch.nn.Sequential(stem, *blocks[:j]).eval().requires_grad_(False)
        with torch.no_grad():
            xj = frozen(x)
        net = Trainable(blocks[j].requires_grad_(True), make_head(spec, j).to(device))
        mb, kind = step_peak_mb(net, [frozen, net], net, xj, y, device)
        per_layer.append(mb)
    full = LayeredCNN(spec, blocks=blocks, head=make_head(spec, spec.layers - 1).to(device))
    full.requires_grad_(True)
    e2e, kind = step_peak_mb(full, [full], full, x, y, device)
    return per_layer, e2e, kind


def _tiny_data(folder, n, n_test, side=16, classes=10):
    from layerwise.data.store import write_arrays

    rng = np.random.default_rng(0)
    y = rng.integers(0, classes, n + n_test)
    images = (rng.integers(0, 100, (n + n_test, side, side, 3)) + 15 * y[:, None, None, None]).astype(np.uint8)
    path = Path(folder) / "data.h5"
    write_arrays(path, images, y, [f"c{i}" for i in range(classes)],
                 {"train": np.arange(n), "test": np.arange(n, n + n_test)}, params={}, seed=0)
    return path


def _job_cfg(epochs=1, batch=128, **model):
    return {"run": "bench", "preset": "bench", "layer": 1, "seed": 0, "sampler": "shuffle-s0",
            "batch_size": batch, "batch_order": "fixed", "augment": "none", "cache_frozen": True,
            "precision": "fp32",
            "eval": {"pooled_size": 4, "feature_subsample": None, "logits_dtype": "float32"},
            "schedule": {"epochs": epochs, "lr": 0.02, "momentum": 0.9, "weight_decay": 5e-4,
                         "lr_decay": 0.2, "lr_step": 15, "checkpoint_every": 0},
            "model": {"arch": "simcnn", "k": 1, "layers": 2, "width": 64, "downsample_at": [],
                      "input_downsample": False, **model}}


def _rss_kb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _eval_peak(n, threads):
    """Run in a fresh process: (RSS before the evaluation pass, its peak above that) in MB."""
    import layerwise.training.greedy as greedy

    torch.set_num_threads(threads)
    seen = {}
    real = greedy._write_outputs

    def measured(*args, **kw):
        import ctypes
        import gc

        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # freed training memory goes back to the system first
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        seen["before"] = _rss_kb("VmRSS")
        real(*args, **kw)
        seen["peak"] = _rss_kb("VmHWM")

    greedy._write_outputs = measured
    with tempfile.TemporaryDirectory() as tmp:
        data = _tiny_data(tmp, n, 1000)
        greedy.train_layer(_job_cfg(), data, None, [], Path(tmp) / "w.pt", Path(tmp) / "eval.h5")
        size = (Path(tmp) / "eval.h5").stat().st_size
    print(f"{n} {seen['before'] / 1024:.1f} {(seen['peak'] - seen['before']) / 1024:.1f} {size / 2**20:.1f}")


def eval_memory(threads):
    print("layer job evaluation (64 maps at 16x16 pooled to 4x4: 4 KiB of features per image, "
          "all training images): peak RSS above the RSS before the pass")
    print(f"{'train n':>8} {'RSS before MB':>14} {'eval peak MB':>13} {'eval.h5 MB':>11}")
    rows = []
    for n in (20_000, 80_000):
        out = subprocess.run([sys.executable, __file__, "--_eval-peak", str(n), "--threads", str(threads)],
                             capture_output=True, text=True, check=True).stdout.split()[-4:]
        rows.append([float(v) for v in out])
        print(f"{int(rows[-1][0]):8d} {rows[-1][1]:14.1f} {rows[-1][2]:13.1f} {rows[-1][3]:11.1f}")
    print(f"4x the split: eval peak x{rows[1][2] / rows[0][2]:.2f}, eval.h5 x{rows[1][3] / rows[0][3]:.2f} "
          "(bounded: the peak stays while the file grows)")


IMAGENET = {"train": 1_281_167, "test": 50_000, "classes": 1000, "side": 224}


def eval_disk():
    """Bytes of every eval.h5 of the default Table 3 at ImageNet size (shapes from the meta device)."""
    from layerwise.training.runs import RunPlan

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    lw = config["layerwise"]
    profile = lw["profiles"]["imagenet"]
    plan = RunPlan(config)
    ev = plan.eval_settings("imagenet")
    runs = sum(len(plan.runs("p", kind)) for kind in lw["samplers"])
    n_feat = {s: min(IMAGENET[s], ev["feature_subsample"] or IMAGENET[s]) for s in ("train", "test")}
    logit_bytes = IMAGENET["test"] * (IMAGENET["classes"] * np.dtype(ev["logits_dtype"]).itemsize + 8)
    print(f"ImageNet Table 3 eval.h5 files: {runs} runs per preset, feature_subsample "
          f"{ev['feature_subsample']} per split, pooled {ev['pooled_size']}x{ev['pooled_size']}, "
          f"logits {ev['logits_dtype']}")
    total, files = 0, 0
    for name in profile["tables"]["table3"]:
        model = dict(profile["models"][name])
        model.pop("schedule", None)
        e2e = model.pop("train", "layerwise") == "e2e"
        spec = spec_from_config(model, IMAGENET["classes"], 3, IMAGENET["side"], key=name)
        with torch.device("meta"):
            x, channels = make_stem(spec)(torch.empty(1, 3, IMAGENET["side"], IMAGENET["side"])), []
            for j in range(spec.layers):
                x = make_block(spec, j)(x)
                channels.append(x.shape[1])
        channels = channels[-1:] if e2e else channels
        feat = sum(n_feat.values()) * (sum(channels) * ev["pooled_size"] ** 2 * 4 + 16)
        size = runs * (len(channels) * logit_bytes + feat)
        total, files = total + size, files + runs * len(channels)
        print(f"  {name:12s} {runs * len(channels):3d} files {size / 1e9:7.1f} GB")
    print(f"total {files} files {total / 1e9:.1f} GB (target < 50 GB: {total / 50e9:.2f}x of it)")


def throughput(n=4096, batch=128, epochs=2, repeats=3):
    """train_layer's training images/s (its own train_seconds) vs a bare loop of the same step,
    alternated ``repeats`` times; the best of each (a shared machine's load only slows a run)."""
    import torch.nn.functional as F

    from layerwise.training.evaluation import read_eval
    from layerwise.training.greedy import train_layer
    from layerwise.training.inputs import load_arrays, normalise
    from layerwise.training.sampler import ShuffleSampler

    cfg = _job_cfg(epochs=epochs, batch=batch, width=32)
    cfg["eval"]["feature_subsample"] = 256
    spec = spec_from_config(cfg["model"], 10, 3, 16)

    def bare(x_all, labels):
        torch.manual_seed(0)
        stem = make_stem(spec).eval()
        with torch.no_grad():
            cached = stem(x_all)
        net = Trainable(make_block(spec, 0), make_head(spec, 0))
        opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
        sampler = ShuffleSampler(n, batch, 0)
        start = time.process_time()
        for epoch in range(epochs):
            sampler.set_epoch(epoch, 0)
            net.train()
            for row in sampler:
                idx = torch.as_tensor(row[row >= 0])
                loss = F.cross_entropy(net(cached[idx]), labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return n * epochs / (time.process_time() - start)

    # CPU seconds on both sides (the loop's clock patched to process time): on a shared machine
    # wall time mostly measures the neighbours
    import layerwise.training.loop as loop

    loop.time = types.SimpleNamespace(perf_counter=time.process_time, monotonic=time.monotonic)
    real, base = [], []
    with tempfile.TemporaryDirectory() as tmp:
        data = _tiny_data(tmp, n, 256)
        arrays = load_arrays(data)
        x_all, labels = normalise(arrays.train_images, arrays), arrays.train_labels
        for r in range(repeats):
            out = Path(tmp) / f"r{r}"
            train_layer(cfg, data, None, [], out / "w.pt", out / "eval.h5")
            real.append(n * epochs / float(read_eval(out / "eval.h5")["train_seconds"]))
            base.append(bare(x_all, labels))
    print(f"train_layer vs bare loop (CPU, {n} images 16x16, batch {batch}, {epochs} epochs, "
          f"{torch.get_num_threads()} threads, images per CPU-second, best of {repeats} alternated)")
    print(f"  train_layer {max(real):8.0f} images/s   bare loop {max(base):8.0f} images/s   "
          f"ratio {max(real) / max(base):.2f}x (target >= 0.9x)")
    print("  all runs: train_layer " + " ".join(f"{v:.0f}" for v in real) + "; bare " +
          " ".join(f"{v:.0f}" for v in base))


def demo_time():
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PATH=f"{ROOT / '.venv/bin'}:{os.environ['PATH']}")
        start = time.perf_counter()
        subprocess.run(["snakemake", "-s", str(ROOT / "workflow" / "Snakefile"), "--directory", tmp,
                        "--configfile", str(ROOT / "config" / "config.yaml"), "--cores", "2"],
                       cwd=tmp, env=env, check=True)
        seconds = time.perf_counter() - start
        shutil.rmtree(Path(tmp) / "results", ignore_errors=True)
    return seconds


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--_eval-peak":  # the child of eval_memory
        return _eval_peak(int(sys.argv[2]), int(sys.argv[4]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true", help="also time the whole make demo DAG")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eval-memory", action="store_true", help="evaluation peak RSS at two split sizes")
    parser.add_argument("--eval-disk", action="store_true", help="Table 3's eval files at ImageNet size")
    parser.add_argument("--throughput", action="store_true", help="train_layer vs a bare loop, CPU")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.eval_memory or args.eval_disk or args.throughput:
        if args.eval_memory:
            eval_memory(args.threads)
        if args.eval_disk:
            eval_disk()
        if args.throughput:
            throughput()
        return
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"device {device}, {args.threads} threads")
    print("\n1. training layer j: images/s, frozen inputs cached vs recomputed (n=5000, batch 128, 3 epochs)")
    print("layer  recomputed  cached  speed-up")
    for layer in (2, 3, 4):
        r = cache_speed(5000, 128, 3, layer, device)
        print(f"{layer:5d}  {r[False]:10.0f}  {r[True]:6.0f}  {r[True] / r[False]:7.2f}x")
    print("\n2. peak memory of one step, CIFAR-10 SimCNN k=1 (J=5, M=256), batch 128")
    per_layer, e2e, kind = memory(128, device)
    for j, mb in enumerate(per_layer, start=1):
        print(f"layer {j}: {mb:8.1f} MB")
    print(f"end to end: {e2e:8.1f} MB ({kind})")
    print(
        f"e2e / worst layer-wise step = {e2e / max(per_layer):.2f}x   (paper 003: ~{PAPER_MEMORY_RATIO:.0f}x GPU "
        "memory)"
    )
    if args.demo:
        seconds = demo_time()
        print(f"\n3. make demo DAG: {seconds / 60:.1f} min on 2 cores (target 15 min: {seconds / 900:.2f}x)")


if __name__ == "__main__":
    main()
