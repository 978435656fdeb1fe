"""Layer-wise training speed and memory, as ratios against baselines measured in the same run.

1. images/s of training layer j with cached frozen inputs vs re-running the frozen
   layers 1..j-1 at every step (no augmentation; the cache is built once per job,
   its time is included).
2. peak memory of one training step, layer-wise (worst layer) vs end to end, for
   the CIFAR-10 k=1 SimCNN of paper 003 (J=5, M=256, downsampling at 2, 3) at
   batch 128; the paper reports ~5x more GPU memory end to end (section 4.1).
3. optionally (--demo) the wall time of the whole `make demo` DAG in a scratch copy
   of the workflow (target: 15 minutes on 2 CPU cores).

    .venv/bin/python benchmarks/layerwise.py [--demo]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true", help="also time the whole make demo DAG")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
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
