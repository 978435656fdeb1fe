"""Training of paper 000's residual autoencoder: MSE reconstruction of [0, 1] pixels."""

import numpy as np
import torch
import torch.nn.functional as F

from layerwise.autoencoder import inputs
from layerwise.data.datasets import ManifestDataset
from layerwise.models.residual_ae import ResidualAutoencoder
from layerwise.training.loop import Task, fit


def make_optimizer(params, cfg):
    """``cfg``: optimizer (adam | sgd), lr, weight_decay, momentum (sgd)."""
    if cfg["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    return torch.optim.SGD(
        params, lr=cfg["lr"], momentum=cfg.get("momentum", 0.9), weight_decay=cfg["weight_decay"]
    )


def train_residual(images, cfg, scratch, device, source="data.h5"):
    """Train on uint8 images (n, C, H, W); returns (model on CPU, history with recon_loss per epoch).

    ``cfg`` keys: width, epochs, batch_size, optimizer, lr, weight_decay, seed.
    ``scratch``: the job's checkpoint.Scratch (None: no checkpoints).
    """
    return _train(images.shape, lambda order: (images[idx] for idx in order), cfg, scratch, device, source)


def train_residual_stream(data_path, side, workers, cfg, scratch, device):
    """:func:`train_residual` on the ``side`` x ``side`` view of a manifest, streamed by workers.

    Same seeded epoch orders; each epoch's batches are decoded by a DataLoader
    that follows them, so memory stays bounded by a few batches.
    """
    from layerwise.data.lowres import low_res_chunks  # manifests only

    n = len(ManifestDataset(data_path, "train"))

    def fetch(order):
        return low_res_chunks(data_path, "train", side, None, workers, [o.tolist() for o in order])

    return _train((n, 3, side, side), fetch, cfg, scratch, device, data_path)


# images whose mean the model is centred on: all of a small set, a seeded sample of a large one
MEAN_IMAGES = 10_000


def mean_image(chunks):
    """float64 mean of uint8 chunks (b, C, H, W) on the [0, 1] scale."""
    total, n = 0.0, 0
    for chunk in chunks:
        total = total + chunk.double().sum(0)
        n += len(chunk)
    return total / (255.0 * n)


def _train(shape, fetch, cfg, scratch, device, source):
    torch.manual_seed(cfg["seed"])
    model = ResidualAutoencoder(in_channels=shape[1], width=cfg["width"], image_size=shape[2:])
    model.check_input(shape, source)
    sample = inputs.subsample(shape[0], MEAN_IMAGES, cfg["seed"])
    model.set_center(mean_image(fetch(list(sample.split(cfg["batch_size"])))))
    model.to(device)
    opt = make_optimizer(model.parameters(), cfg)

    def batches(epoch, start):  # the epoch's seeded order, from batch ``start`` on
        order = inputs.batches(shape[0], cfg["batch_size"], inputs.generator(cfg["seed"], "ae", epoch))
        return fetch(order[start:])

    def step(batch, at):
        x = inputs.to_float(batch).to(device)
        loss = F.mse_loss(model(x), x)
        return loss, {"recon_loss": loss.item() * len(batch)}, len(batch)

    task = Task(model, opt, batches, step, epochs=cfg["epochs"], desc="autoencoder",
                hint="Lower the variant's lr in autoencoder.variants")
    # epoch counts are left out of the fingerprint: a longer run continues a shorter one
    history = fit(task, scratch, "autoencoder", {k: v for k, v in cfg.items() if not k.endswith("epochs")}).history
    return model.cpu().eval(), history


@torch.no_grad()
def mean_mse(model, images, batch_size=256, device="cpu"):
    """Mean per-pixel squared error of reconstructions over uint8 images (eval mode)."""
    model.eval().to(device)
    total = 0.0
    for idx in torch.arange(len(images)).split(batch_size):
        x = inputs.to_float(images[idx]).to(device)
        total += F.mse_loss(model(x), x, reduction="sum").item()
    return total / images[:1].numel() / len(images)


def baseline_mses(train_images, test_images):
    """Per-pixel MSE on the test split of the two reconstructions that need no autoencoder
    ([0, 1] pixels): ``mean_image``, the training-set mean image for every test image (the
    best input-independent output), and ``image_mean``, each test image's own per-channel
    mean pixel broadcast over it (a C-number code; the 8-channel bottleneck should beat it)."""
    mean = mean_image(train_images.split(1024))
    se_mean, se_own = 0.0, 0.0
    for idx in torch.arange(len(test_images)).split(1024):
        x = test_images[idx].double().div(255.0)
        se_mean += ((x - mean) ** 2).sum().item()
        se_own += ((x - x.mean(dim=(2, 3), keepdim=True)) ** 2).sum().item()
    n = test_images.numel()
    return {"mean_image": se_mean / n, "image_mean": se_own / n}


def pca_mse(train_images, test_images, dim, seed=0):
    """Per-pixel test MSE of the best *linear* code of ``dim`` numbers: scikit-learn's PCA fitted
    on (a seeded sample of at most MEAN_IMAGES) training images, [0, 1] pixels. The reference a
    nonlinear code of the same size is read against."""
    from sklearn.decomposition import PCA

    def flat(images):
        return images.flatten(1).numpy().astype(np.float64) / 255.0

    sample = inputs.subsample(len(train_images), MEAN_IMAGES, seed)
    pca = PCA(n_components=min(dim, len(sample), train_images[0].numel()), random_state=seed)
    pca.fit(flat(train_images[sample]))
    se = 0.0
    for idx in torch.arange(len(test_images)).split(1024):
        x = flat(test_images[idx])
        se += float(((pca.inverse_transform(pca.transform(x)) - x) ** 2).sum())
    return se / test_images.numel()
