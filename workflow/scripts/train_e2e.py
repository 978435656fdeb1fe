"""Train an end-to-end baseline (all blocks + the final head jointly) on a mini-batch
sequence; writes e2e/weights.pt and e2e/eval.h5 in the layer-wise eval layout."""

import argparse
import json
import logging

import torch

from layerwise.errors import run_cli
from layerwise.training.e2e import train_e2e


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="results/{dataset}/data.h5")
    parser.add_argument("--batches", default=None,
                        help="results/{dataset}/batches/{sampler}.h5 (none for shuffle-s<seed> runs)")
    parser.add_argument("--weights", required=True, help="output weights.pt")
    parser.add_argument("--eval", required=True, help="output eval.h5")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    parser.add_argument("--params", required=True, help="JSON: run, preset, seed, model, schedule, ...")
    return parser


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    train_e2e(json.loads(args.params), args.data, args.batches, args.weights, args.eval)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
