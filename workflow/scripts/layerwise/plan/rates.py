"""Device rates of a plan: a calibration file written by benchmarks/calibrate.py, or a short
self-calibration on this machine (a few small conv steps, about 2 s). CPU rates are timed in
process CPU seconds, so a plan made on a busy shared machine estimates the jobs as they run
on a quiet one; GPU rates in wall seconds.

A calibration holds the workflow version (VERSION) and the device it was measured on; one
from another version or another device is ignored, with a line saying so. Rates:
``gflops`` (training-step FLOP/s of a conv block, per precision), ``forward_gflops`` (no-grad
passes), ``step_overhead_s`` (optimizer step and Python per batch), ``job_startup_s`` / ``light_startup_s``
(Python with torch, h5py and numpy / without torch) and, optionally, measured ``layers`` images/s per
``<dataset-kind>/<preset>/<layer>`` that replace the FLOP-based rate of that layer.
"""

import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

VERSION_FILE = Path(__file__).resolve().parents[4] / "VERSION"

# Documented measurements used where no calibration measures them (printed as defaults):
# the store loader decodes 575 images per CPU second, PIL on the originals 249
# (docs/data.md, benchmarks/imagenet_loader.py); a JPEG is decoded, resized and re-encoded
# into the store at about 100 images per thread-second (docs/graph.md: 189 images/s on 2
# workers for the pixel features' decode + resize).
DEFAULTS = {
    "loader_images_per_cpu_s": {"store": 575.0, "manifest": 249.0},
    "store_images_per_thread_s": 100.0,
    "graph_images_per_thread_s": 95.0,
}


def code_version():
    return VERSION_FILE.read_text().strip() if VERSION_FILE.exists() else "unversioned"


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return "cpu: " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu: " + (platform.processor() or platform.machine())


def this_device():
    """(cpu name, cuda name or None) of this machine."""
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return cpu_name(), (f"cuda: {gpu}" if gpu else None)


def _time(fn, min_seconds, clock=time.perf_counter):
    """Seconds per call of ``fn`` on ``clock`` (process CPU time on CPU: what other processes
    on a shared machine do not inflate)."""
    fn()  # warm-up
    n, start = 0, clock()
    while clock() - start < min_seconds or n < 2:
        fn()
        n += 1
    return (clock() - start) / n


def conv_rates(device, dtype=torch.float32, min_seconds=0.4, width=64, side=32, batch=16):
    """(training-step GFLOP/s, forward GFLOP/s, step overhead s) of a 3x3 conv block."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(width, width, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(width, width, 3, padding=1)).to(device, dtype)
    x = torch.randn(batch, width, side, side, device=device, dtype=dtype)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    with FlopCounterMode(display=False) as fc:
        net(x)
    flops = fc.get_total_flops()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step():
        opt.zero_grad()
        net(x).float().square().mean().backward()
        opt.step()
        sync()

    def forward():
        with torch.no_grad():
            net(x)
        sync()

    tiny = torch.nn.Linear(8, 8).to(device)
    tiny_opt = torch.optim.SGD(tiny.parameters(), lr=0.01, momentum=0.9)
    xt = torch.randn(4, 8, device=device)

    def tiny_step():
        tiny_opt.zero_grad()
        tiny(xt).square().mean().backward()
        tiny_opt.step()
        sync()

    clock = time.perf_counter if device.type == "cuda" else time.process_time
    train = 3 * flops / _time(step, min_seconds, clock) / 1e9
    fwd = flops / _time(forward, min_seconds / 2, clock) / 1e9
    return train, fwd, _time(tiny_step, 0.1, clock)


SCRIPTS_DIR = Path(__file__).resolve().parents[2]
TRAINING_IMPORTS = "layerwise.training.greedy, layerwise.training.e2e"  # torch, h5py and the library


def import_seconds(modules):
    """CPU seconds a fresh interpreter spends importing ``modules`` (from workflow/scripts)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", f"import {modules}"], check=True, cwd=SCRIPTS_DIR)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def startup_seconds():
    """CPU seconds a fresh interpreter spends importing (torch, h5py, numpy) and (h5py, numpy):
    the start-up of a training job and of a light one (prepare_data, tables)."""
    return [import_seconds(TRAINING_IMPORTS), import_seconds("h5py, numpy")]


def measure(device_kind="cpu", threads=1, source="benchmarks/calibrate.py", startup=None):
    """A calibration of this machine's CPU (one thread) or its CUDA device; ``startup``: the
    (torch, light) import seconds when the caller timed its own imports, else measured."""
    cpu, gpu = this_device()
    heavy, light = startup or startup_seconds()
    if device_kind == "cpu":
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            train, fwd, overhead = conv_rates(torch.device("cpu"))
        finally:
            torch.set_num_threads(old)
        gflops, fgflops, name = {"fp32": train}, {"fp32": fwd}, cpu
    else:
        dev = torch.device("cuda")
        train, fwd, overhead = conv_rates(dev, batch=128, width=128, side=56)
        btrain, bfwd, _ = conv_rates(dev, torch.bfloat16, batch=128, width=128, side=56)
        gflops, fgflops, name = {"fp32": train, "bf16": btrain}, {"fp32": fwd, "bf16": bfwd}, gpu
    return {"version": code_version(), "device": name, "threads": threads, "gflops": gflops,
            "forward_gflops": fgflops, "step_overhead_s": overhead, "job_startup_s": heavy,
            "light_startup_s": light,
            "layers": {}, "written": time.strftime("%Y-%m-%d %H:%M:%S"), "source": source}


def write(path, calibration):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(calibration, indent=1, sort_keys=True))
    tmp.replace(path)


def load(paths, gpu_device=None):
    """(cpu calibration or None, gpu calibration or None, notes) from calibration files:
    the ones of this version and of this machine's CPU / GPU (or ``gpu_device``)."""
    cpu, gpu = this_device()
    gpu = f"cuda: {gpu_device}" if gpu_device else gpu
    found, notes = {}, []
    for path in paths:
        try:
            cal = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as err:
            notes.append(f"calibration {path} ignored: unreadable ({err})")
            continue
        if cal.get("version") != code_version():
            notes.append(f"calibration {path} ignored: written by version {cal.get('version')}, "
                         f"this is {code_version()}; rerun benchmarks/calibrate.py")
        elif cal.get("device") not in (cpu, gpu):
            notes.append(f"calibration {path} ignored: measured on {cal.get('device')!r}, not this "
                         f"machine's {cpu!r}" + (f" or {gpu!r}" if gpu else "")
                         + " (--gpu-device NAME plans for another GPU)")
        else:
            kind = "gpu" if cal["device"].startswith("cuda") else "cpu"
            found[kind] = cal
            notes.append(f"{kind} rates: calibration file {path} ({cal['device']}, {cal.get('source')}, "
                         f"{cal.get('written')})")
    return found.get("cpu"), found.get("gpu"), notes
