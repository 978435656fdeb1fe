"""Training-step speed and peak memory on one GPU, fp32 against bf16 (layerwise.precision).

For each layer j of a preset (frozen layers 1..j-1 in eval mode, block j + its
auxiliary head trained) and for the same network end to end, one SGD step on a
batch already on the GPU is timed; images/s and the peak memory of one step are
printed (the peak from layerwise.training.memory.step_peak_mb, the function that
writes the tables' peak_mem_mb: warm-up first, momentum counted) for fp32 and
for bf16 autocast + channels_last + cudnn.benchmark, with the bf16 / fp32 ratio.
The step rate is the ceiling the loader must feed (benchmarks/imagenet_loader.py). Presets come from config/config.yaml
(layerwise.profiles.<dataset>.models).

    .venv/bin/python benchmarks/gpu_step.py [--datasets cifar10 imagenet] [--preset simcnn-k3]

Without CUDA it prints a message and exits with status 0.
"""

import argparse
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow/scripts"))

from layerwise.models.simcnn import LayeredCNN, make_block, make_head, make_stem, spec_from_config  # noqa: E402
from layerwise.training import precision  # noqa: E402
from layerwise.training.greedy import Trainable  # noqa: E402
from layerwise.training.memory import step_peak_mb  # noqa: E402

SHAPES = {"cifar10": (10, 32, 128), "imagenet": (1000, 224, 256)}  # classes, side, batch (paper 003)


def time_steps(forward, trained, x, y, steps):
    opt = torch.optim.SGD([p for p in trained.parameters() if p.requires_grad], lr=0.01, momentum=0.9)

    def step():
        loss = torch.nn.functional.cross_entropy(forward(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up: cudnn.benchmark picks kernels, allocator settles
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return len(x) * steps / (time.perf_counter() - start)


def measure(spec, mode, layer, x, y, steps, name):
    """(images/s, peak MB) of layer ``layer`` (1-based) or end to end (layer None), set up as
    train_layer / train_e2e set it up (frozen bf16 activations kept, the same memory probe)."""
    device = x.device
    torch.manual_seed(0)
    if layer is None:
        model = LayeredCNN(spec).to(device)
        precision.apply(model, device, mode)
        mb, _ = step_peak_mb(model, [model], model, x, y, device, name=name)
        return time_steps(model, model, x, y, steps), mb
    frozen = torch.nn.Sequential(make_stem(spec), *[make_block(spec, j) for j in range(layer - 1)])
    frozen = frozen.to(device).eval().requires_grad_(False)
    net = Trainable(make_block(spec, layer - 1, pruned=False), make_head(spec, layer - 1)).to(device)
    precision.apply(frozen, device, precision.apply(net, device, mode), cast_output=False)

    def forward(inp):
        with torch.no_grad():
            inp = frozen(inp)
        return net(inp)

    mb, _ = step_peak_mb(lambda inp: net(frozen(inp)), [frozen, net], net, x, y, device, name=name)
    return time_steps(forward, net, x, y, steps), mb


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["cifar10", "imagenet"], choices=sorted(SHAPES))
    p.add_argument("--preset", default="simcnn-k3", help="a preset of both profiles")
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("gpu_step.py: no CUDA device here; this benchmark measures GPU steps only (nothing to do).")
        return
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    print(f"device: {torch.cuda.get_device_name()}")
    for dataset in args.datasets:
        classes, side, batch = SHAPES[dataset]
        model_cfg = dict(config["layerwise"]["profiles"][dataset]["models"][args.preset])
        model_cfg.pop("schedule", None)
        spec = spec_from_config(model_cfg, classes, 3, side, key=f"{dataset} {args.preset}")
        x = torch.randn(batch, 3, side, side, device="cuda")
        y = torch.randint(0, classes, (batch,), device="cuda")
        print(f"\n{dataset} {args.preset}, batch {batch}, {side}x{side}: images/s and peak MB per step")
        print(f"{'layer':>6} {'fp32 img/s':>11} {'fp32 MB':>9} {'bf16 img/s':>11} {'bf16 MB':>9} {'speed-up':>9}")
        for layer in [*range(1, spec.layers + 1), None]:
            row = {}
            for mode in ("fp32", "bf16"):
                xs = precision.to_device(x, "cuda") if mode == "bf16" else x.contiguous()
                row[mode] = measure(spec, mode, layer, xs, y, args.steps, f"{dataset} {args.preset}")
                torch.cuda.empty_cache()
            name = "e2e" if layer is None else str(layer)
            (f_rate, f_mem), (b_rate, b_mem) = row["fp32"], row["bf16"]
            print(f"{name:>6} {f_rate:11.0f} {f_mem:9.0f} {b_rate:11.0f} {b_mem:9.0f} {b_rate / f_rate:8.2f}x")
    print("\nissue 10 (H200, imagenet simcnn-k3, batch 256): layer 1 1,901 -> 4,579 images/s, "
          "22.6 -> 11.8 GB; e2e 1,073 -> 2,259 images/s")


if __name__ == "__main__":
    main()
