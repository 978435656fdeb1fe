"""Exception types a job can end with, and the CLI wrapper that turns them into one line.

Exit codes (docs/running.md "When something goes wrong"): 0 success; 1 an unexpected
error with a traceback (a bug: please report it); 2 bad input or config
(``error: ...`` names the file or key and the fix; rerunning without fixing it
fails again, so the profiles do not retry jobs); 3 a writer that outlived its
Snakemake job refused to publish its outputs (nothing to fix: the job's rerun
writes them).
"""

import sys

EXIT_INPUT = 2
EXIT_ORPHANED = 3


class InputError(Exception):
    """Bad user input: a missing root, a corrupt file, an invalid config value.

    The message must name the file or config key and say how to fix it; entry
    scripts print it without a traceback.
    """


class OrphanedWriter(Exception):
    """This process outlived the job that started it, so it must not publish outputs."""


def run_cli(main, parser):
    """Parse arguments, run ``main(args)``; an InputError becomes ``error: ...`` and exit 2."""
    args = parser.parse_args()
    try:
        main(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_INPUT)
    except OrphanedWriter as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_ORPHANED)
