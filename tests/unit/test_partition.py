"""Algorithms 1-3 against the naive reference, Appendix D, capacities, samplers and files."""

import numpy as np
import pytest

from layerwise.errors import InputError
from layerwise.graph.build import build_knn
from layerwise.graph.store import CSRGraph
from layerwise.submodular import hierarchy
from layerwise.submodular.batchfile import load_batches, write_batches
from layerwise.submodular.exact import enumerate_opt
from layerwise.submodular.facility import FacilityLocation
from layerwise.submodular.minblock import min_block_greedy
from layerwise.submodular.naive import naive_partition
from layerwise.submodular.samplers import run_sampler


def _instance(rng):
    n = int(rng.integers(2, 45))
    m = int(rng.integers(1, min(n, 7) + 1))
    density = rng.choice([0.1, 0.3, 1.0])
    w = (rng.random((n, n)) * (rng.random((n, n)) < density)).astype(np.float32)
    if rng.random() < 0.2:  # coarse weights: many exact ties exercise the tie-breaking
        w = np.round(w * 4) / 4
    caps = hierarchy.leaf_capacities(n, -(-n // m))
    return w, caps


def test_lazy_and_onthefly_equal_naive_on_random_instances():
    rng = np.random.default_rng(0)
    for _ in range(300):
        w, caps = _instance(rng)
        fl = FacilityLocation.from_dense(w)
        ref_blocks, ref_values = naive_partition(w, caps)
        lazy = min_block_greedy(fl, caps, "lazy")
        otf = min_block_greedy(fl, caps, "onthefly")
        for a, b, c in zip(ref_blocks, lazy.blocks, otf.blocks, strict=True):
            assert np.array_equal(a, b) and np.array_equal(a, c)
        assert np.array_equal(ref_values, lazy.values)
        assert lazy.stop_step == otf.stop_step and lazy.t == otf.t
        # On-the-fly queues never hold more than the ordinary ones plus the shared list.
        assert otf.peak_queue <= lazy.peak_queue + len(w)


def test_early_stop_record():
    """At the recorded step a full block is the minimum and stays so (Appendix C)."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        w, caps = _instance(rng)
        res = min_block_greedy(FacilityLocation.from_dense(w), caps)
        full = res.stop_sizes == caps
        assert full.any() and 1 <= res.stop_step <= caps.sum()
        assert res.values.min() == res.values[full].min()  # the full minimum never changes
        assert res.t == res.stop_sizes.min()


def test_appendix_d_counterexample():
    eps = 0.01
    weights = np.array([1 - 2 * eps, 0.25, 0.25, 0.25, 0.25, eps, eps, eps], np.float32)
    fl = FacilityLocation.from_dense(np.diag(weights))  # modular: each item covers itself
    result = hierarchy.partition(fl, [4], 2, "lazy")
    assert result.values.min() == pytest.approx(2 * eps, abs=1e-7)
    opt = enumerate_opt(lambda c: float(weights[list(c)].sum()), 8, 2)
    assert opt == pytest.approx(0.25 + eps, abs=1e-7)


@pytest.mark.parametrize("n,levels,bs", [(1000, [256, 64], 16), (997, [300, 100], 25), (130, [], 16)])
def test_hierarchy_is_a_partition_with_balanced_capacities(n, levels, bs):
    rng = np.random.default_rng(n)
    labels = rng.integers(0, 4, n)
    graph = CSRGraph(*build_knn(rng.standard_normal((n, 6)).astype(np.float32), labels, 5, "cosine"), labels)
    fl = FacilityLocation.from_graph(graph)
    result = hierarchy.partition(fl, levels, bs)
    sizes = np.array([len(b) for b in result.batches])
    assert len(sizes) == -(-n // bs) and sizes.max() - sizes.min() <= 1 and sizes.max() <= bs
    flat = np.concatenate(result.batches)
    assert np.array_equal(np.sort(flat), np.arange(n))
    np.testing.assert_allclose(result.values, fl.block_values(result.batches), rtol=1e-9)
    assert [s.block_size for s in result.levels] == levels + [bs]
    lazy = hierarchy.partition(fl, levels, bs, "lazy")
    assert all(np.array_equal(a, b) for a, b in zip(lazy.batches, result.batches, strict=True))
    threaded = hierarchy.partition(fl, levels, bs, threads=3)  # parallel calls, same partition
    assert all(np.array_equal(a, b) for a, b in zip(threaded.batches, result.batches, strict=True))
    assert [s.tau for s in threaded.levels] == [s.tau for s in result.levels]


@pytest.mark.parametrize(
    "levels,bs,key",
    [([64, 64], 16, r"levels\[0\]=64 must be larger"), ([100], 16, r"not a multiple"),
     ([4096], 16, r"levels\[0\]=4096 does not fit"), ([], 5000, "batch_size=5000")],
)
def test_bad_levels_name_the_key(levels, bs, key):
    with pytest.raises(InputError, match=key):
        hierarchy.check_levels(1000, levels, bs)


def test_samplers_write_partitions_bit_identically(tmp_path):
    rng = np.random.default_rng(3)
    n = 500
    labels = rng.integers(0, 5, n)
    graph = CSRGraph(*build_knn(rng.standard_normal((n, 8)).astype(np.float32), labels, 6, "cosine"), labels)
    for name in ("robust-hier", "robust-flat", "random-s1"):
        paths = []
        for rep in range(2):
            batches, values, levels, attrs = run_sampler(name, graph, 32, [128, 64])
            paths.append(tmp_path / f"{name}-{rep}.h5")
            write_batches(paths[-1], batches, values, levels, attrs, {"batch_size": 32}, 0)
        assert paths[0].read_bytes() == paths[1].read_bytes()
        padded, sizes = load_batches(paths[0], n_train=n)
        assert padded.shape == (16, 32) and (padded[sizes < 32, -1] == -1).all()
        assert attrs["certificate_ratio"] <= 1.0 and attrs["min_block_value"] > 0
    with pytest.raises(InputError, match="not a partition"):
        load_batches(paths[0], n_train=n + 1)
    with pytest.raises(InputError, match="random-s<seed>"):
        run_sampler("random-sx", graph, 32, [])


# Items 0..11 with modular weights (each item covers only itself).
HAND_W = np.array([38, 34, 31, 30, 29, 26, 24, 19, 15, 5, 3, 2], np.float32)


def test_tau_and_theorem2_factor_by_hand():
    """n=12, levels [6], batch 3 (r = 2). Level 1, caps (6, 6), the least-valued open block
    (smaller index on ties) takes the best item: b0 38 | b1 34 | b1 +31=65 | b0 +30=68 |
    b1 +29=94 | b0 +26=94 (tie) | b0 +24=118 | b1 +19=113 | b1 +15=128 | b0 +5=123 |
    b0 +3=126, full and the minimum: stop with sizes (6, 5), t = 5 | b1 +2=130.
    Level 2 on {38,30,26,24,5,3}: 38 | 30 | +26=56 | 38+24=62 | 56+5=61 full and min: stop
    with sizes (2, 3), t = 2. On {34,31,29,19,15,2}: 34 | 31 | +29=60 | 34+19=53 |
    +15=68 full (min is 60, open) | 60+2=62 full and min: sizes (3, 3), t = 3.
    tau = min over calls = 2; Theorem 2 factor ((2-1)/(2*2-1))^2 * 3/12 = 1/36."""
    fl = FacilityLocation.from_dense(np.diag(HAND_W))
    for method in ("lazy", "onthefly"):
        res = hierarchy.partition(fl, [6], 3, method)
        assert [s.tau for s in res.levels] == [5, 2] and res.tau == 2
        got = sorted(sorted(HAND_W[b].tolist()) for b in res.batches)
        assert got == [[2, 29, 31], [3, 24, 38], [5, 26, 30], [15, 19, 34]]
        assert res.values.min() == 61
    assert hierarchy.theorem2_factor(2, 2, 3, 12) == pytest.approx(1 / 36, rel=1e-12)
    graph = CSRGraph(fl.indptr, fl.indices, fl.data, np.zeros(12, np.int64))
    _, _, levels, attrs = run_sampler("robust-hier", graph, 3, [6])
    assert attrs["tau"] == 2 and attrs["theorem2_factor"] == pytest.approx(1 / 36, rel=1e-12)
    assert [lv["tau"] for lv in levels] == [5, 2]
    # Paper 000 Appendix F: tau 103 at r = 3 gives 0.123; tau 106 at r = 5 gives 0.0305.
    assert hierarchy.theorem2_factor(103, 3, 1, 1) == pytest.approx(0.123, abs=5e-4)
    assert hierarchy.theorem2_factor(106, 5, 1, 1) == pytest.approx(0.0305, abs=5e-5)


def test_level_layout_by_hand_and_balanced_at_scale():
    # n=1000, batch 16: B = 63 batches (1000 = 62*16 + 8: 40 of 16, 23 of 15); level 256 gets
    # ceil(63/16) = 4 blocks of 16,16,16,15 batches; level 64 splits each into 4: 4,4,4,4 / 4,4,4,3.
    leaf, bounds = hierarchy.level_layout(1000, [256, 64], 16)
    assert len(leaf) == 63 and leaf.sum() == 1000 and set(leaf.tolist()) == {15, 16}
    assert np.diff(bounds[0]).tolist() == [16, 16, 16, 15]
    assert np.diff(bounds[1]).tolist() == [4] * 15 + [3]
    assert np.array_equal(bounds[2], np.arange(64))
    # CIFAR-100 shape: no runt (the old layout ended level 1 with a block of one batch).
    for n, levels, bs in [(40000, [1024, 512], 128), (1_300_000, [32768, 16384, 8192, 4096], 256),
                          (20000, [1024, 512], 128), (997, [300, 100], 25), (5000, [1024, 512], 128)]:
        leaf, bounds = hierarchy.level_layout(n, levels, bs)
        for i, bd in enumerate(bounds):
            counts = np.diff(bd)
            assert counts.max() - counts.min() <= 1 and counts.min() >= 1
            caps = hierarchy.level_capacities(leaf, bd)
            assert caps.max() <= ([*levels, bs][i]) and caps.sum() == n
            if i:  # nesting: every boundary of the level above is a boundary here
                assert np.isin(bounds[i - 1], bd).all()


def test_greedsat_passes_against_a_naive_reference():
    """c = 0 is Algorithm 1 exactly; other levels follow the welfare greedy on truncated gains."""
    from layerwise.submodular.greedsat import _saturate, greedsat
    from layerwise.submodular.minblock import singleton_order

    def naive(w, caps, c):
        w = w.astype(np.float64)
        m, n = len(caps), w.shape[1]
        cov, vals, sizes, owner = np.zeros((m, w.shape[0])), np.zeros(m), np.zeros(m, int), np.full(n, -1)
        for _ in range(n):
            gains = np.cumsum(np.maximum(w[None] - cov[:, :, None], 0), axis=1)[:, -1]  # (m, n)
            gains[:, owner >= 0] = -np.inf
            open_ = sizes < caps
            trunc = np.where(open_ & (vals < c), np.minimum(gains.max(axis=1), c - vals), 0)
            j = int(np.argmax(trunc)) if trunc.max() > 0 else int(np.argmin(np.where(open_, vals, np.inf)))
            u = int(np.argmax(gains[j]))
            owner[u], vals[j], sizes[j] = j, vals[j] + gains[j, u], sizes[j] + 1
            cov[j] = np.maximum(cov[j], w[:, u])
        return owner, vals

    rng = np.random.default_rng(2)
    for _ in range(60):
        w, caps = _instance(rng)
        w = w + np.float32(1e-3) * rng.random(w.shape).astype(np.float32)  # no exact ties
        fl = FacilityLocation.from_dense(w)
        sing = fl.singletons()
        for c in (0.0, float(sing.sum()) / len(caps) / 2, np.inf):
            block_of, _, values, _, _ = _saturate(
                fl.indptr, fl.indices, fl.data, fl.ncols, caps, sing, singleton_order(sing), c
            )
            owner, vals = naive(w, caps, c)
            assert np.array_equal(block_of, owner)
            np.testing.assert_allclose(values, vals, rtol=1e-9)
        ref, _ = naive_partition(w, caps)
        block_of, _, _, _, _ = _saturate(
            fl.indptr, fl.indices, fl.data, fl.ncols, caps, sing, singleton_order(sing), 0.0
        )
        assert all(np.array_equal(np.sort(b), np.sort(np.flatnonzero(block_of == j))) for j, b in enumerate(ref))
        res = greedsat(fl, caps)
        assert sorted(np.concatenate(res.blocks).tolist()) == list(range(len(w)))
        assert [len(b) for b in res.blocks] == caps.tolist()


def _classes_instance(rng):
    """Block-diagonal weights (items link only inside their class, as f_NN's graph) with enough
    items per class that every block takes several of each: the per-(block, class) queues run."""
    classes = int(rng.integers(3, 13))
    m = int(rng.integers(1, 4))
    per = rng.integers(4 * m, 4 * m + 12, classes)
    n = int(per.sum())
    labels = np.repeat(np.arange(classes), per)
    rng.shuffle(labels)  # classes interleaved in item order
    density = rng.choice([0.2, 0.5, 1.0])
    w = (rng.random((n, n)) * (rng.random((n, n)) < density)).astype(np.float32)
    if rng.random() < 0.3:  # coarse weights: exact ties across classes exercise the tie-breaking
        w = np.round(w * 4) / 4
    w[labels[:, None] != labels[None, :]] = 0
    np.fill_diagonal(w, np.maximum(np.diag(w), np.float32(0.5)))  # every item covers itself
    return w, labels, hierarchy.leaf_capacities(n, -(-n // m))


def test_per_class_queues_equal_naive_on_many_classes():
    """Heaps per (block, class) and the tree of class tops return the naive argmax at every step
    (a stale class top, a wrong tree replay or a class split in two changes some partition)."""
    from layerwise.submodular.minblock import TAKES_PER_GROUP
    from layerwise.submodular.queues import groups

    rng = np.random.default_rng(12)
    grouped = 0
    for _ in range(120):
        w, labels, caps = _classes_instance(rng)
        fl = FacilityLocation.from_dense(w)
        group_of, ngroups = groups(fl.indptr, fl.indices, fl.data, fl.ncols, 1)
        grouped += caps.sum() >= TAKES_PER_GROUP * len(caps) * ngroups
        ref_blocks, ref_values = naive_partition(w, caps)
        for method in ("lazy", "onthefly"):
            res = min_block_greedy(fl, caps, method)
            assert all(np.array_equal(a, b) for a, b in zip(ref_blocks, res.blocks, strict=True)), method
            assert np.array_equal(ref_values, res.values)
    assert grouped >= 100  # the per-class path is the one under test


def test_groups_are_the_graph_components():
    """groups(): connected components of rows sharing a column (scipy's labelling up to renaming),
    merged in order of first row only up to min_size."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    from layerwise.submodular.queues import groups

    rng = np.random.default_rng(3)
    for _ in range(40):
        n = int(rng.integers(1, 60))
        w = (rng.random((n, n)) < rng.choice([0.01, 0.03, 0.1])).astype(np.float32)
        fl = FacilityLocation.from_dense(w + np.eye(n, dtype=np.float32))  # explicit zeros link nothing
        a = csr_matrix((fl.data.copy(), fl.indices.copy(), fl.indptr.copy()), shape=(n, fl.ncols))
        a.eliminate_zeros()
        _, comp = connected_components(a @ a.T, directed=False)
        group_of, ngroups = groups(fl.indptr, fl.indices, fl.data, fl.ncols, 1)
        assert ngroups == comp.max() + 1
        pairs = set(zip(group_of.tolist(), comp.tolist(), strict=True))
        assert len(pairs) == ngroups  # a bijection between the two labellings
        merged, nm = groups(fl.indptr, fl.indices, fl.data, fl.ncols, 10)
        sizes = np.bincount(merged, minlength=nm)
        assert (sizes[:-1] >= 10).all() and nm <= ngroups
        assert all(len(set(merged[comp == c])) == 1 for c in range(ngroups))  # components stay whole
