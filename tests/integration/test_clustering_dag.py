"""The clustering stage built for real on a tiny config; the parsimonious rules in the static DAG."""

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import pandas as pd
import pytest
import yaml

from conftest import run_snakemake, synthetic_params, write_config

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

BLOCKS = {"num_patches": 2000, "clusters": [16, 16], "patch_size": 2, "stride": "paper", "kmeans_iterations": 10}
TINY = {
    "dataset": "tiny",
    "datasets": {"tiny": {"kind": "synthetic", "synthetic": synthetic_params(
        num_classes=4, classes_per_level=[4, 4], patches_per_class=2, prototypes_per_class=1,
        noise_std=2.0, n_train=240, n_test=80)}},
    "clustering": {
        "methods": ["dlc", "jl", "cnn", "cnn-random", "pixels"], "heads": ["linear"], "seeds": [0, 1],
        "max_steps": 150, "eval_every": 50, "patience": 2, "lr": 0.003, "batch_size": 32,
        "fc_hidden": [16], "svm_C": [1.0], "recovery_points": 2000,
        "dlc": {**BLOCKS, "channels": [16, 16], "bias": -0.8},
        "jl": {**BLOCKS, "channels": [16, 16], "bias": 0.0},
        "cnn": {"width": 8},
    },
}


def test_clustering_table_is_built_from_every_run(workflow_dir):
    cfg = write_config(workflow_dir, TINY)
    run_snakemake(workflow_dir, "results/tiny_clustering.csv", "--configfile", str(cfg))
    table = pd.read_csv(workflow_dir / "results/tiny_clustering.csv")
    assert list(table["method"]) == ["deep layerwise clustering", "Clustering+JL", "CNN", "CNN (random)", "raw pixels"]
    assert (table["seeds"] == 2).all() and (table["svm_test_std"] >= 0).all()  # two seeds: a finite std
    # Learnable data (uniform last level): every row above chance, so no note.
    assert (table["svm_test_mean"] >= 0.25 + 0.2).all(), table.to_string()
    assert table["note"].isna().all()
    assert not list((workflow_dir / "results/tiny/clustering").glob("*scratch"))  # removed after success
    # Each run logs the settings it used: JL its own bias, dlc its own, the run's seed.
    with h5py.File(workflow_dir / "results/tiny/clustering/jl-linear-s1.h5") as f:
        params = json.loads(f.attrs["params"])
    assert params["bias"] == 0.0 and params["seed"] == 1 and params["method"] == "jl"
    with h5py.File(workflow_dir / "results/tiny/clustering/dlc-linear-s0.h5") as f:
        assert json.loads(f.attrs["params"])["bias"] == -0.8


def test_parsimonious_rules_are_in_the_static_dag():
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    out = subprocess.run(
        ["snakemake", "-n", "--forceall", "results/synthetic_clustering.csv", "results/synthetic_parsimonious.csv"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    shipped = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    c, p = shipped["clustering"], shipped["parsimonious"]
    runs = len(c["methods"]) * len(c["heads"]) * len(c["seeds"])  # one cluster job per (method, head, seed)
    for rule, count in (("cluster", runs), ("clustering_table", 1),
                        ("train_parsimonious", len(p["methods"]) * len(p["seeds"])), ("parsimonious_table", 1)):
        assert f"rule {rule}:" in text
        assert any(line.split() == [rule, str(count)] for line in text.splitlines()), rule
