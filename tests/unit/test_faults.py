"""Faults a user causes: a truncated weights.pt, a corrupt scratch checkpoint, a swapped batches file, a full disk."""

import errno
import logging
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from layerwise import torchfile
from layerwise.errors import InputError, run_cli
from layerwise.h5io import atomic_h5, atomic_path
from layerwise.submodular.batchfile import write_batches
from layerwise.training.greedy import train_layer
from layerwise.training.sampler import make_sampler, real_items

sys.path.insert(0, str(Path(__file__).parent))
from test_layerwise import config, tiny_dataset
from test_resume import states_equal

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("content", ["half", "empty", "text"])
def test_unreadable_file_is_named_with_the_fix(tmp_path, content):
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.arange(10000.0)}, path)
    if content == "half":
        _truncate(path)
    else:
        path.write_text("" if content == "empty" else "not a tensor file\n")
    with pytest.raises(InputError, match=rf"^{path}: not a readable PyTorch file.*`rm {path}`"):
        torchfile.load(path)
    with pytest.raises(InputError, match=rf"^{path.with_name('w2.pt')}: file not found"):
        torchfile.load(path.with_name("w2.pt"))


def test_truncated_previous_layer_stops_the_next_layer_with_one_line(tmp_path):
    data, batches = tiny_dataset(tmp_path)
    w1 = tmp_path / "run/layer1/weights.pt"
    train_layer(config(1), data, batches, [], w1, tmp_path / "run/layer1/eval.h5")
    _truncate(w1)
    with pytest.raises(InputError, match=rf"^{w1}: not a readable PyTorch file.*Delete it and rerun"):
        train_layer(config(2), data, batches, [w1], tmp_path / "run/layer2/weights.pt", tmp_path / "run/layer2/eval.h5")


def test_corrupt_scratch_checkpoint_restarts_to_the_weights_of_a_clean_run(tmp_path, caplog):
    data, batches = tiny_dataset(tmp_path)
    cfg = config(1)
    ref = tmp_path / "ref/weights.pt"
    train_layer(cfg, data, batches, [], ref, tmp_path / "ref/eval.h5")
    # A job killed mid-run left a checkpoint that is now half a file.
    ckpt = tmp_path / "run/weights.pt.scratch/train.ckpt"
    ckpt.parent.mkdir(parents=True)
    torch.save({"fingerprint": "x", "module": {"w": torch.zeros(5000)}}, ckpt)
    _truncate(ckpt)
    steps = []
    w = tmp_path / "run/weights.pt"
    with caplog.at_level(logging.WARNING):
        train_layer(cfg, data, batches, [], w, tmp_path / "run/eval.h5", on_step=lambda e, s: steps.append((e, s)))
    assert steps[0] == (0, 1)  # started over
    assert f"discarding the scratch checkpoint and starting over: {ckpt}: not a readable PyTorch file" in caplog.text
    a, b = torch.load(ref, weights_only=False), torch.load(w, weights_only=False)
    assert states_equal(a["block"], b["block"]) and states_equal(a["head"], b["head"])
    assert not ckpt.exists()


def test_cli_prints_one_error_line_and_exit_code_2(tmp_path):
    path = tmp_path / "weights.pt"
    path.write_bytes(b"PK\x03\x04 truncated zip")
    script = tmp_path / "read.py"
    script.write_text(
        "import argparse\nfrom layerwise import torchfile\nfrom layerwise.errors import run_cli\n"
        "p = argparse.ArgumentParser(); p.add_argument('path')\n"
        "run_cli(lambda a: torchfile.load(a.path), p)\n"
    )
    proc = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "workflow/scripts"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {path}: not a readable PyTorch file") and proc.stderr.count("\n") == 1


def test_one_line_error_of_a_failed_job_log(tmp_path):
    from failed_jobs import one_line_error

    log = tmp_path / "job.log"
    log.write_text("train 1/2:  10%|#  | 1/10\rtrain 1/2: 100%|###| 10/10\nerror: data.h5: truncated. Delete it\n")
    assert one_line_error(log) == "error: data.h5: truncated. Delete it"
    log.write_text("Traceback (most recent call last):\n  File \"x.py\", line 1\n    boom()\n"
                   "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB\n")
    assert one_line_error(log) == "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB"
    log.write_text("Killed\n")
    assert one_line_error(log) == "Killed"
    assert one_line_error(tmp_path / "none.log").startswith("(no log at")


def _run_log(directory, start, end, body):
    """A Snakemake run log named by its local start time (as Snakemake names them), last written at ``end``."""
    import datetime

    name = datetime.datetime.fromtimestamp(start).strftime("%Y-%m-%dT%H%M%S.%f") + ".snakemake.log"
    path = directory / ".snakemake" / "log" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    os.utime(path, (end, end))
    return path


FAILED_RUN = """Building DAG of jobs...
[Sat Dec  5 10:00:00 2026]
RuleException:
CalledProcessError in file "layerwise.smk", line 40:
Command 'set -euo pipefail;  python train_layer.py' returned non-zero exit status 2.
Error in rule train_layer:
    message: None
    jobid: 3
    output: results/x/layer1/weights.pt, results/x/layer1/eval.h5
    log: {log} (check log file(s) for error details)
    shell:
        python train_layer.py
Exiting because a job execution failed. Look below for error messages
"""


def _failed_jobs(cwd, *args):
    return subprocess.run([sys.executable, str(ROOT / "workflow/scripts/failed_jobs.py"), *args], cwd=cwd,
                          capture_output=True, text=True, check=True).stdout


def test_failed_jobs_reads_only_the_last_run_and_not_a_rewritten_log(tmp_path):
    import time

    now = time.time()
    job_log = tmp_path / "results/logs/train_layer/x.log"
    job_log.parent.mkdir(parents=True)
    job_log.write_text("error: results/x/batches/robust-hier.h5: built with batches.batch_size=32\n")
    os.utime(job_log, (now - 3590, now - 3590))
    failed = _run_log(tmp_path, now - 3600, now - 3580, FAILED_RUN.format(log=job_log.relative_to(tmp_path)))
    out = _failed_jobs(tmp_path)
    assert f"1 failed job(s) in {failed.relative_to(tmp_path)}" in out
    assert "train_layer -> results/x/layer1/weights.pt, results/x/layer1/eval.h5: exit 2" in out
    assert "error: results/x/batches/robust-hier.h5: built with batches.batch_size=32" in out
    # the job ran again later and succeeded: its log no longer shows that failure
    job_log.write_text("layer 1: test top1 1.0000\n")
    os.utime(job_log, (now - 60, now - 60))
    out = _failed_jobs(tmp_path, str(failed.relative_to(tmp_path)))
    assert "layer 1: test top1" not in out and "(its log was rewritten at " in out
    # the later run that did so is the latest: it completed, and nothing points above
    _run_log(tmp_path, now - 120, now - 50, "Building DAG of jobs...\n4 of 4 steps (100%) done\nComplete log: x\n")
    out = _failed_jobs(tmp_path)
    assert out.startswith("No job failed in the run of ") and out.rstrip().endswith("it completed.")
    assert "printed above" not in out and "top1" not in out
    # a run stopped by the config check before any job: its own error is quoted
    _run_log(tmp_path, now - 10, now - 9, "WorkflowError in file \"Snakefile\", line 56:\n"
             "invalid config at batches.levels[0]: 5 is not larger than batches.levels[1]=10\n")
    out = _failed_jobs(tmp_path)
    assert "Snakemake stopped before running one" in out
    assert "    invalid config at batches.levels[0]: 5 is not larger than batches.levels[1]=10" in out


# ---- issue 20 case 4: a batches file built with other settings than the run's config ----


def _batches_file(path, n, size, sampler, levels=()):
    """A mini-batch file as partition_batches writes it: params and sampler recorded."""
    perm = np.random.default_rng(0).permutation(n)
    rows = np.array_split(perm, -(-n // size))
    params = {"batch_size": size, "levels": list(levels), "method": "onthefly", "key": "batches"}
    write_batches(path, rows, [0.0] * len(rows), [], {"sampler": sampler}, params, 0)
    return rows


def _run_cfg(sampler, batch_size, levels=None):
    cfg = {"run": f"m.{sampler}-s0", "sampler": sampler, "seed": 0, "batch_order": "fixed",
           "batch_size": batch_size, "batch_key": "batches.batch_size"}
    if levels is not None:
        cfg["levels"] = levels
    return cfg


def test_batches_file_of_the_configured_size_is_replayed(tmp_path):
    rows = _batches_file(tmp_path / "random-s0.h5", 400, 16, "random-s0")
    sampler = make_sampler(_run_cfg("random-s0", 16), tmp_path / "random-s0.h5", 400)
    got = [real_items(row) for row in sampler]
    assert len(got) == 25 and all(np.array_equal(a, b) for a, b in zip(got, rows, strict=True))


def test_batches_file_of_another_batch_size_is_refused_naming_both(tmp_path):
    path = tmp_path / "random-s0.h5"
    _batches_file(path, 400, 32, "random-s0")  # swapped in for the batch size 16 one
    with pytest.raises(InputError) as err:
        make_sampler(_run_cfg("random-s0", 16), path, 400)
    assert str(err.value) == (
        f"{path}: built with batches.batch_size=32 but this run's config has batches.batch_size=16; "
        f"rebuild it with `snakemake --forcerun partition_batches` (or `rm {path}` and rerun)"
    )


def test_batches_file_of_other_levels_or_sampler_is_refused(tmp_path):
    path = tmp_path / "robust-hier.h5"
    _batches_file(path, 400, 16, "robust-hier", levels=[128, 64])
    make_sampler(_run_cfg("robust-hier", 16, levels=[128, 64]), path, 400)
    with pytest.raises(InputError, match=r"built with batches.levels=\[128, 64\] but this run's config has "
                                         r"batches.levels=\[256, 64\]"):
        make_sampler(_run_cfg("robust-hier", 16, levels=[256, 64]), path, 400)
    _batches_file(tmp_path / "random-s1.h5", 400, 16, "random-s1")
    with pytest.raises(InputError, match="holds the random-s1 sequence but this run .* uses random-s0"):
        make_sampler(_run_cfg("random-s0", 16), tmp_path / "random-s1.h5", 400)


def test_shuffle_batch_larger_than_the_training_set_names_the_key():
    with pytest.raises(InputError, match=r"^batches.batch_size=512 is larger than the training set \(400 images\)"):
        make_sampler(_run_cfg("shuffle-s0", 512), None, 400)
    assert len(make_sampler(_run_cfg("shuffle-s0", 400), None, 400)) == 1


# ---- issue 20 case 8: a full, read-only or forbidden disk is one line naming the output, exit 2 ----


def _cli(main, argv, monkeypatch):
    """Run ``main`` through run_cli as an entry script does: (exit code, stderr lines)."""
    import argparse

    monkeypatch.setattr(sys, "argv", ["job.py", *argv])
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    with pytest.raises(SystemExit) as stop:
        run_cli(main, parser)
    return stop.value.code


def _full_disk(monkeypatch):
    """A disk with no space left: statvfs says so and writes fail as torch's C++ writer reports it."""
    real = os.statvfs

    def statvfs(path):
        st = real(path)
        return os.statvfs_result((st.f_bsize, st.f_frsize, st.f_blocks, 0, 0, *tuple(st)[5:]))

    def save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"PK\x03\x04 half an archive")
        raise RuntimeError("basic_ios::clear: iostream error")

    monkeypatch.setattr(os, "statvfs", statvfs)
    monkeypatch.setattr(torch, "save", save)


def test_full_disk_under_torch_save_is_one_line_naming_the_output(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run" / "weights.pt"
    _full_disk(monkeypatch)

    def main(args):
        with atomic_path(args.out) as tmp:
            torch.save({"w": torch.zeros(3)}, tmp)

    assert _cli(main, [str(out)], monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: {out}: cannot write it: No space left on device (ENOSPC); free space on the disk holding "
        f"{out.parent} (`df -h {out.parent}`) or run the workflow in a directory on a larger disk "
        "(snakemake --directory DIR). Then rerun: finished outputs are kept and an interrupted job resumes "
        "from its checkpoint."
    ]
    assert list(out.parent.iterdir()) == []  # no output, no temporary file


def test_unrelated_runtime_error_while_writing_stays_a_traceback(tmp_path, monkeypatch):
    # the control: with space left, a RuntimeError is a bug (exit 1), not a storage error
    def main(args):
        with atomic_path(args.out):
            raise RuntimeError("basic_ios::clear: iostream error")

    monkeypatch.setattr(sys, "argv", ["job.py", str(tmp_path / "w.pt")])
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    with pytest.raises(RuntimeError, match="iostream error"):
        run_cli(main, parser)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_hdf5_storage_errors_name_the_output(tmp_path, monkeypatch, capsys, code):
    out = tmp_path / "eval.h5"
    words = os.strerror(code)

    def refuse(*args, **kwargs):  # as h5py words it: the errno only inside the text
        raise OSError(f"Unable to synchronously create file (unable to open file: name = '{args[0]}', "
                      f"errno = {code}, error message = '{words}', flags = 13, o_flags = 242)")

    monkeypatch.setattr(h5py, "File", refuse)

    def main(args):
        with atomic_h5(args.out, "train_layer", {}, 0) as f:
            f["x"] = 1

    assert _cli(main, [str(out)], monkeypatch) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: {out}: cannot write it: {words} ({errno.errorcode[code]}); ")
    assert "Then rerun" in line


def test_unwritable_results_folder_is_one_line(tmp_path, monkeypatch, capsys):
    # a folder the user cannot write: a real one where permissions apply (not as root), else simulated
    results = tmp_path / "results"
    results.mkdir()
    out = results / "data.h5"
    if os.geteuid() == 0:
        def refuse(*args, **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied", str(args[0]))

        monkeypatch.setattr(h5py, "File", refuse)
    else:
        results.chmod(0o555)

    def main(args):
        with atomic_h5(args.out, "prepare_data", {}, 0) as f:
            f["x"] = 1

    try:
        assert _cli(main, [str(out)], monkeypatch) == 2
    finally:
        results.chmod(0o755)
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: {out}: cannot write it: Permission denied (EACCES); make {results} writable")


def test_storage_oserror_outside_a_writer_names_its_file(tmp_path, monkeypatch, capsys):
    log = tmp_path / "ro" / "progress.txt"

    def main(args):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), args.out)

    assert _cli(main, [str(log)], monkeypatch) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: {log}: cannot write it: Read-only file system (EROFS); {log.parent} is on a "
                           "read-only file system")


# ---- issue 20 case 9: a bad image met in a DataLoader worker is the same one line as without workers ----


def test_truncated_jpeg_in_a_worker_is_the_one_line_error(tmp_path, monkeypatch, capsys):
    from PIL import Image

    from layerwise.data.prepare import prepare
    from layerwise.graph.features import load_features

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in ("n01", "n02"):
            (tmp_path / "tree" / split / c).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(
                    tmp_path / "tree" / split / c / f"{c}_{i}.JPEG", quality=95)
    data = tmp_path / "data.h5"
    prepare("imagenet", {"kind": "imagenet", "root": str(tmp_path / "tree"), "verify_images": "header"}, data)
    bad = tmp_path / "tree" / "train" / "n02" / "n02_1.JPEG"
    _truncate(bad)  # the header still reads: only a full decode (in the worker) fails
    capsys.readouterr()  # prepare's progress bar
    expected = None
    for workers in (0, 1):  # in the job's process, then in a worker process: the same line
        def main(args, workers=workers):
            load_features("pixels", data, None, 8, 0, side=16, workers=workers)

        assert _cli(main, [str(tmp_path / "graph.h5")], monkeypatch) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"error: {bad}: cannot decode this image") and "Caught" not in line
        expected = expected or line
        assert line == expected
