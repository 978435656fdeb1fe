"""Decoupled greedy training: J=1 equals train_layer, per-block gradients, async = sync, resume, errors."""

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from test_layerwise import config, tiny_dataset
from torch import nn

from layerwise.errors import InputError
from layerwise.training import decoupled
from layerwise.training.decoupled import Group, Msg, train_decoupled
from layerwise.training.greedy import train_layer
from layerwise.training.loop import TrainingDiverged

torch.set_num_threads(1)
SCRIPT = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "train_decoupled.py"


def dcfg(layers=3, mode="sync", groups=1, buffer=1, epochs=2, **model):
    cfg = config(**model)
    cfg.pop("layer")
    cfg["model"].update(layers=layers, decoupled={"mode": mode, "groups": groups, "buffer": buffer})
    cfg["schedule"]["epochs"] = epochs
    cfg["precision"] = "fp32"
    return cfg


def outs(tmp_path, name, layers):
    base = tmp_path / name
    return ([base / f"layer{j}" / "weights.pt" for j in range(1, layers + 1)],
            [base / f"layer{j}" / "eval.h5" for j in range(1, layers + 1)])


def metrics(path):
    with h5py.File(path, "r") as f:
        return {k: f[f"metrics/{k}"][()] for k in f["metrics"]}, f["logits"][()], f["features/test"][()]


def same_layers(a, b):
    for wa, wb in zip(a[0], b[0], strict=True):
        sa, sb = torch.load(wa), torch.load(wb)
        for part in ("block", "head"):
            for k in sa[part]:
                assert torch.equal(sa[part][k], sb[part][k]), (wa, part, k)
    for ea, eb in zip(a[1], b[1], strict=True):
        (ma, la, fa), (mb, lb, fb) = metrics(ea), metrics(eb)
        for k in ma:
            np.testing.assert_array_equal(ma[k], mb[k], err_msg=f"{ea} {k}")
        np.testing.assert_array_equal(la, lb)
        np.testing.assert_array_equal(fa, fb)


@pytest.mark.parametrize("augment", ["none", "flip_crop"])
def test_one_block_equals_train_layer_bit_for_bit(tmp_path, augment):
    data, batches = tiny_dataset(tmp_path)
    cfg = dcfg(layers=1, downsample_at=[])
    cfg["augment"] = augment
    w, e = outs(tmp_path, "dec", 1)
    train_decoupled(cfg, data, batches, w, e, device="cpu")
    ref = {**config(), "augment": augment, "precision": "fp32"}
    ref["model"] = {k: v for k, v in cfg["model"].items() if k != "decoupled"}
    rw, re_ = outs(tmp_path, "greedy", 1)
    train_layer(ref, data, batches, [], rw[0], re_[0])
    same_layers((w, e), (rw, re_))


def test_every_block_gets_exactly_its_own_auxiliary_gradient(tmp_path):
    """One synchronous step against J separate backward passes on detached inputs (plain SGD, no wd)."""
    data, batches = tiny_dataset(tmp_path)
    cfg = dcfg(layers=3)
    cfg["schedule"].update(momentum=0.0, weight_decay=0.0, lr=0.1)
    spec = decoupled.build_spec(cfg, decoupled.open_source(data, "none", 0, 0))
    group = Group(0, spec, [1, 2, 3], cfg, torch.device("cpu"), None, 6)
    ref = copy.deepcopy([s.net for s in group.stages])
    x = torch.randn(10, 12, 4, 4)  # after the stem (invertible downsampling of 3x8x8)
    y = torch.randint(0, 3, (10,))
    group._train(Msg("train", 0, 0, x, y))
    inp = x
    for j, net in enumerate(ref):  # independent: loss_j's gradient on block j's own detached input
        before = [p.detach().clone() for p in net.parameters()]
        z = net.block(inp)
        loss = nn.functional.cross_entropy(net.head(z), y)
        grads = torch.autograd.grad(loss, list(net.parameters()))
        after = list(group.stages[j].net.parameters())
        for b, g, a in zip(before, grads, after, strict=True):
            torch.testing.assert_close(a.detach(), b - 0.1 * g, rtol=0, atol=1e-6)
        inp = z.detach()  # without the detach, loss_{j+1} would reach block j: caught above


def test_async_with_buffer_one_equals_sync(tmp_path):
    data, batches = tiny_dataset(tmp_path)
    sync = outs(tmp_path, "sync", 3)
    train_decoupled(dcfg(layers=3), data, batches, *sync, device="cpu")
    asy = outs(tmp_path, "async", 3)
    train_decoupled(dcfg(layers=3, mode="async", groups=2, buffer=1), data, batches, *asy, device="cpu")
    same_layers(sync, asy)


def test_killed_async_run_resumes_to_the_uninterrupted_result(tmp_path):
    data, batches = tiny_dataset(tmp_path, n=480)
    cfg = dcfg(layers=3, mode="async", groups=2, buffer=2, epochs=3)
    cfg["schedule"]["checkpoint_every"] = 4
    import json

    def cmd(name):
        w, e = outs(tmp_path, name, 3)
        return [sys.executable, str(SCRIPT), "--data", str(data), "--batches", str(batches),
                "--weights", *map(str, w), "--eval", *map(str, e), "--threads", "2",
                "--params", json.dumps(cfg)], (w, e)

    ref = outs(tmp_path, "ref", 3)  # async computes the synchronous arithmetic: the in-process reference
    sync = {**cfg, "model": {**cfg["model"], "decoupled": {"mode": "sync", "groups": 1, "buffer": 1}}}
    train_decoupled(sync, data, batches, *ref, device="cpu")
    c, run = cmd("run")
    commit = Path(f"{run[0][0]}.scratch") / "decoupled.commit"
    proc = subprocess.Popen(c, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (commit.exists() and json.loads(commit.read_text())["step"] >= 8):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and both group processes
    proc.wait()
    assert not run[1][0].exists(), "killed before the end: no outputs"
    steps = {p.name for p in commit.parent.glob("*.ckpt")}
    committed = json.loads(commit.read_text())["step"]
    assert {f"decoupled-g1-s{committed}.ckpt", f"decoupled-g2-s{committed}.ckpt"} <= steps
    subprocess.run(c, check=True, capture_output=True)
    same_layers(ref, run)  # the same arithmetic from the committed step: equal, not only close
    assert not commit.parent.exists()


def test_a_failing_group_stops_the_job_with_one_error_and_no_outputs(tmp_path, monkeypatch):
    data, batches = tiny_dataset(tmp_path)
    cfg = dcfg(layers=3, mode="async", groups=2)
    cfg["schedule"]["lr"] = 1e30  # block 3 (group 2) diverges
    w, e = outs(tmp_path, "bad", 3)
    with pytest.raises(InputError, match=r"group \d \(layers .*block \d.*non-finite") as err:
        train_decoupled(cfg, data, batches, w, e, device="cpu")
    assert "no weights or eval written" in str(err.value)
    assert not any(p.exists() for p in w + e)


def test_sync_divergence_names_the_step(tmp_path):
    data, batches = tiny_dataset(tmp_path)
    cfg = dcfg(layers=2)
    cfg["schedule"]["lr"] = 1e30
    w, e = outs(tmp_path, "bad", 2)
    with pytest.raises(TrainingDiverged, match="global step"):
        train_decoupled(cfg, data, batches, w, e, device="cpu")
    assert not any(p.exists() for p in w + e)


def test_settings_are_checked():
    cfg = dcfg(mode="sync", groups=2)
    with pytest.raises(InputError, match="decoupled: mode sync runs one group"):
        decoupled.settings(cfg)
    with pytest.raises(InputError, match="exceeds"):
        decoupled.split_layers(3, 4)
    assert decoupled.split_layers(5, 2) == [[1, 2, 3], [4, 5]]


def test_table_rows_time_memory_and_scores(tmp_path):
    from layerwise.training.decoupled_table import decoupled_rows, train_size
    from layerwise.training.evaluation import topk

    data, batches = tiny_dataset(tmp_path)
    dw, de = outs(tmp_path, "dec", 2)
    train_decoupled(dcfg(layers=2), data, batches, dw, de, device="cpu")
    sw, se = outs(tmp_path, "seq", 2)
    for j in (1, 2):
        ref = {**config(layer=j), "precision": "fp32"}
        ref["model"]["layers"] = 2
        train_layer(ref, data, batches, sw[: j - 1], sw[j - 1], se[j - 1])
    model = {"arch": "simcnn", "k": 2}
    rows = [{"preset": "seq", "sampler": "x", "model": {**model, "train": "layerwise"}, "runs": {"a": se}},
            {"preset": "dec", "sampler": "x", "model": {**model, "train": "decoupled"}, "runs": {"b": de}}]
    frame, curves = decoupled_rows(rows, train_size(data))
    assert list(frame["method"]) == ["sequential greedy", "decoupled sync"]
    with h5py.File(se[0]) as a, h5py.File(se[1]) as b, h5py.File(de[1]) as d:
        seq_wall = a.attrs["train_seconds"] + b.attrs["train_seconds"]
        dec_wall = d.attrs["run_train_seconds"]
        last = topk(d["logits"][()], d["labels"][()], 1) * 100
    assert frame["wall_seconds"].tolist() == pytest.approx([seq_wall, dec_wall])
    assert frame["images_per_s"].tolist() == pytest.approx([2 * 96 / seq_wall, 2 * 96 / dec_wall])
    assert frame["top1"].iloc[1] == pytest.approx(last)
    assert len(curves[0][1]) == 4 and len(curves[1][1]) == 2  # 2 layers x 2 epochs; 2 epochs at once
