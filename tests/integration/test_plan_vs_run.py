"""The plan against reality: plan a small DAG of the .test config, run it, compare each
rule's estimate with its jobs' benchmark files and each output's estimated size with the file.
Also: a target the config cannot build, and the ImageNet Table 3 plan on a generated tree."""

import csv
import subprocess
import sys

import pytest
from test_imagenet_dag import imagenet_tree

from conftest import REPO, TEST_CONFIG, run_snakemake

pytestmark = pytest.mark.integration
PLAN = REPO / "workflow" / "scripts" / "plan.py"


def plan(directory, *args, check=True):
    proc = subprocess.run([sys.executable, str(PLAN), "--directory", str(directory), *args],
                          capture_output=True, text=True, cwd=directory)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc


def test_tiny_table3_estimates_hold_against_the_run(tmp_path):
    target, cfg = "results/tiny_table3.csv", str(TEST_CONFIG)
    before = plan(tmp_path, target, "--configfile", cfg, "--cores", "2", "--gpus", "1",
                  "--csv", str(tmp_path / "plan.csv"))
    assert "plan of results/tiny_table3.csv: 10 jobs" in before.stdout
    assert "self-calibrated now on this machine" in before.stdout
    with open(tmp_path / "plan.csv") as f:
        rows = list(csv.DictReader(f))
    estimated = {}
    for r in rows:
        estimated[r["jobid"]] = float(r["est_seconds"])
    run_snakemake(tmp_path, target, "--configfile", cfg, "--resources", "gpu=1")
    # --compare plans the finished target again (--forceall) and reads results/benchmarks/
    after = plan(tmp_path, target, "--configfile", cfg, "--cores", "2", "--gpus", "1", "--compare",
                 "--compare-csv", str(tmp_path / "compare.csv"))
    assert "calibration file" in after.stdout  # the saved self-calibration, not a new one
    with open(tmp_path / "compare.csv") as f:
        comp = list(csv.DictReader(f))
    # CPU seconds per thread: what the jobs cost on a quiet machine, whatever the load of other
    # processes (their wall seconds follow it, and tests assert no wall time)
    seconds = [r for r in comp if r["kind"] == "cpu_seconds_per_thread"]
    assert {r["item"] for r in seconds} >= {"prepare_data", "build_graph", "partition_batches", "train_layer",
                                            "train_e2e"}
    est, measured = sum(float(r["estimated"]) for r in seconds), sum(float(r["measured"]) for r in seconds)
    # the plan made before the run, over the jobs that have a benchmark file (not layerwise_table)
    benchmarked = {r["jobid"] for r in rows if r["rule"] != "layerwise_table"}
    before_total = sum(v for k, v in estimated.items() if k in benchmarked)
    assert 0.5 < est / measured < 2 and 0.5 < before_total / measured < 2, (est, before_total, measured)
    sizes = [r for r in comp if r["kind"].startswith("bytes:")]
    assert {r["kind"] for r in sizes} == {"bytes:data", "bytes:graph", "bytes:batches", "bytes:weights",
                                          "bytes:eval"}
    for r in sizes:
        assert 1 / 1.5 < float(r["est_over_measured"]) < 1.5, r


def test_a_target_the_config_cannot_build_gets_snakemakes_message_and_the_config_key(tmp_path):
    proc = plan(tmp_path, "results/tiny_table9.csv", "--configfile", str(TEST_CONFIG), check=False)
    assert proc.returncode == 2
    err = proc.stderr
    assert err.startswith("error: snakemake cannot build results/tiny_table9.csv")
    assert "table9" in err and "layerwise.profiles.tiny.tables.table9" in err


def test_imagenet_table3_plan_on_a_generated_tree_reads_no_image(tmp_path):
    root = tmp_path / "tree"
    imagenet_tree(root, train_per_class=2, val_per_class=1)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    cfg = tmp_path / "imagenet.yaml"
    cfg.write_text(f"datasets:\n  imagenet:\n    kind: imagenet\n    root: {root}\n")
    out = plan(tmp_path, "results/imagenet_table3.csv", "--configfile", str(cfg), "--cores", "16", "--gpus", "4",
               "--sizes", "imagenet=1281167,50000,1000", "--csv", str(tmp_path / "plan.csv")).stdout
    assert "imagenet: 1,281,167 train / 50,000 test images, 1000 classes, from --sizes" in out
    with open(tmp_path / "plan.csv") as f:
        rows = list(csv.DictReader(f))
    rules = {r["rule"] for r in rows}
    assert {"prepare_data", "build_store", "build_graph", "partition_batches", "train_layer", "train_e2e"} <= rules
    assert "wall time on 16 cores and 4 GPUs" in out and "critical path" in out
    stores = [r for r in rows if r["kind"] == "store"]
    # 1.33 M images at 27.8 KiB each at short side 256 (docs/data.md's measured store size on real
    # ImageNet photos), times the area of the default short side 320
    assert 0.9 < int(stores[0]["est_bytes"]) / (1_331_167 * 27.8 * 1024 * (320 / 256) ** 2) < 1.1
    assert not (tmp_path / "results" / "imagenet").exists()  # nothing built, no image decoded
