"""Peak memory of one training step (layer-wise vs end to end; paper 003: e2e needs ~5x).

On CUDA the number is ``torch.cuda.max_memory_allocated`` over one forward and
backward pass (everything resident on the GPU counts). On CPU, where PyTorch
keeps no allocator statistics, it is an exact tally of what a step must hold:
the bytes of every tensor autograd saves for the backward pass, the input
batch, all parameters in the step (frozen ones too), and the gradients and
momentum buffers of the trained ones. The step runs in eval mode and leaves
no trace (no BatchNorm statistics updated, gradients cleared).
"""

import torch
import torch.nn.functional as F


def _bytes(t):
    return t.numel() * t.element_size()


def step_peak_mb(forward, modules, trained, x, y, device):
    """Peak MB of ``F.cross_entropy(forward(x), y).backward()``; returns (mb, kind)."""
    modes = [(m, m.training) for mod in modules for m in mod.modules()]
    for mod in modules:
        mod.eval()
    saved = {}

    def pack(t):
        saved.setdefault(t.data_ptr(), _bytes(t))
        return t

    try:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = F.cross_entropy(forward(x), y)
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            mb, kind = torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
        else:
            params = sum(_bytes(p) for mod in modules for p in mod.parameters())
            grads_momentum = 2 * sum(_bytes(p) for p in trained.parameters() if p.requires_grad)
            total = sum(saved.values()) + _bytes(x) + params + grads_momentum
            mb, kind = total / 2**20, "cpu_step_tally"
    finally:
        for p in trained.parameters():
            p.grad = None
        for m, mode in modes:
            m.train(mode)
    return mb, kind
