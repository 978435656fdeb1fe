"""The ``model.pt`` format of the autoencoder stage: written once, read with one clear error.

(Training and its scratch checkpoints go through layerwise.training.loop.)
"""

from pathlib import Path

import torch

from layerwise import torchfile
from layerwise.errors import InputError
from layerwise.h5io import package_version

MODEL_FORMAT = 1


def save_model(path, kind, model, params, history, extra=None):
    """Write ``model.pt`` once, atomically: enough to rebuild the network without the config."""
    payload = {
        "format": MODEL_FORMAT,
        "kind": kind,
        "config": model.config,
        "state_dict": model.state_dict(),
        "params": params,
        "history": history,
        "version": package_version(),
    }
    payload.update(extra or {})
    torchfile.save(payload, path)  # in memory first: no temporary name inside the archive


def load_model_file(path):
    """The saved dict of a ``model.pt``; one clear error for missing, truncated or foreign files."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found. Run train_autoencoder/train_augmented first.")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for truncated zip files
        raise InputError(
            f"{path}: unreadable model file ({err}); delete it and rerun the workflow."
        ) from None
    if not isinstance(saved, dict) or saved.get("format") != MODEL_FORMAT or "kind" not in saved:
        raise InputError(f"{path}: not a model.pt of this pipeline version; delete it and rerun.")
    return saved


def build_model(saved):
    """Rebuild the network of a saved dict (residual autoencoder or augmented classifier)."""
    from layerwise.models.augmented import AugmentedNet
    from layerwise.models.residual_ae import ResidualAutoencoder

    cls = {"residual": ResidualAutoencoder, "augmented": AugmentedNet}[saved["kind"]]
    model = cls(**saved["config"])
    try:
        model.load_state_dict(saved["state_dict"])
    except RuntimeError as err:  # e.g. a residual model saved before input centring (no `center`)
        raise InputError(
            f"model.pt ({saved['kind']}) does not fit this pipeline version's network "
            f"({str(err).splitlines()[0]}); delete it and rerun its training rule."
        ) from None
    return model.eval()
