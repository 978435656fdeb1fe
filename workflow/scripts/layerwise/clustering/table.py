"""``results/{dataset}_clustering.csv``: paper 001 Figure 3, mean ± std over seeds, paper numbers beside ours.

One row per (head, method). The headline is the linear SVM on each method's
final frozen representation (``svm_test_mean``); the Adam-trained head of §6
follows (``head_test_mean``). ``paper_test_accuracy`` quotes Figure 3 on
CIFAR-10 (the FC row for the FC head, the linear row for the linear head);
``note`` explains rows that are not above chance and the settings that differ
from the paper's.
"""

import numpy as np
import pandas as pd

from layerwise.clustering.experiment import read_variant

# Paper 001 Figure 3 (CIFAR-10 test accuracy).
PAPER_FIGURE3 = {
    ("fc", "cnn"): 0.759,
    ("fc", "cnn-random"): 0.645,
    ("fc", "jl"): 0.586,
    ("fc", "dlc"): 0.734,
    ("linear", "cnn"): 0.735,
    ("linear", "cnn-random"): 0.616,
    ("linear", "jl"): 0.588,
    ("linear", "dlc"): 0.689,
}
NAMES = {
    "cnn": "CNN",
    "cnn-random": "CNN (random)",
    "jl": "Clustering+JL",
    "dlc": "deep layerwise clustering",
    "pixels": "raw pixels",
}
PAPER_DATASETS = ("cifar10",)
CHANCE_MARGIN = 0.05  # a row within 5 points of chance is "at chance"


def _stats(values):
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if len(values) == 0:
        return np.nan, np.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else np.nan  # no spread from one seed


# What a degree-<=2 pixel statistic can read, by the synthetic model's last level (layerwise.data.synthetic).
MATCHED_MOMENTS = {
    "antipodal": "the antipodal last level gives every label the same pixel mean",
    "matched": "the matched last level gives every label the same pixel mean and covariance "
    "(every polynomial of degree <= 2 in the pixels has one mean for all labels)",
}


def _fmt(value, spec):
    return "?" if value is None or not np.isfinite(value) else format(value, spec)


def _note(method, svm_mean, chance, data_params=None, runs=()):
    """Why a row is within CHANCE_MARGIN of chance, from the data's parameters and the runs' own metrics.

    ``data_params``: the synthetic model's parameters (``datasets.<name>.synthetic``) or None;
    ``runs``: the row's run dicts (read_variant). Rows above chance get no note.
    """
    if not np.isfinite(svm_mean) or svm_mean > chance + CHANCE_MARGIN:
        return ""
    params = data_params or {}
    moments = MATCHED_MOMENTS.get(params.get("last_level"))
    why = f"; {moments}" if moments else ""
    if method == "pixels" and moments:
        return f"at chance by design: {moments}"
    fit = _stats([r.get("n_fit") for r in runs])[0]
    svm_train = _stats([r.get("svm_train_accuracy") for r in runs])[0]
    if method == "cnn":
        best = _stats([r.get("best_step") for r in runs])[0]
        steps = _stats([r.get("steps") for r in runs])[0]
        loss = _stats([r.get("last_train_loss") for r in runs])[0]
        if np.isfinite(loss) and loss < np.log(1.0 / chance) - 0.1:
            return (f"at chance: trained end to end, its validation loss was lowest at step {_fmt(best, '.0f')} and "
                    f"rose after, while its training loss fell to {_fmt(loss, '.2f')} by step {_fmt(steps, '.0f')} "
                    f"(ln {1 / chance:.0f} = {np.log(1 / chance):.2f}): it fits the {_fmt(fit, '.0f')} training "
                    f"images without generalising{why}")
        return (f"at chance: trained end to end it did not leave the ln {1 / chance:.0f} plateau within "
                f"{_fmt(steps, '.0f')} steps{why}")
    share = _stats([r.get("label_share") for r in runs])[0]
    noise = _stats([r.get("label_share_noise") for r in runs])[0]
    if np.isfinite(share) and np.isfinite(noise) and share < 2 * noise:
        text = (f"at chance: the SVM fits {_fmt(svm_train, '.2f')} of the {_fmt(fit, '.0f')} training images, but "
                f"the class means of the frozen features do not differ on test images (label share of their "
                f"variance {_fmt(100 * share, '.2f')} %, {_fmt(100 * noise, '.2f')} % from noise alone)")
        low = min((lv for r in runs for lv in r["recovery"]), default=None)
        if method == "jl" and "patches_per_class" in params and low is not None:
            k, s = params["patches_per_class"], params["patch_size"]
            top = max(lv for r in runs for lv in r["recovery"])
            merged = _stats([r["recovery"].get(top, {}).get("embed_nmi") for r in runs])[0]
            nmi = _stats([r["recovery"].get(low, {}).get("assign_nmi") for r in runs])[0]
            text += (f": the random 1x1 projection does not map the k = {k} manifestations of a latent class "
                     f"together as dlc's trained one does (level-{top} embedding NMI {_fmt(merged, '.3f')}), so a "
                     f"level-{low} patch comes in k^(s^2) = {k ** (s * s)} forms and the last block's clusters "
                     f"carry no level-{low} class (assignment NMI {_fmt(nmi, '.3f')})")
        return text + why
    return "AT CHANCE: check results/logs/cluster for this method"


def clustering_table(dataset, paths, num_classes, data_params=None):
    """Rows aggregated over the seeds of each (head, method), in the order first seen.

    ``data_params``: the synthetic model's parameters of the dataset (None for other data), for the notes.
    """
    runs = [read_variant(p) for p in paths]
    order = list(dict.fromkeys((r["head"], r["method"]) for r in runs))
    chance = 1.0 / num_classes
    rows = []
    for head, method in order:
        group = [r for r in runs if (r["head"], r["method"]) == (head, method)]
        svm_mean, svm_std = _stats([r.get("svm_test_accuracy") for r in group])
        head_mean, head_std = _stats([r.get("test_accuracy") for r in group])
        row = {
            "dataset": dataset,
            "classifier": "FC" if head == "fc" else "linear",
            "method": NAMES.get(method, method),
            "seeds": len(group),
            "svm_test_mean": svm_mean,
            "svm_test_std": svm_std,
            "head_test_mean": head_mean,
            "head_test_std": head_std,
            "paper_test_accuracy": PAPER_FIGURE3.get((head, method)) if dataset in PAPER_DATASETS else None,
            "svm_train_mean": _stats([r.get("svm_train_accuracy") for r in group])[0],
            "head_train_mean": _stats([r.get("train_accuracy") for r in group])[0],
            "steps_mean": _stats([r.get("steps") for r in group])[0],
            "seconds_mean": _stats([r.get("seconds") for r in group])[0],
            "chance": chance,
            "note": _note(method, svm_mean, chance, data_params, group),
        }
        levels = sorted({lv for r in group for lv in r["recovery"]}, reverse=True)
        for level in levels:
            row[f"nmi_level{level}"] = _stats([r["recovery"].get(level, {}).get("embed_nmi") for r in group])[0]
            row[f"assign_purity_level{level}"] = _stats(
                [r["recovery"].get(level, {}).get("assign_purity") for r in group]
            )[0]
        rows.append(row)
    return pd.DataFrame(rows)
