"""Clustering quality against ground truth: normalised mutual information and purity."""

import numpy as np


def contingency(truth, pred):
    """Counts n_ij of items with true class i and cluster j (dense; both inputs relabelled 0..)."""
    _, t = np.unique(np.asarray(truth), return_inverse=True)
    _, p = np.unique(np.asarray(pred), return_inverse=True)
    table = np.zeros((t.max() + 1, p.max() + 1), dtype=np.int64)
    np.add.at(table, (t, p), 1)
    return table


def _entropy(counts):
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(truth, pred):
    """I(T; P) / ((H(T) + H(P)) / 2), the arithmetic normalisation (scikit-learn's default).

    Two single-cluster labelings are identical, so their NMI is 1 by convention.
    """
    table = contingency(truth, pred).astype(np.float64)
    n = table.sum()
    ht, hp = _entropy(table.sum(1)), _entropy(table.sum(0))
    if ht == 0 and hp == 0:
        return 1.0
    outer = np.outer(table.sum(1), table.sum(0))
    nz = table > 0
    mi = float((table[nz] / n * np.log(table[nz] * n / outer[nz])).sum())
    denom = (ht + hp) / 2
    return max(0.0, mi / denom) if denom > 0 else 0.0


def purity(truth, pred):
    """Fraction of items whose cluster's most frequent true class is their own class."""
    table = contingency(truth, pred)
    return float(table.max(0).sum() / table.sum())
