"""Train one network of paper 002's augmented-classifier procedure (section 4.1).

`--name` is the job: classifier, {sae,swwae}-pretrain, baseline, or one of the six
variants {sae,swwae}-{first,all,layerwise}; `--init` is the model.pt it starts from
(none for classifier). Writes model.pt and eval.h5 (test-split errors, reconstruction
loss, per-epoch history, reconstructions for the figure) once, atomically; resumes
from <model.pt>.scratch/ after an interruption.
"""

import argparse
import json
import logging

import torch

from layerwise.autoencoder import inputs
from layerwise.autoencoder.checkpoint import load_model_file, save_model
from layerwise.autoencoder.evaluate import evaluate, reconstructions, write_eval
from layerwise.autoencoder.procedure import NAMES, plan, train_augmented
from layerwise.data.store import class_names
from layerwise.device import pick_device
from layerwise.errors import InputError, run_cli
from layerwise.training.checkpoint import Scratch


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="results/{dataset}/data.h5")
    parser.add_argument("--name", required=True, choices=NAMES, help="which step/variant to train")
    parser.add_argument("--init", default=None, help="model.pt this step starts from")
    parser.add_argument("--output", required=True, help="model.pt to write")
    parser.add_argument("--eval", required=True, help="eval.h5 to write")
    parser.add_argument("--params", required=True, help="JSON: the autoencoder.augmented section")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    return parser


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    cfg = json.loads(args.params)
    if (plan(args.name)[0] is None) != (args.init is None):
        raise InputError(f"--init: {args.name} starts from {plan(args.name)[0] or 'nothing'}")
    init = load_model_file(args.init) if args.init else None
    train_x, train_y = inputs.load_images(args.data, "train")
    keep = inputs.subsample(len(train_x), cfg["subsample"], cfg["seed"])
    try:
        fit, held = inputs.holdout(train_y[keep], cfg["val_fraction"], cfg["seed"])
    except ValueError as err:
        raise InputError(f"autoencoder.augmented.val_fraction: {err}; lower it or raise subsample") from None
    test_x, test_y = inputs.load_images(args.data, "test")
    device = pick_device()
    scratch = Scratch.of(args.output, {"name": args.name}, {"data": args.data, "init": args.init})
    net, history, weights = train_augmented(
        args.name,
        cfg,
        (train_x[keep[fit]], train_y[keep[fit]]),
        (test_x, test_y),
        len(class_names(args.data)),
        scratch,
        device,
        init,
        (train_x[keep[held]], train_y[keep[held]]),
    )
    metrics = evaluate(net, test_x, test_y, device=device)
    # train/val errors beside the test error: overfitting (99 % train, chance test) is visible in the table
    metrics["num_classes"] = len(class_names(args.data))
    metrics["train_top1_err"] = evaluate(net, train_x[keep[fit]], train_y[keep[fit]], device=device, reconstruct=False)[
        "top1_err"
    ]
    metrics["val_top1_err"] = (
        evaluate(net, train_x[keep[held]], train_y[keep[held]], device=device, reconstruct=False)["top1_err"]
        if len(held)
        else float("nan")
    )
    logging.info("%s on the test split: %s", args.name, metrics)
    shown = test_x[: cfg["show"]]
    recon = reconstructions(net, shown) if net.decoders is not None else None
    originals = shown.permute(0, 2, 3, 1).numpy()
    save_model(args.output, "augmented", net, cfg, history, {"name": args.name, "loss_weights": weights})
    write_eval(args.eval, args.name, metrics, history, weights, originals, recon, cfg, cfg["seed"])
    scratch.clear()


if __name__ == "__main__":
    run_cli(main, get_args_parser())
