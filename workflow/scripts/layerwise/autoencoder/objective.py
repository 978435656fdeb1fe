"""Paper 002's joint objective C + lambda * U (eq. 2) and its variants of U (section 3.2).

U_l = ||a^_l - a_l||^2 summed over the elements of one image (not normalised by
the dimension, as in Appendix A1), averaged over the batch. The variants:

* first:     U = gamma_0 ||a^_0 - x||^2 with stacked decoders (eq. 3)
* all:       U = sum_{l=0}^{L-1} gamma_l U_l with stacked decoders
* layerwise: the same sum with layer-wise decoders a^_{l-1} = f_l^dec(a_l)

Gradients flow into both the reconstruction and its target activation during
joint fine-tuning (the paper's Caffe Euclidean loss back-propagates to both).
"""

import torch
import torch.nn.functional as F

MODES = ("first", "all", "layerwise")


def wiring(mode):
    return "layerwise" if mode == "layerwise" else "stacked"


def sse_terms(recon, acts):
    """Per-level batch-mean sums of squared errors [U_0, ..., U_{L-1}]."""
    return [((r - a) ** 2).flatten(1).sum(1).mean() for r, a in zip(recon, acts[: len(recon)], strict=True)]


def reconstruction_loss(terms, weights, mode):
    """U of a variant from the per-level terms and loss weights gamma_l."""
    if mode == "first":
        return weights[0] * terms[0]
    return sum(w * t for w, t in zip(weights, terms, strict=False))


def joint_loss(net, x, y, mode, weights, lam):
    """Batch mean of C + lambda * U; also returns C, U and the per-level terms (detached)."""
    acts, switches = net.encode(x)
    c = F.cross_entropy(net.classify(acts[-1]), y)
    if mode is None or lam == 0:
        return c, {"C": c.item(), "U": 0.0}
    terms = sse_terms(net.decode(acts, switches, wiring(mode)), acts)
    u = reconstruction_loss(terms, weights, mode)
    return c + lam * u, {"C": c.item(), "U": u.item()}


@torch.no_grad()
def balanced_weights(net, x, mode):
    """gamma_l = 1 / (L U_l) on one batch, so every weighted term starts near 1/L (Appendix A1's
    "make the weighted loss for every layer comparable") and U starts near 1.
    SAE/SWWAE-first has the single term gamma_0 = 1 / U_0."""
    acts, switches = net.encode(x)
    terms = sse_terms(net.decode(acts, switches, wiring(mode)), acts)
    terms = terms[:1] if mode == "first" else terms
    return [1.0 / (len(terms) * max(t.item(), 1e-12)) for t in terms]
