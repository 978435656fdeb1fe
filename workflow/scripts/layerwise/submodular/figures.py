"""Figures 5, 6 and 7 of paper 000 (Appendices A, B, F) from a graph and a batches file."""

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from layerwise.submodular.minblock import min_block_greedy  # noqa: E402

PAPER_SLOPE = 1.345
PAPER_TAU = {"CIFAR-100 (r=3)": (103, 3), "ImageNet (r=5)": (106, 5)}


def runtime_curve(fl, sizes, blocks, repeats, seed):
    """Min-of-``repeats`` wall time of lazy Algorithm 1 on random subsets (m = ``blocks``,
    k = |V|/m) and the least-squares slope of log time vs log |V|."""
    rng = np.random.default_rng(seed)
    ns, secs = [], []
    for size in sizes:
        n = (min(size, fl.n) // blocks) * blocks
        if n < blocks or n in ns:
            continue
        sub = fl.subproblem(np.sort(rng.choice(fl.n, n, replace=False)))
        caps = [n // blocks] * blocks
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            min_block_greedy(sub, caps, "lazy")
            best = min(best, time.perf_counter() - start)
        ns.append(n)
        secs.append(best)
    slope = float(np.polyfit(np.log(ns), np.log(secs), 1)[0]) if len(ns) > 1 else float("nan")
    return np.array(ns), np.array(secs), slope


def plot_runtime(path, ns, secs, slope, blocks):
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.loglog(ns, secs, "o", label="Algorithm 1 (lazy), min of runs")
    if len(ns) > 1:
        fit = np.polyfit(np.log(ns), np.log(secs), 1)
        ax.loglog(ns, np.exp(np.polyval(fit, np.log(ns))), "-", label=f"fit: slope {slope:.3f}")
    ax.set_xlabel("|V|")
    ax.set_ylabel("seconds")
    ax.set_title(f"Figure 5: m={blocks}, k=|V|/m (paper slope {PAPER_SLOPE})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def queue_traces(fl, n, blocks, seed):
    """Sum of queue sizes after every assignment: ordinary lazy vs on-the-fly (Algorithm 3)."""
    rng = np.random.default_rng(seed)
    n = (min(n, fl.n) // blocks) * blocks
    sub = fl.subproblem(np.sort(rng.choice(fl.n, n, replace=False)))
    caps = [n // blocks] * blocks
    lazy = min_block_greedy(sub, caps, "lazy")
    otf = min_block_greedy(sub, caps, "onthefly")
    same = all(np.array_equal(a, b) for a, b in zip(lazy.blocks, otf.blocks))
    return n, lazy, otf, same


def plot_queues(path, n, blocks, lazy, otf):
    steps = np.arange(1, len(lazy.trace) + 1)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(np.r_[0, steps], np.r_[n * blocks, lazy.trace], label=f"ordinary lazy (peak {lazy.peak_queue})")
    ax.plot(np.r_[0, steps], np.r_[0, otf.trace] + n, label=f"on the fly, incl. shared list (peak {otf.peak_queue})")
    saving = 1 - otf.peak_queue / lazy.peak_queue
    ax.set_xlabel("assignments")
    ax.set_ylabel("sum of priority-queue sizes")
    ax.set_title(f"Figure 6: |V|={n}, m={blocks}; peak {saving:.0%} lower (paper ~25%)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
    return saving


def extra_factor(tau, r):
    """((tau-1)/(2 tau-1))^r, the extra factor of Theorem 2 plotted in Figure 7."""
    tau = np.asarray(tau, np.float64)
    return ((tau - 1) / (2 * tau - 1)) ** r


def plot_factor(path, batch_size, r, tau):
    taus = np.arange(2, max(batch_size, 3) + 1)
    fig, ax = plt.subplots(figsize=(5, 4))
    for rr in sorted({1, 3, 5, r}):
        ax.plot(taus, extra_factor(taus, rr), label=f"r={rr}")
    for name, (t, rr) in PAPER_TAU.items():
        ax.plot([t], [extra_factor(t, rr)], "x", label=f"paper {name}: tau={t}")
    if tau >= 2:
        ax.plot([tau], [extra_factor(tau, r)], "o", label=f"ours (r={r}): tau={tau}, {extra_factor(tau, r):.3g}")
    ax.set_xlabel("tau")
    ax.set_ylabel("((tau-1)/(2 tau-1))^r")
    ax.set_title("Figure 7: extra factor of Theorem 2")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
