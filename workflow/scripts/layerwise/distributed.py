"""Data-parallel training under torchrun: one process per GPU, or per CPU process with gloo.

Science never depends on the number of ranks: config holds the *global* batch
size, and each step's global batch (one row of a mini-batch file, or one
random batch) is cut into contiguous per-rank shares whose union is exactly the
batch. A training step on a rank is::

    share = rank_share(row, rank, world, key="train.batch_size")
    loss = criterion_sum(model(x[share]), y[share]) * loss_scale(row, world)
    loss.backward()   # DDP averages gradients over ranks

``loss_scale`` weights every *item* of the global batch equally (sum over the
share, divided by the global item count, times ``world`` to undo DDP's mean
over ranks), so two processes compute the gradient of the same global-batch
mean loss as one process, also for the one-smaller batches that a mini-batch
file holds when the batch size does not divide the training set.

Uneven batches: a mini-batch file's rows are padded with -1 to the largest
capacity. The capacity (the padded row width, i.e. the configured batch size)
must split evenly across ranks, otherwise :func:`rank_share` raises one
InputError naming the config key. The real items of a smaller batch are then
split as evenly as possible (shares differ by at most one item).

BatchNorm: on GPU, :func:`wrap_model` converts BatchNorm to SyncBatchNorm so
statistics are over the global batch. PyTorch's SyncBatchNorm has no CPU
implementation, so with gloo on CPU BatchNorm statistics stay per rank and a
BatchNorm model on 2 CPU ranks is not identical to 1 rank (models without
BatchNorm are; see tests/unit/test_distributed_ddp.py).
"""

import atexit
import datetime
import os

import numpy as np
import torch
import torch.distributed as dist

from layerwise.device import pick_device
from layerwise.errors import InputError

PADDING = -1  # fill value of short rows in mini-batch files


def init_from_env():
    """Join the process group torchrun describes; return ``(rank, world_size, device)``.

    Without torchrun (no WORLD_SIZE, or WORLD_SIZE=1) this is a single process:
    ``(0, 1, pick_device())`` and no process group. Under torchrun the backend is
    NCCL when CUDA is available (device ``cuda:LOCAL_RANK``) and gloo on CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return 0, 1, pick_device()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if torch.cuda.is_available():
        if local_rank >= torch.cuda.device_count():
            raise InputError(
                f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} visible GPU(s); "
                "run torchrun with --nproc_per_node at most the GPUs of the rule (resources gpu=N)"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        # a long timeout: ranks wait for each other while rank 0 evaluates and writes outputs
        dist.init_process_group(
            backend=backend, rank=rank, world_size=world_size, timeout=datetime.timedelta(hours=2)
        )
        atexit.register(cleanup)  # NCCL warns (and may hang at exit) when the group is left alive
    return rank, world_size, device


def _bounds(n, rank, world_size):
    """Start/stop of rank's contiguous share when n items split as evenly as possible."""
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def rank_share(global_batch, rank, world_size, key="batch_size"):
    """The rank's contiguous slice of one step's global batch of training indices.

    ``global_batch`` is a 1-D sequence of indices, optionally padded with -1 (a
    row of a mini-batch file). Its length, padding included, is the batch
    capacity and must be a multiple of ``world_size``; otherwise an InputError
    names ``key`` (the config key holding the global batch size). The real
    (non-padding) items are split into contiguous shares that differ by at most
    one item; concatenated in rank order they are exactly the batch.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside 0..{world_size - 1}")
    row = np.asarray(global_batch)
    if row.ndim != 1:
        raise ValueError(f"a global batch is 1-D, got shape {row.shape}")
    capacity = len(row)
    if capacity % world_size:
        raise InputError(
            f"{key}: a global batch of {capacity} items does not split across {world_size} ranks; "
            f"set {key} to a multiple of {world_size} (e.g. {capacity - capacity % world_size or world_size}) "
            f"or run with a GPU count that divides {capacity}"
        )
    items = row[row != PADDING]
    if len(items) < world_size:
        raise InputError(
            f"{key}: a batch of {len(items)} items leaves a rank of {world_size} without data; "
            f"set {key} to at least {2 * world_size}"
        )
    start, stop = _bounds(len(items), rank, world_size)
    return items[start:stop]


def loss_scale(global_batch, world_size):
    """Factor for a rank's *summed* loss so DDP's rank mean gives the global-batch item mean.

    ``global_batch`` is the same row passed to :func:`rank_share` (padding ignored).
    """
    row = np.asarray(global_batch)
    n_items = int(np.count_nonzero(row != PADDING))
    return world_size / n_items


def wrap_model(module, device):
    """DistributedDataParallel when more than one rank runs, else the module unchanged."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() <= 1:
        return module
    if device.type == "cuda":
        module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
        return torch.nn.parallel.DistributedDataParallel(
            module, device_ids=[device.index], output_device=device.index
        )
    return torch.nn.parallel.DistributedDataParallel(module)


def is_main(rank):
    """Only rank 0 writes declared outputs and logs progress."""
    return rank == 0


def barrier():
    """Wait for every rank (no-op in a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def _active():
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_world():
    """(rank, world size) of this process: (0, 1) without a process group."""
    return (dist.get_rank(), dist.get_world_size()) if _active() else (0, 1)


def gather_objects(obj):
    """[rank 0's obj, rank 1's, ...] on every rank (a collective; [obj] in one process)."""
    if not _active():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def agree(flag):
    """Rank 0's boolean on every rank (so all ranks take the same branch; a collective)."""
    if not _active():
        return bool(flag)
    out = [bool(flag)]
    dist.broadcast_object_list(out, src=0)
    return bool(out[0])


def cleanup():
    """Leave the process group (no-op in a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
