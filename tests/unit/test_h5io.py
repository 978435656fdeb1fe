"""HDF5 conventions: atomic writes and readers that reject stale or truncated files."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import synthetic_params
from layerwise import jobwatch
from layerwise.data import synthetic
from layerwise.data.datasets import H5ImageDataset
from layerwise.data.prepare import prepare
from layerwise.data.store import load_split
from layerwise.errors import EXIT_ORPHANED, InputError, OrphanedWriter
from layerwise.h5io import JOB_PID_ENV, atomic_h5, atomic_path, check_job_alive, open_checked


def _prepare(path, **overrides):
    params = synthetic_params(**overrides)
    prepare("synthetic", {"kind": "synthetic", "synthetic": params}, path)
    return params


def test_attributes_and_round_trip(tmp_path):
    out = tmp_path / "data.h5"
    params = _prepare(out)
    with h5py.File(out) as f:
        assert f.attrs["format_version"] == 1 and f.attrs["stage"] == "prepare_data"
        assert f.attrs["seed"] == params["seed"] and "synthetic" in f.attrs["params"]
        assert "version" in f.attrs and "latents/level1" in f and "patch_sets/level0" in f
    images, labels = load_split(out, "test")
    ref = synthetic.generate(params)
    test = ref["splits"]["test"]
    assert np.array_equal(images, ref["images"][test]) and np.array_equal(labels, ref["labels"][test])
    ds = H5ImageDataset(out, "test")
    img, label = ds[3]
    assert img.shape == (3, 16, 16) and np.array_equal(img.permute(1, 2, 0).numpy(), images[3]) and label == labels[3]


def test_same_seed_bit_identical_files_content(tmp_path):
    _prepare(tmp_path / "a.h5", noise_std=2.0)
    _prepare(tmp_path / "b.h5", noise_std=2.0)
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        for name in ("images", "labels", "splits/train", "latents/level0"):
            assert np.array_equal(a[name][()], b[name][()])


def test_truncated_file_names_file_and_fix(tmp_path):
    out = tmp_path / "data.h5"
    _prepare(out)
    out.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    with pytest.raises(InputError, match=rf"{out}: .*truncated.*Delete it and rerun"):
        load_split(out, "train")


def test_wrong_format_version_and_stage(tmp_path):
    out = tmp_path / "data.h5"
    _prepare(out)
    with h5py.File(out, "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(InputError, match=rf"{out}: format_version 99.*Delete it"):
        load_split(out, "train")
    with pytest.raises(InputError, match="expected 'graph'"):
        with h5py.File(out, "a") as f:
            f.attrs["format_version"] = 1
        open_checked(out, "graph")


def test_failed_write_leaves_nothing(tmp_path):
    out = tmp_path / "x.h5"
    with pytest.raises(RuntimeError):
        with atomic_h5(out, "demo", {}, 0) as f:
            f.create_dataset("a", data=np.arange(3))
            raise RuntimeError("killed")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_interleaved_writers_use_their_own_temporary_files(tmp_path):
    # The retry of a job and its orphan both write resume.ckpt: with one fixed
    # temporary name the second publisher found its file moved away (FileNotFoundError).
    out = tmp_path / "resume.ckpt"
    with atomic_path(out) as first:
        first.write_text("first")
        with atomic_path(out) as second:
            assert second != first and f".{os.getpid()}." in second.name
            second.write_text("second")
        assert out.read_text() == "second" and first.read_text() == "first"
    assert out.read_text() == "first" and sorted(tmp_path.iterdir()) == [out]


WRITER = textwrap.dedent("""
    import argparse, sys, time
    from pathlib import Path
    from layerwise.errors import run_cli
    from layerwise.h5io import atomic_path

    def main(args):
        with atomic_path(args.out) as tmp:
            tmp.write_text("writer")
            while not Path(args.go).exists():  # still writing when its job is killed
                time.sleep(0.05)

    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("go")
    try:
        run_cli(main, parser)
    except SystemExit as err:
        Path(parser.parse_args().out + ".status").write_text(str(err.code))
        raise
    Path(parser.parse_args().out + ".status").write_text("0")
""")


def _start_writer(tmp_path, orphan):
    """Start WRITER on tmp_path/out.txt; with ``orphan`` its parent exits at once (a killed job)."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {k: v for k, v in os.environ.items() if k != JOB_PID_ENV}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    cmd = [sys.executable, str(script), str(tmp_path / "out.txt"), str(tmp_path / "go")]
    log = open(tmp_path / "writer.log", "w")
    if not orphan:
        return subprocess.Popen(cmd, env=env, stderr=log)
    # The parent starts the writer and dies once it writes: the writer is re-parented.
    parent = (
        f"import pathlib, subprocess, sys, time; subprocess.Popen({cmd!r}, stderr=sys.stderr)\n"
        f"while not list(pathlib.Path({str(tmp_path)!r}).glob('*.tmp')): time.sleep(0.05)"
    )
    subprocess.run([sys.executable, "-c", parent], env=env, stderr=log, check=True)
    return None


def _wait_status(path, timeout=60):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, "writer did not finish"
        time.sleep(0.05)
    time.sleep(0.1)
    return path.read_text()


def test_orphaned_writer_cannot_overwrite_the_output(tmp_path):
    out = tmp_path / "out.txt"
    _start_writer(tmp_path, orphan=True)  # returns when the orphan is inside its write
    with atomic_path(out) as tmp:  # the job's retry publishes its output
        tmp.write_text("retry")
    (tmp_path / "go").touch()
    assert _wait_status(tmp_path / "out.txt.status") == str(EXIT_ORPHANED)
    assert out.read_text() == "retry"
    log = (tmp_path / "writer.log").read_text()
    assert f"error: {out}: not written: this process" in log and "outlived the Snakemake job" in log
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_writer_whose_job_lives_publishes(tmp_path):
    # The control for the test above: the same writer with a living parent writes.
    proc = _start_writer(tmp_path, orphan=False)
    (tmp_path / "go").touch()
    assert proc.wait(timeout=60) == 0
    assert (tmp_path / "out.txt").read_text() == "writer"


def test_launcher_job_pid_is_the_lease(tmp_path, monkeypatch):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    monkeypatch.setenv(JOB_PID_ENV, str(dead.pid))
    with pytest.raises(OrphanedWriter, match="outlived"):
        check_job_alive(tmp_path / "w.pt")
    monkeypatch.setenv(JOB_PID_ENV, str(os.getpid()))
    check_job_alive(tmp_path / "w.pt")


def test_launcher_hands_its_job_pid_to_the_command(tmp_path):
    # Under torchrun the writer's parent is torchrun, so the job is named by pids: the launcher's
    # and its parent's (here this test process), each with its start time.
    env = dict(os.environ, LAYERWISE_GPU_COUNT="0", PYTHONPATH=os.pathsep.join(sys.path))
    cmd = [sys.executable, "workflow/scripts/launch.py", "--gpus", "0", "--",
           sys.executable, "-c", f"import os; print(os.environ[{JOB_PID_ENV!r}])"]
    out = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True,
                         text=True, check=True).stdout
    launcher, parent = out.strip().split(",")
    assert parent == jobwatch.identity(os.getpid()) and launcher.split(":")[0] != str(os.getpid())
