"""Per-layer cost of a layer-wise model, counted on the meta device (no memory, no compute):
forward FLOPs of each block (layer 1 with the stem) and of its auxiliary head, parameters,
and the activation elements a training step keeps per image."""

import json
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from layerwise.models.simcnn import block_widths, count_params, make_block, make_head, make_stem, spec_from_config


@dataclass
class LayerCost:
    block_flops: float  # forward FLOPs per image of block j (stem included for j = 1)
    head_flops: float  # forward FLOPs per image of the auxiliary head of block j
    block_params: int
    head_params: int
    activations: int  # elements per image kept for backward by block j + head
    out_elements: int  # elements per image of block j's output (the next layer's cached input)
    width: int  # output channels of block j


def _leaf_outputs(module, x):
    total = []

    def hook(_m, _i, out):
        total.append(out.numel() if isinstance(out, torch.Tensor) else 0)

    handles = [m.register_forward_hook(hook) for m in module.modules() if not list(m.children())]
    try:
        y = module(x)
    finally:
        for h in handles:
            h.remove()
    return y, sum(total)


@lru_cache(maxsize=64)
def _costs(model_json, num_classes, channels, side):
    model = json.loads(model_json)
    spec = spec_from_config(model, num_classes, channels, side)
    widths = block_widths(spec)
    out = []
    with torch.device("meta"):  # eval mode: batch norm takes a batch of one image
        stem = make_stem(spec).eval()
        x = torch.empty(1, channels, side, side)
        x = stem(x)
        for j in range(spec.layers):
            block, head = make_block(spec, j, pruned=False).eval(), make_head(spec, j, widths[j]).eval()
            with FlopCounterMode(display=False) as fc:
                y, acts = _leaf_outputs(block, x)
            block_flops = fc.get_total_flops()
            with FlopCounterMode(display=False) as fc:
                _, head_acts = _leaf_outputs(head, y)
            out.append(LayerCost(block_flops, fc.get_total_flops(), count_params(block), count_params(head),
                                 acts + head_acts, y[0].numel(), widths[j]))
            x = y
    return out


def layer_costs(model, num_classes, channels, side):
    """[LayerCost] of every layer of a preset's ``model`` config (the job params' ``model``)."""
    return _costs(json.dumps(model, sort_keys=True), num_classes, channels, side)


def e2e_head(model, num_classes, channels, side):
    """(forward FLOPs, params) of the end-to-end network's final head: the last layer's head."""
    last = layer_costs(model, num_classes, channels, side)[-1]
    return last.head_flops, last.head_params
