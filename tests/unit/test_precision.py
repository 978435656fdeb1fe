"""bf16 autocast (layerwise.precision): frozen activations stay bf16, trained outputs are float32,
and the head-only fine-tune, pruning and the features pass run inside autocast (CPU autocast here)."""

import h5py
import numpy as np
import torch
from test_layerwise import config, tiny_dataset

from layerwise.training import precision
from layerwise.training.greedy import train_layer

torch.set_num_threads(1)


def test_frozen_output_stays_bf16_and_trained_output_is_float32():
    frozen = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(4 * 64, 3))
    assert precision.apply(net, "cpu", "bf16") == "bf16"
    precision.apply(frozen, "cpu", "bf16", cast_output=False)
    x = frozen(torch.randn(2, 3, 8, 8))
    assert x.dtype == torch.bfloat16  # not cast back: half the bytes into the trained block
    assert net(x).dtype == torch.float32
    with precision.autocast("bf16", "cpu"):
        assert net[0](x).dtype == torch.bfloat16
    with precision.autocast("fp32", "cpu"):
        assert frozen[0](torch.randn(1, 3, 8, 8)).dtype == torch.float32


def test_a_pruned_bf16_layer_on_bf16_frozen_inputs_trains_and_writes_float32_outputs(tmp_path):
    # layer 2 sees bf16 frozen activations (cached); its block outside the Trainable's hook (the
    # features pass, pruning, the head-only fine-tune) would fail on them without autocast
    data, batches = tiny_dataset(tmp_path)
    prev = []
    for layer in (1, 2):
        cfg = config(layer, prune_to=2, prune_batches=2, prune_steps=2, finetune_epochs=1)
        cfg["precision"] = "bf16"
        w, e = tmp_path / f"l{layer}/weights.pt", tmp_path / f"l{layer}/eval.h5"
        _, net, metrics = train_layer(cfg, data, batches, list(prev), w, e)
        prev.append(w)
    with h5py.File(e) as f:
        assert f["features/train"].dtype == np.float32 and f["features/train"].shape[1] == 2
        assert np.isfinite(f["logits"][()]).all() and np.isfinite(f["features/test"][()]).all()
    assert np.isfinite(metrics["test_top1"][-1])
