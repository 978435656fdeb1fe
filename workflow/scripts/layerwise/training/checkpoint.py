"""Undeclared scratch checkpoints: a killed training job resumes where it stopped.

The checkpoint lives beside the declared outputs as ``resume.ckpt`` (not an
output, so Snakemake neither requires nor deletes it), is written atomically,
and is removed once the declared outputs are in place. It also carries the
CPU and CUDA random states (dropout, in-model randomness).

Its fingerprint is the job's params plus the SHA-256 of every input file the
job reads (data, mini-batch file, earlier layers' weights.pt): a killed layer
whose earlier layers were retrained, or whose batches were rebuilt, starts over
instead of resuming on inputs that no longer exist.
"""

import hashlib
import json
from pathlib import Path

import torch

from layerwise import torchfile
from layerwise.h5io import atomic_path

NAME = "resume.ckpt"


def scratch_path(output):
    """The scratch checkpoint of the job that writes ``output``."""
    return Path(output).parent / NAME


def file_digest(path, chunk=1 << 20):
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(params, inputs):
    """What a checkpoint must match to be resumed: params and the hashes of ``inputs``."""
    files = {str(name): file_digest(path) for name, path in inputs.items() if path is not None}
    return json.dumps({"params": params, "inputs": files}, sort_keys=True)


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
