"""Issue 20 cases 3 and 5: every image mode becomes the 8-bit RGB a numpy reference (or torchvision) gives.

16-bit grey used to pass through ``convert("RGB")``, which clips at 255: a mid-grey
32896 became white. The references below are computed from the pixel values
written, not through PIL's conversion.
"""

import io

import numpy as np
import pytest
from PIL import Image
from torchvision.datasets.folder import default_loader

from layerwise.data.imagefolder import load_rgb
from layerwise.data.imagestore import encode_image
from layerwise.data.lowres import low_res
from layerwise.errors import InputError

RNG = np.random.default_rng(0)
H, W = 6, 8


def _grey16():
    values = RNG.integers(0, 65536, (H, W)).astype(np.uint16)
    values[0, :4] = [0, 128, 32896, 65535]  # 0, 0.498 -> 0, the mid-grey -> 128, white
    return values


def _rgb(grey):
    return np.repeat(np.asarray(grey, np.uint8)[..., None], 3, axis=2)


def _case(mode):
    """(image to save, file suffix, expected uint8 (H, W, 3))."""
    if mode == "I;16":
        wide = _grey16()
        return Image.fromarray(wide), "png", _rgb(np.rint(wide / 257.0))  # 255/65535 == 1/257
    if mode == "I":
        wide = _grey16().astype(np.int32)
        wide[1, :2] = [-5, 70000]  # out of the 16-bit range: clipped
        expected = _rgb(np.rint(np.clip(wide, 0, 65535) / 257.0))
        return Image.fromarray(wide, "I"), "tif", expected
    grey = RNG.integers(0, 256, (H, W)).astype(np.uint8)
    rgba = RNG.integers(0, 256, (H, W, 4)).astype(np.uint8)
    if mode == "L":
        return Image.fromarray(grey, "L"), "png", _rgb(grey)
    if mode == "LA":
        return Image.fromarray(np.stack([grey, rgba[..., 3]], -1), "LA"), "png", _rgb(grey)  # alpha dropped
    if mode == "RGBA":
        return Image.fromarray(rgba, "RGBA"), "png", rgba[..., :3]
    if mode == "1":
        bits = grey > 127
        return Image.fromarray(bits), "png", _rgb(bits * 255)
    if mode == "P":
        palette = RNG.integers(0, 256, (256, 3)).astype(np.uint8)
        index = RNG.integers(0, 256, (H, W)).astype(np.uint8)
        img = Image.fromarray(index, "P")
        img.putpalette(palette.reshape(-1).tolist())
        return img, "png", palette[index]
    raise AssertionError(mode)


@pytest.mark.parametrize("mode", ["I;16", "I", "L", "LA", "RGBA", "1", "P"])
def test_each_mode_converts_to_the_reference(tmp_path, mode):
    img, suffix, expected = _case(mode)
    path = tmp_path / f"x.{suffix}"
    img.save(path)
    with Image.open(path) as reread:
        assert reread.mode == mode  # the file really holds that mode
    got = np.asarray(load_rgb(path))
    assert got.dtype == np.uint8 and got.shape == (H, W, 3)
    np.testing.assert_array_equal(got, expected)


def test_sixteen_bit_mid_grey_is_mid_grey_in_every_reader(tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(np.full((32, 32), 32896, np.uint16)).save(path)
    assert (np.asarray(load_rgb(path)) == 128).all()
    assert (low_res(path, 32) == 128).all()  # the graph's and autoencoder's view
    data, h, w = encode_image(path, 32, 95)  # the training store (JPEG: a flat grey survives it)
    stored = np.asarray(Image.open(io.BytesIO(data))).astype(int)
    assert (h, w) == (32, 32) and np.abs(stored - 128).max() <= 1


def test_cmyk_and_eight_bit_modes_match_torchvision(tmp_path):
    # The peer: torchvision's ImageFolder loader (convert("RGB")), right for 8-bit modes.
    cmyk = RNG.integers(0, 256, (H, W, 4)).astype(np.uint8)
    for name, img in [("c.tif", Image.fromarray(cmyk, "CMYK")), ("y.jpg", Image.fromarray(cmyk[..., :3], "RGB"))]:
        img.save(tmp_path / name)
        np.testing.assert_array_equal(np.asarray(load_rgb(tmp_path / name)),
                                      np.asarray(default_loader(str(tmp_path / name))))


def test_float_image_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "f.tif"
    Image.fromarray(np.full((4, 4), 0.5, np.float32), "F").save(path)
    with pytest.raises(InputError, match=rf"^{path}: a 32-bit float image has no defined pixel range"):
        load_rgb(path)


def test_exif_orientation_is_ignored_as_torchvision_does(tmp_path):
    # Decision (docs/data.md): pixels are used as stored, like torchvision's ImageFolder, so
    # results compare with the published ImageNet pipelines. A 64 x 32 JPEG tagged "rotate 90"
    # stays 64 wide and 32 high.
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    Image.fromarray(RNG.integers(0, 256, (32, 64, 3)).astype(np.uint8)).save(path, exif=exif)
    with Image.open(path) as img:
        assert img.getexif()[0x0112] == 6
    ours, peer = load_rgb(path), default_loader(str(path))
    assert ours.size == peer.size == (64, 32)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(peer))
