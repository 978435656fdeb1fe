"""Latent recovery on data from the generative model: do the blocks find the semantic classes?

With aligned patches (conv stride s, no pooling), block j of a d-block network
sees one s x s patch per pixel of the latent image X(d-j): its output grid is
exactly that image's grid. Two measures per level, on the evaluation images:

* ``assign``: the block's own k-means assignment (nearest centroid) of every
  patch against the latent class of that pixel. Block 1 uses k_d = k |C_{d-1}|
  clusters (one per distinct patch, Theorem 2), so its purity is the measure
  there (NMI is capped below 1 when there are more clusters than classes);
* ``embed``: k-means with K = |C_{d-j}| on the block's trained 1x1-conv
  embedding of the patches, the "trivial clustering" of paper 001 §4.2 that
  should reconstruct the latent image (Theorem 1): NMI and purity.
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


@torch.no_grad()
def latent_recovery(net, images, latents, num_blocks, device, max_points=20000, seed=0):
    """Per-level metrics as a dict ``{level: {...}}``; levels whose grid does not match are skipped."""
    depth = len(latents)
    out = {}
    for j in range(1, num_blocks + 1):
        level = depth - j
        if level < 0:
            break
        prefix, cluster, embed = block_inputs(net, j)
        if cluster.pool:
            continue
        h = representation(prefix, images, device)
        assign = cluster.to(device).assignments(h.to(device)).cpu().numpy()
        truth = np.asarray(latents[level])
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
