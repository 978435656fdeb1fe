"""Entry point of rule partition_batches: one mini-batch sequence (robust or random)."""

import argparse
import json
import logging

from layerwise.errors import InputError, run_cli
from layerwise.graph.store import DenseView, load_csr
from layerwise.submodular.batchfile import write_batches
from layerwise.submodular.minblock import METHODS
from layerwise.submodular.samplers import format_levels, parse_sampler, run_sampler


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--graph", required=True, help="results/{dataset}/graph/{features}.h5")
    p.add_argument("--sampler", required=True, help="robust-flat | robust-hier | random-s<seed>")
    p.add_argument("--output", required=True, help="results/{dataset}/batches/{sampler}.h5")
    p.add_argument("--params", required=True, help="the batches config section as JSON")
    p.add_argument("--threads", type=int, default=1, help="parallel calls within a hierarchy level")
    return p


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    params = json.loads(args.params)
    _, seed = parse_sampler(args.sampler)
    if params["method"] not in METHODS:
        raise InputError(f"batches.method={params['method']!r}: expected one of {METHODS}.")
    graph = load_csr(args.graph)
    dense_view = DenseView(args.graph) if graph.approximate else None
    batches, values, levels, attrs = run_sampler(
        args.sampler, graph, params["batch_size"], params["levels"], params["method"],
        args.threads, dense_view, params.get("key", "batches"),
    )
    print(format_levels(levels))
    print(
        f"{args.sampler}: {len(batches)} batches, min block value {attrs['min_block_value']:.6g}, "
        f"certificate (upper bound on OPT) {attrs['certificate_bound']:.6g}, achieved ratio "
        f"{attrs['certificate_ratio']:.4f}; tau={attrs['tau']}, Theorem 2 factor "
        f"{attrs['theorem2_factor']:.4g}, Theorem 1 factor {attrs['theorem1_factor']:.4g}"
    )
    if attrs["graph_approximate"]:
        print(f"kNN graph (approximation of f_NN): min block under the dense f_NN of paper 000 "
              f"{attrs['dense_min_block_value']:.6g} (under its own f_kNN {attrs['min_block_value']:.6g})")
    write_batches(args.output, batches, values, levels, attrs, params, seed or 0)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
