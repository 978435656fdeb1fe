"""Which processes a job's life depends on, and whether they still run.

A local job is a chain ``snakemake -> job shell -> launch.py -> command``. When
Snakemake is killed (``kill -9``, ``timeout -s KILL``) the shell survives and
waits for its command, so a check of the shell alone keeps an orphan "current":
it would finish later and replace the outputs of the rerun. The launcher
therefore watches the nearest Snakemake ancestor too (see launch.py), and every
writer checks, just before it publishes, that all processes named in
``LAYERWISE_JOB_PID`` (``pid:start,pid:start,...``) still run.

A process is identified by its pid and its start time (``/proc/<pid>/stat``
field 22, Linux), so a pid reused by an unrelated process does not count as
alive; without ``/proc`` the pid alone is checked.
"""

import os
from pathlib import Path

JOB_PID_ENV = "LAYERWISE_JOB_PID"


def _stat(pid):
    """``(state, ppid, start time)`` of ``pid`` from /proc; None when it does not exist or /proc is absent."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name in (...) may contain spaces
    return fields[0], int(fields[1]), fields[19]


def identity(pid):
    """``"pid:start"`` (``"pid"`` without /proc) for :func:`alive`."""
    stat = _stat(pid)
    return f"{pid}:{stat[2]}" if stat else str(pid)


def alive(ident):
    """Whether the process ``"pid[:start]"`` still runs (a zombie counts as gone)."""
    pid, _, start = str(ident).partition(":")
    pid = int(pid)
    if Path("/proc/self/stat").exists():
        stat = _stat(pid)
        return stat is not None and stat[0] not in ("Z", "X") and (not start or stat[2] == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def is_snakemake(argv):
    """``.../bin/snakemake ...`` or ``python -m snakemake ...`` (the first few words)."""
    return any(os.path.basename(arg) == "snakemake" for arg in argv[:3])


def snakemake_ancestor(pid=None, depth=8):
    """The pid of the nearest ancestor of ``pid`` (default: this process) running Snakemake, or None."""
    pid = os.getpid() if pid is None else pid
    for _ in range(depth):
        stat = _stat(pid)
        if stat is None or stat[1] <= 1:
            return None
        pid = stat[1]
        if is_snakemake(_cmdline(pid)):
            return pid
    return None


def job_alive(environ=None):
    """Whether every process named in ``LAYERWISE_JOB_PID`` runs; None when the variable is unset."""
    value = (os.environ if environ is None else environ).get(JOB_PID_ENV, "")
    idents = [part for part in value.split(",") if part]
    if not idents:
        return None
    return all(alive(ident) for ident in idents)
