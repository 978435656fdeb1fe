"""The clustering regulariser of paper 004 (§3, equations 1-3, Algorithm 1).

A layer's representation Y (N, C, H, W) is unfolded into rows X_i and

    R(Y, mu) = 1 / (2 N C H W) * sum_i ||X_i - mu_{z_i}||^2

with, per kind of clustering,

* ``sample`` (eq. 1): one row per sample, T_{N}^{H,W,C}(Y), length HWC;
* ``spatial`` (eq. 2): one row per sample and pixel, T_{N,H,W}^{C}(Y), length C;
* ``channel`` (eq. 3, co-clustering): one row per sample and channel,
  T_{N,C}^{H,W}(Y), length HW.

A fully connected layer is the case H = W = 1. Algorithm 1, per iteration:
assign z_i to the nearest centre of the *previous* step (line 6), the batch
mean of each cluster (line 7), the EMA mu_t = alpha mu_hat + (1 - alpha)
mu_{t-1} (line 8), then gradients with the centres fixed (line 11), so
dR/dX_i = (X_i - mu_{z_i}) / (NCHW). Every ``reseed_every`` iterations the
centres that received fewer than ``reseed_min`` rows since the last check are
re-drawn from the current batch by k-means++ D^2 sampling (line 13). Centres
start as random rows of the first batch (§4: "randomly chosen from the
representations obtained with the initial network").
"""

import torch
import torch.nn as nn

KINDS = ("sample", "spatial", "channel")


def unfold(y, kind):
    """The matrix unfolding of eq. 1-3: rows are what is clustered."""
    if y.dim() == 2:
        y = y[:, :, None, None]
    n, c, h, w = y.shape
    if kind == "sample":
        return y.permute(0, 2, 3, 1).reshape(n, h * w * c)
    if kind == "spatial":
        return y.permute(0, 2, 3, 1).reshape(n * h * w, c)
    if kind == "channel":
        return y.reshape(n * c, h * w)
    raise ValueError(f"clustering kind must be one of {KINDS}, got {kind!r}")


def nearest(x, centers):
    """Index of the nearest centre (squared Euclidean) of every row."""
    d2 = (x * x).sum(1, keepdim=True) - 2 * x @ centers.T + (centers * centers).sum(1)
    return d2.argmin(1)


def penalty(x, centers, z, numel):
    """R = sum_i ||x_i - mu_{z_i}||^2 / (2 numel), centres treated as constants."""
    return ((x - centers[z].detach()) ** 2).sum() / (2 * numel)


def closed_form_grad(x, centers, z, numel):
    """dR/dx with the centres fixed (Algorithm 1 line 11): (x_i - mu_{z_i}) / numel."""
    return (x - centers[z]) / numel


def ema_centers(x, prev, z, alpha):
    """Line 7-8: mu_k = alpha * mean{x_i : z_i = k} + (1 - alpha) * prev_k; clusters without rows keep prev_k."""
    k = prev.shape[0]
    counts = torch.bincount(z, minlength=k).to(x.dtype)
    sums = torch.zeros_like(prev).index_add(0, z, x)
    hit = counts > 0
    means = sums / counts.clamp_min(1)[:, None]
    new = torch.where(hit[:, None], alpha * means + (1 - alpha) * prev, prev)
    return new, counts


def ema_closed_form_grad(x, prev, z, alpha, numel):
    """dR/dx when the EMA centres are differentiated too (§3.2's online update, centres not fixed):
    (x_n - mu_{z_n}) / numel - alpha / (Q_{z_n} numel) * sum_{p: z_p = z_n} (x_p - mu_{z_n})."""
    mu, counts = ema_centers(x, prev, z, alpha)
    resid = x - mu[z]
    cluster_sum = torch.zeros_like(prev).index_add(0, z, resid)
    return (resid - alpha * cluster_sum[z] / counts[z][:, None]) / numel


def d2_reseed(x, centers, which, generator):
    """Replace ``centers[which]`` one by one with rows of x drawn with probability D^2 / sum D^2."""
    centers = centers.clone()
    keep = torch.ones(len(centers), dtype=torch.bool, device=centers.device)
    keep[which] = False
    if keep.any():
        d2 = torch.cdist(x, centers[keep]).pow(2).min(1).values
    else:
        d2 = torch.full((len(x),), float("inf"), device=x.device)
    for k in which.tolist():
        if torch.isinf(d2).all():
            probs = torch.ones(len(x), device=x.device)
        else:
            probs = d2.clamp_min(0)
            probs = probs if probs.sum() > 0 else torch.ones_like(probs)
        pick = torch.multinomial(probs.cpu(), 1, generator=generator).item()
        centers[k] = x[pick]
        d2 = torch.minimum(d2, ((x - x[pick]) ** 2).sum(1))
    return centers


class ClusterRegulariser(nn.Module):
    """R for one layer with its online centres; call it on the layer output inside the forward pass."""

    def __init__(self, kind, num_clusters, alpha, reseed_every, reseed_min, seed):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"clustering kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.k, self.alpha = kind, int(num_clusters), float(alpha)
        self.reseed_every, self.reseed_min = int(reseed_every), int(reseed_min)
        self.register_buffer("centers", torch.empty(0))
        self.register_buffer("members", torch.zeros(self.k))
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))
        self.seed = int(seed)

    def _generator(self):
        # Derived from (seed, iteration): a resumed run draws exactly what an uninterrupted one does.
        return torch.Generator().manual_seed(self.seed * 1_000_003 + int(self.iteration))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "centers"
        if key in state_dict:  # the centres' shape is known only after the first batch
            self.centers = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _init(self, x):
        gen = self._generator()
        if len(x) < self.k:
            rows = torch.randint(len(x), (self.k,), generator=gen)
        else:
            rows = torch.randperm(len(x), generator=gen)[: self.k]
        self.centers = x[rows.to(x.device)].detach().clone()

    def forward(self, y):
        x = unfold(y, self.kind)
        if not self.training:
            return x.new_zeros(())
        with torch.no_grad():
            xd = x.detach()
            if self.centers.numel() == 0:
                self._init(xd)
            z = nearest(xd, self.centers)  # previous centres (line 6)
            self.centers, counts = ema_centers(xd, self.centers, z, self.alpha)
            self.members += counts
            self.iteration += 1
        value = penalty(x, self.centers, z, y.numel())
        if self.reseed_every and int(self.iteration) % self.reseed_every == 0:
            with torch.no_grad():
                drifted = torch.nonzero(self.members < self.reseed_min).flatten()
                if len(drifted):
                    self.centers = d2_reseed(xd, self.centers, drifted, self._generator())
                self.members.zero_()
        return value
