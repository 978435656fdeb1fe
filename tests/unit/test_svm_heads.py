"""The torch one-vs-rest solvers against scikit-learn's LinearSVC and LogisticRegression."""

import numpy as np
import pytest
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
