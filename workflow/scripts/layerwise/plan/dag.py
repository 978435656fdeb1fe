"""The jobs Snakemake would run for a target: its dry run (-n -p), parsed.

Each job block of the dry run gives the rule, wildcards, threads (printed when above 1,
already capped at --cores), resources, input and output files and the shell command, whose
``--params '<json>'`` argument holds the job's params. Dependencies are the inputs another
job of the list produces. Threads and resources come from the DAG, so the plan follows
the rules' own functions (common.smk) and any --set-threads / --set-resources / profile.
"""

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from layerwise.errors import InputError

RULE = re.compile(r"^(?:local)?rule (\w+):$")
FIELD = re.compile(r"^\s{4}(\w+): (.*)$")

# Missing targets and inputs -> the config key that adds them (checked in order).
CONFIG_HINTS = (
    (r"results/([\w.-]+)_(table\d+|compression)\.csv",
     "layerwise.profiles.{0}.tables.{1} (and layerwise.profiles.{0}.models), with {0} under `datasets`"),
    (r"results/([\w.-]+)_clustering\.csv", "datasets.{0} (clustering runs on any configured dataset)"),
    (r"results/([\w.-]+)/batches/([\w-]+)\.h5",
     "batches.samplers (robust-*) or batches.random_seeds (random-s<seed>), with {0} under `datasets`"),
    (r"results/([\w.-]+)/graph/ae-([\w.]+)\.h5", "autoencoder.variants.{1} (graph.features: ae:{1})"),
    (r"results/([\w.-]+)/autoencoder/([\w.]+)/", "autoencoder.variants.{1}"),
    (r"results/([\w.-]+)/store\.h5", "datasets.{0} with kind imagenet and loader store"),
    (r"results/([\w.-]+)/", "datasets.{0} (a dataset entry: docs/data.md)"),
)


@dataclass
class Job:
    """One job of the dry run."""

    jobid: int
    rule: str
    wildcards: dict
    threads: int
    resources: dict
    inputs: list
    outputs: list
    params: dict = field(default_factory=dict)
    benchmark: str = ""
    deps: list = field(default_factory=list)  # jobids this job waits for

    @property
    def gpus(self):
        return int(self.resources.get("gpu", 0) or 0)

    @property
    def mem_mb(self):
        return int(self.resources.get("mem_mb", 0) or 0)


def _pairs(text):
    out = {}
    for item in text.split(", "):
        key, _, value = item.partition("=")
        out[key.strip()] = int(value) if value.isdigit() else value
    return out


def _params(shell):
    """The JSON of ``--params`` in a shell command (empty dict if the rule passes none)."""
    try:
        words = shlex.split(shell)
    except ValueError:
        return {}
    if "--params" in words and words.index("--params") + 1 < len(words):
        try:
            return json.loads(words[words.index("--params") + 1])
        except json.JSONDecodeError:
            return {}
    return {}


def parse_dry_run(text):
    """Jobs of a ``snakemake -n -p`` printout, with dependencies resolved."""
    jobs, current = [], None
    for line in text.splitlines():
        head = RULE.match(line.strip()) if not line.startswith(" ") else None
        if head:
            current = {"rule": head.group(1), "threads": 1, "wildcards": {}, "resources": {},
                       "input": [], "output": [], "shell": ""}
            jobs.append(current)
            continue
        if current is None:
            continue
        m = FIELD.match(line)
        if m:
            key, value = m.groups()
            if key in ("input", "output"):
                current[key] = [p for p in value.split(", ") if p]
            elif key == "benchmark":
                current["benchmark"] = value
            elif key == "jobid":
                current["jobid"] = int(value)
            elif key == "threads":
                current["threads"] = int(value)
            elif key in ("wildcards", "resources"):
                current[key] = _pairs(value)
        elif line.startswith("Shell command: "):
            current["shell"] = line[len("Shell command: "):]
    out = [Job(j.get("jobid", i), j["rule"], j["wildcards"], j["threads"], j["resources"],
               j["input"], j["output"], _params(j["shell"]), j.get("benchmark", "")) for i, j in enumerate(jobs)]
    producer = {path: job.jobid for job in out for path in job.outputs}
    for job in out:
        job.deps = sorted({producer[p] for p in job.inputs if p in producer})
    return out


def config_hint(text):
    """The config key that would add the file a missing-input / no-rule message names."""
    for path in re.findall(r"results/[^\s,'\"]+", text):
        for pattern, hint in CONFIG_HINTS:
            m = re.match(pattern, path)
            if m:
                return f"{path}: the config key that adds it is {hint.format(*m.groups())}"
    return None


def dry_run(targets, directory, cores, gpus, configfiles=(), extra=(), forceall=False, snakefile=None):
    """Run Snakemake's dry run in ``directory``; returns its jobs, or raises InputError with
    Snakemake's own message plus the config key that would add the missing file."""
    snakefile = snakefile or Path(__file__).resolve().parents[3] / "Snakefile"
    exe = Path(sys.executable).parent / "snakemake"
    cmd = [str(exe if exe.exists() else "snakemake"), *targets, "-s", str(snakefile),
           "--directory", str(directory), "-n", "-p", "--nolock", "--cores", str(cores),
           "--resources", f"gpu={gpus}"]
    for path in configfiles:
        cmd += ["--configfile", str(path)]
    if forceall:
        cmd.append("--forceall")
    cmd += list(extra)
    proc = subprocess.run(cmd, cwd=directory, capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    if proc.returncode != 0:
        # Snakemake's own message: what follows "Building DAG of jobs...", without the traceback
        lines = text.split("Building DAG of jobs...")[-1].strip().splitlines()
        lines = lines[: next((i for i, ln in enumerate(lines) if ln.startswith("Traceback")), len(lines))]
        message = "\n".join(ln for ln in lines[:20] if ln.strip() and not ln.startswith(("Using ", "Assuming ")))
        hint = config_hint(f"{message} {' '.join(targets)}")
        raise InputError(f"snakemake cannot build {' '.join(targets) or 'the default target'}:\n{message}"
                         + (f"\n{hint}" if hint else ""))
    return parse_dry_run(text)
