"""Taylor pruning (Molchanov et al.) against a brute-force per-example gradient, and slicing
a pruned layer against masking its removed maps."""

import torch
import torch.nn.functional as F

from layerwise.models.simcnn import make_block, make_head, spec_from_config
from layerwise.training import pruning

torch.set_num_threads(1)


def tiny(k):
    torch.manual_seed(k)
    spec = spec_from_config({"k": k, "layers": 2, "width": 6, "aux_width": 5, "batchnorm": True},
                            4, 3, 8)
    block, head = make_block(spec, 0).eval(), make_head(spec, 0).eval()
    x = torch.randn(7, 12, 4, 4)
    y = torch.randint(0, 4, (7,))
    return block, head, x, y


def test_scores_equal_brute_force_mask_gradients():
    block, head, x, y = tiny(2)
    got = pruning.taylor_scores(block, head, [(x[:3], y[:3]), (x[3:], y[3:])], torch.ones(6))
    expected = torch.zeros(6, dtype=torch.float64)
    for n in range(len(y)):  # d loss_n / d mask_c = sum over positions of a * g
        mask = torch.ones(6, requires_grad=True)
        a = block(x[n : n + 1])
        loss = F.cross_entropy(head(a * mask.view(1, -1, 1, 1)), y[n : n + 1])
        (g,) = torch.autograd.grad(loss, mask)
        expected += (g / (a.shape[2] * a.shape[3])).abs().double()
    torch.testing.assert_close(got, expected / len(y), rtol=1e-5, atol=1e-9)


def test_pruned_network_equals_masked_network():
    for k in (1, 3):
        block, head, x, y = tiny(k)
        keep = pruning.select_filters(block, head, [(x, y)], keep=3, steps=2)
        assert len(keep) == 3
        mask = torch.zeros(6)
        mask[keep] = 1
        with torch.no_grad():
            masked = head(block(x) * mask.view(1, -1, 1, 1))
            pruning.prune_block(block, keep)
            pruning.prune_head_input(head, keep)
            assert block(x).shape[1] == 3
            torch.testing.assert_close(head(block(x)), masked, rtol=1e-5, atol=1e-5)


def test_lowest_scores_are_pruned_first():
    block, head, x, y = tiny(1)
    scores = pruning.taylor_scores(block, head, [(x, y)], torch.ones(6))
    keep = pruning.select_filters(block, head, [(x, y)], keep=4, steps=1)
    assert set(keep.tolist()) == set(torch.argsort(scores)[2:].tolist())
