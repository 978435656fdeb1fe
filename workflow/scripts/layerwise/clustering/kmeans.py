"""k-means++ seeding (Arthur & Vassilvitskii 2007) and Lloyd iterations with faiss.

Cosine k-means (paper 001 §5.1 "k-means w.r.t. the cosine distance") is Lloyd
on L2-normalised rows with normalised centroids (spherical k-means): for unit
vectors ``||x - c||^2 = 2 - 2 cos(x, c)``, so D^2 seeding and nearest-centre
assignment are the same in both views. Assignment is an exact faiss flat
search (inner product for cosine, L2 otherwise), which is deterministic; the
seeding draws from one ``numpy.random.Generator`` so a seed fixes everything.
"""

import faiss
import numpy as np
import scipy.sparse as sp

_EPS = 1e-12


def normalize_rows(x):
    """Rows scaled to unit L2 norm (zero rows stay zero), float32."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, _EPS)


def d2_probabilities(x, centers):
    """P(pick x_n next) = D(x_n)^2 / sum_m D(x_m)^2, D = distance to the nearest centre (k-means++)."""
    d2 = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(-1).min(1)
    total = d2.sum()
    if total <= 0:
        return np.full(len(x), 1.0 / len(x))
    return d2 / total


def kmeanspp_seed(x, k, rng):
    """Indices of k seeds drawn by D^2 sampling: the first uniformly, each next with d2_probabilities.

    Kept O(n) memory: the running squared distance to the nearest chosen seed is
    updated with one new centre per step.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = len(x)
    if k > n:
        raise ValueError(f"k-means++ needs at least k={k} points, got {n}")
    sq = np.einsum("ij,ij->i", x, x).astype(np.float64)
    chosen = [int(rng.integers(n))]
    d2 = np.maximum(sq - 2.0 * (x @ x[chosen[0]]) + sq[chosen[0]], 0.0)
    for _ in range(1, k):
        total = d2.sum()
        if total <= 0:  # fewer distinct points than k: pick among the rest uniformly
            rest = np.setdiff1d(np.arange(n), chosen)
            nxt = int(rest[rng.integers(len(rest))])
        else:
            cum = np.cumsum(d2)
            nxt = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
            nxt = min(nxt, n - 1)
        chosen.append(nxt)
        d2 = np.minimum(d2, np.maximum(sq - 2.0 * (x @ x[nxt]) + sq[nxt], 0.0))
    return np.asarray(chosen, dtype=np.int64)


def assign(x, centers, cosine):
    """Nearest centre of every row (exact faiss search): ``(labels int64, sq. distances float64)``."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    centers = np.ascontiguousarray(centers, dtype=np.float32)
    index = faiss.IndexFlatIP(x.shape[1]) if cosine else faiss.IndexFlatL2(x.shape[1])
    index.add(centers)
    dist, labels = index.search(x, 1)
    dist = dist[:, 0].astype(np.float64)
    if cosine:  # unit rows and centres: squared distance = 2 - 2 cos
        dist = np.maximum(2.0 - 2.0 * dist, 0.0)
    return labels[:, 0].astype(np.int64), dist


def _update(x, labels, k, dist, cosine):
    """Cluster means (renormalised for cosine); empty clusters take the worst-served points."""
    # Cluster sums as a sparse (k, n) indicator times x: one pass, far faster than np.add.at.
    indicator = sp.csr_matrix((np.ones(len(x), np.float32), (labels, np.arange(len(x)))), shape=(k, len(x)))
    sums = np.asarray(indicator @ x, dtype=np.float64)
    counts = np.bincount(labels, minlength=k)
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        # Deterministic repair: the farthest points (largest distance) become new centres.
        far = np.argsort(-dist, kind="stable")[: len(empty)]
        sums[empty] = x[far]
        counts[empty] = 1
    centers = (sums / counts[:, None]).astype(np.float32)
    return normalize_rows(centers) if cosine else centers


class KMeansResult:
    """Centres (k, dim) float32, labels of the fitted rows, inertia (sum of squared distances), iterations."""

    def __init__(self, centers, labels, inertia, iterations):
        self.centers, self.labels = centers, labels
        self.inertia, self.iterations = float(inertia), int(iterations)


def kmeans(x, k, seed, iterations=20, cosine=True, tol=1e-6, threads=None, n_init=1):
    """k-means++ seeding then Lloyd iterations until the inertia improves by less than ``tol`` (relative).

    ``cosine=True`` normalises rows and centres (spherical k-means, paper 001);
    the inertia is then the sum of ``2 - 2 cos``. With ``n_init`` > 1 the best
    of that many seedings (seeds ``seed``, ``seed + 1``, ...) is returned.
    """
    if threads:
        faiss.omp_set_num_threads(int(threads))
    x = normalize_rows(x) if cosine else np.ascontiguousarray(x, dtype=np.float32)
    runs = [_lloyd(x, k, seed + r, iterations, cosine, tol) for r in range(n_init)]
    return min(runs, key=lambda r: r.inertia)


def _lloyd(x, k, seed, iterations, cosine, tol):
    rng = np.random.default_rng(seed)
    centers = x[kmeanspp_seed(x, k, rng)].copy()
    labels, dist = assign(x, centers, cosine)
    inertia, it = dist.sum(), 0
    # `it` is read after the loop: the number of iterations run
    for it in range(1, iterations + 1):  # noqa: B007
        centers = _update(x, labels, k, dist, cosine)
        labels, dist = assign(x, centers, cosine)
        new = dist.sum()
        done = inertia - new <= tol * max(inertia, _EPS)
        inertia = new
        if done:
            break
    return KMeansResult(centers, labels, inertia, it)
