"""Faults a user causes, through Snakemake on tiny generated data: each ends stale-free and in one clear line."""

import json
import subprocess
import sys
from pathlib import Path

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
    # fixed and rerun: the latest run completed, and the old failure is not reported (issue 20 case 7)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(bad, format="PNG")
    run_snakemake(workflow_dir, "results/cifar10/data.h5", "--configfile", str(cfg))
    shown = subprocess.run([sys.executable, str(REPO / "workflow/scripts/failed_jobs.py")], cwd=workflow_dir,
                           capture_output=True, text=True, check=True).stdout
    assert shown.startswith("No job failed in the run of ") and shown.rstrip().endswith("it completed.")


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


def _tiny_batches_config(workflow_dir, **batches):
    params = synthetic_params(n_train=120, n_test=20)
    return write_config(workflow_dir, {
        "datasets": {"tiny": {"kind": "synthetic", "synthetic": params}},
        "graph": {"knn": 5, "projection_dim": 16},
        "batches": {"batch_size": 128, "levels": [1024, 512],
                    "datasets": {"tiny": {"batch_size": 10, "levels": [40, 20], **batches}}},
    })


def test_config_mistake_stops_before_any_job_and_keeps_finished_work(workflow_dir):
    """Issue 20 cases 2 and 11: what a job would refuse stops the run at start-up, whatever the target."""
    target = workflow_dir / "results/tiny/batches/robust-hier.h5"
    run_snakemake(workflow_dir, str(target.relative_to(workflow_dir)), "--configfile",
                  str(_tiny_batches_config(workflow_dir)))
    before, mtime = target.read_bytes(), target.stat().st_mtime_ns
    bad = _tiny_batches_config(workflow_dir, levels=[20, 40])  # not decreasing
    proc = run_snakemake(workflow_dir, "results/tiny/batches/robust-hier.h5", "--configfile", str(bad), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert ("invalid config at batches.datasets.tiny.levels[0]: 20 is not larger than "
            "batches.datasets.tiny.levels[1]=40") in out
    assert "rule partition_batches" not in out and "Traceback" not in out  # no job started
    assert target.read_bytes() == before and target.stat().st_mtime_ns == mtime
    # a batch size larger than the training set: at DAG time too, naming the key
    big = _tiny_batches_config(workflow_dir, batch_size=200, levels=[])
    proc = run_snakemake(workflow_dir, "results/tiny/batches/robust-hier.h5", "--configfile", str(big), check=False)
    assert "invalid config at batches.datasets.tiny.batch_size: 200 is larger than the training set" in (
        proc.stdout + proc.stderr)
    assert target.read_bytes() == before and target.stat().st_mtime_ns == mtime
    # an unknown table preset, whatever the target (here one that needs no table)
    (workflow_dir / "typo.yaml").write_text(
        "layerwise: {profiles: {synthetic: {tables: {table3: [simcnn-k1, simcnn-k7]}}}}\n")
    proc = run_snakemake(workflow_dir, "-n", "results/tiny/batches/robust-hier.h5", "--configfile",
                         str(_tiny_batches_config(workflow_dir)), str(workflow_dir / "typo.yaml"), check=False)
    assert proc.returncode != 0
    assert ("invalid config at layerwise.profiles.synthetic.tables.table3: preset 'simcnn-k7' is not a key of "
            "layerwise.profiles.synthetic.models") in proc.stdout + proc.stderr


def test_image_replaced_with_same_size_and_mtime_rebuilds_when_touched_or_forced(workflow_dir):
    """Issue 20 case 6: not noticed (the root digest stats, it does not read); docs/data.md says how to force it."""
    import os

    root = make_cifar_tree(workflow_dir / "root")
    cfg = cifar_config(workflow_dir, root)
    target = "results/cifar10/data.h5"
    run_snakemake(workflow_dir, target, "--configfile", str(cfg))
    image = root / "train" / "cat" / "0.png"
    st = image.stat()
    old = np.asarray(Image.open(image))
    Image.fromarray(255 - old).save(image)  # same size: a PNG of 32x32 random pixels does not compress
    assert image.stat().st_size == st.st_size
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = run_snakemake(workflow_dir, target, "--configfile", str(cfg))
    assert "Nothing to be done" in again.stdout + again.stderr
    forced = run_snakemake(workflow_dir, target, "--configfile", str(cfg), "--forcerun", "prepare_data")
    assert "prepare_data" in forced.stdout + forced.stderr
    images, _ = load_split(workflow_dir / target, "train")
    assert any(np.array_equal(img, 255 - old) for img in images)
    Image.fromarray(old).save(image)
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))
    image.touch()  # a new mtime: the root digest changes
    touched = run_snakemake(workflow_dir, target, "--configfile", str(cfg))
    assert "Params have changed" in touched.stdout + touched.stderr
    images, _ = load_split(workflow_dir / target, "train")
    assert any(np.array_equal(img, old) for img in images)


ORPHAN_SNAKEFILE = """
rule job:
    output: "out.txt"
    shell: "{python} {launch} --gpus 0 -- {python} {job} {{output}} 2> job.log"
"""
ORPHAN_JOB = """
import sys, time
from pathlib import Path
sys.path.insert(0, {scripts!r})
from layerwise.h5io import atomic_path
Path("started").write_text("")
time.sleep(5)
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_text("orphan")
"""


def test_kill_9_of_snakemake_ends_its_job_before_it_publishes(tmp_path):
    """Issue 20 case 1, with Snakemake's real process tree: snakemake -> job shell -> launch.py -> command."""
    import os
    import signal
    import time

    scripts = REPO / "workflow" / "scripts"
    (tmp_path / "job.py").write_text(ORPHAN_JOB.format(scripts=str(scripts)))
    (tmp_path / "Snakefile").write_text(ORPHAN_SNAKEFILE.format(
        python=sys.executable, launch=scripts / "launch.py", job=tmp_path / "job.py"))
    snakemake = subprocess.Popen([str(Path(sys.executable).parent / "snakemake"), "--cores", "1"], cwd=tmp_path,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists():
        assert snakemake.poll() is None and time.monotonic() < deadline, "the job did not start"
        time.sleep(0.1)
    os.kill(snakemake.pid, signal.SIGKILL)
    snakemake.wait()
    time.sleep(8)  # the job would have published after 5 s
    assert not (tmp_path / "out.txt").exists()
    assert "the Snakemake job that started this command is gone" in (tmp_path / "job.log").read_text()


def test_configfile_mistakes_end_in_the_documented_line(workflow_dir):
    """Issue 20 case 10: Snakemake reads --configfile before the Snakefile runs, so our code cannot
    add a hint; the README's "When something goes wrong" quotes these last lines. This test keeps
    that true for the pinned Snakemake."""
    proc = run_snakemake(workflow_dir, "-n", "--configfile", "missing.yaml", check=False)
    assert proc.returncode != 0
    assert proc.stdout.strip().endswith("FileNotFoundError: [Errno 2] No such file or directory: 'missing.yaml'")
    (workflow_dir / "table.csv").write_text("preset,top1\nsimcnn-k1,0.5\n")  # a target after --configfile
    proc = run_snakemake(workflow_dir, "-n", "--configfile", "config/config.yaml", "table.csv", check=False)
    assert proc.returncode != 0
    assert "Config file must be given as JSON or YAML with keys at top level." in proc.stdout + proc.stderr
    proc = run_snakemake(workflow_dir, "-n", "--configfile", "config/config.yaml", "results/x/data.h5", check=False)
    assert proc.stdout.strip().endswith("FileNotFoundError: [Errno 2] No such file or directory: 'results/x/data.h5'")
