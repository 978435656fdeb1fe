"""Latent recovery on data from the generative model: do the blocks find the semantic classes?

Block j of a d-block network answers to the latent image X(d-j). Its output
grid lines up with that image's grid in both geometries of dlc.py:

* aligned (stride s, no pooling): one s x s patch per latent pixel; images
  shifted by a grid offset are rolled back first (the oracle view);
* §6 (stride 1, then 2x2 max-pool) with s = 2 and offsets below 2: pooled cell
  (i, j) covers the stride-1 positions 2i..2i+1, one of which is the true
  patch of latent pixel (i, j) whatever the offset, so the output is that
  latent image cropped to the output grid.

Two measures per level on the evaluation images:

* ``assign``: the block's own clusters (the strongest ReLU(cos + b) channel,
  after pooling in the §6 geometry) against the latent class of that pixel.
  Block 1 uses k_d = k |C_{d-1}| clusters (one per distinct patch, Theorem 2),
  so its purity is the measure there (NMI is capped below 1 when there are
  more clusters than classes);
* ``embed``: k-means with K = |C_{d-j}| on the block's trained 1x1-conv
  embedding, the "trivial clustering" of paper 001 §4.2 that should
  reconstruct the latent image (Theorem 1): NMI and purity.
"""

import numpy as np
import torch

from layerwise.clustering.dlc import block_inputs, representation
from layerwise.clustering.kmeans import kmeans
from layerwise.clustering.metrics import nmi, purity


def _subsample(n, limit, seed):
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _unshift(images, offsets):
    out = images.clone()
    for i, (dy, dx) in enumerate(np.asarray(offsets)):
        if dy or dx:
            out[i] = torch.roll(images[i], (-int(dy), -int(dx)), dims=(1, 2))
    return out


@torch.no_grad()
def latent_recovery(net, images, latents, num_blocks, device, max_points=20000, seed=0, offsets=None):
    """Per-level metrics as a dict ``{level: {...}}``; levels whose grid does not line up are skipped."""
    depth = len(latents)
    first = block_inputs(net, 1)[1]
    pooled = first.pool
    if pooled and first.weight.shape[-1] != 2:  # the pooled cells line up with latents only for s = 2
        return {}
    if offsets is not None and not pooled:
        images = _unshift(images, offsets)
    if offsets is not None and pooled and np.asarray(offsets).max() > 1:
        return {}
    out = {}
    for j in range(1, num_blocks + 1):
        level = depth - j
        if level < 0:
            break
        prefix, cluster, embed = block_inputs(net, j)
        h = representation(prefix, images, device)
        if cluster.pool:
            assign = cluster.to(device)(h.to(device)).argmax(1).cpu().numpy()
        else:
            assign = cluster.to(device).assignments(h.to(device)).cpu().numpy()
        g = assign.shape[1:]
        truth = np.asarray(latents[level])
        if cluster.pool:
            truth = truth[:, : g[0], : g[1]]
        if assign.shape != truth.shape:
            continue
        emb = representation(torch.nn.Sequential(cluster, embed), h, device)  # (n, width, g, g)
        vectors = emb.permute(0, 2, 3, 1).reshape(-1, emb.shape[1]).numpy()
        rows = _subsample(len(vectors), max_points, seed + j)
        t, a = truth.reshape(-1)[rows], assign.reshape(-1)[rows]
        num_classes = len(np.unique(truth))
        km = kmeans(vectors[rows], num_classes, seed + j, iterations=50, cosine=False)
        out[level] = {
            "block": j,
            "assign_nmi": nmi(t, a),
            "assign_purity": purity(t, a),
            "embed_nmi": nmi(t, km.labels),
            "embed_purity": purity(t, km.labels),
            "classes": num_classes,
            "points": len(rows),
        }
    return out
