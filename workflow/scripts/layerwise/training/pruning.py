"""Layer-wise compression (paper 003 section 4.3): Taylor filter pruning of a new layer.

The criterion of Molchanov et al. (2016): a feature map's importance is the
absolute first-order Taylor estimate of the loss change when it is zeroed,
|mean over positions of activation x gradient|, averaged over examples. The
freshly trained block loses its least important filters in ``steps`` rounds
(scores recomputed on the surviving maps each round) until ``keep`` remain; the
block and the first layer of its auxiliary head are then sliced to those maps.
"""

import torch
import torch.nn.functional as F
from torch import nn

from layerwise.models.simcnn import AuxClassifier
from layerwise.models.vgg import VGGHead


def taylor_scores(block, head, batches, mask):
    """Per-filter Taylor importance of ``block``'s output over ``batches`` of (x, y)."""
    scores = torch.zeros(mask.numel(), dtype=torch.float64)
    count = 0
    block.eval()
    head.eval()
    for x, y in batches:
        act = block(x) * mask.view(1, -1, 1, 1)
        act.retain_grad()
        F.cross_entropy(head(act), y, reduction="sum").backward()
        scores += (act * act.grad).mean(dim=(2, 3)).abs().sum(0).double().cpu()
        count += len(y)
        for p in list(block.parameters()) + list(head.parameters()):
            p.grad = None
    return scores / max(1, count)


def select_filters(block, head, batches, keep, steps):
    """Indices (sorted) of the ``keep`` filters that survive ``steps`` rounds of pruning."""
    out_channels = conv_of(block).out_channels
    mask = torch.ones(out_channels, device=conv_of(block).weight.device)
    alive = out_channels
    for r in range(steps):
        target = out_channels - (out_channels - keep) * (r + 1) // steps
        scores = taylor_scores(block, head, batches, mask)
        scores[mask.cpu() == 0] = float("inf")
        drop = torch.argsort(scores, stable=True)[: alive - target]
        mask[drop.to(mask.device)] = 0
        alive = target
    return torch.nonzero(mask.cpu()).flatten()


def conv_of(block):
    return next(m for m in block if isinstance(m, nn.Conv2d))


def _slice_(module, attr, index, dim):
    old = getattr(module, attr)
    if old is None:
        return
    setattr(module, attr, nn.Parameter(old.detach().index_select(dim, index.to(old.device)).clone()))


def prune_block(block, keep_idx):
    """Keep output maps ``keep_idx`` of the block's conv (and batch norm) in place."""
    conv = conv_of(block)
    _slice_(conv, "weight", keep_idx, 0)
    _slice_(conv, "bias", keep_idx, 0)
    conv.out_channels = len(keep_idx)
    for m in block:
        if isinstance(m, nn.BatchNorm2d):
            _slice_(m, "weight", keep_idx, 0)
            _slice_(m, "bias", keep_idx, 0)
            m.running_mean = m.running_mean[keep_idx.to(m.running_mean.device)].clone()
            m.running_var = m.running_var[keep_idx.to(m.running_var.device)].clone()
            m.num_features = len(keep_idx)


def prune_head_input(head, keep_idx):
    """Restrict the head's first layer to input maps ``keep_idx``."""
    convs = [m for m in head.modules() if isinstance(m, nn.Conv2d)]
    if convs:
        _slice_(convs[0], "weight", keep_idx, 1)
        convs[0].in_channels = len(keep_idx)
        return
    if isinstance(head, AuxClassifier):
        linear, cells = head.linear, 4  # flattened (channels, 2, 2)
    elif isinstance(head, VGGHead):
        linear, cells = head.classifier[0], linear_cells(head)
    else:
        raise TypeError(f"cannot prune the input of {type(head).__name__}")
    cols = (keep_idx.view(-1, 1) * cells + torch.arange(cells).view(1, -1)).flatten()
    _slice_(linear, "weight", cols, 1)
    linear.in_features = len(cols)


def linear_cells(head):
    pool = head.pool[1].output_size
    return pool * pool if isinstance(pool, int) else pool[0] * pool[1]
