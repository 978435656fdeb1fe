"""GPU leases: N free device slots taken with file locks, so concurrent local jobs never share a GPU.

Snakemake counts the ``gpu`` resource but assigns no device. A lease is one
``flock`` per device on ``<lock_dir>/gpu<id>.lock``. The kernel releases a
flock when the last file descriptor holding it closes, so a lease ends when
the job ends: normal exit, crash or SIGKILL alike, and no stale lock files need
cleaning. The launcher holds the descriptors and passes them to the command
(``pass_fds``), so the lease lives exactly as long as the job's processes.

Device slots, in order of precedence:

* ``LAYERWISE_GPU_COUNT=N`` simulates N devices ``0..N-1`` (tests; machines
  where the count must be forced);
* ``CUDA_VISIBLE_DEVICES`` set by the user: its entries are the slots, so a
  lease hands out a subset of what the user allowed;
* otherwise every device torch sees.

The lock directory is ``results/.gpu`` (relative to the workflow directory),
or ``LAYERWISE_GPU_LOCK_DIR``: point every workflow of a machine at one shared
directory when several workflows share its GPUs.
"""

import contextlib
import fcntl
import logging
import os
import time
from pathlib import Path

from layerwise.errors import InputError

LOCK_DIR = "results/.gpu"
# A CUDA (NVIDIA) or ROCm device needs its kernel driver, which shows up here.
DRIVER_PATHS = ("/proc/driver/nvidia/gpus", "/dev/kfd")

log = logging.getLogger(__name__)


def device_slots(environ=None):
    """The device ids that leases are taken from (see module docstring)."""
    env = os.environ if environ is None else environ
    simulated = env.get("LAYERWISE_GPU_COUNT")
    if simulated is not None:
        try:
            count = int(simulated)
        except ValueError:
            count = -1
        if count < 0:
            raise InputError(
                f"LAYERWISE_GPU_COUNT={simulated!r}: set it to a device count (0, 1, 2, ...) or unset it"
            )
        return [str(i) for i in range(count)]
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    if not any(os.path.exists(p) for p in DRIVER_PATHS):
        return []  # no NVIDIA or ROCm driver: torch would count 0 too, after a 1-CPU-s import per job
    import torch  # only here: the import costs seconds and the other cases need no torch

    return [str(i) for i in range(torch.cuda.device_count())]


def lock_dir(environ=None):
    env = os.environ if environ is None else environ
    return Path(env.get("LAYERWISE_GPU_LOCK_DIR", LOCK_DIR))


def _try_lock(path):
    """An open descriptor holding an exclusive flock on ``path``, or None if another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Lease:
    """Devices held by this process: ``devices`` (ids as strings) and the lock descriptors."""

    def __init__(self, devices, fds):
        self.devices = devices
        self.fds = fds

    def release(self):
        for fd in self.fds:
            os.close(fd)  # closing the last descriptor drops the flock
        self.fds = []


def acquire(count, slots, directory, poll_seconds=2.0, timeout=None):
    """Take ``count`` free slots out of ``slots``; wait (polling) while too few are free.

    Acquisition is serialised by a directory-wide lock so two jobs never each
    hold part of what both need. Raises InputError when ``count`` exceeds the
    slots, and TimeoutError after ``timeout`` seconds (None waits forever).
    """
    if count > len(slots):
        raise InputError(
            f"resources gpu={count} but this machine has {len(slots)} GPU slot(s) "
            f"({', '.join(slots) or 'none'}); lower the rule's gpu resource "
            "(e.g. --set-resources RULE:gpu=N) or run it where more GPUs are visible"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    waited = False
    while True:
        with _directory_lock(directory):
            fds, devices = [], []
            for dev in slots:
                fd = _try_lock(directory / f"gpu{dev}.lock")
                if fd is not None:
                    fds.append(fd)
                    devices.append(dev)
                    if len(devices) == count:
                        return Lease(devices, fds)
            for fd in fds:
                os.close(fd)
        if not waited:
            log.info("waiting for %d free GPU(s) of %s (locks in %s)", count, slots, directory)
            waited = True
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"no {count} free GPU(s) of {slots} after {timeout} s")
        time.sleep(poll_seconds)


@contextlib.contextmanager
def _directory_lock(directory):
    fd = os.open(directory / ".acquire.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
