"""Speed of this stage, as ratios against a baseline run in the same command.

1. k-means on N patches of dimension 27 (3x3x3, paper 001 §6): our Lloyd
   iterations (exact faiss assignment) against scikit-learn's KMeans (lloyd),
   both from the same k-means++ seeds and for the same number of iterations.
2. Paper 004's regulariser: time per training step of the quick CIFAR CNN with
   spatial clustering on conv1-3 and sample clustering on ip1, against none.

    .venv/bin/python benchmarks/clustering.py [--n 1000000] [--k 256] [--iterations 10]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from layerwise.clustering.kmeans import _update, assign, kmeanspp_seed
from layerwise.parsimonious.model import QuickCNN


def bench_kmeans(n, k, iterations, threads):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 27)).astype(np.float32)
    t0 = time.perf_counter()
    seeds = x[kmeanspp_seed(x, k, rng)]
    t_seed = time.perf_counter() - t0
    t0 = time.perf_counter()
    centers = seeds.copy()
    labels, dist = assign(x, centers, cosine=False)
    for _ in range(iterations):
        centers = _update(x, labels, k, dist, cosine=False)
        labels, dist = assign(x, centers, cosine=False)
    t_ours = time.perf_counter() - t0
    ours_inertia = dist.sum()
    t0 = time.perf_counter()
    ref = KMeans(k, init=seeds, n_init=1, max_iter=iterations, tol=0, algorithm="lloyd").fit(x)
    t_ref = time.perf_counter() - t0
    print(f"k-means, N={n} d=27 k={k}, {iterations} Lloyd iterations, {threads} thread(s)")
    print(f"  k-means++ seeding (ours, numpy): {t_seed:.2f} s")
    print(f"  faiss Lloyd (ours): {t_ours:.2f} s   scikit-learn KMeans: {t_ref:.2f} s   "
          f"speed-up sklearn/ours = {t_ref / t_ours:.2f}x")
    print(f"  inertia ours/sklearn = {ours_inertia / ref.inertia_:.4f}")


def bench_regulariser(steps, batch):
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    reg_cfg = {"clusters": 100, "alpha": 0.9, "reseed_every": 50, "reseed_min": 10}
    times = {}
    for name, clustering, lambdas in (
        ("none", None, (0, 0, 0, 0)),
        ("spatial+sample", "spatial", (1e-3, 1e-3, 1e-2, 1e-2)),
    ):
        torch.manual_seed(0)
        model = QuickCNN(3, 32, 10, 0.0, clustering, lambdas, reg_cfg, 0)
        opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
        for i in range(steps + 3):
            if i == 3:
                t0 = time.perf_counter()
            logits, reg = model(x)
            loss = F.cross_entropy(logits, y) + reg
            opt.zero_grad()
            loss.backward()
            opt.step()
        times[name] = (time.perf_counter() - t0) / steps
    print(f"regulariser (paper 004), quick CNN, batch {batch}, {steps} steps")
    print(f"  per step: none {1000 * times['none']:.1f} ms, with R {1000 * times['spatial+sample']:.1f} ms, "
          f"overhead ratio = {times['spatial+sample'] / times['none']:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import faiss
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        bench_kmeans(args.n, args.k, args.iterations, args.threads)
    bench_regulariser(args.steps, args.batch)


if __name__ == "__main__":
    main()
