"""Paper 004's regulariser: gradients (gradcheck, closed forms of §3.2), unfoldings, EMA, re-seeding."""

import pytest
import torch

from layerwise.parsimonious.regulariser import (
    ClusterRegulariser,
    closed_form_grad,
    d2_reseed,
    ema_centers,
    ema_closed_form_grad,
    nearest,
    penalty,
    unfold,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("kind", ["sample", "spatial", "channel"])
def test_unfold_rows_match_definitions(kind):
    y = torch.randn(2, 3, 4, 5)
    x = unfold(y, kind)
    if kind == "sample":
        assert torch.equal(x[1], torch.stack([y[1, :, h, w] for h in range(4) for w in range(5)]).reshape(-1))
    elif kind == "spatial":
        assert torch.equal(x[1 * 20 + 2 * 5 + 3], y[1, :, 2, 3])
    else:
        assert torch.equal(x[1 * 3 + 2], y[1, 2].reshape(-1))


def test_penalty_gradient_gradcheck_and_closed_form():
    x = torch.randn(7, 4, dtype=torch.float64, requires_grad=True)
    centers = torch.randn(3, 4, dtype=torch.float64)
    z = nearest(x.detach(), centers)
    numel = 28
    assert torch.autograd.gradcheck(lambda v: penalty(v, centers, z, numel), (x,))
    (grad,) = torch.autograd.grad(penalty(x, centers, z, numel), x)
    torch.testing.assert_close(grad, closed_form_grad(x.detach(), centers, z, numel))


def test_ema_closed_form_matches_autograd():
    x = torch.randn(9, 3, dtype=torch.float64, requires_grad=True)
    prev = torch.randn(4, 3, dtype=torch.float64)
    z = nearest(x.detach(), prev)
    alpha, numel = 0.7, 27

    def objective(v):
        mu, _ = ema_centers(v, prev, z, alpha)
        return ((v - mu[z]) ** 2).sum() / (2 * numel)

    assert torch.autograd.gradcheck(objective, (x,))
    (grad,) = torch.autograd.grad(objective(x), x)
    torch.testing.assert_close(grad, ema_closed_form_grad(x.detach(), prev, z, alpha, numel))


def test_ema_update_formula():
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0]])
    prev = torch.tensor([[1.0, 1.0], [9.0, 9.0], [-5.0, -5.0]])
    z = torch.tensor([0, 0, 1])
    new, counts = ema_centers(x, prev, z, 0.9)
    torch.testing.assert_close(new[0], 0.9 * torch.tensor([1.0, 0.0]) + 0.1 * prev[0])
    torch.testing.assert_close(new[1], 0.9 * x[2] + 0.1 * prev[1])
    torch.testing.assert_close(new[2], prev[2])  # no members: unchanged
    assert counts.tolist() == [2, 1, 0]


def test_reseed_draws_by_d2():
    x = torch.tensor([[0.0], [1.0], [3.0]])
    centers = torch.tensor([[0.0], [100.0]])
    value_to_row = {0.0: 0, 1.0: 1, 3.0: 2}
    picks = torch.zeros(3)
    for s in range(3000):
        new = d2_reseed(x, centers, torch.tensor([1]), torch.Generator().manual_seed(s))
        picks[value_to_row[new[1, 0].item()]] += 1
    # D^2 to the kept centre 0: (0, 1, 9) -> P = (0, 0.1, 0.9)
    assert picks[0] == 0
    assert abs(picks[2] / 3000 - 0.9) < 0.03


def test_regulariser_module_updates_and_reseeds():
    reg = ClusterRegulariser("spatial", 4, alpha=0.5, reseed_every=2, reseed_min=1000, seed=0)
    y = torch.randn(3, 5, 2, 2, requires_grad=True)
    r1 = reg(y)
    first = reg.centers.clone()
    assert first.shape == (4, 5) and r1.item() >= 0
    r1.backward()
    reg(y.detach())  # iteration 2: every centre has < 1000 members -> all re-seeded from the batch
    rows = unfold(y.detach(), "spatial")
    for c in reg.centers:
        assert (rows == c).all(1).any()
    assert reg.members.sum() == 0


@pytest.mark.parametrize("kind", ["sample", "spatial", "channel"])
def test_module_value_is_paper_equations_1_to_3_on_a_fixed_batch(kind):
    """R of the module on a fixed Y (N, C, H, W) and given previous centres, against paper 004's
    equations 1-3 written out in numpy: rows of the unfolding, nearest previous centre
    (Algorithm 1 line 6), EMA centres (lines 7-8), R = sum ||X_i - mu_{z_i}||^2 / (2 N C H W)."""
    import numpy as np

    rng = np.random.default_rng(4)
    n, c, h, w, k, alpha = 4, 3, 2, 5, 3, 0.7
    y = rng.normal(size=(n, c, h, w))
    if kind == "sample":  # T_{N}^{H,W,C}: one row per sample, (h, w, c) order
        rows = np.stack([y[i].transpose(1, 2, 0).ravel() for i in range(n)])
    elif kind == "spatial":  # T_{N,H,W}^{C}: one row per sample and pixel
        rows = np.array([y[i, :, a, b] for i in range(n) for a in range(h) for b in range(w)])
    else:  # T_{N,C}^{H,W}: one row per sample and channel
        rows = np.array([y[i, j].ravel() for i in range(n) for j in range(c)])
    prev = rng.normal(size=(k, rows.shape[1]))
    z = np.array([np.argmin(((prev - r) ** 2).sum(1)) for r in rows])
    mu = prev.copy()
    for j in set(z.tolist()):
        mu[j] = alpha * rows[z == j].mean(0) + (1 - alpha) * prev[j]
    expect = sum(((r - mu[zi]) ** 2).sum() for r, zi in zip(rows, z, strict=True)) / (2 * n * c * h * w)

    reg = ClusterRegulariser(kind, k, alpha, reseed_every=0, reseed_min=0, seed=0).double()
    reg.centers = torch.as_tensor(prev)
    value = reg(torch.as_tensor(y))
    assert float(value) == pytest.approx(expect, rel=1e-10)
    assert len(rows) > 1 and len(set(z.tolist())) > 1  # several rows and clusters: the normaliser matters
