"""k-means++ seeding and cosine k-means against the D^2 formula, brute force and scikit-learn."""

import numpy as np
import pytest
from sklearn.cluster import KMeans

from layerwise.clustering.kmeans import assign, d2_probabilities, kmeans, kmeanspp_seed, normalize_rows


def test_d2_probabilities_match_formula():
    x = np.array([[0.0, 0], [1, 0], [0, 2], [3, 3]], dtype=np.float32)
    centers = x[[0]]
    d2 = np.array([0.0, 1, 4, 18])
    np.testing.assert_allclose(d2_probabilities(x, centers), d2 / d2.sum(), rtol=1e-6)


def test_second_seed_follows_d2_distribution():
    x = np.array([[0.0, 0], [1, 0], [0, 2], [3, 3]], dtype=np.float32)
    counts = np.zeros(4)
    trials = 0
    for seed in range(6000):
        seeds = kmeanspp_seed(x, 2, np.random.default_rng(seed))
        if seeds[0] == 0:
            counts[seeds[1]] += 1
            trials += 1
    expected = d2_probabilities(x, x[[0]])
    np.testing.assert_allclose(counts / trials, expected, atol=0.04)
    assert counts[0] == 0  # a chosen point has D = 0 and is never drawn again


def test_assign_matches_brute_force():
    rng = np.random.default_rng(0)
    x, c = rng.normal(size=(200, 5)).astype(np.float32), rng.normal(size=(7, 5)).astype(np.float32)
    labels, dist = assign(x, c, cosine=False)
    brute = ((x[:, None] - c[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, brute.argmin(1))
    np.testing.assert_allclose(dist, brute.min(1), rtol=1e-4)


@pytest.mark.parametrize("seed", [0, 1])
def test_cosine_kmeans_inertia_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    directions = normalize_rows(rng.normal(size=(6, 8)))
    x = np.repeat(directions, 50, 0) + 0.1 * rng.normal(size=(300, 8))
    xn = normalize_rows(x)
    ours = kmeans(x, 6, seed, iterations=50, cosine=True, n_init=10)
    # Euclidean within-cluster inertia of our partition vs scikit-learn on the normalised rows.
    inertia = sum(((xn[ours.labels == k] - xn[ours.labels == k].mean(0)) ** 2).sum() for k in range(6))
    ref = KMeans(6, n_init=10, random_state=seed).fit(xn)
    assert abs(inertia - ref.inertia_) <= 0.01 * ref.inertia_
    np.testing.assert_allclose(np.linalg.norm(ours.centers, axis=1), 1.0, rtol=1e-5)


def test_kmeans_is_deterministic():
    x = np.random.default_rng(3).normal(size=(500, 4))
    a, b = kmeans(x, 5, 7, cosine=False), kmeans(x, 5, 7, cosine=False)
    np.testing.assert_array_equal(a.centers, b.centers)
