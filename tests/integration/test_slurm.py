"""The tiny synthetic DAG through a real SLURM (`--profile profiles/slurm`) equals a local run.

tests/integration/slurm/setup.sh installs Debian's SLURM with slurmdbd and
mariadb when missing (root only), starts a single-node cluster with two
simulated GPUs as plain background processes, and teardown.sh stops exactly the
pids it recorded. The test then runs the same targets with the same tiny config
twice, from two empty working directories: locally, and through SLURM, and checks

* every job went through SLURM: each job id that Snakemake reports submitting
  has a COMPLETED sacct record and a plugin log named by it; the training job
  asked for a GPU (sacct AllocTRES gres/gpu=1) and its own log shows the
  launcher saw SLURM_JOB_ID and took no lease;
* the outputs equal the local run's: every HDF5 dataset (attributes hold
  provenance, so files are not compared byte for byte) and every weight tensor.

Without root and without an installed SLURM it is skipped with the reason.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "slurm"
VENV_BIN = Path(sys.executable).parent
DATASET = "synthetic"
RUN = "simcnn-k1.random-s0-s0"
TARGETS = [
    f"results/{DATASET}/data.h5",
    f"results/{DATASET}/batches/random-s0.h5",
    f"results/{DATASET}/train/{RUN}/layer1/weights.pt",
    f"results/{DATASET}/train/{RUN}/layer1/eval.h5",
]
GPU_RULE = "train_layer"
TINY_CONFIG = HERE / "tiny_config.yaml"


def _can_run_slurm():
    installed = all(shutil.which(b) for b in ("slurmctld", "slurmd", "slurmdbd", "munged", "mariadbd"))
    return installed or (os.geteuid() == 0 and shutil.which("apt-get"))


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory):
    if not _can_run_slurm():
        pytest.skip("SLURM is not installed and installing it (apt-get) needs root")
    state = tmp_path_factory.mktemp("slurm")
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    for var in [v for v in env if v.startswith("SLURM_")]:
        del env[var]  # a test run inside a SLURM job must not talk to that cluster
    try:
        setup = subprocess.run(
            ["bash", str(HERE / "setup.sh"), str(state)], env=env, capture_output=True, text=True, timeout=420
        )
        print(setup.stdout[-3000:], setup.stderr[-3000:])
        assert setup.returncode == 0, f"SLURM setup failed:\n{setup.stdout[-3000:]}\n{setup.stderr[-3000:]}"
        env["SLURM_CONF"] = (state / "conf_dir").read_text().strip() + "/slurm.conf"
        yield env
    finally:
        down = subprocess.run(["bash", str(HERE / "teardown.sh"), str(state)], capture_output=True, text=True)
        print(down.stdout, down.stderr)


def _working_dir(dest):
    """An empty working directory with its own config/config.yaml; the workflow runs from the
    repository (-s workflow/Snakefile), as a deployed one does."""
    (dest / "config").mkdir(parents=True)
    shutil.copy2(ROOT / "config" / "config.yaml", dest / "config" / "config.yaml")
    return dest


def _snakemake(cwd, env, *args):
    """Start snakemake on the test's targets and tiny config; returns the Popen."""
    # "--configfile=" so the targets are not taken as more config files (nargs="+")
    cmd = [str(VENV_BIN / "snakemake"), "-s", str(ROOT / "workflow" / "Snakefile"), f"--configfile={TINY_CONFIG}",
           *args, *TARGETS]
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc, timeout=600):
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(proc.args)} failed:\n{out[-6000:]}"
    return out


def _h5_datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def _assert_same_tensors(a, b, where):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same_tensors(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_tiny_dag_through_slurm_equals_local_run(slurm_env, tmp_path):
    local_env = {k: v for k, v in slurm_env.items() if k != "SLURM_CONF"}
    # the local run computes while the SLURM run mostly waits on status checks: run both at once
    local_run = _snakemake(_working_dir(tmp_path / "local"), local_env, "--cores", "1")
    cluster = _working_dir(tmp_path / "slurm")
    slurm_run = _snakemake(
        cluster,
        slurm_env,
        "--profile",
        str(ROOT / "profiles" / "slurm"),
        "--jobs",
        "4",
        # the plugin's first status check comes after this many seconds (default 40)
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        f"--set-resources={GPU_RULE}:slurm_partition=debug",
    )
    log = _finish(slurm_run)
    n_jobs = int(re.search(r"^total\s+(\d+)$", _finish(local_run), re.M).group(1))
    local = tmp_path / "local"
    job_ids = sorted(set(re.findall(r"SLURM jobid (\d+)", log)), key=int)
    assert len(job_ids) == n_jobs, f"expected {n_jobs} SLURM jobs, one per job of the DAG: {job_ids}\n{log[-4000:]}"

    # every reported job has a finished accounting record (slurmdbd) and its own plugin log
    sacct = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-j", ",".join(job_ids), "-o", "JobID,Partition,State,AllocTRES,Comment%60"],
        env=slurm_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print("sacct records of the test run:\n" + sacct)
    records = {line.split("|")[0]: line.split("|") for line in sacct.splitlines() if line}
    assert sorted(records, key=int) == job_ids
    assert all(rec[2] == "COMPLETED" for rec in records.values()), sacct
    slurm_logs = {p.stem for p in (cluster / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert set(job_ids) <= slurm_logs, (job_ids, slurm_logs)

    # the training job asked SLURM for a GPU, ran in the partition set per rule, and its
    # launcher ran under that job without taking a local lease
    gpu_logs = list((cluster / ".snakemake" / "slurm_logs").glob(f"rule_{GPU_RULE}/**/*.log"))
    assert len(gpu_logs) == 1, gpu_logs
    gpu_job = gpu_logs[0].stem
    assert "gres/gpu=1" in records[gpu_job][3] and records[gpu_job][1] == "debug", records[gpu_job]
    assert records[gpu_job][4].startswith(f"rule_{GPU_RULE}"), records[gpu_job]
    rule_log = next((cluster / "results" / "logs" / GPU_RULE).rglob("*.log")).read_text()
    assert f"slurm_job={gpu_job} CUDA_VISIBLE_DEVICES=0" in rule_log, rule_log[:2000]
    assert not (cluster / "results" / ".gpu").exists()

    # same outputs as the local run
    for target in TARGETS:
        a, b = local / target, cluster / target
        if target.endswith(".h5"):
            da, db = _h5_datasets(a), _h5_datasets(b)
            assert da.keys() == db.keys(), target
            for name in da:
                np.testing.assert_array_equal(da[name], db[name], err_msg=f"{target}:{name}")
        else:
            _assert_same_tensors(torch.load(a, weights_only=False), torch.load(b, weights_only=False), target)
