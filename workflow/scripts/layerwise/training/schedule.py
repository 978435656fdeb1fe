"""Layer-wise and end-to-end SGD on a mini-batch file: the hooks they pass to loop.fit.

A step takes one *global* batch (a padded row of the mini-batch file), cuts the
rank's share with ``layerwise.distributed.rank_share``, and scales the summed
loss with ``loss_scale`` so any number of ranks computes the gradient of the
same global-batch mean. Learning rate: ``lr`` decayed by ``lr_decay`` every
``lr_step`` epochs (paper 003: 0.1, x0.2 every 15 epochs on CIFAR-10), after
an optional linear warm-up over the first ``warmup_epochs`` (per step). The
rate is a function of (epoch, step) alone, so a resumed run needs no
scheduler state. With ``reset_momentum_at_decay`` (default, as the authors'
code, which builds a new SGD optimiser at every decay) the momentum buffers are
zeroed before the first step of every epoch whose rate decays; the buffers are
in the checkpoint, so a resumed run resets at the same steps.

The step never waits for the host: labels are moved to the device once, the
share's indices travel asynchronously (pinned on CUDA), and the loss sum and
correct count are returned as device tensors that loop.fit adds up there.
"""

from dataclasses import dataclass

import torch
from torch import nn

from layerwise import distributed
from layerwise.training.loop import Task, fit
from layerwise.training.sampler import real_items

CHECKPOINT_MINUTES = 10.0


@dataclass
class Schedule:
    epochs: int
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_decay: float = 0.2
    lr_step: int = 15
    warmup_epochs: float = 0.0
    checkpoint_every: int = 0  # steps between scratch checkpoints (plus every epoch end); 0: none
    checkpoint_minutes: float = CHECKPOINT_MINUTES  # also after this long since the last one; 0: off
    reset_momentum_at_decay: bool = True  # zero the SGD momentum buffers when the rate decays

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

    def decays_at(self, epoch):
        """Whether 0-based ``epoch`` starts with a learning-rate decay."""
        return epoch > 0 and epoch % self.lr_step == 0 and self.lr_decay != 1


def reset_momentum(optimizer):
    """Zero every SGD momentum buffer (a new optimiser's first step gives the same update)."""
    for state in optimizer.state.values():
        if state.get("momentum_buffer") is not None:
            state["momentum_buffer"].zero_()


def to_device_index(idx, device):
    """Indices as a long tensor on ``device`` without a blocking copy (pinned + non_blocking on CUDA)."""
    idx = torch.as_tensor(idx, dtype=torch.long)
    if torch.device(device).type != "cuda":
        return idx
    return idx.pin_memory().to(device, non_blocking=True)


@dataclass
class Step:
    """What a layer-wise run feeds the loop: the trainable module and how to feed it."""

    module: nn.Module  # the parameters to train (the rest is frozen)
    forward: object  # forward(idx, epoch, step) -> logits for training indices idx
    labels: torch.Tensor  # training labels, indexed by training index
    evaluate: object = None  # evaluate() -> (top1, top5) on the test split, per epoch


def run_epochs(step, sampler, schedule, device, scratch, name, params, seed, desc, on_step=None,
               where=None):
    """Train ``step.module`` on ``sampler``'s batches; returns (per-epoch metrics, training seconds).

    Checkpoint ``name`` of ``scratch`` (checkpoint.Scratch) is resumed when its
    fingerprint (``params`` and the scratch's input hashes) matches. ``where``
    names the run and the config key of its schedule in the divergence error.
    """
    where = {"run": "?", "key": "layerwise schedule", **(where or {})}
    rank, world = distributed_rank()
    model = distributed.wrap_model(step.module, device)
    params_ = [p for p in step.module.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params_, lr=schedule.lr, momentum=schedule.momentum,
                          weight_decay=schedule.weight_decay)
    criterion = nn.CrossEntropyLoss(reduction="sum")
    steps_per_epoch = len(sampler.batches)
    labels = step.labels.to(device)  # once, not per step

    def batches(epoch, start):
        sampler.set_epoch(epoch, start)
        return sampler

    def one_step(row, at):
        if schedule.reset_momentum_at_decay and at.index == 0 and schedule.decays_at(at.epoch):
            reset_momentum(opt)
        share = distributed.rank_share(row, rank, world, key="batches.batch_size")
        y = labels[to_device_index(share, device)]
        logits = model(step.forward(share, at.epoch, at.index))
        loss = criterion(logits, y) * distributed.loss_scale(row, world)
        with torch.no_grad():  # the share's summed loss; correct predictions (device tensors)
            stats = {"train_loss": loss.detach().double() * (len(real_items(row)) / world),
                     "train_top1": (logits.argmax(1) == y).sum()}
        return loss, stats, len(share)

    def evaluate(at, loss):
        top1, top5 = step.evaluate() if step.evaluate else (float("nan"), float("nan"))
        return {"test_top1": top1, "test_top5": top5}

    task = Task(step.module, opt, batches, one_step, epochs=schedule.epochs, evaluate=evaluate,
                lr_at=lambda e, i: schedule.lr_at(e, i, steps_per_epoch),
                checkpoint_every=schedule.checkpoint_every, checkpoint_seconds=60 * schedule.checkpoint_minutes,
                seed=seed, desc=f"run {where['run']} {desc}",
                hint=f"Lower {where['key']}.lr, set its warmup_epochs, or add batchnorm to the preset",
                on_step=on_step)
    result = fit(task, scratch, name, params, is_main=distributed.is_main(rank))
    return result.history, result.seconds


def distributed_rank():
    """(rank, world size) of this process (1 process without torchrun)."""
    return distributed.rank_world()
