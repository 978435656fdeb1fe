"""The clustering, probe and parsimonious rules appear in the static DAG (snakemake dry run)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_dry_run_lists_every_job():
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    out = subprocess.run(
        ["snakemake", "-n", "--forceall", "results/synthetic_clustering.csv", "results/synthetic_parsimonious.csv"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    for rule, count in (("cluster", 10), ("clustering_table", 1), ("train_parsimonious", 6), ("parsimonious_table", 1)):
        assert f"rule {rule}:" in text
        assert any(line.split() == [rule, str(count)] for line in text.splitlines()), rule
