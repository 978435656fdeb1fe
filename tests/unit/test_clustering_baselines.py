"""Paper 001 Figure 3 runs on small learnable data: no baseline may be dead, and the fairness machinery holds.

The data is the plain model of §3.1 (uniform last level, labels readable from
pixel means), so every method has signal to find; a method at chance here is
broken (the Clustering+JL of the issue: n < k and dlc's bias zeroed 98 % of
its features), not hard.
"""

import numpy as np
import pytest
import torch

from conftest import synthetic_params
from layerwise.clustering.experiment import run_variant, settings
from layerwise.clustering.standardize import FeatureStandardizer
from layerwise.clustering.training import Budget, train_early_stopping, validation_split
from layerwise.data import store, synthetic

torch.set_num_threads(1)
CHANCE, MARGIN = 0.25, 0.30  # 4 labels; every baseline must reach chance + 30 points

BLOCKS = dict(num_patches=3000, clusters=[24, 24], channels=[24, 24], patch_size=2, stride="paper",
              init_scale=0.01, kmeans_iterations=20)
CFG = dict(
    methods=["dlc", "jl", "cnn", "cnn-random", "pixels"], heads=["linear"], seeds=[0], preset="custom",
    train_size=None, validation_fraction=0.15, max_steps=400, eval_every=50, patience=3, lr=0.003,
    batch_size=32, fc_hidden=[32, 16], svm_C=[0.1, 1.0], svm_solver="torch", recovery_points=2000,
    threads=1, mem_mb=1000, dlc={**BLOCKS, "bias": -0.8}, jl={**BLOCKS, "bias": 0.0}, cnn={"width": 16}, paper={},
)


@pytest.fixture(scope="module")
def learnable(tmp_path_factory):
    p = synthetic_params(num_classes=4, semantic_size=4, classes_per_level=[4, 4], patches_per_class=2,
                         prototypes_per_class=1, noise_std=4.0, n_train=480, n_test=160)
    s = synthetic.generate(p)
    path = tmp_path_factory.mktemp("data") / "data.h5"
    store.write_arrays(path, s["images"], s["labels"], s["class_names"], s["splits"], params=p, seed=0,
                       extra=synthetic.ground_truth(s))
    return path


@pytest.mark.parametrize("method", ["jl", "cnn", "cnn-random", "dlc"])
def test_baseline_beats_chance_on_learnable_data(learnable, method):
    _, res, used = run_variant(learnable, method, "linear", 0, CFG, "cpu")
    print(
        f"{method}: svm test {res['svm_test_accuracy']:.3f}, head test {res['test_accuracy']:.3f}, steps {res['steps']}"
    )
    assert res["svm_test_accuracy"] >= CHANCE + MARGIN
    assert res["test_accuracy"] >= CHANCE + MARGIN
    assert res["n_fit"] + res["n_val"] == 480 and res["n_val"] == 72  # 15 % carved, stratified
    assert used["seed"] == 0 and used["method"] == method


def test_each_method_gets_its_own_settings_and_the_paper_preset_from_config():
    cfg = {**CFG, "preset": "paper", "paper": {"jl-linear": {"clusters": [5, 7], "channels": [5, 7], "bias": -0.01},
                                               "cnn-linear": {"width": 64, "clusters": [9]}}}
    jl, dlc_ = settings(cfg, "jl", "linear", 1), settings(cfg, "dlc", "linear", 1)
    assert jl["bias"] == -0.01 and jl["clusters"] == [5, 7] and jl["channels"] == [5, 7]
    assert dlc_["bias"] == -0.8 and dlc_["clusters"] == [24, 24]  # no paper block for dlc-linear here
    cnn = settings(cfg, "cnn", "linear", 2)
    assert cnn["width"] == 64 and "clusters" not in cnn and cnn["seed"] == 2


def test_validation_split_is_stratified_disjoint_and_seeded():
    y = np.repeat(np.arange(5), [40, 20, 20, 10, 10])
    tr, va = validation_split(y, 0.1, seed=3)
    assert np.intersect1d(tr, va).size == 0 and len(tr) + len(va) == len(y)
    assert np.array_equal(np.bincount(y[va]), [4, 2, 2, 1, 1])
    assert np.array_equal(va, validation_split(y, 0.1, seed=3)[1])
    assert not np.array_equal(va, validation_split(y, 0.1, seed=4)[1])


def test_feature_standardizer_uses_training_statistics():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(3.0, 5.0, size=(200, 6)), dtype=torch.float32)
    x[:, 2] = 7.0  # constant feature: std 1, no division by zero
    z = FeatureStandardizer.fit(x)(x)
    np.testing.assert_allclose(z.mean(0).numpy(), 0, atol=1e-5)
    ref = (x.numpy() - x.numpy().mean(0)) / np.where(x.numpy().std(0) > 0, x.numpy().std(0), 1)
    np.testing.assert_allclose(z.numpy(), ref, atol=1e-4)


def test_early_stopping_restores_the_best_validation_weights():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(300, 10)), dtype=torch.float32)
    y = (x[:, 0] + 0.5 * torch.tensor(rng.normal(size=300), dtype=torch.float32) > 0).long()
    budget = Budget(max_steps=120, eval_every=20, patience=2, lr=0.05, batch_size=16)

    def run(steps=None):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(10, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
        b = budget if steps is None else Budget(steps, 20, 2, 0.05, 16)
        hist = train_early_stopping(model, x[:200], y[:200], x[200:], y[200:], b, 0, "cpu")
        return model, hist

    model, hist = run()
    losses = [e[2] for e in hist["evals"]]
    assert hist["best_val_loss"] == min(losses) and hist["best_step"] == hist["evals"][int(np.argmin(losses))][0]
    val_loss = torch.nn.functional.cross_entropy(model(x[200:]), y[200:]).item()
    assert abs(val_loss - hist["best_val_loss"]) < 1e-5  # the best weights are the ones returned
    # a killed run's resume is tested for every trainer in test_training_loop.py
