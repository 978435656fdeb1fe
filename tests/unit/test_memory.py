"""The step memory probe (training/memory.py): a batch that does not fit the GPU is one InputError
naming the preset, its peak and the fix (CUDA simulated: the OutOfMemoryError path on any host)."""

import types

import pytest
import torch

from layerwise.errors import InputError
from layerwise.training import memory


def test_a_batch_that_does_not_fit_the_gpu_is_one_error_naming_the_preset(monkeypatch):
    fake = types.SimpleNamespace(
        synchronize=lambda d=None: None, reset_peak_memory_stats=lambda d=None: None,
        max_memory_allocated=lambda d=None: 81_000 * 2**20, empty_cache=lambda: None,
        get_device_properties=lambda d: types.SimpleNamespace(total_memory=81_559 * 2**20),
        OutOfMemoryError=torch.cuda.OutOfMemoryError)
    monkeypatch.setattr(memory.torch, "cuda", fake)
    net = torch.nn.Linear(3, 2)

    def forward(t):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(InputError, match=r"preset imagenet simcnn-k1: .*batch share of 4 .*81000 MB of the "
                                         r"GPU's 81559 MB.*batch_size.*more GPUs.*bf16"):
        memory.step_peak_mb(forward, [net], net, torch.zeros(4, 3), torch.zeros(4, dtype=torch.long),
                            torch.device("cuda"), name="imagenet simcnn-k1")
