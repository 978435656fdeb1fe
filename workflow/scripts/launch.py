"""Run a training command with N GPUs: `python <workflow>/scripts/launch.py --gpus N -- CMD ...`.

Snakemake counts the `gpu` resource but assigns no device. This launcher is the
one place where a job's command meets its devices:

* locally it takes a lease on N free GPUs (file locks under results/.gpu/,
  released when the command ends, crashes or is killed; see layerwise/gpu.py)
  and sets CUDA_VISIBLE_DEVICES to them; with `--gpus 0` it hides all GPUs;
* under SLURM (SLURM_JOB_ID set) it takes no lease: SLURM confines the job and
  sets CUDA_VISIBLE_DEVICES itself;
* with N > 1 it runs `python script.py ...` as
  `python -m torch.distributed.run --standalone --nproc_per_node=N script.py ...`
  (that is torchrun, with the command's own interpreter): one DDP rank per GPU;
* on a machine without GPUs it runs the command as it is, on CPU: results do
  not depend on the GPU count (config holds the global batch size).

A job's processes die with the job. The command runs in its own process group,
and this launcher stays as its watchdog: it forwards SIGINT/SIGTERM/SIGHUP to
the group, ends the group (SIGTERM, then SIGKILL after GRACE_SECONDS) when the
job's Snakemake process or its shell is gone (``kill -9`` of Snakemake leaves
the shell waiting, and the command would otherwise finish later and replace the
outputs of a rerun), and kills what is left of the group when the command ends.
Writers also refuse to publish once any of these processes is gone
(layerwise.jobwatch, checked just before each output is moved into place), which
closes the gap between the watchdog's polls. The lease's lock descriptors are
held by the launcher and the command alike.
"""

import argparse
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time

from layerwise import gpu, jobwatch
from layerwise.errors import InputError, run_cli

log = logging.getLogger("launch")
POLL_SECONDS = 0.5
GRACE_SECONDS = 10.0
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpus", type=int, default=0, help="GPUs the rule declared (resources.gpu)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    return parser


def torchrun_command(command, nproc):
    """``python ARGS`` -> ``python -m torch.distributed.run --standalone --nproc_per_node=N ARGS``."""
    if not os.path.basename(command[0]).startswith("python"):
        raise InputError(
            f"--gpus {nproc}: multi-GPU commands run under torchrun, so the command must start "
            f"with python (got {command[0]!r}); write the rule's shell as "
            '`" ".join([LAUNCH, script("SCRIPT.py"), ...])` (workflow/rules/common.smk)'
        )
    return [
        command[0],
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        *command[1:],
    ]


def plan(gpus, command, environ):
    """Decide ``(argv, env_updates, lease)`` for a job that declared ``gpus`` GPUs."""
    if gpus < 0:
        raise InputError(f"--gpus {gpus}: resources gpu must be 0 or more")
    if environ.get("SLURM_JOB_ID"):
        visible = [d for d in environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d]
        ranks = gpus if gpus > 1 and visible else 1
        return (torchrun_command(command, ranks) if ranks > 1 else command), {}, None
    slots = gpu.device_slots(environ)
    if gpus == 0 or not slots:
        # a CPU job must not touch GPUs leased to others; without GPUs, run on CPU
        return command, ({"CUDA_VISIBLE_DEVICES": ""} if slots else {}), None
    lease = gpu.acquire(gpus, slots, gpu.lock_dir(environ))
    env = {"CUDA_VISIBLE_DEVICES": ",".join(lease.devices)}
    return (torchrun_command(command, gpus) if gpus > 1 else command), env, lease


def _child_setup():
    """In the child before exec: its own process group, and SIGTERM should the launcher die."""
    os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(pid):
    """Whether ``pid`` has exited, without reaping it (so its pid, the group's id, stays reserved)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None


def supervise(proc, watched, poll=POLL_SECONDS, grace=GRACE_SECONDS):
    """Wait for ``proc`` (a group leader); end its group once a ``watched`` process is gone.

    Returns the command's exit status as a shell reports it (128 + signal when killed).
    """
    pgid = proc.pid
    for sig in FORWARDED:
        signal.signal(sig, lambda signum, frame: _signal_group(pgid, signum))
    deadline, pause = None, 0.01
    while not _exited(proc.pid):
        if deadline is None and not all(jobwatch.alive(ident) for ident in watched):
            log.error(
                "the Snakemake job that started this command is gone (Snakemake or its job shell, pids %s): "
                "ending process group %d so that it cannot overwrite the outputs of a rerun",
                ", ".join(ident.split(":")[0] for ident in watched),
                pgid,
            )
            _signal_group(pgid, signal.SIGTERM)
            deadline = time.monotonic() + grace
        if deadline is not None and time.monotonic() > deadline:
            _signal_group(pgid, signal.SIGKILL)
        time.sleep(pause)
        pause = min(poll, pause * 2)  # short jobs end without a poll's delay
    _signal_group(pgid, signal.SIGKILL)  # what the command left behind (workers, grandchildren)
    code = proc.wait()
    return 128 - code if code < 0 else code


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise InputError("launch.py needs a command after --, e.g. `launch.py --gpus 1 -- python x.py`")
    argv, env_updates, lease = plan(args.gpus, command, os.environ)
    # The job lives while this launcher, its shell and the Snakemake process above them run.
    owner = jobwatch.snakemake_ancestor()
    watched = [jobwatch.identity(os.getpid()), jobwatch.identity(os.getppid())]
    if owner is not None and owner != os.getppid():
        watched.append(jobwatch.identity(owner))
    env = {**os.environ, **env_updates, jobwatch.JOB_PID_ENV: ",".join(watched)}
    log.info(
        "gpus=%d slurm_job=%s CUDA_VISIBLE_DEVICES=%s: %s",
        args.gpus,
        os.environ.get("SLURM_JOB_ID", "-"),
        env.get("CUDA_VISIBLE_DEVICES", "(unset)"),
        " ".join(argv),
    )
    sys.stderr.flush()
    try:
        proc = subprocess.Popen(argv, env=env, preexec_fn=_child_setup, pass_fds=lease.fds if lease else ())
    except OSError as err:
        raise InputError(f"cannot run {argv[0]!r}: {err.strerror}; check the rule's command") from None
    sys.exit(supervise(proc, watched[1:]))


if __name__ == "__main__":
    run_cli(main, get_args_parser())
