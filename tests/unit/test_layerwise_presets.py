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


def test_aux_widths_double_with_each_downsampling_as_the_naming_convention():
    """Section 4: widths double at each downsampling, so on ImageNet k=2,3 the last
    auxiliary width is M~ 2^3 = 2048 (Table 4's M~_f) without being set by hand."""
    from layerwise.models.simcnn import aux_widths

    model = dict(PROFILES["imagenet"]["models"]["simcnn-k3"], aux_width_final=0)
    spec = spec_from_config(model, *SHAPES["imagenet"])
    assert aux_widths(spec) == [256, 256, 512, 512, 1024, 1024, 2048, 2048]
    convs = [m for m in make_head(spec, 7).modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [2048, 2048]
    constant = spec_from_config(dict(model, aux_growth="constant"), *SHAPES["imagenet"])
    assert aux_widths(constant) == [256] * 8


def test_cifar_presets_keep_full_resolution():
    """The paper downsamples the input on ImageNet only: CIFAR blocks start at 32x32."""
    from layerwise.models.simcnn import block_shapes

    for name, model in PROFILES["cifar10"]["models"].items():
        spec = spec_from_config(model, *SHAPES["cifar10"], key=name)
        assert block_shapes(spec)[0][:2] == (3, 32), name
    k1 = spec_from_config(PROFILES["cifar10"]["models"]["simcnn-k1"], *SHAPES["cifar10"])
    assert [out for _, _, out in block_shapes(k1)] == [32, 32, 16, 8, 8]


def test_table7_k1_note_states_the_counts_of_table5_widths():
    """Table 7's 96M for k=1 (J=6) is not reproducible from Table 5; the note's numbers are."""
    from layerwise.training.tables import NOTES

    note = NOTES[("imagenet", "table3")]["simcnn-k1"]
    base = PROFILES["imagenet"]["models"]["simcnn-k1"]
    j6 = spec_from_config(dict(base, layers=6, downsample_at=[2, 3, 4]), *SHAPES["imagenet"])
    j8 = spec_from_config(base, *SHAPES["imagenet"])
    pooled = spec_from_config(dict(base, layers=6, downsample_at=[2, 3, 4], downsample="avgpool"),
                              *SHAPES["imagenet"])
    for spec in (j6, j8):
        assert f"{model_params(spec) / 1e6:.1f}M" in note
    # avgpool keeps the input's invertible stem; the note's figure has a plain 3-channel input
    plain = model_params(pooled) - 12 * 256 * 9 + 3 * 256 * 9
    assert f"{plain / 1e6:.1f}M" in note and "96M" in note
    assert not 0.9 < model_params(j6) / 96e6 < 1.1


def test_imagenet_vgg11_k3_auxiliaries_are_the_authors():
    """eugenium/layerCNN imagenet_refactored/models/vgg.py: M~_j = 2 x block width, unpadded aux
    convs, batch norm after the 2x2 average, no dropout in the layer-wise VGG head."""
    from torch import nn

    from layerwise.models.simcnn import block_widths

    spec = spec_from_config(PROFILES["imagenet"]["models"]["vgg11-k3"], *SHAPES["imagenet"])
    old = spec_from_config(PROFILES["imagenet"]["models"]["vgg11-k3-m256"], *SHAPES["imagenet"])
    with torch.device("meta"):
        for j, width in enumerate(block_widths(spec)[:-1]):
            convs = [m for m in make_head(spec, j).modules() if isinstance(m, nn.Conv2d)]
            assert [(c.out_channels, c.padding) for c in convs] == [(2 * width, (0, 0))] * 2
            assert isinstance(make_head(spec, j).average[-1], nn.BatchNorm2d)
            assert [c.out_channels for c in make_head(old, j).modules() if isinstance(c, nn.Conv2d)] == [256, 256]
        head = make_head(spec, spec.layers - 1)
        assert all(m.p == 0 for m in head.modules() if isinstance(m, nn.Dropout))
        assert any(m.p == 0.5 for m in make_head(old, old.layers - 1).modules() if isinstance(m, nn.Dropout))
    # the final model (blocks + VGG classifier) is torchvision's vgg11_bn for both presets
    assert model_params(spec) == model_params(old) == 132_868_840


def test_frozen_layers_of_the_k3_run_serve_the_mf512_run():
    """Table 1 retrains layer J only: a spec differing in M~_f alone is compatible, others not."""
    from layerwise.models.simcnn import frozen_compatible

    k3 = spec_from_config(PROFILES["imagenet"]["models"]["simcnn-k3"], *SHAPES["imagenet"]).to_dict()
    mf = spec_from_config(PROFILES["imagenet"]["models"]["simcnn-k3-mf512"], *SHAPES["imagenet"]).to_dict()
    k2 = spec_from_config(PROFILES["imagenet"]["models"]["simcnn-k2"], *SHAPES["imagenet"]).to_dict()
    assert k3 != mf and frozen_compatible(k3, mf) and not frozen_compatible(k2, mf)
    before = {k: v for k, v in k3.items() if k not in ("aux_padding", "aux_pool_batchnorm")}
    assert frozen_compatible(before, k3)  # weights written before these keys existed


def test_unpadded_auxiliaries_on_too_small_images_are_one_clear_error():
    from layerwise.errors import InputError

    # at 64 px block 4 outputs 8x8: halved to 4, two unpadded 3x3 convs leave 0x0
    with pytest.raises(InputError, match=r"block 4's auxiliary convs shrink its 8x8 .* aux_padding 1"):
        spec_from_config(PROFILES["imagenet"]["models"]["vgg11-k3"], 10, 3, 64, key="vgg11-k3")
    spec = spec_from_config(PROFILES["imagenet"]["models"]["vgg11-k3"], 10, 3, 224, key="vgg11-k3")
    head = make_head(spec, 6).eval()  # 14x14 block output, halved to 7, two unpadded convs: 3x3
    assert head.convs(torch.zeros(1, 512, 14, 14)).shape == (1, 1024, 3, 3)
    assert head(torch.zeros(2, 512, 14, 14)).shape == (2, 10)
