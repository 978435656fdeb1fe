"""Run a training command with N GPUs: `python workflow/scripts/launch.py --gpus N -- CMD ...`.

Snakemake counts the `gpu` resource but assigns no device. This launcher is the
one place where a job's command meets its devices.
"""

import argparse
import os
import sys


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gpus", type=int, default=0, help="GPUs the rule declared (resources.gpu)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    return parser


def main(args):
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        sys.exit("error: launch.py needs a command after --")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
