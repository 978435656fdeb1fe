"""Mixed precision and GPU hygiene of training jobs (config ``layerwise.precision``).

``auto`` means bf16 on CUDA and fp32 on CPU. bf16 runs every forward pass of
a module under ``torch.autocast(dtype=bfloat16)`` (no loss scaling needed: bf16
has fp32's exponent range). A trained module returns float32 outputs, so losses,
metrics and logits files keep their dtype; the frozen stack
(``cast_output=False``) hands its bf16 activations on as they are (half the bytes
into the trained block and the cache). Code that calls a submodule directly (the
features pass, the head-only fine-tune, pruning) enters :func:`autocast` itself.
On CUDA, modules also use channels_last (the layout bf16 tensor-core convolutions
want) and ``cudnn.benchmark`` picks the
fastest kernels for the fixed batch shapes. Measured by benchmarks/gpu_step.py.

The context is attached with forward hooks, so the training loop, evaluation
and the memory probe need no change: whatever calls the module runs in the
configured precision.
"""

import contextlib

import torch

PRECISIONS = ("auto", "bf16", "fp32")


def resolve(name, device):
    """``auto`` -> ``bf16`` on CUDA, ``fp32`` elsewhere; other names are checked and returned."""
    if name not in PRECISIONS:
        from layerwise.errors import InputError

        raise InputError(f"layerwise.precision: {name!r} is not one of {PRECISIONS}")
    if name == "auto":
        return "bf16" if torch.device(device).type == "cuda" else "fp32"
    return name


def autocast(mode, device):
    """The context of resolved precision ``mode`` on ``device`` (bf16 autocast, or nothing)."""
    if mode == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def apply(module, device, name="auto", cast_output=True):
    """Set up ``module`` (already on ``device``) for precision ``name``; returns the resolved name.

    ``cast_output=False`` keeps a bf16 output in bf16 (frozen activations)."""
    device = torch.device(device)
    mode = resolve(name, device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        module.to(memory_format=torch.channels_last)
    if mode == "fp32":
        return mode
    contexts = []  # a stack: the hooks may nest (a hooked module inside another)

    def enter(_module, _args):
        ctx = torch.autocast(device.type, dtype=torch.bfloat16)
        ctx.__enter__()
        contexts.append(ctx)

    def leave(_module, _args, output):
        contexts.pop().__exit__(None, None, None)
        if cast_output and torch.is_tensor(output) and output.is_floating_point():
            return output.float()
        return output

    module.register_forward_pre_hook(enter)
    module.register_forward_hook(leave)
    return mode


def to_device(x, device):
    """Input batch to ``device``: asynchronous from pinned memory, channels_last on CUDA."""
    device = torch.device(device)
    if device.type != "cuda":
        return x.to(device)
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
