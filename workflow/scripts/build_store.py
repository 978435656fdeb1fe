"""Entry point of rule build_store: the training-image store of an ImageNet-style manifest."""

import argparse
import json
import logging

from layerwise.data.imagestore import build_store
from layerwise.errors import run_cli


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True, help="results/{dataset}/data.h5 (a manifest)")
    p.add_argument("--output", required=True, help="results/{dataset}/store.h5")
    p.add_argument("--params", required=True, help='JSON: {"short_side": int, "quality": int}')
    p.add_argument("--threads", type=int, default=1, help="threads decoding and re-encoding images")
    return p


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    stats = build_store(args.data, args.output, json.loads(args.params), args.threads)
    logging.info("store: %(images)d images, %(bytes)d bytes, %(bytes_per_image).0f bytes/image", stats)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
