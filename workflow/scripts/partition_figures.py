"""Entry point of rule partition_figures: Figures 5, 6, 7 of paper 000 for one dataset."""

import argparse
import json
import logging

from layerwise.errors import run_cli
from layerwise.graph.store import load_csr
from layerwise.h5io import atomic_path, open_checked
from layerwise.submodular import figures
from layerwise.submodular.batchfile import STAGE as BATCHES_STAGE
from layerwise.submodular.facility import FacilityLocation


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--graph", required=True)
    p.add_argument("--batches", required=True, help="the robust-hier batches file (for tau)")
    p.add_argument("--runtime", required=True, help="Figure 5 png")
    p.add_argument("--queues", required=True, help="Figure 6 png")
    p.add_argument("--factor", required=True, help="Figure 7 png")
    p.add_argument("--params", required=True, help="the batches config section as JSON")
    return p


def main(args):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    params = json.loads(args.params)
    fig = params["figures"]
    fl = FacilityLocation.from_graph(load_csr(args.graph))
    ns, secs, slope = figures.runtime_curve(fl, fig["sizes"], fig["blocks"], fig["repeats"], fig["seed"])
    for n, s in zip(ns, secs):
        print(f"Figure 5: |V|={n:>7}  min of {fig['repeats']} runs {s:.4f}s")
    print(f"Figure 5: slope {slope:.3f} (paper {figures.PAPER_SLOPE})")
    with atomic_path(args.runtime) as tmp:
        figures.plot_runtime(tmp, ns, secs, slope, fig["blocks"])
    n, lazy, otf, same = figures.queue_traces(fl, max(fig["sizes"]), fig["blocks"], fig["seed"])
    with atomic_path(args.queues) as tmp:
        saving = figures.plot_queues(tmp, n, fig["blocks"], lazy, otf)
    print(
        f"Figure 6: |V|={n}, peak queue entries lazy {lazy.peak_queue} vs on-the-fly "
        f"{otf.peak_queue} ({saving:.1%} lower; paper ~25%); same partition: {same}"
    )
    with open_checked(args.batches, BATCHES_STAGE, required=("levels",)) as f:
        tau, r = int(f.attrs["tau"]), len(f["levels/block_size"])
    with atomic_path(args.factor) as tmp:
        figures.plot_factor(tmp, params["batch_size"], r, tau)
    print(f"Figure 7: tau={tau}, r={r}, extra factor {figures.extra_factor(tau, r):.4g}")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
