"""Reading and writing PyTorch files: declared outputs (``weights.pt``, ``model.pt``) and scratch checkpoints.

``torch.load`` on a truncated file ends in a traceback such as ``OSError: [Errno
22] Invalid argument`` that does not name the file. Every load of a workflow
file goes through here instead: a declared file that cannot be read is one
InputError naming it and the fix; a scratch checkpoint that cannot be read (a
job killed while a disk filled up, a hand-edited file) is deleted with a warning,
so the job starts over instead of failing the same way on every rerun.

Writing goes through :func:`save`: ``torch.save`` to a file records that file's
name inside the zip archive, so saving to the temporary sibling made two runs'
``weights.pt`` differ in bytes; the archive is built in memory and its bytes
written atomically, so identical objects give identical files.
"""

import io
import logging
from pathlib import Path

import torch

from layerwise.errors import InputError
from layerwise.h5io import atomic_path

log = logging.getLogger(__name__)


def save(obj, path):
    """``torch.save(obj)`` to ``path`` atomically, byte-identical for identical objects."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(buffer.getbuffer())


def load(path, weights_only=False):
    """The object saved in ``path`` (on CPU); an InputError naming the file if it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found. Run the rule that writes it first (`snakemake {path}`).")
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except Exception as err:  # truncation alone raises OSError, RuntimeError, EOFError or UnpicklingError
        # torch's first sentence says what failed; the rest is generic advice
        reason = str(err).strip().splitlines()[0].split(". ")[0] if str(err).strip() else type(err).__name__
        raise InputError(
            f"{path}: not a readable PyTorch file, probably truncated or from another version ({reason}). "
            f"Delete it and rerun the workflow to regenerate it (`rm {path}` then `snakemake ...`)."
        ) from None


def load_scratch(path, weights_only=False):
    """A scratch checkpoint's saved state, or None if there is none or it cannot be read.

    An unreadable checkpoint is deleted with a warning: the job restarts from the
    beginning, which ends with the same weights as a run that was never interrupted.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        return load(path, weights_only=weights_only)
    except InputError as err:
        log.warning("discarding the scratch checkpoint and starting over: %s", str(err).split(" Delete it")[0])
        path.unlink(missing_ok=True)
        return None
