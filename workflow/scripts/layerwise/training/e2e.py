"""End-to-end baselines: the same network (all blocks + the last layer's head) trained
jointly by backpropagation, on the same mini-batch sequence and schedule as a layer.

Writes ``e2e/weights.pt`` (the full state dict) and ``e2e/eval.h5`` in the
layout of evaluation.py, with x_J (the last block's output) as the features.
"""

import logging

import torch
from torch import nn

from layerwise import distributed, torchfile
from layerwise.models.simcnn import LayeredCNN, count_params
from layerwise.training import checkpoint, precision
from layerwise.training.evaluation import accuracy, outputs, write_eval
from layerwise.training.greedy import build_spec, features, schedule_key
from layerwise.training.inputs import LayerInputs
from layerwise.training.memory import step_peak_mb
from layerwise.training.sampler import make_sampler
from layerwise.training.schedule import Schedule, Step, run_epochs
from layerwise.training.sources import open_source

log = logging.getLogger(__name__)


def train_e2e(cfg, data_path, batches_path, out_weights, out_eval, on_step=None):
    rank, world, device = distributed.init_from_env()
    data = open_source(data_path, cfg["augment"], cfg["seed"], cfg.get("workers", 0), cfg)
    spec = build_spec(cfg, data)
    sampler = make_sampler(cfg, batches_path, len(data.train_labels))
    torch.manual_seed(int(cfg["seed"]) * 1000)
    model = LayeredCNN(spec).to(device)
    mode = precision.apply(model, device, cfg.get("precision", "auto"))
    images = LayerInputs(nn.Identity(), data, device, cache=False)

    def evaluate():
        model.eval()
        return accuracy(model, images.chunks("test"), data.test_labels, device)

    data.attach(sampler, rank, world)
    first = distributed.rank_share(sampler.batches[0], rank, world, key="batches.batch_size")
    mem_mb, mem_kind = step_peak_mb(model, [model], model,
                                    next(data.chunks("train", first, len(first))).to(device),
                                    data.train_labels[first].to(device), device, name=cfg["preset"])
    scratch = checkpoint.Scratch.of(out_weights, cfg, {"data": data_path, "batches": batches_path})
    metrics, seconds = run_epochs(
        Step(model, images.train_batch, data.train_labels, evaluate), sampler,
        Schedule.from_config(cfg["schedule"]), device, scratch, "train", None,
        int(cfg["seed"]) * 1000 + 999, "end to end", on_step,
        {"run": cfg["run"], "key": schedule_key(cfg)})
    if distributed.is_main(rank):
        model.eval()
        feats = {split: features(cfg, model.features, lambda idx, s=split: images.chunks(s, idx), labels,
                                 offset, device, mode)
                 for offset, (split, labels) in enumerate((("train", data.train_labels),
                                                           ("test", data.test_labels)), start=1)}
        attrs = {"train_seconds": seconds, "peak_mem_mb": mem_mb, "peak_mem_kind": mem_kind,
                 "num_params": count_params(model), "preset": cfg["preset"], "layers": spec.layers}
        write_eval(out_eval, params=cfg, seed=cfg["seed"], layer=spec.layers, run=cfg["run"],
                   logits=outputs(model, images.chunks("test"), device), labels=data.test_labels.numpy(),
                   metrics=metrics, features=feats, attrs=attrs, logits_dtype=cfg["eval"]["logits_dtype"])
        torchfile.save({"spec": spec.to_dict(), "run": cfg["run"],
                        "model": {k: v.cpu() for k, v in model.state_dict().items()}}, out_weights)
        scratch.clear()
        log.info("end to end: test top1 %.4f", metrics["test_top1"][-1])
    distributed.barrier()
