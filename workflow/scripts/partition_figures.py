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
    graph = load_csr(args.graph)
    fl = FacilityLocation.from_graph(graph)
    curve = figures.runtime_curve(fl, fig["sizes"], fig["blocks"], fig["repeats"], fig["seed"], fig["eager_max"])
    eager = dict(zip(curve["eager_n"], zip(curve["eager_seconds"], curve["eager_evals"], strict=True), strict=True))
    for n, s, e in zip(curve["n"], curve["seconds"], curve["evals"], strict=True):
        base = f"   non-lazy {eager[n][0]:.4f}s, {eager[n][1]} evaluations" if n in eager else ""
        print(
            f"Figure 5: |V|={n:>7}  lazy min of {fig['repeats']} runs {s:.4f}s, {e} evaluations ({e / n:.1f} per "
            f"item){base}"
        )
    ns = curve["n"]
    print(f"Figure 5: slope {curve['slope']:.3f} +- {curve['slope_se']:.3f} over |V| {ns.min()}-{ns.max()} "
          f"(paper {figures.PAPER_SLOPE}); non-lazy slope {curve['eager_slope']:.3f}")
    source = (f"{args.graph}: {'kNN/mixed' if graph.approximate else 'dense'} f_NN graph, "
              f"{graph.n} items; one thread")
    with atomic_path(args.runtime) as tmp:
        figures.plot_runtime(tmp, curve, fig["blocks"], source)
    n, lazy, otf, same = figures.queue_traces(fl, max(fig["sizes"]), fig["blocks"], fig["seed"])
    with atomic_path(args.queues) as tmp:
        saving = figures.plot_queues(tmp, n, fig["blocks"], lazy, otf)
    print(
        f"Figure 6: |V|={n}, peak queue entries lazy {lazy.peak_queue} vs on-the-fly "
        f"{otf.peak_queue} ({saving:.1%} lower; negative = on-the-fly peaks ABOVE lazy; paper ~25% lower); "
        f"same partition: {same}"
    )
    with open_checked(args.batches, BATCHES_STAGE, required=("levels",)) as f:
        tau, r = int(f.attrs["tau"]), len(f["levels/block_size"])
    with atomic_path(args.factor) as tmp:
        figures.plot_factor(tmp, params["batch_size"], r, tau)
    print(f"Figure 7: tau={tau}, r={r}, extra factor {figures.extra_factor(tau, r):.4g}")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
