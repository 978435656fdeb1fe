"""Paper 000 Table 1 residual autoencoder: parameter count by hand, shapes, input-size errors."""

import pytest
import torch

from layerwise.errors import InputError
from layerwise.models.residual_ae import ResidualAutoencoder


def conv(cin, cout, bn=True):
    """3x3 convolution without bias, followed by BatchNorm (weight + bias)."""
    return 9 * cin * cout + (2 * cout if bn else 0)


def test_parameter_count_matches_a_hand_count_of_table1():
    res64 = 3 * 2 * conv(64, 64)  # three residual blocks of two 3x3 convs, 64 channels
    res8 = 1 * 2 * conv(8, 8)
    encoder = (
        conv(3, 64)  # conv1 3x3, 2, 64
        + res64  # conv2
        + conv(64, 64)  # conv3
        + res64  # conv4
        + conv(64, 64)  # conv5
        + res64  # conv6
        + conv(64, 8)  # conv7 3x3, 2, 8
        + res8  # conv8
    )
    decoder = (
        res8  # deconv9
        + conv(8, 64)  # deconv10
        + res64  # deconv11
        + conv(64, 64)  # deconv12
        + res64  # deconv13
        + conv(64, 64)  # deconv14
        + res64  # deconv15
        + 9 * 64 * 3
        + 3  # deconv16: 3 output channels, bias, no BN
    )
    model = ResidualAutoencoder(in_channels=3, width=1.0)
    assert (
        sum(p.numel() for p in model.encoder.parameters()) == encoder == 747_504
    )  # 1856 + 3 * 221952 + 2 * 36992 + 4624 + 1184
    assert sum(p.numel() for p in model.parameters()) == encoder + decoder
    n_conv = sum(isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in model.modules())
    assert n_conv == 2 * (1 + 6 + 1 + 6 + 1 + 6 + 1 + 2)  # 24 convolutions each side


@pytest.mark.parametrize("side,channels", [(32, 3), (64, 1), (16, 3), (48, 3), (27, 1)])
def test_reconstruction_has_the_input_shape_and_the_code_is_8_x_side_over_16(side, channels):
    model = ResidualAutoencoder(in_channels=channels, width=0.125, image_size=(side, side)).eval()
    x = torch.rand(2, channels, side, side)
    model.check_input(x.shape)
    assert model(x).shape == x.shape
    assert model.features(x).shape == (2, 8 * (-(-side // 16)) ** 2)  # 27 is padded to 32


@pytest.mark.parametrize("shape", [(1, 3, 27, 27), (1, 3, 32, 40), (1, 1, 32, 32)])
def test_images_of_another_size_or_channel_count_give_one_clear_error(shape):
    model = ResidualAutoencoder(in_channels=3, width=0.125, image_size=(32, 32))
    with pytest.raises(InputError, match="data.h5.*built for"):
        model.check_input(shape, "data.h5")


@pytest.mark.parametrize("side", [32, 27])
def test_a_centred_untrained_model_reconstructs_the_mean_image_exactly(side):
    """After set_center the output is the training mean image whatever the input, so its test
    MSE is baseline_mses' brute-force mean-image MSE (computed in float64 on its own)."""
    from layerwise.autoencoder.inputs import to_float
    from layerwise.autoencoder.residual import baseline_mses, mean_image, mean_mse

    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (40, 3, side, side), dtype=torch.uint8, generator=g)
    test = torch.randint(0, 256, (9, 3, side, side), dtype=torch.uint8, generator=g)
    model = ResidualAutoencoder(width=0.125, image_size=(side, side))
    model.set_center(mean_image(train.split(16)))
    torch.testing.assert_close(model.center.double(), to_float(train).double().mean(0), rtol=0, atol=1e-6)
    recon = model.eval()(to_float(test))
    torch.testing.assert_close(recon, model.center.expand_as(recon), rtol=0, atol=0)
    assert mean_mse(model, test) == pytest.approx(baseline_mses(train, test)["mean_image"], rel=1e-5)
