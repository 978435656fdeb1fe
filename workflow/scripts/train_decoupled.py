"""Train every layer of a decoupled greedy run at once (Belilovsky et al. 2020 on paper 003's
objective), synchronously in one process or asynchronously in block-group processes; writes
each layer's weights.pt and eval.h5 as train_layer does (see layerwise.training.decoupled)."""

import argparse
import json
import logging

import torch

from layerwise.errors import run_cli
from layerwise.training.decoupled import train_decoupled


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="results/{dataset}/data.h5")
    parser.add_argument("--batches", default=None,
                        help="results/{dataset}/batches/{sampler}.h5 (none for shuffle-s<seed> runs)")
    parser.add_argument("--weights", nargs="+", required=True, help="output weights.pt of layers 1..J")
    parser.add_argument("--eval", nargs="+", required=True, help="output eval.h5 of layers 1..J")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (shared by the groups)")
    parser.add_argument("--params", required=True, help="JSON: run, preset, seed, model (with decoupled), ...")
    return parser


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    cfg = json.loads(args.params)
    train_decoupled(cfg, args.data, args.batches, args.weights, args.eval)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
