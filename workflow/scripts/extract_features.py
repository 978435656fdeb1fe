"""Encode every training image of a data.h5 with a trained model: features.h5, row i = training index i."""

import argparse
import json
import logging

import numpy as np
import torch

from layerwise.autoencoder.checkpoint import build_model, load_model_file
from layerwise.autoencoder.features import (
    extract,
    extract_stream,
    neighbour_agreement,
    recon_curve,
    write_features,
)
from layerwise.autoencoder.inputs import load_images
from layerwise.autoencoder.residual import baseline_mses, mean_mse, pca_mse
from layerwise.data.datasets import ManifestDataset
from layerwise.data.lowres import low_res_chunks
from layerwise.data.store import is_manifest
from layerwise.device import pick_device
from layerwise.errors import run_cli


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="results/{dataset}/data.h5")
    parser.add_argument("--model", required=True, help="model.pt of train_autoencoder or train_augmented")
    parser.add_argument("--output", required=True, help="features.h5 to write")
    parser.add_argument("--params", default="{}", help='JSON: {"batch_size": int}')
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    return parser


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    cfg = json.loads(args.params)
    saved = load_model_file(args.model)
    model = build_model(saved)
    manifest = is_manifest(args.data)
    if manifest:  # the low-res view the model was trained on, streamed in order
        side = saved["params"]["manifest_side"]
        model.check_input((1, 3, side, side), args.data)
        n = len(ManifestDataset(args.data, "train"))
        chunks = low_res_chunks(args.data, "train", side, cfg.get("batch_size", 256), args.threads)
        feats = extract_stream(model, chunks, n, device=pick_device())
    else:
        images, labels = load_images(args.data, "train")
        model.check_input(images.shape, args.data)
        feats = extract(model, images, cfg.get("batch_size", 256), device=pick_device())
    recon = recon_curve(saved)
    seed = saved["params"].get("seed", 0)
    attrs = {"model": str(args.model), "kind": saved["kind"], "source": str(args.data)}
    # paper 000's AE: test MSE beside the no-model baselines (in-memory splits; a manifest
    # would need every image decoded again at the AE's side)
    if saved["kind"] == "residual" and not manifest:
        test_images, _ = load_images(args.data, "test")
        base = baseline_mses(images, test_images)
        attrs["test_mse"] = mean_mse(model, test_images, cfg.get("batch_size", 256), pick_device())
        attrs["test_mse_mean_image"], attrs["test_mse_image_mean"] = base["mean_image"], base["image_mean"]
        attrs["test_mse_pca"] = pca_mse(images, test_images, feats.shape[1], seed)
        logging.info("test MSE %.5f; mean image %.5f; per-image mean %.5f; PCA with %d components %.5f",
                     attrs["test_mse"], *base.values(), feats.shape[1], attrs["test_mse_pca"])
        # what a graph on these codes sees of the classes, beside one on the raw pixels
        attrs["knn10_agreement"] = neighbour_agreement(feats, labels)
        attrs["knn10_agreement_pixels"] = neighbour_agreement(images.flatten(1).numpy(), labels)
        attrs["knn10_agreement_chance"] = float(
            (np.bincount(labels.numpy()) / len(labels)) ** 2 @ np.ones(labels.max().item() + 1)
        )
        logging.info(
            "10-NN label agreement: codes %.4f, pixels %.4f", attrs["knn10_agreement"], attrs["knn10_agreement_pixels"]
        )
    write_features(
        args.output, feats, np.asarray(recon, dtype=np.float64), {**cfg, "model": saved["params"]}, seed, attrs
    )
    logging.info("wrote %s: %s float32 features", args.output, feats.shape)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
