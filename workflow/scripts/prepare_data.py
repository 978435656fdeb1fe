"""Entry point of rule prepare_data: one configured dataset into results/{dataset}/data.h5."""

import argparse
import json

from layerwise.data.prepare import prepare
from layerwise.errors import run_cli


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True, help="dataset name (a key of config `datasets`)")
    parser.add_argument("--params", required=True, help="the dataset's config entry as JSON")
    parser.add_argument("--output", required=True, help="data.h5 to write")
    parser.add_argument("--threads", type=int, default=1, help="threads for image verification")
    return parser


def main(args):
    prepare(args.name, json.loads(args.params), args.output, args.threads)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
