"""Greedy layer-wise training (paper 003 Alg. 1): train block j and its auxiliary head
on top of the frozen blocks 1..j-1, then evaluate z_j and write ``weights.pt`` + ``eval.h5``.

Layers are 1-based here (layer j = block j-1 of simcnn.py). Earlier layers are
loaded from their ``weights.pt`` files, put in eval mode and never receive
gradients. With ``prune_to`` set (layer-wise compression) the trained block is
Taylor-pruned and its auxiliary head fine-tuned on the pruned maps.
"""

import logging

import torch
from torch import nn

from layerwise import distributed, torchfile
from layerwise.errors import InputError
from layerwise.models.simcnn import (
    block_widths,
    count_params,
    frozen_compatible,
    make_block,
    make_head,
    make_stem,
    spec_from_config,
)
from layerwise.training import checkpoint, precision, pruning
from layerwise.training.evaluation import accuracy, outputs, pooled, subsample, write_eval
from layerwise.training.inputs import LayerInputs
from layerwise.training.memory import step_peak_mb
from layerwise.training.sampler import make_sampler, real_items
from layerwise.training.schedule import Schedule, Step, run_epochs
from layerwise.training.sources import open_source

log = logging.getLogger(__name__)


def layer_seed(seed, layer):
    """Seed of layer j's initialisation: runs differ by seed, layers by j."""
    return int(seed) * 1000 + int(layer)


def build_spec(cfg, data):
    c, h, w = data.image_shape
    if h != w:
        raise InputError(f"layer-wise models expect square images, got {h}x{w}")
    return spec_from_config(cfg["model"], data.num_classes, c, h, key=f"layerwise model {cfg['preset']}")


def load_frozen(spec, weight_paths, device):
    """Stem + blocks of earlier layers from their weights.pt, frozen (eval mode, no grad)."""
    blocks = [make_stem(spec)]
    for j, path in enumerate(weight_paths, start=1):
        state = torchfile.load(path)
        if not frozen_compatible(state["spec"], spec.to_dict()) or state["layer"] != j:
            raise InputError(
                f"{path}: layer {state['layer']} of another architecture than this run's "
                "layerwise model; delete the run's train/ directory and rerun"
            )
        block = make_block(spec, j - 1)
        block.load_state_dict(state["block"])
        blocks.append(block)
    frozen = nn.Sequential(*blocks).to(device).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    return frozen


class Trainable(nn.Module):
    """Block j followed by its auxiliary classifier: the auxiliary problem's network."""

    def __init__(self, block, head):
        super().__init__()
        self.block, self.head = block, head

    def forward(self, x):
        return self.head(self.block(x))


def train_layer(cfg, data_path, batches_path, prev_weights, out_weights, out_eval, on_step=None):
    """Train layer ``cfg["layer"]``; returns (frozen stack, trained block+head, metrics)."""
    layer = int(cfg["layer"])
    rank, world, device = distributed.init_from_env()
    data = open_source(data_path, cfg["augment"], cfg["seed"], cfg.get("workers", 0), cfg)
    spec = build_spec(cfg, data)
    if not 1 <= layer <= spec.layers or len(prev_weights) != layer - 1:
        raise InputError(f"layer {layer} needs weights of layers 1..{layer - 1} of {spec.layers}")
    sampler = make_sampler(cfg, batches_path, len(data.train_labels))
    frozen = load_frozen(spec, prev_weights, device)
    torch.manual_seed(layer_seed(cfg["seed"], layer))
    width = block_widths(spec)[layer - 1]
    net = Trainable(make_block(spec, layer - 1, pruned=False), make_head(spec, layer - 1, width))
    net.to(device)
    mode = precision.apply(net, device, cfg.get("precision", "auto"))
    precision.apply(frozen, device, mode, cast_output=False)  # bf16 activations stay bf16
    inputs = LayerInputs(frozen, data, device, cfg["cache_frozen"])

    def evaluate():
        net.eval()
        return accuracy(net, inputs.chunks("test"), data.test_labels, device)

    data.attach(sampler, rank, world)
    first = distributed.rank_share(sampler.batches[0], rank, world, key="batches.batch_size")
    if inputs.cached is not None:  # the step sees cached inputs: the frozen stack is not run
        mem_mb, mem_kind = step_peak_mb(net, [net], net, inputs.train_batch(first, 0, 0),
                                        data.train_labels[first].to(device), device, name=cfg["preset"])
    else:
        mem_mb, mem_kind = step_peak_mb(lambda x: net(frozen(x)), [frozen, net], net,
                                        next(data.chunks("train", first, len(first))).to(device),
                                        data.train_labels[first].to(device), device, name=cfg["preset"])
    schedule = Schedule.from_config(cfg["schedule"])
    scratch = checkpoint.Scratch.of(out_weights, cfg, {
        "data": data_path, "batches": batches_path,
        **{f"layer{j}": path for j, path in enumerate(prev_weights, start=1)}})
    step = Step(net, inputs.train_batch, data.train_labels, evaluate)
    where = {"run": cfg["run"], "key": schedule_key(cfg)}
    metrics, seconds = run_epochs(step, sampler, schedule, device, scratch, "train", None,
                                  layer_seed(cfg["seed"], layer), f"layer {layer}", on_step, where)
    if spec.prune_to:
        metrics, seconds = _compress(cfg, spec, net, inputs, sampler, data, device, scratch,
                                     metrics, seconds, on_step, where, mode)
    if distributed.is_main(rank):
        net.eval()
        attrs = {"train_seconds": seconds, "peak_mem_mb": mem_mb, "peak_mem_kind": mem_kind,
                 "num_params": count_params(frozen) + count_params(net), "preset": cfg["preset"],
                 "layers": spec.layers}
        _write_outputs(cfg, spec, net, inputs, data, device, metrics, attrs, out_weights,
                       out_eval, mode)
        scratch.clear()
    distributed.barrier()
    return frozen, net, metrics


def schedule_key(cfg):
    """The config key of a run's schedule, for error messages."""
    return f"layerwise.profiles.{cfg.get('dataset', '<dataset>')}.models.{cfg['preset']}.schedule"


def _compress(cfg, spec, net, inputs, sampler, data, device, scratch, metrics, seconds, on_step,
              where, mode):
    """Taylor-prune the new block to ``prune_to`` maps, then fine-tune its head alone."""
    rows = [real_items(r) for r in sampler.batches[: cfg["model"]["prune_batches"]]]
    batches = [(next(inputs.chunks("train", r, len(r))).to(device),
                data.train_labels[torch.as_tensor(r)].to(device)) for r in rows]
    with precision.autocast(mode, device):
        keep = pruning.select_filters(net.block, net.head, batches, spec.prune_to,
                                      cfg["model"]["prune_steps"])
    pruning.prune_block(net.block, keep)
    pruning.prune_head_input(net.head, keep)
    for p in net.block.parameters():
        p.requires_grad_(False)
    block = net.block.eval()

    class HeadOnly(nn.Module):  # the block stays frozen (eval mode) while the head adapts
        def __init__(self):
            super().__init__()
            self.head = net.head

        def forward(self, x):
            with torch.no_grad():
                x = block(x)
            return self.head(x)

    head_only = HeadOnly()
    precision.apply(head_only, device, mode)  # its forward calls the block and head directly
    step = Step(head_only, inputs.train_batch, data.train_labels, None)
    schedule = Schedule.from_config(cfg["schedule"], epochs=cfg["model"]["finetune_epochs"])
    more, extra = run_epochs(step, sampler, schedule, device, scratch, "finetune", None,
                             layer_seed(cfg["seed"], cfg["layer"]) + 500,
                             f"layer {cfg['layer']} fine-tune", on_step, where)
    net.eval()
    more["test_top1"][-1], more["test_top5"][-1] = accuracy(net, inputs.chunks("test"), data.test_labels,
                                                            device)
    return {k: list(metrics[k]) + list(more[k]) for k in metrics}, seconds + extra


def features(cfg, block, chunks, labels, seed_offset, device, mode):
    """(stream of x_j pooled to p x p, index, labels) on a seeded subsample of a split (for probes
    and SVM heads): each chunk is written to eval.h5 and dropped, on the device until then."""
    ev = cfg["eval"]
    idx = subsample(len(labels), ev["feature_subsample"], cfg["seed"] + seed_offset)

    def fn(x):
        with precision.autocast(mode, device):
            return pooled(block(x), ev["pooled_size"])

    return outputs(fn, chunks(idx), device), idx, labels[idx].numpy()


def _write_outputs(cfg, spec, net, inputs, data, device, metrics, attrs, out_weights, out_eval, mode):
    feats = {split: features(cfg, net.block, lambda idx, s=split: inputs.chunks(s, idx), labels, offset,
                             device, mode)
             for offset, (split, labels) in enumerate((("train", data.train_labels),
                                                       ("test", data.test_labels)), start=1)}
    write_eval(out_eval, params=cfg, seed=cfg["seed"], layer=cfg["layer"], run=cfg["run"],
               logits=outputs(net, inputs.chunks("test"), device), labels=data.test_labels.numpy(),
               metrics=metrics, features=feats, attrs=attrs, logits_dtype=cfg["eval"]["logits_dtype"])
    state = {"spec": spec.to_dict(), "layer": int(cfg["layer"]), "run": cfg["run"],
             "block": {k: v.cpu() for k, v in net.block.state_dict().items()},
             "head": {k: v.cpu() for k, v in net.head.state_dict().items()}}
    torchfile.save(state, out_weights)
    log.info("layer %d: test top1 %.4f", cfg["layer"], metrics["test_top1"][-1])
