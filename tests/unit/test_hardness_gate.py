"""The hardness gate of the shipped `synthetic` preset (issue 13): shallow models fail, dlc learns it.

Both checks read config/config.yaml, so they hold for the data and the dlc
settings that `make demo` uses: logistic regression on raw pixels within 5
points of chance, and deep layerwise clustering in the §6 geometry (stride 1 +
2x2 max-pool, no knowledge of the patch grid; seed 0 of the demo's runs) at
90 % or more with its SVM head.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from sklearn.linear_model import LogisticRegression

from layerwise.clustering.experiment import run_variant
from layerwise.data import store, synthetic

torch.set_num_threads(1)
CONFIG = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "config.yaml").read_text())


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    params = CONFIG["datasets"]["synthetic"]["synthetic"]
    sample = synthetic.generate(params)
    path = tmp_path_factory.mktemp("gate") / "data.h5"
    store.write_arrays(path, sample["images"], sample["labels"], sample["class_names"], sample["splits"],
                       params=params, seed=params["seed"], extra=synthetic.ground_truth(sample))
    return params, sample, path


def test_raw_pixels_are_at_chance(preset):
    params, s, _ = preset
    tr, te, y = s["splits"]["train"], s["splits"]["test"], s["labels"]
    x = s["images"].reshape(len(y), -1).astype(np.float64)
    x = (x - x[tr].mean(0)) / (x[tr].std(0) + 1e-6)
    acc = LogisticRegression(C=0.1, max_iter=300).fit(x[tr], y[tr]).score(x[te], y[te])
    chance = 1.0 / params["num_classes"]
    print(f"raw-pixel logistic regression: {acc:.3f} (chance {chance:.2f})")
    assert acc <= chance + 0.05


def test_dlc_in_the_section6_geometry_learns_it(preset):
    params, _, path = preset
    cfg = CONFIG["clustering"]
    assert cfg["dlc"]["stride"] == "paper"  # stride 1 + max-pool: the grid is not given
    _, res, _ = run_variant(path, "dlc", cfg["heads"][0], cfg["seeds"][0], cfg, "cpu")
    print(f"dlc: SVM {res['svm_test_accuracy']:.3f}, head {res['test_accuracy']:.3f}, blocks {res['blocks']}")
    assert res["svm_test_accuracy"] >= 0.90
