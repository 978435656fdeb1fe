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
        opt = enumerate_opt(lambda c: fl.value(c), n, k)
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
    opt = enumerate_opt(lambda c: fl.value(c), n, k)
    assert milp_opt(w, k) == pytest.approx(opt, rel=1e-5, abs=1e-6)
    assert certificate(fl, [k] * (n // k)) >= opt - 1e-6


@pytest.mark.parametrize("n,k,seed", [(12, 3, 0), (12, 4, 1), (10, 2, 2)])
def test_appendix_e_milp_agrees_with_enumeration_modular(n, k, seed):
    weights = np.random.default_rng(seed).random(n)
    opt = enumerate_opt(lambda c: float(weights[list(c)].sum()), n, k)
    assert milp_opt(None, k, modular=weights) == pytest.approx(opt, rel=1e-5, abs=1e-6)
    res = min_block_greedy(FacilityLocation.from_dense(np.diag(weights.astype(np.float32))), [k] * (n // k))
    assert res.values.min() >= theorem1_factor(n // k) * opt - 1e-6
