"""A run killed mid-layer resumes from its scratch checkpoint and ends bit-for-bit equal."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
import torch

from layerwise.h5io import atomic_h5
from layerwise.training.e2e import train_e2e
from layerwise.training.greedy import train_layer

sys.path.insert(0, str(Path(__file__).parent))
from test_layerwise import config, tiny_dataset

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def on_cpu(monkeypatch):
    """Bit-for-bit resume is asserted on the CPU (CUDA kernels need not be deterministic)."""
    import layerwise.distributed as distributed

    monkeypatch.setattr(distributed, "pick_device", lambda: torch.device("cpu"))


class Killed(Exception):
    pass


def interrupt_at(epoch_stop, step_stop):
    def hook(epoch, step):
        if (epoch, step) == (epoch_stop, step_stop):
            raise Killed

    return hook


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("stop", [(0, 5), (1, 2)])
def test_layer_resumes_to_identical_weights(tmp_path, stop):
    data, batches = tiny_dataset(tmp_path)
    cfg = config(1, batchnorm=True)
    cfg["schedule"]["epochs"] = 3
    ref_w = tmp_path / "ref/weights.pt"
    train_layer(cfg, data, batches, [], ref_w, tmp_path / "ref/eval.h5")
    w, e = tmp_path / "run/weights.pt", tmp_path / "run/eval.h5"
    with pytest.raises(Killed):
        train_layer(cfg, data, batches, [], w, e, on_step=interrupt_at(*stop))
    assert (tmp_path / "run/weights.pt.scratch/train.ckpt").exists() and not w.exists() and not e.exists()
    steps = []
    train_layer(cfg, data, batches, [], w, e, on_step=lambda ep, st: steps.append((ep, st)))
    assert steps[0] != (0, 1)  # it resumed rather than started over
    a, b = torch.load(ref_w, weights_only=False), torch.load(w, weights_only=False)
    assert states_equal(a["block"], b["block"]) and states_equal(a["head"], b["head"])
    assert not (tmp_path / "run/weights.pt.scratch").exists()  # the library removed its scratch folder


def test_e2e_with_dropout_and_augmentation_resumes_identically(tmp_path):
    data, batches = tiny_dataset(tmp_path, size=32)
    cfg = config(model=None)
    cfg["model"] = {"arch": "vgg11", "width": 2, "vgg_hidden": 8, "vgg_pool": 1, "train": "e2e"}
    cfg["augment"] = "flip_crop"
    train_e2e(cfg, data, batches, tmp_path / "ref/weights.pt", tmp_path / "ref/eval.h5")
    with pytest.raises(Killed):
        train_e2e(cfg, data, batches, tmp_path / "run/weights.pt", tmp_path / "run/eval.h5",
                  on_step=interrupt_at(1, 1))
    train_e2e(cfg, data, batches, tmp_path / "run/weights.pt", tmp_path / "run/eval.h5")
    a = torch.load(tmp_path / "ref/weights.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "run/weights.pt", weights_only=False)["model"]
    assert states_equal(a, b)


def test_sigkilled_cli_job_resumes_identically(tmp_path):
    data, batches = tiny_dataset(tmp_path, n=192)
    cfg = config(1)
    cfg["schedule"].update(epochs=40, checkpoint_every=1)

    def cli(out):
        return [sys.executable, str(ROOT / "workflow/scripts/train_layer.py"), "--data", str(data),
                "--batches", str(batches), "--weights", str(out / "weights.pt"), "--eval",
                str(out / "eval.h5"), "--params", json.dumps(cfg)]

    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow/scripts"), "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run(cli(tmp_path / "ref"), check=True, env=env, capture_output=True)
    proc = subprocess.Popen(cli(tmp_path / "run"), env=env, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "run/weights.pt.scratch/train.ckpt"
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if (tmp_path / "run/weights.pt").exists():
        pytest.skip("the job finished before it could be killed")
    assert ckpt.exists()
    subprocess.run(cli(tmp_path / "run"), check=True, env=env, capture_output=True)
    a = torch.load(tmp_path / "ref/weights.pt", weights_only=False)
    b = torch.load(tmp_path / "run/weights.pt", weights_only=False)
    assert states_equal(a["block"], b["block"]) and states_equal(a["head"], b["head"])


def test_resume_starts_over_when_an_earlier_layer_or_the_batches_changed(tmp_path):
    """The fingerprint hashes layer 1's weights.pt and the batches file: a checkpoint of
    layer 2 made on other inputs is not resumed."""
    data, batches = tiny_dataset(tmp_path)
    l1 = tmp_path / "run/layer1"
    train_layer(config(1), data, batches, [], l1 / "weights.pt", l1 / "eval.h5")
    w2, e2 = tmp_path / "run/layer2/weights.pt", tmp_path / "run/layer2/eval.h5"
    with pytest.raises(Killed):
        train_layer(config(2), data, batches, [l1 / "weights.pt"], w2, e2, on_step=interrupt_at(1, 2))
    ckpt = torch.load(tmp_path / "run/layer2/weights.pt.scratch/train.ckpt", weights_only=False)
    # one process: one rank's random states, its CUDA state present exactly on a CUDA host
    assert len(ckpt["ranks"]) == 1 and ckpt["ranks"][0]["rng"].dtype == torch.uint8
    assert (ckpt["ranks"][0]["cuda_rng"] is None) == (not torch.cuda.is_available())

    def first_step(prev, batch_file):
        steps = []
        with pytest.raises(Killed):
            train_layer(config(2), data, batch_file, prev, w2, e2,
                        on_step=lambda ep, st: (steps.append((ep, st)), interrupt_at(1, 2)(ep, st)))
        return steps[0]

    assert first_step([l1 / "weights.pt"], batches) == (1, 1)  # same inputs: resumes in epoch 2
    cfg = config(1)
    cfg["schedule"]["lr"] = 0.02  # layer 1 retrained: other weights
    train_layer(cfg, data, batches, [], l1 / "weights.pt", l1 / "eval.h5")
    assert first_step([l1 / "weights.pt"], batches) == (0, 1)  # started over
    rebuilt = tmp_path / "batches2.h5"
    with h5py.File(batches) as f, atomic_h5(rebuilt, "partition_batches", {}, 0) as g:
        g["batches"], g["sizes"] = f["batches"][()][::-1], f["sizes"][()][::-1]
    assert first_step([l1 / "weights.pt"], rebuilt) == (0, 1)
