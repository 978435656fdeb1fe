"""Write the rates workflow/scripts/plan.py reads (results/plan/calibration-<device>.json).

    .venv/bin/python benchmarks/calibrate.py                      # this machine's CPU (and GPU, if any)
    .venv/bin/python benchmarks/calibrate.py --layers imagenet    # GPU: + images/s of every preset and layer
    .venv/bin/python benchmarks/calibrate.py --record "NVIDIA H200" imagenet/simcnn-k3/1=1901,4579

Measured: a 3x3 conv block's training-step and forward GFLOP/s per precision, the per-step
overhead, and the start-up of a job's interpreter. ``--layers DATASET`` (CUDA) also times a few
steps of each preset's layers of the layer-wise profile of DATASET at its batch size, the
rates the plan takes per preset and layer. ``--record DEVICE KIND/PRESET/LAYER=FP32,BF16``
writes a calibration from a recorded benchmarks/gpu_step.py measurement on another machine
(FLOP rates derived from that layer's FLOPs), labelled as such; the plan applies it with
``--gpu-device DEVICE``. Prints the rates as ratios to the first one measured.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from layerwise.plan import rates  # noqa: E402
from layerwise.plan.models import layer_costs  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# ImageNet layer-wise jobs: 224 px crops, 1000 classes (config layerwise.profiles.imagenet)
KIND_SHAPES = {"imagenet": (1000, 3, 224), "cifar10": (10, 3, 32), "cifar100": (100, 3, 32)}


def _config():
    import yaml

    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def _images_per_s(net, x, y, steps):
    """bf16-autocast training steps per second of ``net`` on the batch ``x`` times its size."""
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        with torch.autocast("cuda", torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return len(x) * steps / (time.perf_counter() - start)


def layer_rates(dataset, steps=5):
    """images/s (bf16 when CUDA) of every preset's layers of ``dataset``'s layer-wise profile."""
    from layerwise.models.simcnn import block_widths, make_block, make_head, make_stem, spec_from_config

    profile = _config()["layerwise"]["profiles"][dataset]
    classes, channels, side = KIND_SHAPES[dataset]
    side = profile.get("image_size", side)
    dev = torch.device("cuda")
    out = {}
    for preset, model in profile["models"].items():
        spec = spec_from_config(model, classes, channels, side)
        batch = model.get("batch_size", 256)
        if model.get("train") == "e2e":  # end-to-end presets: the FLOP-based rate
            continue
        with torch.no_grad():
            x = make_stem(spec).to(dev)(torch.randn(batch, channels, side, side, device=dev))
        for j in range(spec.layers):
            block = make_block(spec, j, pruned=False).to(dev)
            net = torch.nn.Sequential(block, make_head(spec, j, block_widths(spec)[j])).to(dev)
            y = torch.randint(0, classes, (batch,), device=dev)
            out[f"{dataset}/{preset}/{j + 1}"] = _images_per_s(net, x, y, steps)
            with torch.no_grad():
                x = block(x)
            torch.cuda.empty_cache()
    return out


def record(device, items):
    """A calibration from recorded gpu_step.py rates: KIND/PRESET/LAYER=FP32,BF16 images/s."""
    here = rates.measure("cpu")
    cal = {"version": rates.code_version(), "device": f"cuda: {device}", "threads": 1, "gflops": {},
           "forward_gflops": {}, "step_overhead_s": 0.002, "job_startup_s": here["job_startup_s"],
           "light_startup_s": here["light_startup_s"], "layers": {},
           "written": time.strftime("%Y-%m-%d %H:%M:%S"),
           "source": f"recorded benchmarks/gpu_step.py rates on {device}: {', '.join(items)}"}
    profile = _config()["layerwise"]["profiles"]
    for item in items:
        key, _, values = item.partition("=")
        kind, preset, layer = key.split("/")
        fp32, bf16 = (float(v) for v in values.split(","))
        classes, channels, side = KIND_SHAPES[kind]
        model = profile[kind]["models"][preset]
        c = layer_costs(model, classes, channels, profile[kind].get("image_size", side))[int(layer) - 1]
        flops = 3 * (c.block_flops + c.head_flops)
        for prec, rate in (("fp32", fp32), ("bf16", bf16)):
            cal["gflops"][prec] = flops * rate / 1e9
            # a no-grad pass: a third of the FLOPs in about a third of the time
            cal["forward_gflops"][prec] = flops * rate / 1e9
        cal["layers"][key] = bf16
    return cal


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results/plan", help="folder of the calibration files")
    parser.add_argument("--layers", default=None, help="CUDA: also time every preset/layer of this dataset's profile")
    parser.add_argument("--record", nargs="+", metavar="ARG", help="DEVICE KIND/PRESET/LAYER=FP32,BF16 ...")
    args = parser.parse_args()
    out = Path(args.out)
    if args.record:
        cal = record(args.record[0], args.record[1:])
        name = args.record[0].lower().replace(" ", "-")
        rates.write(out / f"calibration-{name}.json", cal)
        print(f"{out}/calibration-{name}.json: {cal['source']}; {cal['gflops']['bf16']:.0f} GFLOP/s bf16")
        return
    cpu = rates.measure("cpu")
    rates.write(out / "calibration-cpu.json", cpu)
    print(f"{cpu['device']}: {cpu['gflops']['fp32']:.1f} GFLOP/s per thread (1.00x), step overhead "
          f"{cpu['step_overhead_s'] * 1e3:.2f} ms, job start-up {cpu['job_startup_s']:.1f} s")
    if torch.cuda.is_available():
        gpu = rates.measure("cuda")
        if args.layers:
            gpu["layers"] = layer_rates(args.layers)
        rates.write(out / "calibration-gpu.json", gpu)
        for prec, v in gpu["gflops"].items():
            print(f"{gpu['device']} {prec}: {v:.0f} GFLOP/s ({v / cpu['gflops']['fp32']:.0f}x one CPU thread)")
        for key, v in gpu["layers"].items():
            print(f"  {key}: {v:.0f} images/s")


if __name__ == "__main__":
    main()
