"""Train one layer of a greedy layer-wise run (paper 003): block j + its auxiliary classifier
on top of the frozen layers 1..j-1; writes weights.pt and eval.h5 (see layerwise.training)."""

import argparse
import json
import logging

import torch

from layerwise.errors import run_cli
from layerwise.training.greedy import train_layer


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="results/{dataset}/data.h5")
    parser.add_argument("--batches", default=None,
                        help="results/{dataset}/batches/{sampler}.h5 (none for shuffle-s<seed> runs)")
    parser.add_argument("--previous", nargs="*", default=[], help="weights.pt of layers 1..j-1")
    parser.add_argument("--weights", required=True, help="output weights.pt of layer j")
    parser.add_argument("--eval", required=True, help="output eval.h5 of layer j")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    parser.add_argument("--params", required=True, help="JSON: run, preset, layer, seed, model, schedule, ...")
    return parser


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    cfg = json.loads(args.params)
    train_layer(cfg, args.data, args.batches, args.previous, args.weights, args.eval)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
