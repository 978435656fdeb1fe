"""Shared fixtures: small dataset parameters and an empty working directory for the workflow."""

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
    """An empty working directory with its own config/config.yaml (a copy of the shipped one) and
    results/: the workflow runs there from the repository (-s, --directory), as a deployed one does."""
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config" / "config.yaml", tmp_path / "config" / "config.yaml")
    return tmp_path


def write_config(directory, config):
    path = Path(directory) / "config" / "test.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


SNAKEFILE = REPO / "workflow" / "Snakefile"
TEST_CONFIG = REPO / ".test" / "config.yaml"


def run_snakemake(directory, *args, check=True):
    """Run the repository's workflow/Snakefile with ``directory`` as working directory (its
    workflow profile applies); returns the CompletedProcess."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "-s", str(SNAKEFILE), "--directory", str(directory),
         "--cores", "2", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc
