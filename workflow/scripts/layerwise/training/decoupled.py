"""Decoupled greedy training (Belilovsky, Eickenberg, Oyallon, ICML 2020) of paper 003's objective.

Every block j keeps its auxiliary head and its own SGD optimiser (the preset's
schedule) and learns *at once*: per mini-batch, x_0 = the batch (after the
stem) and for j = 1..J, z = block_j(x_{j-1}), loss_j = CE(aux_j(z), y), the
backward pass of loss_j reaches block j and aux_j only, x_j = z.detach(), and
block j's optimiser steps. Block j+1 therefore reads the output of block j
*before* block j's update on that batch, exactly as a pipeline would deliver
it, so the asynchronous mode (decoupled_async.py: block groups in separate
processes joined by bounded FIFO queues) computes the same arithmetic as the
synchronous one.

A :class:`Group` consumes a stream of messages (train batch, test chunk, epoch
end) and emits the same stream with its last block's output in place of the
input: synchronous mode runs one group over all blocks in this process.
Losses and correct counts are summed on the device and read once per epoch;
finiteness is checked on the device and read every ``CHECK_EVERY`` steps and
before every checkpoint (the error names the first bad step).

Checkpoints: every group writes its state at the same global step (every
``checkpoint_every`` steps and every epoch end) and a commit file naming that
step is written once *all* groups have written theirs, so a resumed run never
mixes two steps; it restarts its queues from the committed step.
"""

import json
import logging
import time
from dataclasses import dataclass

import torch
from torch import nn

from layerwise import distributed
from layerwise.errors import InputError
from layerwise.h5io import atomic_path
from layerwise.models.simcnn import block_widths, count_params, make_block, make_head, make_stem
from layerwise.training import checkpoint, precision
from layerwise.training.greedy import Trainable, _write_outputs, build_spec, layer_seed, schedule_key
from layerwise.training.inputs import LayerInputs
from layerwise.training.loop import TrainingDiverged
from layerwise.training.memory import step_peak_mb
from layerwise.training.sampler import make_sampler, real_items
from layerwise.training.schedule import Schedule, reset_momentum
from layerwise.training.sources import open_source

log = logging.getLogger(__name__)

MODES = ("sync", "async")
CHECK_EVERY = 50  # steps between reads of the device-side finiteness flag
TEST_CHUNK = 256


@dataclass
class Msg:
    """One item of the stream between groups: ``kind`` train | test | end."""

    kind: str
    epoch: int
    index: int
    x: torch.Tensor = None
    y: torch.Tensor = None


def settings(cfg):
    """(mode, groups, buffer) of a decoupled preset, checked; the error names the config key."""
    key = f"layerwise.profiles.{cfg.get('dataset', '<dataset>')}.models.{cfg['preset']}.decoupled"
    d = {"mode": "sync", "groups": 1, "buffer": 1, **(cfg["model"].get("decoupled") or {})}
    if d["mode"] not in MODES:
        raise InputError(f"{key}.mode: {d['mode']!r} is not one of {MODES}")
    if int(d["groups"]) < 1 or int(d["buffer"]) < 1:
        raise InputError(f"{key}: groups and buffer must be >= 1, got {d['groups']} and {d['buffer']}")
    if d["mode"] == "sync" and int(d["groups"]) != 1:
        raise InputError(f"{key}: mode sync runs one group; set groups: 1 or mode: async")
    if cfg["model"].get("prune_to"):
        raise InputError(f"{key}: decoupled presets cannot set prune_to (layer-wise compression)")
    return d["mode"], int(d["groups"]), int(d["buffer"])


def split_layers(layers, groups):
    """Contiguous 1-based layer ranges of ``groups`` groups, sizes differing by at most one."""
    if groups > layers:
        raise InputError(f"decoupled.groups {groups} exceeds the preset's {layers} layers; lower it")
    base, extra = divmod(layers, groups)
    out, start = [], 1
    for g in range(groups):
        size = base + (1 if g < extra else 0)
        out.append(list(range(start, start + size)))
        start += size
    return out


class Stage:
    """Block j, its auxiliary head and its own optimiser."""

    def __init__(self, spec, layer, cfg, schedule, device):
        torch.manual_seed(layer_seed(cfg["seed"], layer))  # as train_layer initialises layer j
        width = block_widths(spec)[layer - 1]
        self.layer = layer
        self.net = Trainable(make_block(spec, layer - 1, pruned=False), make_head(spec, layer - 1, width))
        self.net.to(device)
        mode = cfg.get("precision", "auto")
        precision.apply(self.net.block, device, mode)
        precision.apply(self.net.head, device, mode)
        self.opt = torch.optim.SGD([p for p in self.net.parameters() if p.requires_grad], lr=schedule.lr,
                                   momentum=schedule.momentum, weight_decay=schedule.weight_decay)


class Group:
    """Consecutive blocks trained on one device from one stream (see the module docstring)."""

    def __init__(self, index, spec, layers, cfg, device, commits, steps_per_epoch, on_step=None):
        self.index, self.layers, self.cfg, self.device = index, layers, cfg, device
        self.schedule = Schedule.from_config(cfg["schedule"])
        self.stages = [Stage(spec, j, cfg, self.schedule, device) for j in layers]
        self.commits, self.steps_per_epoch, self.on_step = commits, steps_per_epoch, on_step
        self.criterion = nn.CrossEntropyLoss(reduction="sum")
        self.layer = layers[0]  # the block being run (named in errors)
        self.at = (0, 0, 0)  # epoch, index in epoch, global step
        self.seconds, self.history = 0.0, {j: {} for j in layers}
        self._reset_sums()
        self.desc = f"run {cfg['run']} decoupled group {index + 1} (layers {layers[0]}-{layers[-1]})"

    def _reset_sums(self):
        z = torch.zeros((), dtype=torch.float64, device=self.device)
        self.sums = {j: {"loss": z.clone(), "top1": z.clone(), "test1": z.clone(), "test5": z.clone()}
                     for j in self.layers}
        self.count, self.test_count = 0, 0
        self.first_bad = torch.full((), -1, dtype=torch.long, device=self.device)

    # ---- resume -------------------------------------------------------------------------
    def start(self):
        """Restore the committed step's state, or seed a fresh start; returns (epoch, index)."""
        saved = self.commits.load(self.index)
        if saved is None:
            torch.manual_seed(layer_seed(self.cfg["seed"], self.layers[0]))
            return 0, 0
        for stage, state in zip(self.stages, saved["stages"], strict=True):
            stage.net.load_state_dict(state["net"])
            stage.opt.load_state_dict(state["opt"])
        torch.set_rng_state(saved["rng"])
        self.at, self.seconds, self.history = tuple(saved["at"]), saved["seconds"], saved["history"]
        self.count, self.test_count = saved["count"], 0
        for j in self.layers:
            for k in ("loss", "top1"):
                self.sums[j][k].fill_(saved["sums"][j][k])
        log.info("%s: resuming at epoch %d, batch %d", self.desc, self.at[0] + 1, self.at[1])
        return self.at[0], self.at[1]

    def _save(self):
        self._check()
        state = {"stages": [{"net": s.net.state_dict(), "opt": s.opt.state_dict()} for s in self.stages],
                 "rng": torch.get_rng_state(), "at": self.at, "seconds": self.seconds,
                 "history": self.history, "count": self.count,
                 "sums": {j: {k: float(self.sums[j][k]) for k in ("loss", "top1")} for j in self.layers}}
        self.commits.save(self.index, self.at[2], state)

    # ---- the stream -------------------------------------------------------------------
    def run(self, stream, emit=None):
        """Consume ``stream`` (Msg items) to the end, emitting this group's outputs downstream."""
        for s in self.stages:
            s.net.train()
        tick = time.perf_counter()
        for msg in stream:
            if msg.kind == "train":
                out = self._train(msg)
                if emit is not None:
                    emit(Msg("train", msg.epoch, msg.index, out, msg.y))
                self.at = (msg.epoch, msg.index + 1, self.at[2] + 1)
                if self.on_step is not None:
                    self.on_step(self.index, *self.at)
                ce = self.schedule.checkpoint_every
                if self.at[2] % CHECK_EVERY == 0:
                    self._check()
                if ce and self.at[1] % ce == 0:
                    self.seconds += time.perf_counter() - tick
                    self._save()
                    tick = time.perf_counter()
            elif msg.kind == "test":
                self.seconds += time.perf_counter() - tick
                out = self._test(msg)
                if emit is not None:
                    emit(Msg("test", msg.epoch, msg.index, out, msg.y))
                tick = time.perf_counter()
            else:
                self.seconds += time.perf_counter() - tick
                if emit is not None:
                    emit(msg)
                self._end_epoch(msg.epoch)
                tick = time.perf_counter()

    def _train(self, msg):
        epoch, index = msg.epoch, msg.index
        lr = self.schedule.lr_at(epoch, index, self.steps_per_epoch)
        x, y, n = msg.x.to(self.device), msg.y.to(self.device), len(msg.y)
        step = self.at[2]
        decay = self.schedule.reset_momentum_at_decay and index == 0 and self.schedule.decays_at(epoch)
        for stage in self.stages:
            self.layer = stage.layer
            if decay:  # as train_layer: a new SGD at every decay (the authors' code)
                reset_momentum(stage.opt)
            for group in stage.opt.param_groups:
                group["lr"] = lr
            z = stage.net.block(x)
            logits = stage.net.head(z)
            loss = self.criterion(logits, y) * (1.0 / n)  # the batch mean, as distributed.loss_scale
            stage.opt.zero_grad(set_to_none=True)
            loss.backward()
            self._flag(loss, stage, step)
            stage.opt.step()
            with torch.no_grad():
                sums = self.sums[stage.layer]
                sums["loss"] += loss.detach().double() * n
                sums["top1"] += (logits.argmax(1) == y).sum()
            x = z.detach()
        self.count += n
        return x

    def _flag(self, loss, stage, step):
        """Record (on the device) the first step whose loss or gradients are not finite."""
        grads = [p.grad for p in stage.net.parameters() if p.grad is not None]
        ok = torch.isfinite(loss.detach())
        if grads:
            ok = ok & torch.isfinite(torch.stack([g.detach().abs().max() for g in grads])).all()
        bad = torch.full_like(self.first_bad, step)
        self.first_bad = torch.where((self.first_bad < 0) & ~ok, bad, self.first_bad)

    def _check(self):
        first = int(self.first_bad)  # the one host read of the finiteness flag
        if first >= 0:
            epoch, index = divmod(first, self.steps_per_epoch) if self.steps_per_epoch else (0, first)
            lr = self.schedule.lr_at(epoch, index, self.steps_per_epoch)
            raise TrainingDiverged(
                f"{self.desc}: non-finite loss or gradient of a block at global step {first + 1} "
                f"(epoch {epoch + 1}, step {index + 1}), lr {lr:.4g}; no weights, eval or table row "
                f"written. Lower {schedule_key(self.cfg)}.lr, set its warmup_epochs, or add batchnorm"
            )

    @torch.no_grad()
    def _test(self, msg):
        x, y = msg.x.to(self.device), msg.y.to(self.device)
        for stage in self.stages:
            self.layer = stage.layer
            stage.net.eval()
            z = stage.net.block(x)
            logits = stage.net.head(z).float()
            top = logits.topk(min(5, logits.shape[1]), dim=1).indices == y.view(-1, 1)
            self.sums[stage.layer]["test1"] += top[:, :1].any(1).sum()
            self.sums[stage.layer]["test5"] += top.any(1).sum()
            stage.net.train()
            x = z
        self.test_count += len(y)
        return x

    def _end_epoch(self, epoch):
        self._check()
        for j in self.layers:  # one host read of the epoch's sums per block
            s, h, n = self.sums[j], self.history[j], max(1, self.count)
            nt = self.test_count
            h.setdefault("train_loss", []).append(float(s["loss"]) / n)
            h.setdefault("train_top1", []).append(float(s["top1"]) / n)
            h.setdefault("test_top1", []).append(float(s["test1"]) / nt if nt else float("nan"))
            h.setdefault("test_top5", []).append(float(s["test5"]) / nt if nt else float("nan"))
            log.info("%s epoch %d layer %d: train_loss=%.4g test_top1=%.4g", self.desc, epoch + 1, j,
                     h["train_loss"][-1], h["test_top1"][-1])
        self._reset_sums()
        self.at = (epoch + 1, 0, self.at[2])
        self._save()


class Commits:
    """Per-group checkpoints of one global step and the commit file naming the last complete step."""

    def __init__(self, scratch, groups, params):
        self.folder, self.groups = scratch.folder, groups
        self.key = scratch.key("decoupled", params)
        self.notify = None  # async workers: tell the parent which step a group saved

    def _path(self, group, step):
        return self.folder / f"decoupled-g{group + 1}-s{step}.ckpt"

    def committed(self):
        """The last step every group has saved (None: start over)."""
        path = self.folder / "decoupled.commit"
        if not path.exists():
            return None
        record = json.loads(path.read_text())
        return record["step"] if record.get("key") == self.key else None

    def load(self, group):
        step = self.committed()
        if step is None:
            return None
        saved = checkpoint.load(self._path(group, step), self.key)
        if saved is None:
            raise InputError(f"{self.folder}: committed step {step} lacks group {group + 1}'s checkpoint; "
                             "delete the folder and rerun")
        return saved

    def save(self, group, step, state):
        checkpoint.save(self._path(group, step), {"fingerprint": self.key, **state})
        if self.notify is not None:
            self.notify(group, step)
        elif self.groups == 1:
            self.commit(step)

    def commit(self, step):
        """All groups saved ``step``: name it in the commit file, then drop every other step's files."""
        with atomic_path(self.folder / "decoupled.commit") as tmp:
            tmp.write_text(json.dumps({"key": self.key, "step": int(step)}))
        for path in self.folder.glob("decoupled-g*-s*.ckpt"):  # faster groups' later steps stay
            if int(path.stem.rsplit("-s", 1)[1]) < step:
                path.unlink(missing_ok=True)


def stream_from(data, sampler, stem, device, schedule, start):
    """Group 1's input: the run's batches from (epoch, index) on, then the test split, per epoch."""
    epoch0, index0 = start
    for epoch in range(epoch0, schedule.epochs):
        first = index0 if epoch == epoch0 else 0
        sampler.set_epoch(epoch, first)
        for index, row in enumerate(sampler, start=first):
            idx = real_items(row)
            with torch.no_grad():
                x = stem(precision.to_device(data.train_batch(idx, epoch, index), device))
            yield Msg("train", epoch, index, x, data.train_labels[torch.as_tensor(idx)])
        start_row = 0
        for c, chunk in enumerate(data.chunks("test", None, TEST_CHUNK)):
            with torch.no_grad():
                x = stem(chunk.to(device))
            yield Msg("test", epoch, c, x, data.test_labels[start_row : start_row + len(chunk)])
            start_row += len(chunk)
        yield Msg("end", epoch, 0)


def open_run(cfg, data_path, batches_path, device):
    """(data source, spec, sampler, stem) of a decoupled run."""
    data = open_source(data_path, cfg["augment"], cfg["seed"], cfg.get("workers", 0), cfg)
    spec = build_spec(cfg, data)
    sampler = make_sampler(cfg, batches_path, len(data.train_labels))
    data.attach(sampler, 0, 1)
    stem = make_stem(spec).to(device).eval()
    precision.apply(stem, device, cfg.get("precision", "auto"))
    return data, spec, sampler, stem


def make_scratch(cfg, data_path, batches_path, out_weights):
    return checkpoint.Scratch.of(out_weights[0], cfg, {"data": data_path, "batches": batches_path})


def train_decoupled(cfg, data_path, batches_path, out_weights, out_evals, on_step=None, device=None):
    """Train all layers of a decoupled preset; writes every layer's weights.pt and eval.h5.

    Returns {layer: per-epoch metrics}. ``on_step(group, epoch, index, step)`` runs after every
    step of every group (tests that kill).
    """
    mode, groups, buffer = settings(cfg)
    device = torch.device(device or distributed.pick_device())
    data, spec, sampler, stem = open_run(cfg, data_path, batches_path, device)
    if len(out_weights) != spec.layers or len(out_evals) != spec.layers:
        raise InputError(f"run {cfg['run']}: {spec.layers} layers need as many --weights and --eval paths")
    scratch = make_scratch(cfg, data_path, batches_path, out_weights)
    plan = split_layers(spec.layers, groups)
    tick = time.perf_counter()
    if mode == "sync":
        commits = Commits(scratch, 1, cfg)
        group = Group(0, spec, plan[0], cfg, device, commits, len(sampler.batches), on_step)
        group.run(stream_from(data, sampler, stem, device, Schedule.from_config(cfg["schedule"]), group.start()))
    else:
        from layerwise.training.decoupled_async import run_async

        run_async(cfg, data_path, batches_path, spec.to_dict(), plan, buffer, scratch, len(sampler.batches),
                  on_step)
    wall = time.perf_counter() - tick
    return write_outputs(cfg, data, spec, stem, sampler, scratch, plan, device, out_weights, out_evals,
                         mode, wall)


def write_outputs(cfg, data, spec, stem, sampler, scratch, plan, device, out_weights, out_evals, mode, wall):
    """Every layer's weights.pt and eval.h5 from the committed final checkpoint of every group."""
    commits = Commits(scratch, len(plan), cfg)
    schedule = Schedule.from_config(cfg["schedule"])
    nets, histories, seconds = {}, {}, []
    for g, layers in enumerate(plan):
        saved = commits.load(g)
        if saved is None or tuple(saved["at"])[:2] != (schedule.epochs, 0):
            raise InputError(f"run {cfg['run']}: group {g + 1} did not finish; rerun the job")
        seconds.append(saved["seconds"])
        for j, state in zip(layers, saved["stages"], strict=True):
            net = Trainable(make_block(spec, j - 1, pruned=False),
                            make_head(spec, j - 1, block_widths(spec)[j - 1]))
            net.load_state_dict(state["net"])
            nets[j], histories[j] = net.to(device).eval(), saved["history"][j]
    run_seconds = max(seconds)  # groups run concurrently; in sync mode there is one
    first = real_items(sampler.batches[0])
    x = stem(precision.to_device(data.train_batch(first, 0, 0), device)).detach()
    y = data.train_labels[torch.as_tensor(first)].to(device)
    frozen = [stem]
    for j in range(1, spec.layers + 1):
        net = nets[j]
        mem_mb, mem_kind = step_peak_mb(net, [net], net, x, y, device)
        with torch.no_grad():
            x_next = net.block(x)
        stack = nn.Sequential(*frozen).eval()
        for p in stack.parameters():
            p.requires_grad_(False)
        inputs = LayerInputs(stack, data, device, cache=False)
        attrs = {"train_seconds": run_seconds / spec.layers, "run_train_seconds": run_seconds,
                 "run_wall_seconds": wall, "peak_mem_mb": mem_mb, "peak_mem_kind": mem_kind,
                 "num_params": count_params(stack) + count_params(net), "preset": cfg["preset"],
                 "layers": spec.layers, "decoupled_mode": mode, "decoupled_groups": len(plan),
                 "group": next(g for g, ls in enumerate(plan) if j in ls) + 1}
        _write_outputs({**cfg, "layer": j}, spec, net, inputs, data, device, histories[j], attrs,
                       out_weights[j - 1], out_evals[j - 1], precision.resolve(cfg.get("precision", "auto"), device))
        frozen.append(net.block)
        x = x_next
    scratch.clear()
    return histories

