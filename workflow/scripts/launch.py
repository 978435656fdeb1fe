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

The command replaces this process (exec), so signals reach it directly and the
lease's lock descriptors live exactly as long as the command.
"""

import argparse
import logging
import os
import sys

from layerwise import gpu
from layerwise.errors import InputError, run_cli
from layerwise.h5io import JOB_PID_ENV

log = logging.getLogger("launch")


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


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise InputError("launch.py needs a command after --, e.g. `launch.py --gpus 1 -- python x.py`")
    argv, env_updates, lease = plan(args.gpus, command, os.environ)
    # Writers publish outputs only while this job's shell lives (layerwise.h5io.check_job_alive).
    env = {**os.environ, **env_updates, JOB_PID_ENV: str(os.getppid())}
    log.info(
        "gpus=%d slurm_job=%s CUDA_VISIBLE_DEVICES=%s: %s",
        args.gpus,
        os.environ.get("SLURM_JOB_ID", "-"),
        env.get("CUDA_VISIBLE_DEVICES", "(unset)"),
        " ".join(argv),
    )
    sys.stderr.flush()
    if lease is not None:
        lease.keep_across_exec()
    os.execvpe(argv[0], argv, env)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
