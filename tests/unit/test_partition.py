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
        for a, b, c in zip(ref_blocks, lazy.blocks, otf.blocks):
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
    assert all(np.array_equal(a, b) for a, b in zip(lazy.batches, result.batches))


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
