"""Layer-wise training: frozen layers untouched, eval.h5 layout, 2^j ensemble, determinism."""

import h5py
import numpy as np
import pytest
import torch
from sklearn.metrics import top_k_accuracy_score

from layerwise.data.store import write_arrays
from layerwise.errors import InputError
from layerwise.h5io import atomic_h5
from layerwise.training.e2e import train_e2e
from layerwise.training.evaluation import ensemble, read_eval, topk
from layerwise.training.greedy import train_layer
from layerwise.training.tables import run_summary

torch.set_num_threads(1)


@pytest.fixture
def on_cpu(monkeypatch):
    """Pin training to the CPU: bit-for-bit equality is a CPU guarantee, not a CUDA one."""
    import layerwise.distributed as distributed

    monkeypatch.setattr(distributed, "pick_device", lambda: torch.device("cpu"))


def tiny_dataset(tmp_path, n=96, n_test=40, size=8, classes=3):
    rng = np.random.default_rng(0)
    y = rng.integers(0, classes, n + n_test)
    base = rng.integers(0, 80, (n + n_test, size, size, 3))
    images = (base + 60 * y[:, None, None, None]).astype(np.uint8)
    data = tmp_path / "data.h5"
    write_arrays(data, images, y, [f"c{i}" for i in range(classes)],
                 {"train": np.arange(n), "test": np.arange(n, n + n_test)}, params={}, seed=0)
    perm = rng.permutation(n)
    rows = np.full((-(-n // 16), 16), -1, dtype=np.int64)
    for i, chunk in enumerate(np.array_split(perm, len(rows))):
        rows[i, : len(chunk)] = chunk
    batches = tmp_path / "batches.h5"
    with atomic_h5(batches, "partition_batches", {}, 0) as f:
        f["batches"] = rows
        f["sizes"] = (rows != -1).sum(1)
    return data, batches


def config(layer=1, **model):
    return {
        "run": "tiny", "preset": "tiny", "layer": layer, "seed": 0, "batch_order": "shuffled",
        "augment": "none", "cache_frozen": True,
        "eval": {"pooled_size": 2, "feature_subsample": 30, "logits_dtype": "float32"},
        "schedule": {"epochs": 2, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
                     "lr_decay": 0.2, "lr_step": 1, "checkpoint_every": 3},
        "model": {"arch": "simcnn", "k": 2, "layers": 2, "width": 4, "aux_width": 6,
                  "downsample_at": [1], "batchnorm": True, **model},
    }


def train_run(tmp_path, data, batches, out, layers=2, **cfg_changes):
    prev = []
    for j in range(1, layers + 1):
        cfg = config(j)
        cfg.update(cfg_changes)
        w, e = out / f"layer{j}" / "weights.pt", out / f"layer{j}" / "eval.h5"
        frozen, net, _ = train_layer(cfg, data, batches, list(prev), w, e)
        prev.append(w)
    return prev, frozen, net


def test_frozen_layers_are_unchanged_bit_for_bit(tmp_path):
    data, batches = tiny_dataset(tmp_path)
    # without the cache the frozen stack runs (in eval mode) at every step of layer 2
    prev, frozen, _ = train_run(tmp_path, data, batches, tmp_path / "run", cache_frozen=False)
    saved = torch.load(prev[0], weights_only=False)["block"]
    live = frozen[1].state_dict()
    assert saved.keys() == live.keys()
    assert all(torch.equal(saved[k], live[k]) for k in saved)  # incl. BN running statistics
    assert not any(p.requires_grad for p in frozen.parameters())


def test_cache_gives_the_same_training_as_running_the_frozen_stack(tmp_path):
    data, batches = tiny_dataset(tmp_path)
    train_run(tmp_path, data, batches, tmp_path / "cached", cache_frozen=True)
    train_run(tmp_path, data, batches, tmp_path / "live", cache_frozen=False)
    a = read_eval(tmp_path / "cached/layer2/eval.h5")
    b = read_eval(tmp_path / "live/layer2/eval.h5")
    np.testing.assert_allclose(a["logits"], b["logits"], rtol=1e-4, atol=1e-4)


def test_eval_file_layout_and_pooled_features(tmp_path):
    data, batches = tiny_dataset(tmp_path)
    prev, frozen, net = train_run(tmp_path, data, batches, tmp_path / "run")
    with h5py.File(tmp_path / "run/layer2/eval.h5") as f:
        assert f.attrs["stage"] == "train_layer" and f.attrs["layer"] == 2 and f.attrs["run"] == "tiny"
        assert f["logits"].shape == (40, 3) and f["labels"].dtype == np.int64
        for name in ("train_loss", "train_top1", "test_top1", "test_top5"):
            assert f[f"metrics/{name}"].shape == (2,) and f[f"metrics/{name}"].dtype == np.float64
        feats, idx = f["features/test"][()], f["features/test_index"][()]
        assert feats.dtype == np.float32 and feats.shape == (30, 8, 2, 2)
        assert len(np.unique(idx)) == 30 and idx.max() < 40
        test_labels = f["labels"][()]
        assert np.array_equal(f["features/test_labels"][()], test_labels[idx])
        logits = f["logits"][()]
    # features: layer 2's output on the chosen test images, each 2x2 quadrant averaged by hand
    from layerwise.training.inputs import load_arrays, normalise

    arrays = load_arrays(data)
    with torch.no_grad():
        x = net.block(frozen(normalise(arrays.test_images[torch.as_tensor(idx)], arrays)))
        assert torch.allclose(net(frozen(normalise(arrays.test_images, arrays))), torch.as_tensor(logits), atol=1e-5)
    x = x.numpy()
    h = x.shape[2] // 2
    manual = np.stack([[x[:, :, :h, :h].mean((2, 3)), x[:, :, :h, h:].mean((2, 3))],
                       [x[:, :, h:, :h].mean((2, 3)), x[:, :, h:, h:].mean((2, 3))]]).transpose(2, 3, 0, 1)
    np.testing.assert_allclose(feats, manual, atol=1e-5)


def test_ensemble_and_topk_against_hand_formula_and_sklearn():
    rng = np.random.default_rng(1)
    z = [rng.normal(size=(50, 7)) for _ in range(3)]
    labels = rng.integers(0, 7, 50)
    np.testing.assert_allclose(ensemble(z).numpy(), 2 * z[0] + 4 * z[1] + 8 * z[2])
    for k in (1, 3, 5):
        assert topk(z[0], labels, k) == pytest.approx(
            top_k_accuracy_score(labels, z[0], k=k, labels=np.arange(7)))


def test_run_summary_uses_the_ensemble_of_all_layers(tmp_path):
    data, batches = tiny_dataset(tmp_path)
    train_run(tmp_path, data, batches, tmp_path / "run")
    paths = [tmp_path / f"run/layer{j}/eval.h5" for j in (1, 2)]
    s = run_summary(paths)
    e = [read_eval(p) for p in paths]
    z = 2 * e[0]["logits"].astype(np.float64) + 4 * e[1]["logits"]
    assert s["top1_ens"] == pytest.approx(100 * np.mean(z.argmax(1) == e[1]["labels"]))
    assert s["top1"] == pytest.approx(100 * e[1]["metrics"]["test_top1"][-1])
    assert s["train_seconds"] > 0 and s["params"] > 0


def test_same_config_same_weights_bit_for_bit(tmp_path, on_cpu):
    data, batches = tiny_dataset(tmp_path)
    a, _, _ = train_run(tmp_path, data, batches, tmp_path / "a", layers=1)
    b, _, _ = train_run(tmp_path, data, batches, tmp_path / "b", layers=1)
    sa, sb = (torch.load(p[0], weights_only=False) for p in (a, b))
    assert all(torch.equal(sa["block"][k], sb["block"][k]) for k in sa["block"])
    assert all(torch.equal(sa["head"][k], sb["head"][k]) for k in sa["head"])
    assert not (tmp_path / "a/layer1/weights.pt.scratch").exists()  # scratch removed after success


def test_e2e_writes_the_same_layout_and_augmentation_runs(tmp_path):
    data, batches = tiny_dataset(tmp_path)
    cfg = config(augment="flip_crop")
    cfg["augment"] = "flip_crop"
    train_e2e(cfg, data, batches, tmp_path / "e2e/weights.pt", tmp_path / "e2e/eval.h5")
    e = read_eval(tmp_path / "e2e/eval.h5")
    assert e["logits"].shape == (40, 3) and e["layer"] == 2
    # the memory figure's kind follows the device the job ran on
    kind = "cuda_max_allocated" if torch.cuda.is_available() else "cpu_step_tally"
    assert e["peak_mem_kind"] == kind and e["peak_mem_mb"] > 0


def test_wrong_previous_weights_are_rejected(tmp_path):
    data, batches = tiny_dataset(tmp_path)
    prev, _, _ = train_run(tmp_path, data, batches, tmp_path / "run", layers=1)
    cfg = config(2, width=5)
    with pytest.raises(InputError, match="another architecture"):
        train_layer(cfg, data, batches, prev, tmp_path / "x/weights.pt", tmp_path / "x/eval.h5")
