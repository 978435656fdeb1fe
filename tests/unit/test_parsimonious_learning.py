"""Paper 004's quick CNN and regulariser on data they must learn (tests/unit/learnable.py):
a dead or broken baseline fails here, whatever the demo data allows.

Peers: scikit-learn's KMeans and normalized_mutual_info_score measure the ip1
representation independently of the pipeline's own k-means and NMI.
"""

import numpy as np
import pytest
import torch
from learnable import CLASSES, bars
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

from layerwise.clustering.dlc import Standardize
from layerwise.clustering.metrics import nmi
from layerwise.errors import InputError
from layerwise.parsimonious import experiment
from layerwise.training.loop import TrainingDiverged

CFG = {
    "epochs": 8,
    "batch_size": 32,
    "lr": 0.01,
    "lr_step": 100,
    "lr_decay": 0.1,
    "momentum": 0.9,
    "weight_decay": 0.004,
    "strong_weight_decay": 0.01,
    "dropout": 0.5,
    "clusters": 8,
    "lambdas": [0.0, 0.0, 0.0, 1.0],
    "alpha": 0.9,
    "reseed_every": 10,
    "reseed_min": 2,
    "pools": ["max", "avg", "avg"],
    "patience": 0,
}
CHANCE = 1 / CLASSES
MARGIN = 0.4  # a working quick CNN is near 100 % here; chance is 25 %


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    xtr, ytr = bars(400, seed=0)
    xte, yte = bars(200, seed=1)
    std = Standardize.fit(xtr)
    out = {}
    for method in ("baseline", "sample"):
        model = experiment.build(method, CFG, 3, 16, CLASSES, seed=0)
        experiment.train(model, std, xtr, ytr.numpy(), method, CFG, 0, "cpu")
        acc, feats = experiment.evaluate(model, std, xte, yte.numpy(), "cpu")
        out[method] = (acc, feats.astype(np.float64))
    return out, yte.numpy()


def within_cluster_ratio(feats, k):
    """Scale-free k-means objective: within-cluster sum of squares over the total (scikit-learn)."""
    km = KMeans(k, n_init=4, random_state=0).fit(feats)
    return km.inertia_ / ((feats - feats.mean(0)) ** 2).sum()


def test_quick_cnn_beats_chance_by_the_margin(trained):
    runs, _ = trained
    for method, (acc, _) in runs.items():
        assert acc >= CHANCE + MARGIN, f"{method}: test accuracy {acc:.3f}"


def test_sample_clustering_tightens_ip1_clusters_without_lowering_nmi(trained):
    runs, truth = trained
    base, reg = runs["baseline"][1], runs["sample"][1]
    # the quantity R targets: distance of ip1 rows to K = `clusters` centres, relative to their spread
    assert within_cluster_ratio(reg, CFG["clusters"]) < 0.9 * within_cluster_ratio(base, CFG["clusters"])
    peer = {}
    for name, feats in (("baseline", base), ("sample", reg)):
        labels = KMeans(CLASSES, n_init=4, random_state=0).fit(feats).labels_
        peer[name] = normalized_mutual_info_score(truth, labels)
    assert peer["sample"] >= peer["baseline"] - 0.02
    ours, _ = experiment.representation_nmi(reg.astype(np.float32), truth, 0)
    assert ours >= peer["baseline"] - 0.05


def test_table3_nmi_matches_scikit_learn_on_majority_labels():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, 300)
    clusters = np.where(rng.random(300) < 0.7, truth, rng.integers(0, 7, 300))
    majority = experiment.majority_labels(truth, clusters)
    assert nmi(truth, majority) == pytest.approx(normalized_mutual_info_score(truth, majority), abs=1e-9)


def test_validation_split_is_stratified_disjoint_and_seeded():
    labels = np.repeat(np.arange(4), [40, 30, 20, 10])
    fit, val = experiment.validation_split(labels, 0.1, seed=3)
    assert len(np.intersect1d(fit, val)) == 0 and len(fit) + len(val) == len(labels)
    assert np.bincount(labels[val]).tolist() == [4, 3, 2, 1]
    assert np.array_equal(val, experiment.validation_split(labels, 0.1, seed=3)[1])
    assert not np.array_equal(val, experiment.validation_split(labels, 0.1, seed=4)[1])
    with pytest.raises(InputError, match="val_fraction"):
        experiment.validation_split(np.array([0, 1, 1]), 0.5, seed=0)


def test_paper_preset_comes_from_config_and_names_the_key():
    cfg = {"preset": "paper", "clusters": 20, "paper_settings": {"cifar10": {"clusters": 100, "alpha": 0.9}}}
    assert experiment.resolve(cfg, "cifar10")["clusters"] == 100
    assert experiment.resolve({**cfg, "preset": "custom"}, "cifar10")["clusters"] == 20
    with pytest.raises(InputError, match="paper_settings"):
        experiment.resolve(cfg, "synthetic")


def test_early_stopping_keeps_the_best_validation_epoch(monkeypatch):
    torch.set_num_threads(1)
    xtr, ytr = bars(64, seed=0)
    std = Standardize.fit(xtr)
    cfg = {**CFG, "epochs": 8, "patience": 2}
    model = experiment.build("baseline", cfg, 3, 16, CLASSES, seed=0)
    scripted, seen = iter([0.3, 0.6, 0.5, 0.6, 0.9, 0.9]), []

    def fake_evaluate(net, *args, **kwargs):  # validation accuracy per epoch, weights recorded
        seen.append({k: v.clone() for k, v in net.state_dict().items()})
        return next(scripted), None

    monkeypatch.setattr(experiment, "evaluate", fake_evaluate)
    fit = experiment.train(model, std, xtr, ytr.numpy(), "baseline", cfg, 0, "cpu", val=(xtr[:8], ytr[:8].numpy()))
    # best at epoch 2 (0.6; a tie later is no gain), epochs 3-4 without a gain -> stop before epoch 5
    assert (fit["best_epoch"], fit["epochs_run"], fit["val_accuracy"]) == (2, 4, 0.6)
    assert all(torch.equal(v, seen[1][k]) for k, v in model.state_dict().items())


def test_a_non_finite_loss_stops_the_run_with_one_error():
    xtr, ytr = bars(64, seed=0)
    model = experiment.build("baseline", CFG, 3, 16, CLASSES, seed=0)
    with pytest.raises(TrainingDiverged, match="non-finite loss"):
        experiment.train(model, Standardize.fit(xtr), xtr, ytr.numpy(), "baseline", {**CFG, "lr": 1e12}, 0, "cpu")
