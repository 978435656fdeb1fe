"""Resumable training phases and the ``model.pt`` format.

A phase (e.g. "classify", "decoders", "finetune") runs epochs; after each one
the model, the optimiser and the history go to an undeclared scratch file
``<outdir>/.scratch/<phase>.pt`` (written atomically). A rerun of the same job
with the same parameters reloads it and continues; epoch orders depend only on
(seed, phase, epoch), so the result is the same as an uninterrupted run.
Scratch files whose parameters differ are ignored; epoch counts (keys ending in
``epochs``) are not compared, so a longer run continues a shorter one.
"""

import json
import logging
import shutil
from pathlib import Path

import torch

from layerwise import torchfile
from layerwise.errors import InputError
from layerwise.h5io import atomic_path, package_version

log = logging.getLogger(__name__)
MODEL_FORMAT = 1


def scratch_dir(output):
    return Path(output).parent / ".scratch"


def run_phase(name, epochs, epoch_fn, modules, optimizer, scratch, params, history=None, stop=None):
    """Run ``epoch_fn(epoch) -> dict of floats`` for ``epochs`` epochs, resuming from scratch.

    ``modules`` (dict name -> nn.Module) and ``optimizer`` are saved after every
    epoch (``scratch`` None: no checkpoints); ``stop(history)`` True ends the phase
    early (early stopping); returns the history dict name -> list of per-epoch values.
    """
    history = {} if history is None else history
    path = None if scratch is None else Path(scratch) / f"{name}.pt"
    fingerprint = json.dumps({k: v for k, v in params.items() if not k.endswith("epochs")}, sort_keys=True)
    start = 0
    if path is not None and path.exists():
        state = torchfile.load_scratch(path) or {}  # unreadable: deleted, start over
        if state.get("params") == fingerprint and state["epoch"] <= epochs:
            for key, module in modules.items():
                module.load_state_dict(state["modules"][key])
            if optimizer is not None:
                optimizer.load_state_dict(state["optimizer"])
            history.update(state["history"])
            start = state["epoch"]
            log.info("phase %s: resuming after epoch %d from %s", name, start, path)
        else:
            log.info("phase %s: ignoring %s (written for other parameters)", name, path)
    for epoch in range(start, epochs):
        if stop is not None and stop(history):
            log.info("phase %s: early stop after epoch %d/%d", name, epoch, epochs)
            break
        stats = epoch_fn(epoch)
        for key, value in stats.items():
            history.setdefault(key, []).append(float(value))
        log.info("phase %s epoch %d/%d: %s", name, epoch + 1, epochs, _fmt(stats))
        if path is None:
            continue
        state = {
            "params": fingerprint,
            "epoch": epoch + 1,
            "modules": {k: m.state_dict() for k, m in modules.items()},
            "optimizer": None if optimizer is None else optimizer.state_dict(),
            "history": history,
        }
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    return history


def _fmt(stats):
    return " ".join(f"{k}={v:.4g}" for k, v in stats.items())


def clear_scratch(output):
    shutil.rmtree(scratch_dir(output), ignore_errors=True)


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
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


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
    model.load_state_dict(saved["state_dict"])
    return model.eval()
