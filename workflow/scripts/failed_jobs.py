"""Print the one-line error of every job that failed in a Snakemake run (default: the latest).

`make demo` runs it when Snakemake fails, so the user reads the cause, e.g.
``prepare_data -> results/x/data.h5: exit 2 (bad input or config): error: <file>: ...``,
instead of "check log file(s) for error details". Usage:
``python workflow/scripts/failed_jobs.py [.snakemake/log/<run>.snakemake.log]``.
"""

import argparse
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


def latest_log(directory=".snakemake/log"):
    logs = sorted(Path(directory).glob("*.snakemake.log"), key=lambda p: p.stat().st_mtime)
    return logs[-1] if logs else None


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
    jobs = failed_jobs(path.read_text(errors="replace"))
    if not jobs:
        print(f"No job failed in {path}: Snakemake's own error is printed above it.")
        return 0
    print(f"\n{len(jobs)} failed job(s) in {path}:")
    for rule, outputs, log, status in jobs:
        code = f"exit {status}" + (f" ({MEANING[status]})" if status in MEANING else "") if status else "failed"
        error = one_line_error(log) if log else "(the rule has no log; see the Snakemake output above)"
        print(f"  {rule} -> {outputs or '(no output)'}: {code}:\n    {error}")
        if log:
            print(f"    full log: {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
