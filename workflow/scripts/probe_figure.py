"""Entry point of rule probe_figure: every probe file of a dataset into one figure and a CSV."""

import argparse
import json

from layerwise.errors import run_cli
from layerwise.h5io import atomic_path
from layerwise.probes.figure import plot, probe_frame


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--inputs", nargs="+", required=True, help="probes/{run}/layer{j}.h5 files")
    parser.add_argument("--figure", required=True, help="PNG to write")
    parser.add_argument("--table", required=True, help="CSV to write (one row per run, layer, probe)")
    parser.add_argument("--groups", default="{}", help="JSON preset -> curve label (runs averaged per label)")
    return parser


def main(args):
    frame = probe_frame(args.inputs, json.loads(args.groups)).sort_values(["run", "layer", "probe"])
    with atomic_path(args.table) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(args.figure) as tmp:
        plot(frame, args.dataset, tmp)
    print(frame.to_string(index=False))
    means = frame.groupby(["probe", "group", "layer"])["test_accuracy"].mean().unstack("layer")
    print(means.to_string(float_format="%.4f"))  # the figure's curves


if __name__ == "__main__":
    run_cli(main, get_args_parser())
