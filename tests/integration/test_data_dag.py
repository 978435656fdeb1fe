"""The data stage through Snakemake, on a tiny config in a temporary directory."""

import numpy as np
import pytest

from conftest import run_snakemake, synthetic_params, write_config
from layerwise.data import synthetic
from layerwise.data.store import load_split

pytestmark = pytest.mark.integration


def test_snakemake_builds_data_h5(workflow_dir):
    params = synthetic_params(n_train=60, n_test=20)
    cfg = write_config(workflow_dir, {"datasets": {"tiny": {"kind": "synthetic", "synthetic": params}}})
    run_snakemake(workflow_dir, "results/tiny/data.h5", "--configfile", str(cfg))
    images, labels = load_split(workflow_dir / "results/tiny/data.h5", "train")
    ref = synthetic.generate(params)
    assert np.array_equal(images, ref["images"][:60]) and np.array_equal(labels, ref["labels"][:60])
    # Up to date: a second run has nothing to do.
    again = run_snakemake(workflow_dir, "results/tiny/data.h5", "--configfile", str(cfg))
    assert "Nothing to be done" in again.stdout + again.stderr


def test_mistyped_config_key_is_named(workflow_dir):
    cfg = write_config(workflow_dir, {"datasets": {"synthetic": {"kind": "synthetic", "synthetic": {"n_trian": 5}}}})
    proc = run_snakemake(workflow_dir, "-n", "--configfile", str(cfg), check=False)
    assert proc.returncode != 0
    assert "'n_trian' was unexpected" in proc.stdout + proc.stderr


def test_missing_root_is_named_before_anything_runs(workflow_dir):
    proc = run_snakemake(workflow_dir, "-n", "results/cifar10/data.h5", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "datasets.cifar10.root is not set" in out and "data_batch_1..5" in out
