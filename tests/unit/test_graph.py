"""Similarity graph: faiss kNN vs brute force, dense blocks vs the kernel formula, storage, errors."""

import h5py
import numpy as np
import pytest

from layerwise.data.store import write_arrays
from layerwise.errors import InputError
from layerwise.graph import build, features, kernels
from layerwise.graph.store import load_csr, write_graph
from layerwise.submodular.facility import FacilityLocation


def _labelled(n=90, c=3, d=8, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    feats = rng.standard_normal((n, d)).astype(np.float32) + labels[:, None]
    return feats, labels


def _brute_sim(x, kernel, sigma=None):
    """Kernel on every pair by the textbook formulas (no Gram trick)."""
    if kernel == "cosine":
        nx = x / np.linalg.norm(x, axis=1, keepdims=True)
        return np.maximum(nx @ nx.T, 0)
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return np.exp(-d2 / (2 * sigma**2))


@pytest.mark.parametrize("kernel", ["cosine", "gaussian"])
def test_knn_matches_brute_force(kernel):
    feats, labels = _labelled()
    knn = 5
    indptr, indices, data = build.build_knn(feats, labels, knn, kernel)
    for c in range(3):
        rows = np.flatnonzero(labels == c)
        x = feats[rows].astype(np.float64)
        sigma = None
        if kernel == "gaussian":
            dist = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
            sigma = np.median(dist[np.triu_indices(len(x), 1)])
        sim = _brute_sim(x, kernel, sigma)
        for r, u in enumerate(rows):
            got_idx = indices[indptr[u] : indptr[u + 1]]
            got = data[indptr[u] : indptr[u + 1]]
            assert set(got_idx) <= set(rows)  # class by class: no cross-class edge
            expect = np.sort(sim[r])[::-1][:knn]
            np.testing.assert_allclose(np.sort(got)[::-1], expect, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(got, sim[r, np.searchsorted(rows, got_idx)], rtol=1e-4, atol=1e-5)


def test_dense_blocks_and_csr_view():
    feats, labels = _labelled(n=40)
    data, offsets = build.build_dense(feats, labels, "cosine")
    members, class_off = build.class_members(labels)
    indptr, indices, w = build.dense_to_csr(labels, data, offsets)
    for c in range(3):
        rows = members[class_off[c] : class_off[c + 1]]
        block = data[offsets[c] : offsets[c + 1]].reshape(len(rows), len(rows))
        np.testing.assert_allclose(block, _brute_sim(feats[rows].astype(np.float64), "cosine"), atol=1e-5)
    # f_NN on the CSR view equals the formula sum_v max_{a in A} w(v, a) on a dense matrix.
    full = np.zeros((40, 40), np.float32)
    for u in range(40):
        full[indices[indptr[u] : indptr[u + 1]], u] = w[indptr[u] : indptr[u + 1]]
    fl = FacilityLocation(indptr, indices, w, ncols=40)
    sub = [0, 5, 17, 33]
    assert fl.value(sub) == pytest.approx(full[:, sub].max(axis=1).sum(), rel=1e-6)


def test_graph_file_roundtrip_and_knn_too_large(tmp_path):
    feats, labels = _labelled()
    arrays = build.build_graph(feats, labels, "knn", 0, 4, "cosine", np.float16)
    write_graph(tmp_path / "g.h5", labels, "knn", arrays, {"kernel": "cosine", "knn": 4}, 0)
    g = load_csr(tmp_path / "g.h5")
    assert g.data.dtype == np.float32 and np.array_equal(g.indices, arrays["knn"][1])
    assert np.array_equal(g.labels, labels) and g.approximate
    with pytest.raises(InputError, match="graph.knn=1000"):
        build.build_knn(feats, labels, 1000, "cosine")
    with h5py.File(tmp_path / "g.h5", "a") as f:
        del f["indptr"]
    with pytest.raises(InputError, match="rerun build_graph"):
        load_csr(tmp_path / "g.h5")


def test_auto_form_takes_smallest_classes_dense_within_budget():
    labels = np.repeat([0, 1, 2], [10, 30, 20])
    # Blocks of 10^2 and 20^2 float32 = 400 + 1600 bytes fit 2000 bytes; the 30^2 block does not.
    dense = build.dense_classes(labels, "auto", 2000 / 2**20)
    assert dense.tolist() == [True, False, True]
    assert build.dense_classes(labels, "auto", 1999 / 2**20).tolist() == [True, False, False]
    assert build.dense_classes(labels, "knn", 1e9).tolist() == [False] * 3
    assert build.dense_classes(labels, "dense", 0).tolist() == [True] * 3


def test_mixed_graph_and_dense_scoring_of_knn_batches(tmp_path):
    """A mixed graph is f_NN on the dense classes and f_kNN on the others; DenseView scores
    blocks under the all-dense f_NN exactly as a dense graph file does (class by class)."""
    from layerwise.graph.store import DenseView
    from layerwise.submodular.dense_score import dense_block_values

    rng = np.random.default_rng(4)
    labels = np.repeat([0, 1, 2], [12, 30, 20])
    rng.shuffle(labels)
    feats = rng.standard_normal((62, 5)).astype(np.float32) + labels[:, None]
    for kernel in ("cosine", "gaussian"):
        mixed = build.build_graph(feats, labels, "auto", 2200 / 2**20, 4, kernel)  # classes 0, 2 dense
        full = build.build_graph(feats, labels, "dense", 0, 4, kernel)
        write_graph(tmp_path / "m.h5", labels, "auto", mixed, {"kernel": kernel, "knn": 4}, 0)
        write_graph(tmp_path / "d.h5", labels, "dense", full, {"kernel": kernel, "knn": 4}, 0)
        gm, gd = load_csr(tmp_path / "m.h5"), load_csr(tmp_path / "d.h5")
        assert gm.approximate and not gd.approximate
        fm, fd = FacilityLocation.from_graph(gm), FacilityLocation.from_graph(gd)
        owner = rng.integers(0, 5, 62)
        blocks = [np.flatnonzero(owner == b) for b in range(5)]
        # Rows of dense classes are identical; kNN rows are a subset: f_kNN <= f_dense.
        for u in np.flatnonzero(labels != 1):
            assert np.array_equal(
                gm.indices[gm.indptr[u] : gm.indptr[u + 1]], gd.indices[gd.indptr[u] : gd.indptr[u + 1]]
            )
        assert all(fm.value(b) <= fd.value(b) + 1e-9 for b in blocks)
        got = dense_block_values(DenseView(tmp_path / "m.h5"), [owner, owner % 2], 5)
        assert np.array_equal(dense_block_values(DenseView(tmp_path / "m.h5"), [owner, owner % 2], 5, 2), got)
        np.testing.assert_allclose(got[0], fd.block_values(blocks), rtol=1e-5)
        np.testing.assert_allclose(
            got[1][:2], fd.block_values([np.flatnonzero(owner % 2 == b) for b in range(2)]), rtol=1e-5
        )


def test_pixel_projection_is_seeded_and_ae_shape_checked(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 4, 4, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(3), 10)
    write_arrays(tmp_path / "data.h5", images, labels, ["a", "b", "c"],
                 {"train": np.arange(20), "test": np.arange(20, 30)}, params={}, seed=0)
    a = features.load_features("pixels", tmp_path / "data.h5", None, 6, seed=1)
    b = features.load_features("pixels", tmp_path / "data.h5", None, 6, seed=1)
    assert a.shape == (20, 6) and np.array_equal(a, b)
    # Random projection preserves pairwise distances of centred pixels on average (JL).
    big = features.project_pixels(images[:20], 4000, seed=2)
    flat = images[:20].reshape(20, -1).astype(np.float64) / 255
    d_true = np.linalg.norm(flat[0] - flat[1:], axis=1)
    d_proj = np.linalg.norm(big[0] - big[1:], axis=1)
    np.testing.assert_allclose(d_proj / d_true, 1, atol=0.1)
    from layerwise.h5io import atomic_h5

    with atomic_h5(tmp_path / "f.h5", "extract_features", {}, 0) as f:
        f.create_dataset("features", data=np.zeros((7, 3), np.float32))
    with pytest.raises(InputError, match=r"expected \(20, D\)"):
        features.load_features("ae:x", tmp_path / "data.h5", tmp_path / "f.h5", 6, 0)
    with pytest.raises(InputError, match="graph.features"):
        features.feature_stem("ae:bad name")
    assert features.feature_stem("ae:resae") == "ae-resae"


def test_kernel_bandwidth_is_median_distance():
    x = np.array([[0, 0], [3, 0], [0, 4]], np.float32)
    assert kernels.bandwidth(x) == pytest.approx(4.0)  # distances 3, 4, 5
