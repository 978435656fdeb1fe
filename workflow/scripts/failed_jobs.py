"""Print the one-line error of every job that failed in a Snakemake run (default: the latest).

`make demo` runs it when Snakemake fails, so the user reads the cause, e.g.
``prepare_data -> results/x/data.h5: exit 2 (bad input or config): error: <file>: ...``,
instead of "check log file(s) for error details". Usage:
``python workflow/scripts/failed_jobs.py [.snakemake/log/<run>.snakemake.log]``.

Only that run counts: a job log written after the run ended (the job was rerun
since) is not quoted as its failure, and a run that failed before any job (a
config error) or succeeded says so.
"""

import argparse
import datetime
import re
import sys
from pathlib import Path

# Exit codes of the entry scripts (layerwise.errors).
MEANING = {
    1: "unexpected error, a traceback: please report it",
    2: "bad input or config: fix what it names, then rerun",
    3: "a writer that outlived its job: rerun",
    137: "killed (SIGKILL; out of memory?)",
    143: "terminated (SIGTERM)",
}
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*")


SLACK_SECONDS = 2.0  # file times against the run's start (its name, whole seconds) and end
SUCCESS = re.compile(r"\(100%\) done|^Nothing to be done", re.MULTILINE)


def run_start(path):
    """When the run of ``path`` started: Snakemake names its log by the local start time."""
    try:
        stamp = Path(path).name.split(".snakemake.log")[0]
        return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H%M%S.%f").timestamp()
    except ValueError:
        return None


def latest_log(directory=".snakemake/log"):
    """The log of the run started last (names are start times; a long older run may be written later)."""
    logs = sorted(Path(directory).glob("*.snakemake.log"), key=lambda p: (run_start(p) or p.stat().st_mtime, p.name))
    return logs[-1] if logs else None


def stale(log, start, end):
    """Why a job's log does not show this run's failure, or None when it does."""
    try:
        mtime = Path(log).stat().st_mtime
    except OSError:
        return None
    when = datetime.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M:%S")
    if mtime > end + SLACK_SECONDS:
        return f"(its log was rewritten at {when}, after this run: the job ran again since; rerun to see it)"
    if start is not None and mtime < start - SLACK_SECONDS:
        return f"(its log is from an earlier run, {when}: this job failed before writing to it)"
    return None


def run_error(text):
    """The first lines of Snakemake's own error in a run log (a run that failed before any job)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\w*(Error|Exception)\b", line):
            return [part for part in lines[i:i + 6] if part.strip() and not part.startswith("  File ")]
    return []


def failed_jobs(text):
    """``[(rule, outputs, log, exit code or None)]`` of the ``Error in rule`` blocks, each job once."""
    jobs, seen, status = [], set(), None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        found = re.search(r"returned non-zero exit status (\d+)", line)
        if found:
            status = int(found.group(1))
        match = re.match(r"Error in rule (\S+):$", line)
        if not match:
            continue
        fields = {}
        for field in lines[i + 1:]:
            if not field.startswith("    ") or field.startswith("    shell:"):
                break
            key, _, value = field.strip().partition(": ")
            fields[key] = value
        log = fields.get("log", "").split(" (check log")[0].strip() or None
        job = (match.group(1), fields.get("output", ""), log)
        if job not in seen:  # a retried job fails twice
            seen.add(job)
            jobs.append((*job, status))
        status = None
    return jobs


def one_line_error(log):
    """The job's ``error: ...`` line, else the exception line of a traceback, else its last line."""
    try:
        text = Path(log).read_text(errors="replace")
    except OSError:
        return f"(no log at {log})"
    lines = [part.strip() for line in text.splitlines() for part in line.split("\r") if part.strip()]
    for pick in (lambda text: text.startswith("error: "), EXCEPTION_LINE.match, lambda text: True):
        hits = [line for line in lines if pick(line)]
        if hits:
            return hits[-1]
    return "(empty log)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", nargs="?", help="a .snakemake/log/*.snakemake.log (default: the latest)")
    args = parser.parse_args()
    path = Path(args.log) if args.log else latest_log()
    if path is None or not path.exists():
        print("failed_jobs: no Snakemake log found under .snakemake/log", file=sys.stderr)
        return 1
    text = path.read_text(errors="replace")
    jobs = failed_jobs(text)
    if not jobs:
        if SUCCESS.search(text):
            print(f"No job failed in the run of {path}: it completed.")
            return 0
        print(f"No job failed in the run of {path}: Snakemake stopped before running one. Its error:")
        for line in run_error(text) or ["(none recorded: see Snakemake's output)"]:
            print(f"    {line}")
        return 0
    start, end = run_start(path), path.stat().st_mtime
    print(f"\n{len(jobs)} failed job(s) in {path}:")
    for rule, outputs, log, status in jobs:
        code = f"exit {status}" + (f" ({MEANING[status]})" if status in MEANING else "") if status else "failed"
        error = (stale(log, start, end) or one_line_error(log)) if log else \
            "(the rule has no log; see the Snakemake output above)"
        print(f"  {rule} -> {outputs or '(no output)'}: {code}:\n    {error}")
        if log:
            print(f"    full log: {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
