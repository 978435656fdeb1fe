"""Batched crops (layerwise.data.crops) against torchvision's per-image transforms."""

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from layerwise.data import crops


def images(seed=0):
    g = torch.Generator().manual_seed(seed)
    sizes = [(40, 60), (57, 33), (64, 64), (20, 100), (90, 31)]
    return [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g) for h, w in sizes]


def test_random_resized_crop_matches_torchvision_resized_crop_on_the_same_boxes():
    ims = images()
    boxes, flip = crops.random_resized_boxes([i.shape[1] for i in ims], [i.shape[2] for i in ims],
                                             torch.Generator().manual_seed(3))
    out = crops.crop_resize(ims, boxes, 24, flip)
    for i, im in enumerate(ims):
        top, left, h, w = (int(v) for v in boxes[i])
        ref = TF.resized_crop(im.float(), top, left, h, w, [24, 24], antialias=False) / 255
        ref = ref.flip(-1) if flip[i] else ref
        torch.testing.assert_close(out[i], ref, atol=1e-5, rtol=0)


def test_boxes_follow_random_resized_crop_constraints_and_distribution():
    n = 4000
    h, w = torch.full((n,), 300), torch.full((n,), 400)
    boxes, flip = crops.random_resized_boxes(h, w, torch.Generator().manual_seed(0))
    top, left, bh, bw = boxes.unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (top + bh <= 300).all() and (left + bw <= 400).all()
    area = bh * bw / (300 * 400)
    assert area.min() >= 0.08 - 0.01 and area.max() <= 1.0
    # torchvision's own sampler on the same image: same mean crop area and flip rate
    ref = torch.tensor([v2.RandomResizedCrop.get_params(torch.zeros(3, 300, 400), [0.08, 1.0], [3 / 4, 4 / 3])
                        for _ in range(n)], dtype=torch.float64)
    ref_area = ref[:, 2] * ref[:, 3] / (300 * 400)
    assert abs(area.mean() - ref_area.mean()) < 0.02
    assert abs(flip.float().mean() - 0.5) < 0.04


def test_extreme_aspect_falls_back_to_the_clamped_centre_crop_like_torchvision():
    # 10 x 400: no attempt fits, so torchvision takes the centre crop with ratio 4/3
    boxes, _ = crops.random_resized_boxes([10], [400], torch.Generator().manual_seed(0))
    assert boxes[0].tolist() == [0.0, (400 - 13) // 2, 10.0, 13.0]


def test_boxes_are_bit_for_bit_the_same_from_the_same_generator_seed():
    a = crops.random_resized_boxes([50, 60], [70, 80], torch.Generator().manual_seed(7))
    b = crops.random_resized_boxes([50, 60], [70, 80], torch.Generator().manual_seed(7))
    c = crops.random_resized_boxes([50, 60], [70, 80], torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])


def test_centre_box_equals_resize_then_centre_crop():
    im = images()[0]  # 40 x 60
    box = crops.center_boxes([40], [60], 16, 32)
    out = crops.crop_resize([im], box, 16)
    # Resize(32) then CenterCrop(16) == the central half of the short side, resized to 16:
    # exact for a 2x downscale with bilinear (no antialias) -> compare with loose tolerance
    ref = TF.center_crop(TF.resize(im.float(), [32, 48], antialias=False), [16, 16]) / 255
    assert (out[0] - ref).abs().mean() < 0.02
    assert box[0].tolist() == [10.0, 20.0, 20.0, 20.0]


def test_cpu_path_equals_torchvision_antialiased_resized_crop():
    ims = images(1)
    boxes, flip = crops.random_resized_boxes([i.shape[1] for i in ims], [i.shape[2] for i in ims],
                                             torch.Generator().manual_seed(5))
    out = crops.crop_resize_each(ims, boxes, 24, flip)
    assert out.dtype == torch.uint8
    for i, im in enumerate(ims):
        top, left, h, w = (int(v) for v in boxes[i])
        ref = TF.resized_crop(im, top, left, h, w, [24, 24], antialias=True)
        ref = ref.flip(-1) if flip[i] else ref
        assert (out[i].int() - ref.int()).abs().max() <= 1  # uint8 kernels may round differently
