"""Faults a user causes, through Snakemake on tiny generated data: each ends stale-free and in one clear line."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
from PIL import Image

from conftest import REPO, run_snakemake, synthetic_params, write_config
from layerwise.data.store import load_split

pytestmark = pytest.mark.integration


def make_cifar_tree(root, per_class=3, seed=0):
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for c in ("cat", "dog"):
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / split / c / f"{i}.png")
    return root


def cifar_config(workflow_dir, root):
    return write_config(workflow_dir, {"datasets": {"cifar10": {"kind": "cifar10", "root": str(root)}}})


def test_changed_root_rebuilds_data_h5(workflow_dir):
    root = make_cifar_tree(workflow_dir / "root")
    cfg = cifar_config(workflow_dir, root)
    target = "results/cifar10/data.h5"
    run_snakemake(workflow_dir, target, "--configfile", str(cfg))
    images, _ = load_split(workflow_dir / target, "train")
    assert len(images) == 6
    again = run_snakemake(workflow_dir, target, "--configfile", str(cfg))
    assert "Nothing to be done" in again.stdout + again.stderr
    new = np.full((32, 32, 3), 7, dtype=np.uint8)
    Image.fromarray(new).save(root / "train" / "dog" / "new.png")
    rebuilt = run_snakemake(workflow_dir, target, "--configfile", str(cfg))
    assert "Params have changed" in rebuilt.stdout + rebuilt.stderr
    images, labels = load_split(workflow_dir / target, "train")
    assert len(images) == 7 and any(
        np.array_equal(img, new) and label == 1 for img, label in zip(images, labels, strict=True)
    )


def test_bad_input_fails_once_and_its_error_is_printed(workflow_dir):
    root = make_cifar_tree(workflow_dir / "root")
    bad = root / "train" / "cat" / "2.png"
    bad.write_bytes(b"not a png")
    cfg = cifar_config(workflow_dir, root)
    proc = run_snakemake(workflow_dir, "results/cifar10/data.h5", "--configfile", str(cfg), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    # the default workflow profile applies: one attempt, the exit code of bad input
    assert out.count("Error in rule prepare_data") == 1 and "Trying to restart" not in out
    assert "returned non-zero exit status 2" in out
    shown = subprocess.run([sys.executable, str(REPO / "workflow/scripts/failed_jobs.py")], cwd=workflow_dir,
                           capture_output=True, text=True, check=True).stdout
    assert "prepare_data -> results/cifar10/data.h5: exit 2 (bad input or config" in shown
    assert f"    error: {bad}: cannot decode this image" in shown
    assert "full log: results/logs/prepare_data/cifar10.log" in shown


def test_symlink_loop_is_named_once(workflow_dir):
    root = make_cifar_tree(workflow_dir / "root")
    link = root / "test" / "dog" / "loop"
    link.symlink_to(root / "test")
    cfg = cifar_config(workflow_dir, root)
    proc = run_snakemake(workflow_dir, "results/cifar10/data.h5", "--configfile", str(cfg), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and f"{link}: symlink loop" in out
    assert out.count(str(link)) <= 2  # the message (Snakemake may echo its first line), not 40 paths


def test_unknown_dataset_names_the_valid_ones(workflow_dir):
    proc = run_snakemake(workflow_dir, "-n", "--config", "dataset=foo", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "KeyError" not in out
    assert "'foo' is not a key of `datasets`; valid: cifar10, cifar100, digits, imagenet, synthetic" in out


def test_nested_command_line_numbers_build_and_bad_values_are_short(workflow_dir):
    params = synthetic_params(n_train=60, n_test=20)
    cfg = write_config(workflow_dir, {"datasets": {"tiny": {"kind": "synthetic", "synthetic": params}}})
    target = "results/tiny/graph/pixels.h5"
    run_snakemake(workflow_dir, target, "--configfile", str(cfg), "--config", "graph={knn: 5, projection_dim: 16}")
    with h5py.File(workflow_dir / target) as f:
        stored = json.loads(f.attrs["params"])
        assert int(f.attrs["knn"]) == 5
    assert stored["knn"] == 5 and stored["projection_dim"] == 16
    proc = run_snakemake(workflow_dir, "-n", target, "--configfile", str(cfg), "--config", "graph={knn: five}",
                         check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "invalid config at graph.knn: 'five' is not of type 'integer'" in out
    assert "expected: integer, at least 1" in out and "--configfile" in out
    assert len(out.splitlines()) < 15  # not the schema
