"""Shared fixtures: small dataset parameters and a throwaway copy of the workflow."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def synthetic_params(**overrides):
    """A small synthetic config with every key set (as the schema's defaults would)."""
    params = {
        "semantic": "random",
        "num_classes": 4,
        "semantic_size": 4,
        "patch_size": 2,
        "classes_per_level": [5, 6],
        "patches_per_class": 3,
        "prototypes_per_class": 2,
        "resample_prob": 0.0,
        "channels": 3,
        "noise_std": 0.0,
        "n_train": 200,
        "n_test": 40,
        "seed": 0,
    }
    params.update(overrides)
    return params


@pytest.fixture
def workflow_dir(tmp_path):
    """A directory that runs the repository's workflow on its own config and results/."""
    for name in ("Snakefile", "workflow", "envs", "profiles"):
        os.symlink(REPO / name, tmp_path / name)
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config" / "config.yaml", tmp_path / "config" / "config.yaml")
    return tmp_path


def write_config(directory, config):
    path = Path(directory) / "config" / "test.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_snakemake(directory, *args, check=True):
    """Run snakemake from the venv in ``directory``; returns the CompletedProcess."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "--cores", "2", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc
