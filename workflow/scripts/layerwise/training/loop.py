"""The SGD loop shared by layer-wise and end-to-end training, with checkpoint/resume.

A step takes one *global* batch (a padded row of the mini-batch file), cuts the
rank's share with ``layerwise.distributed.rank_share``, and scales the summed
loss with ``loss_scale`` so any number of ranks computes the gradient of the
same global-batch mean. Learning rate: ``lr`` decayed by ``lr_decay`` every
``lr_step`` epochs (paper 003: 0.1, x0.2 every 15 epochs on CIFAR-10), after
an optional linear warm-up over the first ``warmup_epochs`` (per step). The
rate is a function of (epoch, step) alone, so a resumed run needs no
scheduler state.

A non-finite loss or gradient stops the job with :class:`TrainingDiverged`
(an InputError: one ``error:`` line naming the run, layer, epoch, step, rate
and the config key to change) before anything is written.
"""

import logging
import time
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from layerwise import distributed
from layerwise.errors import InputError
from layerwise.training import checkpoint
from layerwise.training.sampler import real_items

log = logging.getLogger(__name__)


@dataclass
class Schedule:
    epochs: int
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_decay: float = 0.2
    lr_step: int = 15
    warmup_epochs: float = 0.0
    checkpoint_every: int = 200  # steps between scratch checkpoints (plus every epoch end)

    @classmethod
    def from_config(cls, cfg, epochs=None):
        keys = cls.__dataclass_fields__
        values = {k: v for k, v in cfg.items() if k in keys}
        if epochs is not None:
            values["epochs"] = epochs
        return cls(**values)

    def lr_at(self, epoch, step, steps_per_epoch):
        """Rate of 0-based step ``step`` of 0-based ``epoch``: warm-up, then step decay."""
        lr = self.lr * self.lr_decay ** (epoch // self.lr_step)
        warm = self.warmup_epochs * steps_per_epoch
        done = epoch * steps_per_epoch + step + 1
        return lr * min(1.0, done / warm) if warm > 0 else lr


class TrainingDiverged(InputError):
    """A non-finite loss or gradient: the run's settings cannot train this model."""


def check_finite(loss, params, where):
    """Raise TrainingDiverged unless the loss and every gradient are finite."""
    what = None
    if not torch.isfinite(loss):
        what = f"loss {float(loss.detach())}"
    else:
        grads = [p.grad for p in params if p.grad is not None]
        if grads and not torch.isfinite(torch.stack([g.detach().abs().max() for g in grads])).all():
            what = "gradient"
    if what is not None:
        raise TrainingDiverged(
            f"run {where['run']} {where['part']}: non-finite {what} at epoch {where['epoch']}, "
            f"step {where['step']}, lr {where['lr']:.4g}; no weights, eval or table row written. "
            f"Lower {where['key']}.lr, set its warmup_epochs, or add batchnorm to the preset"
        )


@dataclass
class Step:
    """What a loop needs from its caller: the trainable module and how to feed it."""

    module: nn.Module  # the parameters to train (the rest is frozen)
    forward: object  # forward(idx, epoch, step) -> logits for training indices idx
    labels: torch.Tensor  # training labels, indexed by training index
    evaluate: object = None  # evaluate() -> (top1, top5) on the test split, per epoch


def run_epochs(step, sampler, schedule, device, ckpt_path, fingerprint, seed, desc, on_step=None,
               where=None):
    """Train ``step.module``; returns per-epoch metrics and the training seconds.

    Resumes from ``ckpt_path`` when it holds a checkpoint with the same
    ``fingerprint``. ``on_step(epoch, step)`` runs after every optimiser step
    (progress hooks, and tests that interrupt a run). ``where`` names the run
    and the config key of its schedule in the divergence error.
    """
    where = {"run": "?", "key": "layerwise schedule", **(where or {}), "part": desc}
    rank, world = distributed_rank()
    model = distributed.wrap_model(step.module, device)
    params = [p for p in step.module.parameters() if p.requires_grad]
    opt = torch.optim.SGD(
        params, lr=schedule.lr, momentum=schedule.momentum, weight_decay=schedule.weight_decay
    )
    state = checkpoint.load(ckpt_path, fingerprint)
    metrics = {"train_loss": [], "train_top1": [], "test_top1": [], "test_top5": []}
    epoch, start, seconds, sums = 0, 0, 0.0, [0.0, 0, 0]
    if state is not None:
        step.module.load_state_dict(state["module"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        epoch, start, seconds = state["epoch"], state["start"], state["seconds"]
        metrics, sums = state["metrics"], state["sums"]
        log.info("resuming %s from epoch %d, batch %d", desc, epoch, start)
    else:
        torch.manual_seed(seed)  # dropout and other in-model randomness
    criterion = nn.CrossEntropyLoss(reduction="sum")

    def save(epoch, start):
        if distributed.is_main(rank):
            checkpoint.save(ckpt_path, {
                "fingerprint": fingerprint, "module": step.module.state_dict(),
                "optimizer": opt.state_dict(), "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "epoch": epoch, "start": start,
                "seconds": seconds, "metrics": metrics, "sums": sums,
            })

    steps_per_epoch = len(sampler.batches)
    while epoch < schedule.epochs:
        sampler.set_epoch(epoch, start)
        step.module.train()
        tick = time.perf_counter()
        bar = tqdm(sampler, desc=f"{desc} epoch {epoch + 1}/{schedule.epochs}",
                   disable=not distributed.is_main(rank), leave=False, mininterval=5)
        for i, row in enumerate(bar, start=start):
            share = distributed.rank_share(row, rank, world, key="batches.batch_size")
            y = step.labels[torch.as_tensor(share)].to(device)
            logits = model(step.forward(share, epoch, i))
            loss = criterion(logits, y) * distributed.loss_scale(row, world)
            lr = schedule.lr_at(epoch, i, steps_per_epoch)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad(set_to_none=True)
            loss.backward()
            check_finite(loss, params, {**where, "epoch": epoch + 1, "step": i + 1, "lr": lr})
            opt.step()
            with torch.no_grad():
                sums[0] += float(loss) * len(real_items(row)) / world  # the share's summed loss
                sums[1] += int((logits.argmax(1) == y).sum())
                sums[2] += len(share)
            if on_step is not None:
                on_step(epoch, i + 1)
            if schedule.checkpoint_every and (i + 1) % schedule.checkpoint_every == 0:
                seconds += time.perf_counter() - tick
                tick = time.perf_counter()
                save(epoch, i + 1)
        seconds += time.perf_counter() - tick
        metrics["train_loss"].append(sums[0] / max(1, sums[2]))
        metrics["train_top1"].append(sums[1] / max(1, sums[2]))
        top1, top5 = step.evaluate() if step.evaluate else (float("nan"), float("nan"))
        metrics["test_top1"].append(top1)
        metrics["test_top5"].append(top5)
        log.info("%s epoch %d: loss %.4f train top1 %.4f test top1 %.4f", desc, epoch + 1,
                 metrics["train_loss"][-1], metrics["train_top1"][-1], top1)
        epoch, start, sums = epoch + 1, 0, [0.0, 0, 0]
        save(epoch, 0)
    return metrics, seconds


def distributed_rank():
    """(rank, world size) of this process (1 process without torchrun)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1
