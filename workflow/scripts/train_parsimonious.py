"""Entry point of rule train_parsimonious: one paper-004 §4.2 run (method, seed) into an HDF5 of metrics."""

import argparse
import json
import logging

import torch

from layerwise.device import pick_device
from layerwise.errors import run_cli
from layerwise.parsimonious.experiment import METHODS, run
from layerwise.parsimonious.table import write_run
from layerwise.training.checkpoint import Scratch


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="results/{dataset}/data.h5")
    parser.add_argument("--kind", required=True, help="dataset kind (selects the paper preset)")
    parser.add_argument("--method", required=True, choices=METHODS)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--params", required=True, help="the config section `parsimonious` as JSON")
    parser.add_argument("--output", required=True)
    parser.add_argument("--threads", type=int, default=1)
    return parser


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    cfg = json.loads(args.params)
    scratch = Scratch.of(
        args.output, {"kind": args.kind, "method": args.method, "seed": args.seed, "params": cfg}, {"data": args.data}
    )
    results, used = run(args.data, args.kind, args.method, args.seed, cfg, pick_device(), scratch)
    write_run(args.output, results, used, args.seed)
    scratch.clear()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    run_cli(main, get_args_parser())
