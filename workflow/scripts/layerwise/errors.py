"""One exception type for bad input, and the CLI wrapper that turns it into one clear line."""

import sys


class InputError(Exception):
    """Bad user input: a missing root, a corrupt file, an invalid config value.

    The message must name the file or config key and say how to fix it; entry
    scripts print it without a traceback.
    """


def run_cli(main, parser):
    """Parse arguments, run ``main(args)``; an InputError becomes ``error: ...`` and exit 2."""
    args = parser.parse_args()
    try:
        main(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
