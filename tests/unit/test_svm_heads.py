"""The torch one-vs-rest solvers against scikit-learn's LinearSVC and LogisticRegression."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from layerwise.clustering.svm import fit_linear_ovr, fit_sklearn_svc


def _problem(seed, classes=4, n=400, d=12):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(d, classes))
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(size=d)
    y = (x @ w + 1.5 * rng.normal(size=(n, classes))).argmax(1)
    return x[:300], y[:300], x[300:], y[300:]


@pytest.mark.parametrize("seed,classes", [(0, 4), (1, 2), (2, 5)])
def test_squared_hinge_matches_linearsvc(seed, classes):
    xtr, ytr, xte, yte = _problem(seed, classes)
    ours = fit_linear_ovr(xtr, ytr, c=1.0, loss="squared_hinge")
    ref = fit_sklearn_svc(xtr, ytr, c=1.0)
    assert abs(ours.accuracy(xte, yte) - ref.accuracy(xte, yte)) <= 0.005
    assert abs(ours.accuracy(xtr, ytr) - ref.accuracy(xtr, ytr)) <= 0.005
    np.testing.assert_allclose(ours.weight, ref.weight, atol=2e-3 * np.abs(ref.weight).max())


def test_logistic_matches_sklearn_ovr():
    xtr, ytr, xte, yte = _problem(3, 4)
    ours = fit_linear_ovr(xtr, ytr, c=1.0, loss="logistic")
    z = (xtr - ours.mean) / ours.std
    ref = OneVsRestClassifier(LogisticRegression(C=1.0, tol=1e-10, max_iter=10000)).fit(z, ytr)
    assert abs(ours.accuracy(xte, yte) - ref.score((xte - ours.mean) / ours.std, yte)) <= 0.005
    coef = np.vstack([e.coef_ for e in ref.estimators_])
    np.testing.assert_allclose(ours.weight, coef, atol=1e-3 * np.abs(coef).max())


def _primal(model, x, y, c):
    """liblinear's squared-hinge OvR primal (intercept penalised, intercept_scaling 1) at ``model``'s weights."""
    z = np.hstack([(x - model.mean) / model.std, np.ones((len(x), 1))])
    w = np.hstack([model.weight, model.bias[:, None]])
    sign = np.where(y[:, None] == model.classes[None, :], 1.0, -1.0)
    return 0.5 * (w**2).sum() + c * (np.maximum(0.0, 1.0 - sign * (z @ w.T)) ** 2).sum()


def _dlc_block_features(n_train=300, n_test=300, k=48):
    """The SVM's regime in the demo: ReLU(cos + b) + max-pool features of a k-means cluster conv
    (dlc's first block, untrained) on the moment-matched synthetic data; wide (d >> n), sparse, separable."""
    from layerwise.clustering.dlc import ClusterConv, Standardize, conv_geometry, sample_patches
    from layerwise.clustering.kmeans import kmeans
    from layerwise.data import synthetic

    params = dict(semantic="random", num_classes=10, semantic_size=4, patch_size=2, classes_per_level=[8, 8],
                  patches_per_class=4, prototypes_per_class=2, resample_prob=0.0, channels=3, noise_std=4.0,
                  last_level="matched", grid_offset=1, n_train=n_train, n_test=n_test, seed=0)
    s = synthetic.generate(params)
    x = torch.from_numpy(np.ascontiguousarray(s["images"].transpose(0, 3, 1, 2)))
    std = Standardize.fit(x[:n_train])
    stride, pool = conv_geometry("paper", 2)
    patches = sample_patches(std, x[:n_train], 5000, 2, stride, 0, "cpu")
    centers = kmeans(patches, k, 0, iterations=10).centers.reshape(k, 3, 2, 2)
    with torch.no_grad():
        f = ClusterConv(centers, -0.5, stride, pool)(std(x)).flatten(1).double().numpy()
    return f[:n_train], s["labels"][:n_train], f[n_train:], s["labels"][n_train:]


@pytest.mark.parametrize("c", [0.1, 1.0])
def test_torch_solver_matches_linearsvc_on_dlc_features(c):
    """`clustering.svm_solver: torch` replaces LinearSVC in the demo; on features of the pipeline itself
    it must reach liblinear's optimum (converged here: small n) and the same predictions."""
    xtr, ytr, xte, yte = _dlc_block_features()
    assert xtr.shape[1] > 2 * len(xtr)  # the wide regime where LinearSVC crawls at demo size
    ours = fit_linear_ovr(xtr, ytr, c=c, loss="squared_hinge")
    ref = fit_sklearn_svc(xtr, ytr, c=c)
    # Same strongly convex problem: ours is no worse than liblinear's converged solution.
    assert _primal(ours, xtr, ytr, c) <= _primal(ref, xtr, ytr, c) * (1 + 1e-4)
    assert (ours.predict(xte) == ref.predict(xte)).mean() >= 0.98
    assert abs(ours.accuracy(xte, yte) - ref.accuracy(xte, yte)) <= 0.01
    assert ours.accuracy(xtr, ytr) == ref.accuracy(xtr, ytr)
