"""Entry point of rule cluster: one paper-001 Figure-3 run into
results/{dataset}/clustering/{method}-{head}-s{seed}.h5."""

import argparse
import json
import logging

import torch

from layerwise.clustering.experiment import HEADS, METHODS, run_variant, write_variant
from layerwise.device import pick_device
from layerwise.errors import run_cli
from layerwise.training.checkpoint import Scratch


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="results/{dataset}/data.h5")
    parser.add_argument("--method", required=True, choices=METHODS)
    parser.add_argument("--head", required=True, choices=HEADS)
    parser.add_argument("--seed", required=True, type=int, help="one of clustering.seeds")
    parser.add_argument("--params", required=True, help="the config section `clustering` as JSON")
    parser.add_argument("--output", required=True, help="variant HDF5 to write")
    parser.add_argument("--threads", type=int, default=1)
    return parser


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    cfg = json.loads(args.params)
    scratch = Scratch.of(
        args.output, {"method": args.method, "head": args.head, "seed": args.seed, "params": cfg}, {"data": args.data}
    )
    state, results, used = run_variant(args.data, args.method, args.head, args.seed, cfg, pick_device(), scratch)
    logging.getLogger("cluster").info("settings used: %s", json.dumps(used, sort_keys=True))
    write_variant(args.output, state, results, used, args.seed)
    scratch.clear()
    shown = dict(results)
    print(json.dumps(shown, indent=1, default=str))


if __name__ == "__main__":
    run_cli(main, get_args_parser())
