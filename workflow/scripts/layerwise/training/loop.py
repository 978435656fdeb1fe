"""The one training loop of the pipeline: every gradient-trained model goes through :func:`fit`.

As torchvision's references/classification keeps one train_one_epoch/evaluate,
layer-wise and end-to-end training (schedule.py), the residual autoencoder and
the augmented networks (autoencoder/), the clustering blocks, heads, CNNs and
the probes (clustering/training.py) and the parsimonious CNNs
(parsimonious/experiment.py) share this loop. What differs comes in as hooks of
a :class:`Task`: an epoch's batches, a batch's loss (cross-entropy, reconstruction
terms, regulariser), the rate of a step, the evaluation, early stopping, a step
budget.

Resume: model, optimiser, scheduler, every rank's CPU and CUDA random states,
position, history, running sums and the early-stopping best go atomically to a
scratch checkpoint (checkpoint.py) after every epoch, every evaluation, every
``checkpoint_every`` steps and, checked every ``sync_every`` steps, once
``checkpoint_seconds`` have passed since the last one. A rerun with the same fingerprint continues there;
batch orders are functions of (seed, epoch), so it ends bit for bit where an
uninterrupted run ends.

A non-finite loss or gradient stops the job with :class:`TrainingDiverged` (an
InputError: one ``error:`` line naming the run, the first bad epoch and step, its
rate and what to change) before anything is written.

No host synchronisation per step: a step's stats may be 0-dim tensors on the
device (loss sums, correct counts); they are added up there and read at epoch
ends. Finiteness is checked on the device every step (:class:`FiniteWatch`
keeps a flag and the first bad step) and read every ``sync_every`` steps, at
every epoch end and before any checkpoint, evaluation or return, so the error
still names the first bad step and nothing is written after it.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm import tqdm

from layerwise import distributed
from layerwise.errors import InputError
from layerwise.training import checkpoint

log = logging.getLogger(__name__)


class TrainingDiverged(InputError):
    """A non-finite loss or gradient: the run's settings cannot train this model."""


@dataclass
class At:
    """Where the loop is: 0-based epoch, batches done in it, optimiser steps done in all."""

    epoch: int
    index: int
    step: int


@dataclass
class EarlyStop:
    """Keep the weights of the best evaluation; stop after ``patience`` evaluations without a gain."""

    key: str  # the metric of Task.evaluate to watch
    mode: str = "min"  # "min" or "max"; only a strict gain counts
    patience: int = 0  # 0: never stop early (the best weights are still restored)
    baseline: float = None  # the untrained model's value: it is a candidate too (its weights kept)


@dataclass
class Task:
    model: nn.Module  # saved and restored; the optimiser holds its trainable part
    optimizer: torch.optim.Optimizer
    batches: Callable  # batches(epoch, start) -> the epoch's batches from number ``start`` on
    step: Callable  # step(batch, At) -> (loss tensor, {stat: sum over the batch, float or 0-dim tensor}, count)
    epochs: int = None  # None: until max_steps
    max_steps: int = 0  # 0: no step budget
    evaluate: Callable = None  # evaluate(At, last loss) -> {metric: float}
    eval_every: int = 0  # 0: after every epoch; n: every n steps and at the step budget
    early_stop: EarlyStop = None
    scheduler: object = None  # stepped after every epoch
    lr_at: Callable = None  # lr_at(epoch, index) -> the rate of a step, set on every group
    train_mode: Callable = None  # puts the model in training mode (default model.train())
    checkpoint_every: int = 0  # steps between mid-epoch checkpoints; 0: none
    checkpoint_seconds: float = 0  # also checkpoint when this long has passed since the last one; 0: never
    sync_every: int = 50  # steps between host reads of the device-side finiteness flag
    seed: int = None  # torch.manual_seed on a fresh start (dropout, in-model randomness)
    desc: str = "train"  # names the run in logs and errors
    hint: str = "lower the learning rate"  # the fix a divergence error suggests
    on_step: Callable = None  # on_step(epoch, index) after every step (progress, tests that kill)


@dataclass
class Result:
    history: dict  # per-epoch means of the step stats, per-evaluation metrics
    seconds: float  # training time (evaluations and checkpoints excluded)
    epochs: int  # epochs completed
    steps: int
    best: int = None  # index of the kept evaluation; None: the last weights (or the baseline)
    best_value: float = None


@dataclass
class _State:
    at: At = field(default_factory=lambda: At(0, 0, 0))
    seconds: float = 0.0
    history: dict = field(default_factory=dict)
    sums: dict = field(default_factory=dict)
    count: int = 0
    evals: int = 0
    best: int = None
    best_value: float = None
    best_state: dict = None
    stale: int = 0
    last_loss: object = float("nan")  # a 0-dim tensor while training: read when evaluated


class FiniteWatch:
    """The first step with a non-finite loss or gradient, tracked on the device.

    :meth:`update` adds a step without reading anything on the host; :meth:`check`
    reads the flag once and raises :class:`TrainingDiverged` naming the first bad
    step, however many steps ran since.
    """

    def __init__(self, desc, hint):
        self.desc, self.hint = desc, hint
        self.steps = []  # (At, lr) of the steps since the last check
        self.first = self.what = self.loss = None  # device tensors: step number (-1: none), 0 loss / 1 grad

    def update(self, loss, params, at, lr):
        loss = loss.detach().float()
        loss_ok = torch.isfinite(loss).all()
        grads = [p.grad.detach() for p in params if p.grad is not None]
        ok = loss_ok
        if grads:  # the inf-norm (max |g|) of every gradient, as one fused kernel per dtype/device
            ok = ok & torch.isfinite(torch.stack(torch._foreach_norm(grads, float("inf"))).to(loss.device)).all()
        if self.first is None:
            self.first = torch.full((), -1, dtype=torch.long, device=loss.device)
            self.what, self.loss = torch.zeros((), dtype=torch.long, device=loss.device), loss.clone()
        new = (~ok) & (self.first < 0)
        self.first = torch.where(new, len(self.steps), self.first)
        self.what = torch.where(new, loss_ok.long(), self.what)
        self.loss = torch.where(new, loss, self.loss)
        self.steps.append((at, lr))

    def check(self):
        """Raise TrainingDiverged if a step since the last check was not finite (one host read)."""
        if self.first is None:
            return
        first = int(self.first)
        if first >= 0:
            at, lr = self.steps[first]
            what = f"loss {float(self.loss)}" if int(self.what) == 0 else "gradient"
            raise TrainingDiverged(
                f"{self.desc}: non-finite {what} at epoch {at.epoch + 1}, step {at.index + 1}, lr {lr:.4g}; "
                f"no weights, eval or table row written. {self.hint}"
            )
        self.steps, self.first = [], None


def check_finite(loss, params, desc, at, lr, hint):
    """Raise TrainingDiverged unless the loss and every gradient are finite (reads at once)."""
    watch = FiniteWatch(desc, hint)
    watch.update(loss, params, at, lr)
    watch.check()


def fit(task, scratch=None, name="train", params=None, is_main=True):
    """Train ``task.model``; resumes from ``scratch`` (a checkpoint.Scratch or None) when it holds
    checkpoint ``name`` of the same fingerprint (``params``: this part's settings). Returns a Result."""
    path = None if scratch is None else scratch.path(name)
    key = None if scratch is None else scratch.key(name, params)
    s = _State()
    saved = checkpoint.load(path, key) if path is not None else None
    if saved is not None and not _within_budget(task, At(*saved["at"])):
        saved = None  # written by a longer run of the same job: start over
    if saved is not None:
        _restore(task, s, saved)
        log.info("%s: resuming %s at epoch %d, batch %d", task.desc, path, s.at.epoch + 1, s.at.index)
    else:
        if task.seed is not None:
            torch.manual_seed(task.seed)
        if task.early_stop is not None and task.early_stop.baseline is not None:
            s.best_value, s.best_state = task.early_stop.baseline, _clone(task.model)

    watch = FiniteWatch(task.desc, task.hint)
    last_save = time.monotonic()

    def save():
        nonlocal last_save
        watch.check()  # never checkpoint weights past a non-finite step
        if path is not None:
            snap = _snapshot(task, s, key)  # every rank: each one's random states are gathered
            if is_main:
                checkpoint.save(path, snap)
        last_save = time.monotonic()

    params_ = [p for g in task.optimizer.param_groups for p in g["params"]]
    while not _done(task, s):
        (task.train_mode or task.model.train)()
        tick, stopped = time.perf_counter(), False
        total = f"/{task.epochs}" if task.epochs is not None else ""
        bar = tqdm(task.batches(s.at.epoch, s.at.index), desc=f"{task.desc} epoch {s.at.epoch + 1}{total}",
                   disable=not is_main, leave=False, mininterval=5)
        for batch in bar:
            at = At(s.at.epoch, s.at.index, s.at.step)
            lr = task.optimizer.param_groups[0]["lr"]
            if task.lr_at is not None:
                lr = task.lr_at(at.epoch, at.index)
                for group in task.optimizer.param_groups:
                    group["lr"] = lr
            loss, stats, count = task.step(batch, at)
            task.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            watch.update(loss, params_, at, lr)
            task.optimizer.step()
            for k, v in stats.items():  # device tensors stay there: no read per step
                s.sums[k] = s.sums.get(k, 0.0) + (v.detach().double() if torch.is_tensor(v) else v)
            s.count += count
            s.last_loss = loss.detach()
            s.at = At(at.epoch, at.index + 1, at.step + 1)
            if task.on_step is not None:
                task.on_step(s.at.epoch, s.at.index)
            due = task.eval_every and (s.at.step % task.eval_every == 0 or s.at.step == task.max_steps)
            timed = False
            if task.sync_every and s.at.step % task.sync_every == 0:
                watch.check()
                timed = bool(task.checkpoint_seconds) and distributed.agree(
                    time.monotonic() - last_save >= task.checkpoint_seconds)
            if due or timed or (task.checkpoint_every and s.at.index % task.checkpoint_every == 0):
                s.seconds += time.perf_counter() - tick
                watch.check()  # never evaluate (or keep as the best) weights past a non-finite step
                if due:
                    _evaluate(task, s)
                    (task.train_mode or task.model.train)()  # evaluate() left it in eval mode
                save()
                tick = time.perf_counter()
            if _done(task, s):
                stopped = True  # step budget or early stop inside the epoch
                break
        watch.check()
        if stopped:
            break
        s.seconds += time.perf_counter() - tick
        for k, v in s.sums.items():  # the epoch's one read of the running sums
            s.history.setdefault(k, []).append(float(v) / max(1, s.count))
        means = {k: s.history[k][-1] for k in s.sums}
        s.at, s.sums, s.count = At(s.at.epoch + 1, 0, s.at.step), {}, 0
        if task.scheduler is not None:
            task.scheduler.step()
        metrics = _evaluate(task, s) if not task.eval_every and task.evaluate is not None else {}
        log.info("%s epoch %d: %s", task.desc, s.at.epoch, _fmt({**means, **metrics}))
        save()
    if s.best_state is not None:
        task.model.load_state_dict(s.best_state)
    return Result(s.history, s.seconds, s.at.epoch, s.at.step, s.best, s.best_value)


def _done(task, s):
    es = task.early_stop
    return ((task.epochs is not None and s.at.epoch >= task.epochs)
            or (task.max_steps and s.at.step >= task.max_steps)
            or bool(es is not None and es.patience and s.stale >= es.patience))


def _within_budget(task, at):
    return (task.epochs is None or at.epoch <= task.epochs) and (not task.max_steps or at.step <= task.max_steps)


def _evaluate(task, s):
    metrics = task.evaluate(s.at, float(s.last_loss))
    for k, v in metrics.items():
        s.history.setdefault(k, []).append(v)
    es = task.early_stop
    if es is not None:
        value = metrics[es.key]
        if s.best_value is None or (value < s.best_value if es.mode == "min" else value > s.best_value):
            s.best, s.best_value, s.best_state, s.stale = s.evals, value, _clone(task.model), 0
        else:
            s.stale += 1
    s.evals += 1
    if task.eval_every:
        log.info("%s step %d: %s", task.desc, s.at.step, _fmt(metrics))
    return metrics


def _clone(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _snapshot(task, s, key):
    """The checkpoint; a collective under DDP (each rank's own CPU and CUDA random state)."""
    own = {"rng": torch.get_rng_state(),
           "cuda_rng": torch.cuda.get_rng_state() if torch.cuda.is_available() else None}
    state = {k: v for k, v in vars(s).items() if k != "at"}
    state["sums"] = {k: float(v) for k, v in s.sums.items()}
    state["last_loss"] = float(s.last_loss)
    return {
        "fingerprint": key, "model": task.model.state_dict(), "optimizer": task.optimizer.state_dict(),
        "scheduler": None if task.scheduler is None else task.scheduler.state_dict(),
        "ranks": distributed.gather_objects(own),  # [rank 0's, rank 1's, ...]
        "at": (s.at.epoch, s.at.index, s.at.step), "state": state,
    }


def _restore(task, s, saved):
    task.model.load_state_dict(saved["model"])
    task.optimizer.load_state_dict(saved["optimizer"])
    if task.scheduler is not None:
        task.scheduler.load_state_dict(saved["scheduler"])
    rank, world = distributed.rank_world()
    ranks = saved.get("ranks") or [{"rng": saved["rng"], "cuda_rng": None}]  # a checkpoint of before per-rank
    own = ranks[rank] if len(ranks) == world else ranks[0]  # another world size: rank 0's CPU state
    torch.set_rng_state(own["rng"])
    if len(ranks) == world and own["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(own["cuda_rng"])
    s.at = At(*saved["at"])
    for k, v in saved["state"].items():
        setattr(s, k, v)


def _fmt(stats):
    return " ".join(f"{k}={v:.4g}" for k, v in stats.items())
