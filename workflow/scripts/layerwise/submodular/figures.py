"""Figures 5, 6 and 7 of paper 000 (Appendices A, B, F) from a graph and a batches file."""

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from layerwise.submodular.minblock import min_block_greedy
from layerwise.submodular.naive import eager_partition

PAPER_SLOPE = 1.345
PAPER_TAU = {"CIFAR-100 (r=3)": (103, 3), "ImageNet (r=5)": (106, 5)}


def runtime_curve(fl, sizes, blocks, repeats, seed, eager_max=0):
    """Min-of-``repeats`` wall time and gain evaluations of lazy Algorithm 1 on random subsets
    (m = ``blocks``, k = |V|/m), the non-lazy baseline up to |V| = ``eager_max``, and the
    least-squares slope of log time vs log |V| with its standard error."""
    rng = np.random.default_rng(seed)
    out = {"n": [], "seconds": [], "evals": [], "eager_n": [], "eager_seconds": [], "eager_evals": []}
    for size in sizes:
        n = (min(size, fl.n) // blocks) * blocks
        if n < blocks or n in out["n"]:
            continue
        sub = fl.subproblem(np.sort(rng.choice(fl.n, n, replace=False)))
        caps = [n // blocks] * blocks
        best, evals = np.inf, 0
        for _ in range(repeats):
            start = time.perf_counter()
            evals = min_block_greedy(sub, caps, "lazy").evals
            best = min(best, time.perf_counter() - start)
        out["n"].append(n)
        out["seconds"].append(best)
        out["evals"].append(evals)
        if n <= eager_max:
            best = np.inf
            for _ in range(repeats):
                start = time.perf_counter()
                _, e = eager_partition(sub, caps)
                best = min(best, time.perf_counter() - start)
            out["eager_n"].append(n)
            out["eager_seconds"].append(best)
            out["eager_evals"].append(int(e))
    out = {k: np.array(v) for k, v in out.items()}
    out["slope"], out["slope_se"] = fit_slope(out["n"], out["seconds"])
    out["eager_slope"], _ = fit_slope(out["eager_n"], out["eager_seconds"])
    return out


def fit_slope(ns, secs):
    """Slope of log(secs) on log(n) and its standard error (nan with fewer than 2/3 points)."""
    if len(ns) < 2:
        return float("nan"), float("nan")
    x, y = np.log(ns), np.log(secs)
    if len(ns) == 2:
        return float(np.polyfit(x, y, 1)[0]), float("nan")
    coef, cov = np.polyfit(x, y, 1, cov=True)
    return float(coef[0]), float(np.sqrt(cov[0, 0]))


def plot_runtime(path, curve, blocks, source):
    ns, secs = curve["n"], curve["seconds"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 4))
    ax.loglog(ns, secs, "o", label="Algorithm 1, lazy (min of runs)")
    if len(ns) > 1:
        fit = np.polyfit(np.log(ns), np.log(secs), 1)
        ax.loglog(ns, np.exp(np.polyval(fit, np.log(ns))), "-",
                  label=f"fit |V| {ns.min()}-{ns.max()}: slope {curve['slope']:.3f} +- {curve['slope_se']:.3f}")
    if len(curve["eager_n"]):
        ax.loglog(curve["eager_n"], curve["eager_seconds"], "s--",
                  label=f"non-lazy baseline (slope {curve['eager_slope']:.2f})")
    ax.set_xlabel("|V|")
    ax.set_ylabel("seconds (one thread)")
    ax.set_title(f"Figure 5: m={blocks}, k=|V|/m; paper slope {PAPER_SLOPE}", fontsize=9)
    ax.legend(fontsize=7)
    bx.loglog(ns, curve["evals"], "o-", label="lazy: gain evaluations")
    bx.loglog(ns, ns * (ns + 1) / 2, "k:", label="non-lazy: |V|(|V|+1)/2")
    if len(curve["eager_n"]):
        bx.loglog(curve["eager_n"], curve["eager_evals"], "s", label="non-lazy, counted")
    bx.set_xlabel("|V|")
    bx.set_ylabel("gain evaluations")
    bx.set_title(
        f"evaluations per item: {curve['evals'][0] / ns[0]:.1f} to {curve['evals'][-1] / ns[-1]:.1f}", fontsize=9
    )
    bx.legend(fontsize=7)
    fig.suptitle(source, fontsize=8)
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
    same = all(np.array_equal(a, b) for a, b in zip(lazy.blocks, otf.blocks, strict=True))
    return n, lazy, otf, same


def plot_queues(path, n, blocks, lazy, otf):
    steps = np.arange(1, len(lazy.trace) + 1)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(np.r_[0, steps], np.r_[n * blocks, lazy.trace], label=f"ordinary lazy (peak {lazy.peak_queue})")
    ax.plot(np.r_[0, steps], np.r_[0, otf.trace] + n, label=f"on the fly, incl. shared list (peak {otf.peak_queue})")
    saving = 1 - otf.peak_queue / lazy.peak_queue
    ax.set_xlabel("assignments")
    ax.set_ylabel("sum of priority-queue sizes")
    if saving >= 0:
        title = f"Figure 6: |V|={n}, m={blocks}; on-the-fly peak {saving:.1%} lower (paper ~25%)"
    else:  # Algorithm 3 has no worst-case saving (Appendix B); say so when it happens
        title = (f"Figure 6: |V|={n}, m={blocks}; on-the-fly peak {-saving:.1%} ABOVE lazy here\n"
                 "(no saving in the worst case, Appendix B; paper ~25% lower)")
    ax.set_title(title, fontsize=8)
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
