"""SimCNN and VGG-11 shapes against paper 003 Tables 4/5 and torchvision's VGG-11."""

import numpy as np
import pytest
import torch
import torchvision

from layerwise.errors import InputError
from layerwise.models.simcnn import (
    AuxClassifier,
    LayeredCNN,
    block_shapes,
    count_params,
    kept_widths,
    make_block,
    make_head,
    spec_from_config,
)


def imagenet(cfg):
    return spec_from_config(cfg, 1000, 3, 224)


def test_table5_k1_imagenet_structure():
    spec = imagenet({"k": 1, "layers": 8, "width": 256, "downsample_at": [2, 3, 4, 6]})
    sizes = [out for _, _, out in block_shapes(spec)]
    assert block_shapes(spec)[0][:2] == (12, 112)  # invertible downsampling of the 224^2 x 3 input
    assert sizes == [112, 112, 56, 28, 14, 14, 7, 7]
    assert kept_widths(spec) == [256, 256, 512, 1024, 2048, 2048, 4096, 4096]


def test_table4_k23_imagenet_structure():
    spec = imagenet({"k": 3, "layers": 8, "width": 128, "downsample_at": [2, 4, 6]})
    assert [out for _, _, out in block_shapes(spec)] == [112, 112, 56, 56, 28, 28, 14, 14]
    assert kept_widths(spec) == [128, 128, 256, 256, 512, 512, 1024, 1024]


@pytest.mark.parametrize("size", [4, 6, 9, 16])
def test_aux_head_averages_to_2x2_before_linear(size):
    torch.manual_seed(0)
    head = AuxClassifier(5, 3, k=1, width=8, batchnorm=False, downsample=False)
    seen = {}
    head.linear.register_forward_hook(lambda m, inp, out: seen.setdefault("x", inp[0]))
    x = torch.randn(2, 5, size, size)
    head(x)
    assert seen["x"].shape == (2, 5 * 4)
    if size % 2 == 0:  # A averages the four spatial quadrants
        h = size // 2
        quads = [x[:, :, :h, :h], x[:, :, :h, h:], x[:, :, h:, :h], x[:, :, h:, h:]]
        manual = torch.stack([q.mean((2, 3)) for q in quads], dim=2).flatten(1)
        assert torch.allclose(seen["x"], manual, atol=1e-6)


def test_k3_head_has_two_convs_with_batchnorm_and_final_width():
    spec = spec_from_config({"k": 3, "layers": 2, "width": 4, "aux_width": 6,
                             "aux_width_final": 10}, 7, 3, 16)
    convs = [m for m in make_head(spec, 0).modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [6, 6]
    final = make_head(spec, 1)
    assert [c.out_channels for c in final.modules() if isinstance(c, torch.nn.Conv2d)] == [10, 10]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in final.modules()) == 2
    assert final(torch.randn(2, 4, 8, 8)).shape == (2, 7)


def test_block_is_conv_with_bias_after_downsampling():
    spec = spec_from_config({"k": 1, "layers": 2, "width": 4, "downsample_at": [1]}, 3, 3, 8)
    block = make_block(spec, 1)
    conv = block[1]
    assert conv.in_channels == 16 and conv.out_channels == 8 and conv.bias is not None
    assert block(torch.randn(1, 4, 4, 4)).shape == (1, 8, 2, 2)


def test_vgg11_matches_torchvision_parameter_count():
    spec = spec_from_config({"arch": "vgg11", "k": 3, "width": 64}, 1000, 3, 224)
    model = LayeredCNN(spec)
    reference = torchvision.models.vgg11(weights=None)
    assert count_params(model.blocks) == count_params(reference.features)
    assert count_params(model.head) == count_params(reference.classifier)
    widths = [m.out_channels for m in reference.features if isinstance(m, torch.nn.Conv2d)]
    assert kept_widths(spec) == widths
    assert [out for _, _, out in block_shapes(spec)] == [224, 112, 56, 56, 28, 28, 14, 14]


def test_vgg11_forward_equals_torchvision_with_copied_weights():
    spec = spec_from_config({"arch": "vgg11", "width": 8, "vgg_hidden": 16, "vgg_pool": 1}, 5, 3, 32)
    torch.manual_seed(0)
    model = LayeredCNN(spec).eval()
    ref = torchvision.models.VGG(
        torchvision.models.vgg.make_layers([8, "M", 16, "M", 32, 32, "M", 64, 64, "M", 64, 64, "M"]),
        num_classes=5)
    ref.avgpool = torch.nn.AdaptiveAvgPool2d(1)
    ref.classifier[0] = torch.nn.Linear(64, 16)
    ref.classifier[3] = torch.nn.Linear(16, 16)
    ref.classifier[6] = torch.nn.Linear(16, 5)
    ref.eval()
    ours = [p for p in model.parameters()]
    theirs = [p for p in ref.parameters()]
    assert [p.shape for p in ours] == [p.shape for p in theirs]
    with torch.no_grad():
        for a, b in zip(ours, theirs, strict=True):
            b.copy_(a)
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(model(x), ref(x), atol=1e-5)


def test_bad_configs_raise_input_error():
    with pytest.raises(InputError, match="downsample_at"):
        spec_from_config({"layers": 2, "downsample_at": [5]}, 3, 3, 16)
    with pytest.raises(InputError, match="arch"):
        spec_from_config({"arch": "resnet"}, 3, 3, 16)
    with pytest.raises(InputError, match="odd spatial size"):
        spec_from_config({"layers": 4, "downsample_at": [0, 1, 2, 3]}, 3, 3, 8)
    with pytest.raises(InputError, match="output is"):
        spec_from_config({"layers": 3, "downsample_at": [0, 1, 2], "downsample": "maxpool"}, 3, 3, 8)
    assert np.isfinite(count_params(make_block(spec_from_config({}, 3, 3, 16), 0)))
