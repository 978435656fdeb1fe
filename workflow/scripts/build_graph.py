"""Entry point of rule build_graph: class-by-class similarity graph for f_NN (paper 000)."""

import argparse
import json
import logging
import time

import numpy as np

from layerwise.errors import InputError, run_cli
from layerwise.graph import build, features
from layerwise.graph.store import write_graph


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True, help="results/{dataset}/data.h5")
    p.add_argument("--features-file", default=None, help="features.h5 when graph.features is ae:<name>")
    p.add_argument("--output", required=True, help="results/{dataset}/graph/{features}.h5")
    p.add_argument("--params", required=True, help="the graph config section as JSON")
    p.add_argument("--threads", type=int, default=1)
    return p


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    params = json.loads(args.params)
    spec = params["features"]
    features.feature_stem(spec)
    if spec != "pixels" and not args.features_file:
        raise InputError(f"graph.features={spec!r} needs --features-file (the autoencoder's features.h5).")
    if params["form"] not in build.FORMS:
        raise InputError(f"graph.form={params['form']!r}: expected one of {build.FORMS}.")
    dtype = np.dtype(params["dtype"])
    start = time.perf_counter()
    labels = features.train_labels(args.data)
    feats = features.load_features(spec, args.data, args.features_file, params["projection_dim"], params["seed"],
                                   side=params.get("side", 32), workers=args.threads)
    logging.info("features %s: %s in %.1fs", spec, feats.shape, time.perf_counter() - start)
    start = time.perf_counter()
    arrays = build.build_graph(feats, labels, params["form"], params["dense_budget_mb"], params["knn"],
                               params["kernel"], dtype, args.threads)
    dense = arrays["class_dense"]
    logging.info("graph (%s, %s) built in %.1fs: %d of %d classes dense (f_NN of paper 000), %d kNN "
                 "(knn=%d, approximation)", params["form"], params["kernel"], time.perf_counter() - start,
                 dense.sum(), len(dense), (~dense).sum(), params["knn"])
    write_graph(args.output, labels, params["form"], arrays, params, params["seed"])


if __name__ == "__main__":
    run_cli(main, get_args_parser())
