"""Train paper 000's residual autoencoder (Table 1) on the training split of a data.h5.

Writes model.pt once, atomically; resumes from <model.pt>.scratch/ after an interruption.
"""

import argparse
import json
import logging

import torch

from layerwise.autoencoder.checkpoint import save_model
from layerwise.autoencoder.inputs import load_images
from layerwise.autoencoder.residual import train_residual, train_residual_stream
from layerwise.data.store import is_manifest
from layerwise.device import pick_device
from layerwise.errors import run_cli
from layerwise.training.checkpoint import Scratch


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="results/{dataset}/data.h5")
    parser.add_argument("--output", required=True, help="model.pt to write")
    parser.add_argument("--params", required=True, help="JSON: one entry of autoencoder.variants")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    return parser


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    cfg = json.loads(args.params)
    scratch = Scratch.of(args.output, None, {"data": args.data})
    if is_manifest(args.data):  # ImageNet-style: stream a fixed low-res view (autoencoder.manifest_side)
        model, history = train_residual_stream(args.data, cfg["manifest_side"], args.threads, cfg,
                                               scratch, pick_device())
    else:
        images, _ = load_images(args.data, "train")
        model, history = train_residual(images, cfg, scratch, pick_device(), source=args.data)
    save_model(args.output, "residual", model, cfg, history)
    scratch.clear()


if __name__ == "__main__":
    run_cli(main, get_args_parser())
