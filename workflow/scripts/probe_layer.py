"""Entry point of rule probe_layer: linear, CNN-p and SVM probes of one layer's eval.h5 features."""

import argparse
import json
import logging

import torch

from layerwise.device import pick_device
from layerwise.errors import run_cli
from layerwise.probes.probe import load_features, run_probes, write_probes


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval", required=True, help="results/{dataset}/train/{run}/layer{j}/eval.h5")
    parser.add_argument("--params", required=True, help="the config section `probes` as JSON")
    parser.add_argument("--output", required=True, help="results/{dataset}/probes/{run}/layer{j}.h5")
    parser.add_argument("--threads", type=int, default=1)
    return parser


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    cfg = json.loads(args.params)
    xtr, ytr, xte, yte, attrs = load_features(args.eval)
    results = run_probes(xtr, ytr, xte, yte, cfg, pick_device())
    write_probes(args.output, results, attrs, cfg, cfg["seed"])
    for name, (train, test) in results.items():
        print(f"{name}: train {train:.4f} test {test:.4f}")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
