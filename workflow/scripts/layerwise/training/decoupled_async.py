"""Asynchronous decoupled training: block groups in separate processes joined by bounded queues.

Group g (a torch.multiprocessing "spawn" process, on GPU g where there are as
many GPUs as groups, else on the CPU with its share of the job's threads)
consumes the detached outputs and labels that group g-1 emits, through a FIFO
queue holding at most ``buffer`` batches: a producer runs at most ``buffer``
batches ahead of its consumer and then blocks, so a slow group stalls the others
only beyond the buffer. Because block j+1 reads block j's output *before*
block j's update on that batch in both modes, any buffer size reproduces the
synchronous arithmetic; the processes only overlap in time. (Paper 2020's
replay sampling, which reuses old batches when a queue runs dry, would make
results depend on timing; it is not implemented.)

The parent collects one control message stream: each group reports every
checkpoint it saved, and the parent commits a step once all groups saved it
(decoupled.Commits). The first group to raise stops the whole job: the parent
terminates every process and raises one error naming the group and block; no
outputs are written.
"""

import logging
import queue as queue_lib

import torch
import torch.multiprocessing as mp

from layerwise.errors import InputError
from layerwise.models.simcnn import ModelSpec
from layerwise.training import checkpoint
from layerwise.training.decoupled import Commits, Group, Msg, open_run, stream_from
from layerwise.training.schedule import Schedule

log = logging.getLogger(__name__)

POLL_S = 0.5  # how often the parent checks that every group process is alive


class GroupFailed(InputError):
    """A group process raised or died: the whole decoupled job stops."""


def group_devices(groups):
    """Device name of every group: one GPU each where there are enough, else shared / CPU."""
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        return [f"cuda:{g}" if n >= groups else "cuda:0" for g in range(groups)]
    return ["cpu"] * groups


def _worker(g, cfg, data_path, batches_path, spec_dict, plan, folder, job, inq, outq, ctrl, release, threads,
            device, steps_per_epoch, on_step):
    group = None
    try:
        torch.set_num_threads(threads)
        device = torch.device(device)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        scratch = checkpoint.Scratch.__new__(checkpoint.Scratch)  # the parent hashed the inputs
        scratch.folder, scratch.job = folder, job
        commits = Commits(scratch, len(plan), cfg)
        commits.notify = lambda group_index, step: ctrl.put(("saved", group_index, step))
        group = Group(g, ModelSpec(**spec_dict), plan[g], cfg, device, commits, steps_per_epoch, on_step)
        start = group.start()
        if g == 0:
            data, _spec, sampler, stem = open_run(cfg, data_path, batches_path, device)
            stream = stream_from(data, sampler, stem, device, Schedule.from_config(cfg["schedule"]), start)
        else:
            stream = iter(inq.get, None)
        emit = None
        if outq is not None:
            def emit(msg):
                x = msg.x.cpu() if msg.x is not None else None  # CUDA tensors travel through host memory
                outq.put(Msg(msg.kind, msg.epoch, msg.index, x, msg.y.cpu() if msg.y is not None else None))
        group.run(stream, emit)
        if outq is not None:
            outq.put(None)
        ctrl.put(("done", g, None, ""))
        # stay alive until every group is done: the tensors this process queued are shared
        # through its file descriptors, which vanish with it before the consumer reads them
        release.wait()
    except BaseException as err:  # noqa: BLE001 - reported to the parent, which raises one error
        layer = group.layer if group is not None else plan[g][0]
        ctrl.put(("error", g, layer, f"{type(err).__name__}: {err}"))


def run_async(cfg, data_path, batches_path, spec_dict, plan, buffer, scratch, steps, on_step=None,
              threads=None):
    """Train the groups of ``plan`` (lists of 1-based layers) concurrently; returns when all finished.

    ``steps``: batches per epoch (every group's learning-rate schedule depends on it).
    """
    groups = len(plan)
    ctx = mp.get_context("spawn")
    devices = group_devices(groups)
    threads = max(1, (threads or torch.get_num_threads()) // groups)
    links = [ctx.Queue(maxsize=buffer) for _ in range(groups - 1)]
    ctrl, release = ctx.Queue(), ctx.Event()
    commits = Commits(scratch, groups, cfg)
    scratch.folder.mkdir(parents=True, exist_ok=True)
    procs = []
    for g in range(groups):
        inq = links[g - 1] if g > 0 else None
        outq = links[g] if g < groups - 1 else None
        procs.append(ctx.Process(
            target=_worker, daemon=True, name=f"decoupled-group{g + 1}",
            args=(g, cfg, data_path, batches_path, spec_dict, plan, scratch.folder, scratch.job, inq, outq,
                  ctrl, release, threads, devices[g], steps, on_step)))
    saved, done = {}, set()
    try:
        for p in procs:
            p.start()
        while len(done) < groups:
            try:
                kind, g, arg, text = _get(ctrl)
            except queue_lib.Empty:
                for g, p in enumerate(procs):
                    if g not in done and not p.is_alive():
                        died = f"process died (exit code {p.exitcode})"
                        raise GroupFailed(_where(cfg, g, plan, None, died)) from None
                continue
            if kind == "saved":
                saved.setdefault(arg, set()).add(g)
                if len(saved[arg]) == groups:
                    commits.commit(arg)
                    del saved[arg]
            elif kind == "done":
                done.add(g)
            else:
                raise GroupFailed(_where(cfg, g, plan, arg, text))
    finally:
        release.set()
        for p in procs:
            p.join(timeout=POLL_S if len(done) == groups else 0)
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join()


def _get(ctrl):
    kind, g, *rest = ctrl.get(timeout=POLL_S)
    if kind == "saved":
        return kind, g, rest[0], ""
    return kind, g, rest[0], rest[1]


def _where(cfg, g, plan, layer, text):
    block = f", block {layer}" if layer is not None else ""
    return (f"run {cfg['run']}: decoupled group {g + 1} (layers {plan[g][0]}-{plan[g][-1]}{block}) failed: "
            f"{text}; no weights or eval written")
