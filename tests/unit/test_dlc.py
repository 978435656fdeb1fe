"""Deep layerwise clustering: cluster conv, NMI/purity against scikit-learn, latent recovery on model data."""

import numpy as np
import torch
from sklearn.metrics import normalized_mutual_info_score

from layerwise.clustering.dlc import ClusterConv, fit_dlc
from layerwise.clustering.metrics import nmi, purity
from layerwise.clustering.recovery import latent_recovery
from layerwise.clustering.training import Budget, validation_split
from layerwise.data.synthetic import generate

torch.set_num_threads(1)


def test_nmi_matches_sklearn_and_purity_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(5):
        t, p = rng.integers(0, 4, 300), rng.integers(0, 6, 300)
        assert abs(nmi(t, p) - normalized_mutual_info_score(t, p)) < 1e-10
        brute = sum(np.bincount(t[p == c]).max() for c in np.unique(p)) / len(t)
        assert purity(t, p) == brute
    assert nmi(t, t + 7) == 1.0


def test_cluster_conv_is_patch_cosine():
    rng = np.random.default_rng(1)
    h = torch.tensor(rng.normal(size=(2, 3, 6, 6)), dtype=torch.float32)
    w = rng.normal(size=(4, 3, 2, 2)).astype(np.float32)
    w /= np.linalg.norm(w.reshape(4, -1), axis=1)[:, None, None, None]
    conv = ClusterConv(w, bias=-0.3, stride=2, pool=False)
    out = conv(h).numpy()
    for n, i, j in [(0, 0, 0), (1, 2, 1), (0, 1, 2)]:
        patch = h[n, :, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].numpy().ravel()
        cos = w.reshape(4, -1) @ patch / np.linalg.norm(patch)
        np.testing.assert_allclose(out[n, :, i, j], np.maximum(cos - 0.3, 0), atol=1e-5)


def test_recovers_latent_classes_on_tiny_synthetic():
    params = dict(
        semantic="random", num_classes=10, semantic_size=4, patch_size=2, classes_per_level=[4, 4],
        patches_per_class=3, prototypes_per_class=4, resample_prob=0.05, channels=3, noise_std=2.0,
        n_train=2000, n_test=200, seed=0,
    )
    data = generate(params)
    images = torch.from_numpy(data["images"].transpose(0, 3, 1, 2).copy())
    tr, te = data["splits"]["train"], data["splits"]["test"]
    cfg = dict(
        num_patches=4000, clusters=[12, 12], channels=[8, 8], bias=-0.8, patch_size=2, stride="aligned",
        kmeans_iterations=30, init_scale=0.01, seed=0,
    )
    fit, val = validation_split(data["labels"][tr], 0.1, 0)
    y = data["labels"][tr]
    budget = Budget(max_steps=600, eval_every=50, patience=3, lr=0.003, batch_size=32)
    net, _ = fit_dlc(images[tr][fit], y[fit], images[tr][val], y[val], 10, cfg, budget, "cpu")
    rec = latent_recovery(net, images[te], [lat[te] for lat in data["latents"]], 2, "cpu")
    assert rec[1]["assign_purity"] == 1.0  # block 1: one cluster per distinct pixel patch
    assert rec[1]["embed_nmi"] >= 0.95  # the trained 1x1 embedding merges each level-1 class
