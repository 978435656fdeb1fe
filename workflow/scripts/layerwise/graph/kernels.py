"""Similarity kernels w(u, v) >= 0 between the items of one class.

* ``cosine``: w = max(0, <x_u, x_v> / (|x_u| |x_v|)). Self-similarity is 1.
* ``gaussian``: w = exp(-|x_u - x_v|^2 / (2 sigma_c^2)) with a per-class bandwidth
  sigma_c = median Euclidean distance between distinct items of the class
  (computed on at most the first 512 items, so it is cheap and deterministic).

Both are symmetric and lie in [0, 1], so the facility-location function built on
them is monotone submodular.
"""

import numpy as np

KERNELS = ("cosine", "gaussian")
_BANDWIDTH_SAMPLE = 512


def normalize_rows(x):
    """Unit-norm rows (a zero row stays zero, so its cosine to everything is 0)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.float32(1e-12))


def squared_distances(a, b):
    """|a_i - b_j|^2 from the Gram identity, clipped at 0 against rounding."""
    aa = np.einsum("ij,ij->i", a, a)[:, None]
    bb = np.einsum("ij,ij->i", b, b)[None, :]
    return np.maximum(aa + bb - 2.0 * (a @ b.T), 0.0, dtype=np.float32)


def bandwidth(x):
    """Median distance between distinct items of one class (the Gaussian's sigma_c)."""
    s = np.asarray(x[:_BANDWIDTH_SAMPLE], dtype=np.float32)
    if len(s) < 2:
        return 1.0
    d2 = squared_distances(s, s)[np.triu_indices(len(s), 1)]
    sigma = float(np.sqrt(np.median(d2)))
    return sigma if sigma > 0 else 1.0


def gaussian_from_sqdist(d2, sigma):
    return np.exp(-np.asarray(d2, np.float32) / np.float32(2.0 * sigma * sigma))


def dense_similarity(x, kernel):
    """The full (n_c, n_c) float32 similarity matrix of one class."""
    x = np.asarray(x, dtype=np.float32)
    if kernel == "cosine":
        z = normalize_rows(x)
        return np.maximum(z @ z.T, 0.0)
    if kernel == "gaussian":
        return gaussian_from_sqdist(squared_distances(x, x), bandwidth(x))
    raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")
