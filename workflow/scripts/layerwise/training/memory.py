"""Peak memory of one training step (layer-wise vs end to end; paper 003: e2e needs ~5x).

Both devices count the same things: everything resident for the step (input
batch, all parameters in the step, frozen ones too), what autograd saves for
the backward pass, and the gradients and SGD momentum buffers of the trained
parameters. On CUDA the first three come from ``torch.cuda.max_memory_allocated``
over one forward and backward pass, measured after one unmeasured warm-up pass
(``cudnn.benchmark`` autotuning tries workspaces a training step never holds
again), plus the momentum buffers, which the probe's step does not create. On
CPU, where PyTorch keeps no allocator statistics, it is an exact tally of the
same. Each DDP rank measures its own share of the global batch (the caller
passes the share). The step runs in eval mode and leaves no trace (no
BatchNorm statistics updated, gradients cleared). benchmarks/gpu_step.py
reports this same function's number.

A batch that does not fit the GPU fails here, before the first epoch, with one
InputError naming the preset, the memory it reached and the fix.
"""

import torch
import torch.nn.functional as F

from layerwise.errors import InputError


def _bytes(t):
    return t.numel() * t.element_size()


def _trained_bytes(trained):
    return sum(_bytes(p) for p in trained.parameters() if p.requires_grad)


def step_peak_mb(forward, modules, trained, x, y, device, name="the preset"):
    """Peak MB of ``F.cross_entropy(forward(x), y).backward()`` plus momentum; returns (mb, kind)."""
    modes = [(m, m.training) for mod in modules for m in mod.modules()]
    for mod in modules:
        mod.eval()
    saved = {}

    def pack(t):
        saved.setdefault(t.data_ptr(), _bytes(t))
        return t

    def step():
        F.cross_entropy(forward(x), y).backward()
        for p in trained.parameters():
            p.grad = None

    try:
        if device.type == "cuda":
            try:
                step()  # warm-up: autotuning is not part of a step's memory
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
                step()
                torch.cuda.synchronize(device)
            except torch.cuda.OutOfMemoryError:
                raise _too_big(name, len(x), device) from None
            peak = torch.cuda.max_memory_allocated(device) + _trained_bytes(trained)  # + momentum
            return peak / 2**20, "cuda_max_allocated"
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = F.cross_entropy(forward(x), y)
        loss.backward()
        params = sum(_bytes(p) for mod in modules for p in mod.parameters())
        total = sum(saved.values()) + _bytes(x) + params + 2 * _trained_bytes(trained)  # grads, momentum
        return total / 2**20, "cpu_step_tally"
    finally:
        for p in trained.parameters():
            p.grad = None
        for m, mode in modes:
            m.train(mode)


def _too_big(name, batch, device):
    peak = torch.cuda.max_memory_allocated(device) / 2**20
    total = torch.cuda.get_device_properties(device).total_memory / 2**20
    torch.cuda.empty_cache()
    return InputError(
        f"preset {name}: one training step on a batch share of {batch} items ran out of GPU memory "
        f"at {peak:.0f} MB of the GPU's {total:.0f} MB (first step, nothing trained). Lower the "
        "dataset's batches.datasets.<dataset>.batch_size, train on more GPUs (each holds its share "
        "of the batch), or set layerwise.precision: bf16"
    )
