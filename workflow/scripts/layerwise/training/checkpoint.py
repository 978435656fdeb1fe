"""Undeclared scratch checkpoints: a killed training job resumes where it stopped.

The checkpoint lives beside the declared outputs as ``resume.ckpt`` (not an
output, so Snakemake neither requires nor deletes it), is written atomically,
and is removed once the declared outputs are in place.
"""

from pathlib import Path

import torch

from layerwise import torchfile
from layerwise.h5io import atomic_path

NAME = "resume.ckpt"


def scratch_path(output):
    """The scratch checkpoint of the job that writes ``output``."""
    return Path(output).parent / NAME


def save(path, state):
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load(path, fingerprint):
    """The saved state if a checkpoint of the same job (same params) exists, else None."""
    path = Path(path)
    if not path.exists():
        return None
    state = torchfile.load_scratch(path) or {}  # unreadable: deleted, start over
    if state.get("fingerprint") != fingerprint:
        return None  # params changed since the kill: start over
    return state


def remove(path):
    Path(path).unlink(missing_ok=True)
