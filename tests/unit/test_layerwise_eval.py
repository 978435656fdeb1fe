"""eval.h5 in bounded memory: features and logits streamed chunk by chunk equal the in-memory
computation, and identical runs give byte-identical weights.pt and eval.h5."""

import hashlib
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from test_layerwise import config, tiny_dataset

from layerwise.training import loop
from layerwise.training.evaluation import accuracy, outputs, write_eval
from layerwise.training.greedy import train_layer
from layerwise.training.inputs import load_arrays, normalise

torch.set_num_threads(1)


def test_features_of_a_split_many_chunks_long_equal_the_in_memory_computation(tmp_path, monkeypatch):
    # 700 training images: the features pass reads them in chunks of 256 (3 chunks, a short last one)
    data, batches = tiny_dataset(tmp_path, n=700, n_test=300)
    cfg = config(1)
    cfg["eval"] = {"pooled_size": 2, "feature_subsample": None, "logits_dtype": "float32"}
    cfg["schedule"].update(epochs=1)
    seen = []
    real = write_eval

    def spy(*args, **kw):  # the writer gets streams, not arrays
        seen.append((type(kw["logits"]).__name__, type(kw["features"]["train"][0]).__name__))
        return real(*args, **kw)

    monkeypatch.setattr("layerwise.training.greedy.write_eval", spy)
    frozen, net, _ = train_layer(cfg, data, batches, [], tmp_path / "w.pt", tmp_path / "eval.h5")
    assert seen == [("generator", "generator")]
    arrays = load_arrays(data)
    with torch.no_grad():
        x_train = net.block(frozen(normalise(arrays.train_images, arrays)))
        logits = net(frozen(normalise(arrays.test_images, arrays)))
    # independent pooling: the mean of each 2x2 quadrant by hand
    h = x_train.shape[2] // 2
    quads = [[x_train[:, :, :h, :h], x_train[:, :, :h, h:]], [x_train[:, :, h:, :h], x_train[:, :, h:, h:]]]
    manual = torch.stack([torch.stack([q.mean((2, 3)) for q in row], -1) for row in quads], -2)
    with h5py.File(tmp_path / "eval.h5") as f:
        assert f["features/train"].shape == (700, *manual.shape[1:])
        np.testing.assert_allclose(f["features/train"][()], manual.numpy(), atol=1e-5)
        np.testing.assert_array_equal(f["features/train_index"][()], np.arange(700))
        np.testing.assert_allclose(f["logits"][()], logits.numpy(), atol=1e-5)
        hits = (logits.argmax(1) == arrays.test_labels).double().mean()
        assert f["metrics/test_top1"][-1] == float(hits)


def test_accuracy_counts_on_the_device_like_topk_over_the_whole_split():
    g = torch.Generator().manual_seed(0)
    x, labels = torch.randn(1000, 7, generator=g), torch.randint(0, 7, (1000,), generator=g)
    chunks = (x[s : s + 128] for s in range(0, 1000, 128))
    top1, top3 = accuracy(lambda t: t, chunks, labels, torch.device("cpu"), ks=(1, 3))
    ranks = (x > x.gather(1, labels.view(-1, 1))).sum(1)  # how many logits beat the label's
    assert top1 == float((ranks < 1).double().mean()) and top3 == float((ranks < 3).double().mean())


def test_streamed_and_whole_array_eval_files_are_byte_identical(tmp_path):
    rng = np.random.default_rng(0)
    logits, feats = rng.normal(size=(90, 5)).astype(np.float32), rng.normal(size=(70, 4, 2, 2))
    kw = dict(params={"a": 1}, seed=0, layer=1, run="r", labels=np.arange(90) % 5,
              metrics={k: [0.5] for k in ("train_loss", "train_top1", "test_top1", "test_top5")},
              attrs={"preset": "p"})
    index, labs = np.arange(70), np.arange(70) % 5
    write_eval(tmp_path / "a.h5", logits=logits, features={"train": (feats, index, labs)}, **kw)
    streams = outputs(lambda t: t, (torch.as_tensor(logits[s : s + 16]) for s in range(0, 90, 16)), "cpu")
    parts = (F.avg_pool2d(torch.as_tensor(feats[s : s + 32]), 1) for s in range(0, 70, 32))
    write_eval(tmp_path / "b.h5", logits=streams, features={"train": (parts, index, labs)}, **kw)
    assert sha(tmp_path / "a.h5") == sha(tmp_path / "b.h5")


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_identical_runs_write_byte_identical_weights_and_eval(tmp_path, monkeypatch):
    # train_seconds is a measurement; with one fake clock both runs measure the same time, so any
    # other difference (temporary names inside the archive, HDF5 timestamps) shows in the hashes
    data, batches = tiny_dataset(tmp_path)

    class Clock:
        t = 0.0

        @classmethod
        def perf_counter(cls):
            cls.t += 1.0
            return cls.t

        monotonic = perf_counter

    hashes = []
    for name in ("a", "b"):
        Clock.t = 0.0
        monkeypatch.setattr(loop, "time", Clock)
        monkeypatch.setattr("layerwise.distributed.pick_device", lambda: torch.device("cpu"))
        out = tmp_path / name
        train_layer(config(1), data, batches, [], out / "weights.pt", out / "eval.h5")
        hashes.append((sha(out / "weights.pt"), sha(out / "eval.h5")))
    assert hashes[0] == hashes[1]


def test_a_profile_eval_key_overrides_layerwise_eval_and_null_inherits():
    import yaml

    from layerwise.training.runs import RunPlan

    lw = {"eval": {"pooled_size": 2, "feature_subsample": None, "logits_dtype": "float32"},
          "profiles": {"imagenet": {"eval": {"pooled_size": None, "feature_subsample": 10000,
                                             "logits_dtype": "float16"}}, "cifar10": {}}}
    plan = RunPlan({"layerwise": lw})
    assert plan.eval_settings("imagenet") == {"pooled_size": 2, "feature_subsample": 10000, "logits_dtype": "float16"}
    assert plan.eval_settings("cifar10") == lw["eval"]
    shipped = yaml.safe_load((Path(__file__).resolve().parents[2] / "config/config.yaml").read_text())
    assert shipped["layerwise"]["profiles"]["imagenet"]["eval"]["feature_subsample"] == 10000
