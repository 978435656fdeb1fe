"""Probes on an eval.h5 fixture in the layer-wise stage's format; figure and CSV written."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from layerwise.h5io import atomic_h5
from layerwise.probes.figure import plot, probe_frame
from layerwise.probes.probe import load_features, read_probes, run_probes, write_probes

torch.set_num_threads(1)
CFG = dict(probes=["linear", "cnn1", "cnn2", "svm"], linear_C=1.0, svm_C=1.0, svm_solver="torch",
           cnn_width=8, epochs=15, lr=0.01, batch_size=32, seed=0)


def _eval_file(path, layer, noise):
    rng = np.random.default_rng(layer)
    means = rng.normal(size=(3, 4, 2, 2)).astype(np.float32)
    ys = {s: rng.integers(0, 3, n) for s, n in (("train", 150), ("test", 90))}
    with atomic_h5(path, "train_layer", {}, 0) as f:
        for split, y in ys.items():
            x = means[y] + noise * rng.normal(size=(len(y), 4, 2, 2)).astype(np.float32)
            f["features/" + split] = x.astype(np.float32)
            f[f"features/{split}_labels"] = y.astype(np.int64)
            f[f"features/{split}_index"] = np.arange(len(y))
        f.attrs["run"], f.attrs["layer"] = "simcnn-k1.robust-hier-s0", layer


def test_probes_against_sklearn_and_figure(tmp_path):
    paths = []
    for layer, noise in ((1, 2.0), (2, 0.3)):
        _eval_file(tmp_path / f"eval{layer}.h5", layer, noise)
        xtr, ytr, xte, yte, attrs = load_features(tmp_path / f"eval{layer}.h5")
        res = run_probes(xtr, ytr, xte, yte, CFG, "cpu")
        ref = OneVsRestClassifier(LogisticRegression(C=1.0, max_iter=5000))
        z = (xtr.reshape(150, -1) - xtr.reshape(150, -1).mean(0)) / xtr.reshape(150, -1).std(0)
        zt = (xte.reshape(90, -1) - xtr.reshape(150, -1).mean(0)) / xtr.reshape(150, -1).std(0)
        assert res["linear"][1] == pytest.approx(ref.fit(z, ytr).score(zt, yte), abs=0.012)
        for train, test in res.values():
            assert 0 <= train <= 1 and 0 <= test <= 1
        if noise < 1:  # well separated classes: every probe separates them
            assert min(test for _, test in res.values()) >= 0.95
        out = tmp_path / f"probe{layer}.h5"
        write_probes(out, res, attrs, CFG, 0)
        stored = read_probes(out)[1]
        for name, values in res.items():
            assert stored[name] == pytest.approx(values, abs=1e-6)
        paths.append(out)
    frame = probe_frame(paths)
    assert len(frame) == 8 and set(frame["layer"]) == {1, 2}
    plot(frame, "fixture", tmp_path / "probes.png")
    assert (tmp_path / "probes.png").stat().st_size > 1000


def test_probe_plan_per_dataset_presets_paired_seeds_and_k_groups():
    """Figure 3 averages runs of equal k over M and seeds; presets may be given per dataset."""
    from layerwise.probes.plan import probe_files, probe_groups

    models = {"a-m8": {"k": 1, "layers": 2}, "a-m16": {"k": 1, "layers": 2},
              "b": {"k": 3, "layers": 1}, "e": {"k": 1, "layers": 2, "train": "e2e"}}
    config = {"layerwise": {"seeds": [0], "profiles": {"c10": {"models": models}}},
              "probes": {"presets": {"c10": ["a-m8", "a-m16", "b"]}, "sampler": "shuffle",
                         "seeds": [0, 1]}}
    files = probe_files(config, "c10", lambda d, p: models[p]["layers"])
    assert "results/c10/probes/a-m8.shuffle-s1-s1/layer2.h5" in files
    assert len(files) == (2 + 2 + 1) * 2
    assert probe_groups(config, "c10") == {"a-m8": "SimCNN k=1", "a-m16": "SimCNN k=1", "b": "SimCNN k=3"}
    config["probes"]["presets"] = {"other": ["b"]}
    assert probe_files(config, "c10", lambda d, p: 1) == []
    config["probes"].update(presets=None, sampler="robust-hier", seeds=None)
    assert probe_files(config, "c10", lambda d, p: 1) == [
        f"results/c10/probes/{p}.robust-hier-s0/layer1.h5" for p in ("a-m8", "a-m16", "b")]


def test_figure_averages_a_group_over_its_presets(tmp_path):
    """Two presets of one group, two layers, hand-set accuracies: the plotted curve is the
    per-layer mean of the stored values (and a separate group stays separate); integer ticks."""
    import matplotlib.pyplot as plt

    from layerwise.probes.figure import figure

    acc = {("p-m8", 1): 0.40, ("p-m16", 1): 0.60, ("p-m8", 2): 0.70, ("p-m16", 2): 0.90,
           ("q", 1): 0.20, ("q", 2): 0.30}
    paths = []
    for (preset, layer), test in acc.items():
        path = tmp_path / f"{preset}-{layer}.h5"
        write_probes(path, {"linear": (1.0, test)}, {"run": f"{preset}.shuffle-s0-s0", "layer": layer}, CFG, 0)
        paths.append(path)
    frame = probe_frame(paths, {"p-m8": "k=1", "p-m16": "k=1", "q": "k=3"})
    fig = figure(frame, "fixture")
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in fig.axes[0].lines}
    assert lines["k=1"] == ([1, 2], pytest.approx([0.50, 0.80]))
    assert lines["k=3"] == ([1, 2], pytest.approx([0.20, 0.30]))
    fig.canvas.draw()
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= 2]
    assert ticks == [1, 2]  # no 1.5 between layers
    plt.close(fig)
