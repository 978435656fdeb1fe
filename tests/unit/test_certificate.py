"""Exact optimum on tiny instances: Theorem 1 holds and the certificate is never below OPT."""

import numpy as np
import pytest

from layerwise.submodular.certificate import certificate, lemma2_bound, topm_bound
from layerwise.submodular.exact import enumerate_opt, milp_opt
from layerwise.submodular.facility import FacilityLocation
from layerwise.submodular.hierarchy import theorem1_factor
from layerwise.submodular.minblock import min_block_greedy

SHAPES = [(12, 2), (12, 3), (12, 4), (12, 6), (10, 2), (10, 5), (9, 3), (8, 2), (8, 4), (6, 3)]


def _facility(rng, n):
    density = rng.choice([0.2, 0.5, 1.0])
    return (rng.random((n, n)) * (rng.random((n, n)) < density)).astype(np.float32)


def test_theorem1_and_certificate_against_enumeration():
    rng = np.random.default_rng(0)
    worst_ratio, worst_cert = np.inf, np.inf
    for trial in range(60):
        n, k = SHAPES[trial % len(SHAPES)]
        m = n // k
        if trial % 3 == 2:  # modular f as facility location: item a covers only itself
            w = np.diag(rng.random(n).astype(np.float32))
        else:
            w = _facility(rng, n)
        fl = FacilityLocation.from_dense(w)
        opt = enumerate_opt(fl.value, n, k)
        res = min_block_greedy(fl, [k] * m)
        got = res.values.min()
        assert got >= theorem1_factor(m) * opt - 1e-9
        cert = certificate(fl, [k] * m)
        assert cert >= opt - 1e-6 and topm_bound(fl, m) >= opt - 1e-6 and lemma2_bound(fl, m, k) >= opt - 1e-6
        if opt > 0:
            worst_ratio = min(worst_ratio, got / opt)
            worst_cert = min(worst_cert, got / cert)
    print(f"\nworst Algorithm 1 / OPT over 60 instances: {worst_ratio:.4f} "
          f"(Theorem 1 guarantees >= {theorem1_factor(6):.4f} at m=6, {theorem1_factor(2):.4f} at m=2); "
          f"worst min-block / certificate: {worst_cert:.4f}")


@pytest.mark.parametrize("n,k,seed", [(8, 4, 0), (8, 2, 1), (6, 3, 2)])
def test_appendix_e_milp_agrees_with_enumeration_facility(n, k, seed):
    rng = np.random.default_rng(seed)
    w = _facility(rng, n)
    fl = FacilityLocation.from_dense(w)
    opt = enumerate_opt(fl.value, n, k)
    assert milp_opt(w, k) == pytest.approx(opt, rel=1e-5, abs=1e-6)
    assert certificate(fl, [k] * (n // k)) >= opt - 1e-6


@pytest.mark.parametrize("n,k,seed", [(12, 3, 0), (12, 4, 1), (10, 2, 2)])
def test_appendix_e_milp_agrees_with_enumeration_modular(n, k, seed):
    weights = np.random.default_rng(seed).random(n)
    opt = enumerate_opt(lambda c: float(weights[list(c)].sum()), n, k)
    assert milp_opt(None, k, modular=weights) == pytest.approx(opt, rel=1e-5, abs=1e-6)
    res = min_block_greedy(FacilityLocation.from_dense(np.diag(weights.astype(np.float32))), [k] * (n // k))
    assert res.values.min() >= theorem1_factor(n // k) * opt - 1e-6


def _modular(weights):
    return FacilityLocation.from_dense(np.diag(np.asarray(weights, np.float32)))


def test_certificate_is_tight_on_modular_instances_with_known_optimum():
    from layerwise.submodular.certificate import certificate_parts

    # Equal weights: every balanced partition is optimal, OPT = k; the top-m bound is
    # total / m = k exactly, and Algorithm 1 attains it: ratio 1.
    fl = _modular(np.ones(12))
    assert certificate(fl, [3] * 4) == pytest.approx(3.0, abs=1e-9)
    assert min_block_greedy(fl, [3] * 4).values.min() == 3.0
    # One dominant item: OPT = 4 (its block {10,1,1,1} = 13, the other {1,1,1,1} = 4).
    # Lemma 2 without the best singleton leaves seven 1s: max over |Y| <= 4 is 4 = OPT.
    w = [10, 1, 1, 1, 1, 1, 1, 1]
    assert milp_opt(None, 4, modular=np.array(w, float)) == pytest.approx(4.0)
    assert certificate(_modular(w), [4, 4]) == pytest.approx(4.0, abs=1e-9)
    # Unequal capacities (3, 4) of seven 1s: OPT = 3, the block of 3. Only the k_min bound
    # max_{|Y| <= 3} f(Y) = 3 sees it (top-m gives 3.5, Lemma 2 with k_max = 4 gives 4).
    fl = _modular(np.ones(7))
    parts = certificate_parts(fl, [3, 4])
    assert parts["kmin"] == pytest.approx(3.0) and parts["topm"] == pytest.approx(3.5)
    assert parts["lemma2"] == pytest.approx(4.0) and certificate(fl, [3, 4]) == pytest.approx(3.0)
    assert milp_opt(None, [3, 4], modular=np.ones(7)) == pytest.approx(3.0)


def test_greedy_upper_bound_against_brute_force():
    """Nemhauser (1 - (1 - 1/k)^k) and Minoux prefix bounds are >= max_{|Y| <= k} f(Y)."""
    import itertools

    from layerwise.submodular.certificate import greedy_upper_bound

    rng = np.random.default_rng(7)
    gaps = []
    for _ in range(40):
        n = int(rng.integers(4, 10))
        fl = FacilityLocation.from_dense(_facility(rng, n))
        for k in range(1, n):
            best = max(fl.value(c) for c in itertools.combinations(range(n), k))
            ub = greedy_upper_bound(fl, k)
            assert ub >= best - 1e-6
            gaps.append(ub / best if best > 0 else 1.0)
    assert min(gaps) == pytest.approx(1.0)  # the bound is attained on some instances


@pytest.mark.parametrize("seed", range(3))
def test_highs_oracle_theorem1_and_certificate(seed):
    """HiGHS (Appendix E) as the exact optimum, also beyond enumeration and for unequal capacities."""
    rng = np.random.default_rng(100 + seed)
    for n, caps in [(8, [4, 4]), (9, [3, 3, 3]), (10, [4, 3, 3]), (12, [4, 4, 4]), (14, [5, 5, 4])]:
        w = _facility(rng, n)
        fl = FacilityLocation.from_dense(w)
        opt = milp_opt(w, caps)
        res = min_block_greedy(fl, caps)
        assert res.values.min() <= opt + 1e-6  # nothing beats the optimum
        if len(set(caps)) == 1:
            assert res.values.min() >= theorem1_factor(len(caps)) * opt - 1e-6
        assert certificate(fl, caps) >= opt - 1e-6


def test_topm_bound_on_a_dense_instance_with_a_known_value():
    """Every row of w holds the values 1..8 in another order: the m largest of a row sum to
    8 + 7 + ... + (9 - m), so the bound is 8 * that / m (the sort runs: rows are dense)."""
    rng = np.random.default_rng(3)
    n = 8
    w = np.stack([rng.permutation(np.arange(1, n + 1)) for _ in range(n)]).astype(np.float32)
    fl = FacilityLocation.from_dense(w)
    for m in (1, 2, 3, 5):
        known = n * sum(range(n + 1 - m, n + 1)) / m
        assert topm_bound(fl, m) == pytest.approx(known, rel=1e-12)
        assert known == pytest.approx(np.sort(w, axis=1)[:, -m:].sum() / m)


def _mixed_graph(rng):
    """A class-by-class graph with dense and kNN classes (graph.form auto), items shuffled."""
    from layerwise.graph import build

    labels = rng.permutation(np.repeat(np.arange(12), 60))
    feats = rng.standard_normal((len(labels), 8)).astype(np.float32) + labels[:, None] * 0.2
    arrays = build.build_graph(feats, labels, "auto", 0.05, 5, "cosine")
    assert 0 < arrays["class_dense"].sum() < 12
    ip, ix, d = build.merge_csr(labels, *arrays["dense"], arrays["knn"])
    return FacilityLocation(ip, ix, d, ncols=len(labels))


def test_topm_bound_in_chunks_equals_the_whole_transpose(monkeypatch):
    """The chunked transpose (128 MiB at a time at ImageNet shape) against scipy's whole CSC:
    every column's m largest weights, summed; chunks of 100 entries cut columns' runs."""
    import scipy.sparse as sp

    from layerwise.submodular import certificate as cert

    fl = _mixed_graph(np.random.default_rng(3))
    by_v = sp.csr_matrix((fl.data, fl.indices, fl.indptr), shape=(fl.n, fl.ncols)).tocsc()
    for m in (1, 7, 40, 10_000):
        ref = sum(np.sort(by_v.data[a:b])[::-1][:m].astype(np.float64).sum()
                  for a, b in zip(by_v.indptr[:-1], by_v.indptr[1:], strict=True)) / m
        whole = topm_bound(fl, m)
        monkeypatch.setattr(cert, "_TOPM_CHUNK", 100)
        assert topm_bound(fl, m) == whole == pytest.approx(ref, rel=1e-12)
        monkeypatch.undo()


def test_in_place_greedy_bound_equals_the_subproblem_one():
    """lemma2_bound searches V \\ X in place (the subproblem copy was a second graph in memory
    at ImageNet shape): bit-identical to the bound on fl.subproblem(V \\ X)."""
    from layerwise.submodular.certificate import greedy_upper_bound

    rng = np.random.default_rng(4)
    fl = _mixed_graph(rng)
    for drop in (0, 1, 13, 200):
        rest = np.sort(rng.permutation(fl.n)[drop:])
        for k in (1, 5, 64):
            assert greedy_upper_bound(fl, k, rest) == greedy_upper_bound(fl.subproblem(rest), k)
