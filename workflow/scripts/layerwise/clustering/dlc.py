"""Deep Layerwise Clustering (paper 001, Algorithm 1 and §6), built as a plain torch CNN.

Per block j = 1..d, on the current representation h (standardised pixels first):

1. sample N patches s x s of h uniformly over (image, position);
2. k-means++ and Lloyd w.r.t. the cosine distance -> k_j unit centroids;
3. a fixed conv whose kernels are the centroids, computing the cosine between
   every patch and every centroid, then ReLU(cos + b) with the fixed bias b,
   and (``stride="paper"``) the stride-1 conv followed by 2x2 max-pooling of
   §6 step 4, or (``stride="aligned"``) stride s without pooling, the setting
   of the analysis (patches aligned with the generative model's patches);
4. a 1x1 conv to n_j channels and a linear layer on top, trained with Adam on
   cross-entropy; the linear layer is dropped and the block frozen.

The Clustering+JL baseline replaces the trained 1x1 conv by a fixed
Johnson-Lindenstrauss Gaussian projection. The result is an ``nn.Sequential``
(standardise, cluster conv, 1x1 conv, cluster conv, 1x1 conv, ...).
"""

import logging

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from layerwise.clustering.kmeans import kmeans
from layerwise.clustering.training import train_early_stopping

log = logging.getLogger(__name__)
STRIDES = ("aligned", "paper")


class Standardize(nn.Module):
    """uint8 images (n, C, H, W) -> per-channel standardised floats (training-set statistics)."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    @classmethod
    def fit(cls, images):
        x = images.double() / 255.0
        return cls(x.mean((0, 2, 3)), x.std((0, 2, 3)).clamp_min(1e-6))

    def forward(self, x):
        return (x.float() / 255.0 - self.mean) / self.std


class ClusterConv(nn.Module):
    """Fixed conv with unit centroids as kernels: ReLU(cos(patch, centroid) + b), then optional 2x2 max-pool."""

    def __init__(self, centers, bias, stride, pool):
        super().__init__()
        self.register_buffer("weight", torch.as_tensor(centers, dtype=torch.float32))
        self.register_buffer("ones", torch.ones((1,) + tuple(self.weight.shape[1:])))
        self.bias, self.stride, self.pool = float(bias), int(stride), bool(pool)

    def cosine(self, h):
        num = F.conv2d(h, self.weight, stride=self.stride)
        norm = F.conv2d(h * h, self.ones, stride=self.stride).clamp_min(1e-12).sqrt()
        return num / norm

    def assignments(self, h):
        """Nearest centroid (largest cosine) of every patch position: int64 (n, gh, gw)."""
        return self.cosine(h).argmax(1)

    def forward(self, h):
        out = F.relu(self.cosine(h) + self.bias)
        return F.max_pool2d(out, 2) if self.pool else out


class AsFloat(nn.Module):
    """Cached float16 activations -> float32 for the layers that train on them."""

    def forward(self, x):
        return x.float()


def conv_geometry(stride_mode, patch_size):
    if stride_mode not in STRIDES:
        raise ValueError(f"stride must be one of {STRIDES}, got {stride_mode!r}")
    return (patch_size, False) if stride_mode == "aligned" else (1, True)


@torch.no_grad()
def representation(net, images, device, batch_size=512):
    """``net`` applied to uint8 images in chunks: float32 CPU tensor."""
    net.eval().to(device)
    out = [net(images[i : i + batch_size].to(device)).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out)


@torch.no_grad()
def sample_patches(net, images, num, size, stride, seed, device, batch_size=512):
    """``num`` patches (num, C*size*size) of ``net``'s output, uniform over (image, patch position).

    Rows are in the layout of a conv kernel (C, size, size) flattened, so
    centroids reshape directly into kernels.
    """
    rng = np.random.default_rng(seed)
    first = net.eval().to(device)(images[:1].to(device))
    positions = F.unfold(first, size, stride=stride).shape[-1]
    img = rng.integers(len(images), size=num)
    pos = rng.integers(positions, size=num)
    out = np.empty((num, first.shape[1] * size * size), dtype=np.float32)
    for lo in range(0, len(images), batch_size):
        rows = np.flatnonzero((img >= lo) & (img < lo + batch_size))
        if len(rows) == 0:
            continue
        h = net(images[lo : lo + batch_size].to(device))
        cols = F.unfold(h, size, stride=stride).cpu()  # (b, D, L)
        out[rows] = cols[img[rows] - lo, :, pos[rows]].numpy()
    return out


def _frozen(*modules):
    net = nn.Sequential(*modules)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def jl_projection(k, n, seed):
    """1x1 conv with i.i.d. N(0, 1/n) weights: a Johnson-Lindenstrauss random projection R^k -> R^n."""
    conv = nn.Conv2d(k, n, 1, bias=False)
    gen = torch.Generator().manual_seed(seed)
    conv.weight.data = torch.randn(n, k, 1, 1, generator=gen) / np.sqrt(n)
    return conv


def small_conv1x1(k, n, scale):
    """1x1 conv with PyTorch's default init times ``scale``: a small start, as the analysis of §4
    assumes, so what training adds (equal for patches of one semantic class) dominates."""
    conv = nn.Conv2d(k, n, 1)
    with torch.no_grad():
        conv.weight.mul_(scale)
        conv.bias.mul_(scale)
    return conv


def fit_dlc(images, labels, val_images, val_labels, num_classes, cfg, budget, device, jl=False, scratch=None):
    """Learn the blocks on uint8 images (n, C, H, W); returns (frozen nn.Sequential, per-block info).

    ``cfg`` keys: num_patches, clusters, channels, bias, patch_size, stride,
    kmeans_iterations, init_scale, seed. Each block's 1x1 conv + linear layer is
    trained under ``budget`` (a :class:`~layerwise.clustering.training.Budget`)
    with early stopping on the validation images.
    """
    if len(cfg["clusters"]) != len(cfg["channels"]):
        raise ValueError("clusters and channels need one entry per block")
    stride, pool = conv_geometry(cfg["stride"], cfg["patch_size"])
    biases = cfg["bias"] if isinstance(cfg["bias"], (list, tuple)) else [cfg["bias"]] * len(cfg["clusters"])
    if len(biases) != len(cfg["clusters"]):
        raise ValueError("bias needs one entry per block (or one number for all)")
    net = _frozen(Standardize.fit(images))
    info = []
    for j, (k, width, bias) in enumerate(zip(cfg["clusters"], cfg["channels"], biases, strict=True)):
        seed = cfg["seed"] * 1000 + j
        patches = sample_patches(net, images, cfg["num_patches"], cfg["patch_size"], stride, seed, device)
        km = kmeans(patches, k, seed, iterations=cfg["kmeans_iterations"], cosine=True)
        log.info(
            "block %d: k-means k=%d on %d patches, inertia %.4g, %d iterations",
            j + 1,
            k,
            len(patches),
            km.inertia,
            km.iterations,
        )
        channels = patches.shape[1] // cfg["patch_size"] ** 2
        centers = km.centers.reshape(k, channels, cfg["patch_size"], cfg["patch_size"])
        cluster = ClusterConv(centers, bias, stride, pool)
        torch.manual_seed(seed)
        embed = jl_projection(k, width, seed) if jl else small_conv1x1(k, width, cfg["init_scale"])
        block = {
            "block": j + 1,
            "k": k,
            "channels": width,
            "bias": bias,
            "inertia": km.inertia,
            "iterations": km.iterations,
        }
        with torch.no_grad():
            active = (cluster(net.to("cpu")(images[:64])) > 0).float().mean().item()
        block["active_fraction"] = active  # share of ReLU(cos + b) outputs above zero
        if not jl:
            # The frozen prefix is computed once: only the 1x1 conv and the linear layer train.
            # Stored as float16 (values in [0, 1 + b]) to halve memory at CIFAR scale.
            h_tr = representation(nn.Sequential(*net, cluster), images, device).half()
            h_val = representation(nn.Sequential(*net, cluster), val_images, device).half()
            top = nn.Linear(width * h_tr.shape[-2] * h_tr.shape[-1], num_classes)
            trainer = nn.Sequential(AsFloat(), embed, nn.Flatten(), top)
            hist = train_early_stopping(
                trainer, h_tr, labels, h_val, val_labels, budget, seed, device, scratch, f"block {j + 1}"
            )
            block.update(steps=hist["steps"], best_step=hist["best_step"], val_accuracy=hist["best_val_accuracy"])
        net = _frozen(*net, cluster, embed)  # drop the linear layer, freeze the block
        info.append(block)
    return net, info


def block_inputs(net, j):
    """The prefix of ``net`` whose output block j (1-based) clusters, and block j's (cluster, embed)."""
    layers = list(net)
    start = 1 + 2 * (j - 1)
    return nn.Sequential(*layers[:start]), layers[start], layers[start + 1]
