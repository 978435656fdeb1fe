"""The one training loop (layerwise.training.loop) as every trainer uses it.

A job killed right after its k-th checkpoint and rerun must end with the weights
of an uninterrupted run (and must have resumed, not started over); a non-finite
loss must stop every trainer with the same one-line error; the CLI removes its
``<output>.scratch/`` folder once its output is written.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from learnable import CLASSES, bars

from layerwise.autoencoder.procedure import train_augmented
from layerwise.autoencoder.residual import train_residual
from layerwise.clustering.dlc import Standardize
from layerwise.clustering.training import Budget, train_classifier, train_early_stopping
from layerwise.data.store import write_arrays
from layerwise.errors import InputError
from layerwise.parsimonious import experiment
from layerwise.training import checkpoint, loop
from layerwise.training.checkpoint import Scratch
from layerwise.training.loop import TrainingDiverged

sys.path.insert(0, str(Path(__file__).parent))
from test_augmented import CFG as AUG
from test_parsimonious_learning import CFG as PARS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def _mlp(dropout=0.3):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Dropout(dropout),
                               torch.nn.Linear(32, 2))


def _points():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(160, 10)), dtype=torch.float32)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).long()


def run_clustering(scratch, lr=0.05):
    x, y = _points()
    model = _mlp()
    train_early_stopping(model, x[:120], y[:120], x[120:], y[120:], Budget(50, 7, 3, lr, 16), 0, "cpu", scratch)
    return model


def run_probe(scratch, lr=0.01):
    x, y = _points()
    model = _mlp()
    train_classifier(model, x, y, 4, lr, 32, 1, "cpu", scratch)
    return model


def run_parsimonious(scratch, lr=PARS["lr"]):
    x, y = bars(48, seed=0)
    cfg = {**PARS, "epochs": 4, "patience": 2, "lr": lr}
    model = experiment.build("sample", cfg, 3, 16, CLASSES, seed=0)
    experiment.train(model, Standardize.fit(x), x, y.numpy(), "sample", cfg, 0, "cpu", scratch,
                     val=(x[:8], y[:8].numpy()))
    return model


def run_augmented(scratch, lr=AUG["classifier_lr"]):
    x, y = bars(24, side=32, seed=1)
    cfg = {**AUG, "classifier_epochs": 3, "classifier_lr": lr, "patience": 2}
    net, _, _ = train_augmented("classifier", cfg, (x[:16], y[:16]), (x[16:], y[16:]), CLASSES, scratch,
                                "cpu", val=(x[16:], y[16:]))
    return net


def run_autoencoder(scratch, lr=0.003):
    x, _ = bars(32, seed=2)
    cfg = {"width": 0.125, "epochs": 3, "batch_size": 8, "optimizer": "sgd", "momentum": 0.9, "lr": lr,
           "weight_decay": 0.0, "seed": 0}
    model, _ = train_residual(x, cfg, scratch, "cpu")
    return model


TRAINERS = {"clustering": run_clustering, "probe": run_probe, "parsimonious": run_parsimonious,
            "augmented": run_augmented, "autoencoder": run_autoencoder}


class Killed(Exception):
    pass


REAL_SAVE = checkpoint.save


def count_saves(monkeypatch, kill_after=None):
    """Count checkpoint writes; raise Killed right after write ``kill_after`` (the file is on disk)."""
    saves = []

    def save(path, state):
        REAL_SAVE(path, state)
        saves.append(path)
        if len(saves) == kill_after:
            raise Killed

    monkeypatch.setattr(loop.checkpoint, "save", save)
    return saves


@pytest.mark.parametrize("name", TRAINERS)
def test_a_job_killed_after_a_checkpoint_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path, monkeypatch,
                                                                                      name):
    train = TRAINERS[name]
    full_saves = count_saves(monkeypatch)
    reference = train(Scratch(tmp_path / "ref"))
    assert len(full_saves) >= 3, "too few checkpoints to kill in the middle"
    count_saves(monkeypatch, kill_after=2)
    with pytest.raises(Killed):
        train(Scratch(tmp_path / "run"))
    assert list((tmp_path / "run").glob("*.ckpt"))
    resumed_saves = count_saves(monkeypatch)
    resumed = train(Scratch(tmp_path / "run"))
    assert len(resumed_saves) == len(full_saves) - 2  # it resumed rather than started over
    a, b = reference.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


@pytest.mark.parametrize("name", TRAINERS)
def test_a_checkpoint_of_other_inputs_is_not_resumed(tmp_path, monkeypatch, name):
    """Same folder, other data file: the fingerprint differs, so the job starts over."""
    (tmp_path / "a.h5").write_bytes(b"one")
    (tmp_path / "b.h5").write_bytes(b"two")
    train = TRAINERS[name]
    reference = train(None)
    count_saves(monkeypatch, kill_after=2)
    with pytest.raises(Killed):
        train(Scratch(tmp_path / "run", inputs={"data": tmp_path / "a.h5"}))
    saves = count_saves(monkeypatch)
    other = train(Scratch(tmp_path / "run", inputs={"data": tmp_path / "b.h5"}))
    assert len(saves) >= 3  # started over: as many checkpoints as a whole run
    a, b = reference.state_dict(), other.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", TRAINERS)
def test_a_non_finite_loss_stops_every_trainer_with_one_error(name):
    with pytest.raises(
        TrainingDiverged, match=r"non-finite (loss \S+|gradient) at epoch \d+, step \d+, lr 1e\+30"
    ) as err:
        TRAINERS[name](None, lr=1e30)
    assert isinstance(err.value, InputError)  # run_cli prints it as one `error:` line
    assert "\n" not in str(err.value)


def test_parsimonious_cli_removes_its_scratch_folder(tmp_path):
    x, y = bars(40, seed=3)
    data = tmp_path / "data.h5"
    write_arrays(data, x.permute(0, 2, 3, 1).numpy(), y.numpy(), [str(c) for c in range(CLASSES)],
                 {"train": np.arange(32), "test": np.arange(32, 40)}, params={}, seed=0)
    out = tmp_path / "runs" / "baseline-s0.h5"
    cfg = {**PARS, "epochs": 1, "preset": "custom", "val_fraction": 0.25, "split_seed": 0, "nmi_seed": 0}
    cmd = [sys.executable, "workflow/scripts/train_parsimonious.py", "--data", str(data), "--kind", "bars",
           "--method", "baseline", "--seed", "0", "--params", json.dumps(cfg), "--output", str(out)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT / "workflow/scripts"), "CUDA_VISIBLE_DEVICES": "",
                            "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert out.exists() and not Path(f"{out}.scratch").exists()


def test_steps_after_a_mid_epoch_evaluation_train_in_training_mode():
    """Evaluation puts the model in eval mode; the next steps must use dropout again."""
    seen = []

    class Record(torch.nn.Module):
        def forward(self, x):
            seen.append((len(x), self.training))
            return x

    x, y = _points()
    model = torch.nn.Sequential(Record(), _mlp())
    train_early_stopping(model, x[:120], y[:120], x[120:], y[120:], Budget(20, 3, 100, 0.05, 16), 0, "cpu")
    steps = [training for n, training in seen if n != 40]  # the 40 validation rows go in one batch
    assert len(steps) == 20 and all(steps)
    assert [training for n, training in seen if n == 40] == [False] * 8  # baseline + 7 evaluations


def test_augmented_cli_removes_its_scratch_folder(tmp_path):
    x, y = bars(40, side=32, seed=3)
    data = tmp_path / "data.h5"
    write_arrays(data, x.permute(0, 2, 3, 1).numpy(), y.numpy(), [str(c) for c in range(CLASSES)],
                 {"train": np.arange(32), "test": np.arange(32, 40)}, params={}, seed=0)
    out = tmp_path / "classifier" / "model.pt"
    cmd = [sys.executable, "workflow/scripts/train_augmented.py", "--data", str(data), "--name", "classifier",
           "--out", str(out), "--eval", str(out.with_name("eval.h5")),
           "--params", json.dumps({**AUG, "val_fraction": 0.25, "patience": 1})]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT / "workflow/scripts"), "CUDA_VISIBLE_DEVICES": "",
                            "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["eval.h5", "model.pt"]
