"""Exception types a job can end with, and the CLI wrapper that turns them into one line.

Exit codes (docs/running.md "When something goes wrong"): 0 success; 1 an unexpected
error with a traceback (a bug: please report it); 2 bad input or config
(``error: ...`` names the file or key and the fix, also for a full, read-only or
forbidden disk; rerunning without fixing it
fails again, so the profiles do not retry jobs); 3 a writer that outlived its
Snakemake job refused to publish its outputs (nothing to fix: the job's rerun
writes them).
"""

import errno
import os
import sys
from pathlib import Path

EXIT_INPUT = 2
EXIT_ORPHANED = 3


class InputError(Exception):
    """Bad user input: a missing root, a corrupt file, an invalid config value.

    The message must name the file or config key and say how to fix it; entry
    scripts print it without a traceback.
    """


class StorageError(InputError):
    """An output could not be written: the disk is full, read-only or not writable for this user."""


# What the user can do about each storage errno ({dir}: the output's folder).
STORAGE_FIXES = {
    errno.ENOSPC: "free space on the disk holding {dir} (`df -h {dir}`) or run the workflow in a directory on a "
                  "larger disk (snakemake --directory DIR)",
    errno.EDQUOT: "free space within your quota (`quota -s`) or run the workflow in a directory on another disk",
    errno.EACCES: "make {dir} writable for this user (`ls -ld {dir}`; `chmod u+w {dir}`) or run the workflow in a "
                  "directory you own",
    errno.EROFS: "{dir} is on a read-only file system: run the workflow in a writable directory "
                 "(snakemake --directory DIR)",
}
STORAGE_FIXES[errno.EPERM] = STORAGE_FIXES[errno.EACCES]
# C++ and HDF5 layers lose the errno but keep its words (torch.save: "basic_ios::clear: iostream
# error" keeps nothing, so the folder is probed).
_WORDS = {"no space left": errno.ENOSPC, "quota exceeded": errno.EDQUOT, "permission denied": errno.EACCES,
          "operation not permitted": errno.EPERM, "read-only file system": errno.EROFS}


def _probe(directory):
    """The storage errno a write into ``directory`` would meet now, if any."""
    try:
        st = os.statvfs(directory)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return errno.EROFS
    if not os.access(directory, os.W_OK):
        return errno.EACCES
    if st.f_bavail * st.f_frsize < 1 << 20:  # under 1 MiB left for this user
        return errno.ENOSPC
    return None


def storage_errno(err, directory=None):
    """ENOSPC, EDQUOT, EACCES, EPERM or EROFS behind ``err`` (from its errno, its words or a probe), else None."""
    if isinstance(err, OSError) and err.errno in STORAGE_FIXES:
        return err.errno
    text = str(err).lower()
    for words, code in _WORDS.items():
        if words in text:
            return code
    if isinstance(err, (OSError, RuntimeError)) and directory is not None:
        return _probe(directory)
    return None


def storage_error(path, err):
    """A one-line StorageError naming ``path`` if ``err`` (raised writing it) is a storage failure, else None."""
    directory = Path(path).parent
    code = storage_errno(err, directory if directory.exists() else None)
    if code is None:
        return None
    fix = STORAGE_FIXES[code].format(dir=directory)
    return StorageError(
        f"{path}: cannot write it: {os.strerror(code)} ({errno.errorcode[code]}); {fix}. Then rerun: finished "
        "outputs are kept and an interrupted job resumes from its checkpoint."
    )


def worker_message(err):
    """The message of an error raised in a DataLoader worker, without torch's wrapping.

    torch re-raises a worker's exception in the job as the same type, with the message
    ``Caught InputError in DataLoader worker process 0.\nOriginal Traceback ...`` and the
    original message only on the traceback's last line: that line is returned.
    """
    text = str(err)
    first = text.split("\n", 1)[0]
    if not (first.startswith("Caught ") and " in DataLoader worker process " in first):
        return text
    name = f"{type(err).__module__}.{type(err).__qualname__}: "
    return text.rsplit(name, 1)[1].strip() if name in text else text


class OrphanedWriter(Exception):
    """This process outlived the job that started it, so it must not publish outputs."""


def run_cli(main, parser):
    """Parse arguments, run ``main(args)``; an InputError becomes ``error: ...`` and exit 2.

    So does an OSError of a full, read-only or forbidden file system that names its
    file (writers map theirs, including torch's and HDF5's, in layerwise.h5io.atomic_path).
    """
    args = parser.parse_args()
    try:
        main(args)
    except InputError as err:
        print(f"error: {worker_message(err)}", file=sys.stderr)  # a DataLoader worker's, unwrapped
        sys.exit(EXIT_INPUT)
    except OSError as err:
        mapped = storage_error(err.filename, err) if err.filename and err.errno in STORAGE_FIXES else None
        if mapped is None:
            raise
        print(f"error: {mapped}", file=sys.stderr)
        sys.exit(EXIT_INPUT)
    except OrphanedWriter as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_ORPHANED)
