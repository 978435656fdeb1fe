"""Images/s of the residual autoencoder (paper 000 Table 1) at CIFAR shape, training and extraction.

Variants, each measured in this run and printed as a ratio against the plain eager
model on the same device: eager, channels-last memory format, torch.compile, and
(CUDA only) bf16 autocast. Paper 000 reports no autoencoder speed, so there is no
paper column. Usage:

    .venv/bin/python benchmarks/autoencoder.py                 # width 1 (Table 1), CPU (+ GPU if present)
    .venv/bin/python benchmarks/autoencoder.py --width 0.25 --no-compile --steps 5
"""

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from layerwise.models.residual_ae import ResidualAutoencoder


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=float, default=1.0, help="channel multiplier (1 = Table 1)")
    p.add_argument("--batch", type=int, default=64, help="images per step")
    p.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation happens here)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to compile on CPU)")
    return p


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(device, variant, args):
    """(training images/s, extraction images/s) of one variant."""
    torch.manual_seed(0)
    model = ResidualAutoencoder(width=args.width).to(device)
    x = torch.rand(args.batch, 3, 32, 32, device=device)
    fmt = torch.channels_last if variant in ("channels-last", "compile") else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    run = torch.compile(model) if variant == "compile" else model
    encode = torch.compile(model.encoder) if variant == "compile" else model.encoder
    amp = variant == "bf16" and device.type == "cuda"
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.mse_loss(run(x).float(), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    @torch.no_grad()
    def extract_step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            encode(x)

    rates = []
    for mode, step in (("train", train_step), ("eval", extract_step)):
        model.train(mode == "train")
        for _ in range(args.warmup):
            step()
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        _sync(device)
        rates.append(args.batch * args.steps / (time.perf_counter() - t0))
    return rates


def main(args):
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"residual autoencoder, width {args.width}, batch {args.batch}x3x32x32, {args.steps} timed steps")
    print(f"{'device':6} {'variant':14} {'train img/s':>12} {'ratio':>6} {'extract img/s':>14} {'ratio':>6}")
    for device in devices:
        variants = ["eager", "channels-last"] + ([] if args.no_compile else ["compile"])
        variants += ["bf16"] if device.type == "cuda" else []
        base = None
        for variant in variants:
            try:
                train, extract = measure(device, variant, args)
            except Exception as err:  # e.g. no C++ compiler for torch.compile: report, go on
                print(f"{device.type:6} {variant:14} failed: {type(err).__name__}: {str(err)[:80]}")
                continue
            base = base or (train, extract)
            print(
                f"{device.type:6} {variant:14} {train:12.1f} {train / base[0]:6.2f} "
                f"{extract:14.1f} {extract / base[1]:6.2f}"
            )


if __name__ == "__main__":
    main(get_args_parser().parse_args())
