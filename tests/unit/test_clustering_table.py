"""The notes of results/{dataset}_clustering.csv and the label-variance diagnostic they quote."""

import numpy as np
import torch

from layerwise.clustering.experiment import label_variance_share, write_variant
from layerwise.clustering.table import clustering_table

MATCHED = {"last_level": "matched", "patches_per_class": 4, "patch_size": 2}


def test_label_share_is_the_r2_of_regressing_features_on_the_label():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=500)
    f = rng.normal(size=(500, 6)) + np.eye(4)[y] @ rng.normal(size=(4, 6))
    share, _ = label_variance_share(f, y)
    # Independent: least squares of each standardised feature on the one-hot label (with intercept).
    z = (f - f.mean(0)) / f.std(0)
    design = np.eye(4)[y]
    fitted = design @ np.linalg.lstsq(design, z, rcond=None)[0]
    assert np.isclose(share, (fitted**2).sum() / (z**2).sum())


def test_label_share_of_unrelated_labels_is_the_noise_level():
    rng = np.random.default_rng(1)
    shares, noise = [], None
    for _ in range(200):
        share, noise = label_variance_share(rng.normal(size=(200, 20)), rng.integers(0, 10, size=200))
        shares.append(share)
    assert noise == 9 / 199
    assert abs(np.mean(shares) - noise) < 0.1 * noise


def _run(tmp_path, method, svm_test, **extra):
    results = {"method": method, "head": "linear", "blocks": [], "recovery": extra.pop("recovery", {}),
               "svm_test_accuracy": svm_test, "test_accuracy": svm_test, "n_fit": 1800, **extra}
    path = tmp_path / f"{method}.h5"
    write_variant(path, {"w": torch.zeros(1)}, results, {"method": method}, 0)
    return path


def test_notes_explain_rows_at_chance_from_data_and_metrics(tmp_path):
    paths = [
        _run(tmp_path, "dlc", 0.95, svm_train_accuracy=1.0, label_share=0.05, label_share_noise=0.009),
        _run(tmp_path, "pixels", 0.09, svm_train_accuracy=1.0, label_share=0.009, label_share_noise=0.009),
        _run(tmp_path, "cnn-random", 0.11, svm_train_accuracy=0.62, label_share=0.0092, label_share_noise=0.009),
        _run(tmp_path, "jl", 0.10, svm_train_accuracy=1.0, label_share=0.009, label_share_noise=0.009,
             recovery={1: {"assign_nmi": 0.39, "embed_nmi": 0.011}, 0: {"assign_nmi": 0.004}}),
        _run(tmp_path, "cnn", 0.09, svm_train_accuracy=0.2, steps=500, best_step=100, last_train_loss=1.9),
    ]
    notes = dict(
        zip(
            ["dlc", "pixels", "cnn-random", "jl", "cnn"],
            clustering_table("synthetic", paths, 10, MATCHED)["note"],
            strict=True,
        )
    )
    assert notes["dlc"] == ""
    assert notes["pixels"].startswith("at chance by design: the matched last level")
    assert "label share of their variance 0.92 %, 0.90 % from noise" in notes["cnn-random"]
    assert notes["cnn-random"].startswith("at chance: the SVM fits 0.62 of the 1800 training images")
    assert "k^(s^2) = 256 forms" in notes["jl"] and "assignment NMI 0.004" in notes["jl"]
    assert "level-1 embedding NMI 0.011" in notes["jl"]
    assert "lowest at step 100" in notes["cnn"] and "fell to 1.90 by step 500" in notes["cnn"]
    # Without a moment-matched last level nothing is "by design": a raw-pixel row at chance is a bug.
    plain = clustering_table("other", paths[1:2], 10, None)["note"][0]
    assert plain.startswith("at chance: the SVM fits") and "by design" not in plain
    # Features whose class means do differ but a row still at chance: nothing explains it.
    odd = _run(tmp_path, "jl", 0.10, svm_train_accuracy=1.0, label_share=0.05, label_share_noise=0.009)
    assert clustering_table("synthetic", [odd], 10, MATCHED)["note"][0].startswith("AT CHANCE")
