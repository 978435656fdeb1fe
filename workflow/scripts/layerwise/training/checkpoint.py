"""The one scratch convention: a job's resumable checkpoints live in ``<output>.scratch/``.

Every training job (layer-wise, end-to-end, autoencoder, augmented, clustering,
parsimonious) keeps its checkpoints in a folder named after its first declared
output plus ``.scratch``. Why this one rather than a ``--scratch DIR`` flag or
one ``resume.ckpt`` per directory: it needs no rule parameter, it is unique per
job even where many jobs write into one folder (clustering and parsimonious
runs), and it is not an output, so Snakemake neither requires nor deletes it
when a job fails; the library removes it once the outputs are in place.

Checkpoints are written atomically. Their fingerprint is the job's params plus
the SHA-256 of every input file it reads (data, mini-batch file, earlier
layers' weights.pt, the model it starts from): a killed job whose inputs were
rebuilt meanwhile starts over instead of resuming on inputs that are gone.
"""

import hashlib
import json
import shutil
from pathlib import Path

from layerwise import torchfile


def scratch_dir(output):
    """The scratch folder of the job whose first declared output is ``output``."""
    return Path(f"{output}.scratch")


def file_digest(path, chunk=1 << 20):
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(params, inputs):
    """What a checkpoint must match to be resumed: params and the hashes of ``inputs``."""
    files = {str(name): file_digest(path) for name, path in (inputs or {}).items() if path is not None}
    return json.dumps({"params": params, "inputs": files}, sort_keys=True, default=str)


class Scratch:
    """One job's scratch folder and the fingerprint its checkpoints carry (inputs hashed once)."""

    def __init__(self, folder, params=None, inputs=None):
        self.folder = Path(folder)
        self.job = fingerprint(params, inputs)

    @classmethod
    def of(cls, output, params=None, inputs=None):
        return cls(scratch_dir(output), params, inputs)

    def path(self, name):
        return self.folder / f"{name}.ckpt"

    def key(self, name, params=None):
        """The fingerprint of checkpoint ``name`` of this job (``params``: that part's settings)."""
        return json.dumps({"job": self.job, "part": name, "params": params}, sort_keys=True, default=str)

    def clear(self):
        """Remove the folder: called once the job's declared outputs are written."""
        shutil.rmtree(self.folder, ignore_errors=True)


def save(path, state):
    torchfile.save(state, path)


def load(path, key):
    """The saved state if ``path`` holds a checkpoint with fingerprint ``key``, else None."""
    state = torchfile.load_scratch(path) or {}  # unreadable: deleted, start over
    return state if state.get("fingerprint") == key else None
