"""HDF5 conventions shared by every stage (see DESIGN.md, "HDF5 conventions").

Writers go through :func:`atomic_h5`: the file is written to a sibling
``<out>.<pid>.<random>.tmp`` and moved into place with ``os.replace`` only when
the block finishes, so a killed job never leaves a half-written declared output
and two writers never share a temporary file. Only the process Snakemake waits
for publishes: one that outlived its job (see :func:`check_job_alive`) stops
with :class:`~layerwise.errors.OrphanedWriter` instead of replacing the file. Every file carries the
attributes ``format_version``, ``stage``, ``params`` (JSON), ``version`` and
``seed``. Readers go through :func:`open_checked`, which turns a truncated
file, a foreign stage, an old format or a missing dataset into one
:class:`~layerwise.errors.InputError` naming the file and the fix.
"""

import contextlib
import json
import os
import secrets
import subprocess
from pathlib import Path

import h5py

from layerwise import __version__
from layerwise.errors import InputError, OrphanedWriter, storage_error
from layerwise.jobwatch import JOB_PID_ENV, job_alive  # noqa: F401  (JOB_PID_ENV: launch.py's import)

FORMAT_VERSION = 1


def package_version():
    """Package version plus git revision when run from a checkout (provenance only)."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return f"{__version__}+{rev}" if rev else __version__


# The process that started this one: the job's shell, or Snakemake itself. When a
# job is killed but its command survives, the command is re-parented (to init or a
# subreaper), which is how it learns that the job's rerun owns the outputs now.
_JOB_PARENT = os.getppid()


def check_job_alive(path):
    """Raise OrphanedWriter unless the Snakemake job that started this process still runs.

    Under launch.py the job is alive while the launcher, the job's shell and the
    Snakemake process above them all run (layerwise.jobwatch); else while the
    parent this process started under does.
    """
    alive = job_alive()
    if alive is None:
        alive = os.getppid() == _JOB_PARENT
    if not alive:
        raise OrphanedWriter(
            f"{path}: not written: this process (pid {os.getpid()}) outlived the Snakemake job "
            "that started it, and that job's rerun owns the output. Nothing to fix; rerun the "
            "workflow if the rerun has not started."
        )


def temp_sibling(path):
    """A temporary name beside ``path``, unique to this process and call."""
    path = Path(path)
    return path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a unique temporary sibling path; move it onto ``path`` only if the block succeeds
    and this process's job is still alive."""
    path = Path(path)
    tmp = temp_sibling(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        check_job_alive(path)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:
        # a full, read-only or forbidden disk: one line naming the output (torch.save says only
        # "basic_ios::clear: iostream error", HDF5 "open file failed"), exit 2 in run_cli
        mapped = storage_error(path, err)
        if mapped is None:
            raise
        raise mapped from None
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_h5(path, stage, params, seed):
    """Open a temporary sibling of ``path`` for writing with the standard attributes; publish on success."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["stage"] = stage
            f.attrs["params"] = json.dumps(params, sort_keys=True)
            f.attrs["version"] = package_version()
            f.attrs["seed"] = int(seed)
            yield f


def _stale(path, why):
    return InputError(
        f"{path}: {why}. Delete it and rerun the workflow to regenerate it "
        f"(e.g. `rm {path}` then `snakemake ...`)."
    )


def open_checked(path, stage, required=()):
    """Open an HDF5 file for reading after checking it is a complete file of ``stage``.

    ``required`` names datasets or groups that must exist. Every failure is an
    InputError naming the file and saying to delete and regenerate it.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found. Run the stage that writes it ({stage}) first.")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise _stale(path, f"not a readable HDF5 file, probably truncated ({err})") from None
    try:
        attrs = f.attrs
        if "format_version" not in attrs or "stage" not in attrs:
            raise _stale(path, "missing format_version/stage attributes")
        if int(attrs["format_version"]) != FORMAT_VERSION:
            raise _stale(
                path,
                f"format_version {int(attrs['format_version'])} but this code reads "
                f"version {FORMAT_VERSION}",
            )
        if attrs["stage"] != stage:
            raise _stale(path, f"written by stage {attrs['stage']!r}, expected {stage!r}")
        missing = [name for name in required if name not in f]
        if missing:
            raise _stale(path, f"missing dataset(s) {', '.join(missing)}")
    except InputError:
        f.close()
        raise
    return f


def read_params(f):
    """The stage parameters stored in an open file's ``params`` attribute."""
    return json.loads(f.attrs["params"])
