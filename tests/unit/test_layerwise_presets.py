"""The config's paper presets: parameter counts against paper 003 Table 7, and every preset
of every profile builds for its dataset's image size."""

from pathlib import Path

import pytest
import torch
import yaml

from layerwise.models.simcnn import count_params, make_block, make_head, spec_from_config

CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
PROFILES = yaml.safe_load(CONFIG.read_text())["layerwise"]["profiles"]
# dataset -> (classes, channels, image size) of the paper's data
SHAPES = {"imagenet": (1000, 3, 224), "cifar10": (10, 3, 32), "synthetic": (10, 3, 32)}
TABLE7_MILLIONS = {"simcnn-k2": 64, "simcnn-k3": 102, "simcnn-k3-mf512": 46}


def model_params(spec):
    with torch.device("meta"):  # shapes only: no memory for 100M-parameter models
        blocks = sum(count_params(make_block(spec, j)) for j in range(spec.layers))
        return blocks + count_params(make_head(spec, spec.layers - 1))


@pytest.mark.parametrize("preset", sorted(TABLE7_MILLIONS))
def test_imagenet_parameter_counts_match_table7(preset):
    spec = spec_from_config(PROFILES["imagenet"]["models"][preset], *SHAPES["imagenet"])
    assert model_params(spec) / 1e6 == pytest.approx(TABLE7_MILLIONS[preset], rel=0.02)


@pytest.mark.parametrize("dataset", sorted(SHAPES))
def test_every_preset_builds(dataset):
    profile = PROFILES[dataset]
    for name, model in profile["models"].items():
        spec = spec_from_config(model, *SHAPES[dataset], key=name)
        assert model_params(spec) > 0
    for table, presets in profile["tables"].items():
        assert set(presets) <= set(profile["models"]), table
