"""Batched crops (layerwise.data.crops) against torchvision's per-image transforms."""

from collections import Counter

import pytest
import torch
from torch.profiler import ProfilerActivity, profile
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from layerwise.data import crops
from layerwise.training.inputs import step_generator


def images(seed=0):
    g = torch.Generator().manual_seed(seed)
    sizes = [(40, 60), (57, 33), (64, 64), (20, 100), (90, 31)]
    return [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g) for h, w in sizes]


@pytest.mark.parametrize("antialias", [True, False])
def test_device_crop_equals_torchvision_resized_crop_per_image(antialias):
    # The reference is computed image by image by torchvision on the same integer boxes. Both
    # run the same float resize kernel on the same pixels, so they agree to float32 rounding
    # of the final /255 (1e-6 is ~8 ulp at 1.0; a wrong box, flip or kernel is off by > 1e-2).
    ims = images()
    boxes, flip = crops.random_resized_boxes([i.shape[1] for i in ims], [i.shape[2] for i in ims],
                                             torch.Generator().manual_seed(3))
    out = crops.crop_resize(ims, boxes, 24, flip, antialias=antialias)
    assert out.shape == (len(ims), 3, 24, 24) and out.dtype == torch.float32
    for i, im in enumerate(ims):
        top, left, h, w = (int(v) for v in boxes[i])
        ref = TF.resized_crop(im.float(), top, left, h, w, [24, 24], antialias=antialias) / 255
        ref = ref.flip(-1) if flip[i] else ref
        torch.testing.assert_close(out[i], ref, atol=1e-6, rtol=0)


def peak_bytes(fn):
    """Peak of the bytes the CPU allocator holds while ``fn`` runs (torch.profiler's memory events)."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    held = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        held += event.self_cpu_memory_usage
        peak = max(peak, held)
    return peak


def test_device_crop_memory_does_not_scale_with_the_batch_s_largest_image():
    # one panorama and one tall image: a zero-padded batch canvas would be n x 3 x 1500 x 1500
    # float32 (270 MB); per-image crops hold the output plus about one image's box in float
    g = torch.Generator().manual_seed(0)
    ims = [torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8, generator=g) for _ in range(8)]
    ims += [torch.randint(0, 256, (3, 48, 1500), dtype=torch.uint8, generator=g),
            torch.randint(0, 256, (3, 1500, 48), dtype=torch.uint8, generator=g)]
    boxes = torch.tensor([[0, 0, im.shape[1], im.shape[2]] for im in ims], dtype=torch.float64)
    out_bytes = len(ims) * 3 * 24 * 24 * 4
    one_image_float = 3 * 48 * 1500 * 4
    assert peak_bytes(lambda: crops.crop_resize(ims, boxes, 24)) <= out_bytes + 3 * one_image_float
    assert one_image_float * 3 < len(ims) * 3 * 1500 * 1500 * 4 / 50  # the bound is far below a canvas


def test_random_boxes_are_distributed_as_torchvision_get_params():
    # Exact comparison of the whole box distribution (top, left, height, width) on a 5 x 6 image
    # (155 distinct boxes): total-variation distance between our boxes and torchvision's
    # RandomResizedCrop.get_params, 20 000 draws each. Two independent samples of get_params
    # differ by ~0.04; drawing the top edge from [0, h - ch) instead of [0, h - ch] gives 0.29.
    h, w, n = 5, 6, 20_000
    with torch.random.fork_rng():
        torch.manual_seed(0)
        ref = [tuple(v2.RandomResizedCrop.get_params(torch.zeros(3, h, w), [0.08, 1.0], [3 / 4, 4 / 3]))
               for _ in range(n)]
    boxes, _ = crops.random_resized_boxes(torch.full((n,), h), torch.full((n,), w), torch.Generator().manual_seed(0))
    ours = Counter(tuple(int(v) for v in row) for row in boxes.tolist())
    theirs = Counter(ref)
    distance = sum(abs(ours[k] - theirs[k]) for k in set(ours) | set(theirs)) / (2 * n)
    assert distance < 0.1
    # boxes touching the bottom edge (top = h - ch) occur as often as in torchvision
    touch = sum(c for (t, _, bh, _), c in ours.items() if bh < h and t == h - bh)
    ref_touch = sum(c for (t, _, bh, _), c in theirs.items() if bh < h and t == h - bh)
    assert abs(touch - ref_touch) < 0.02 * n


def test_every_step_of_an_epoch_gets_its_own_crop_randomness():
    # the per-step seed is the documented ((seed * P + epoch) * P + step), P = 1 000 003, and
    # distinct for every (epoch, step); boxes of the same images differ between two steps
    p = 1_000_003
    seeds = {(e, s): step_generator(7, e, s).initial_seed() for e in range(3) for s in range(5)}
    assert all(v == (7 * p + e) * p + s for (e, s), v in seeds.items())
    assert len(set(seeds.values())) == len(seeds)
    heights, widths = [300] * 16, [400] * 16
    step0 = crops.random_resized_boxes(heights, widths, step_generator(7, 1, 0))[0]
    step1 = crops.random_resized_boxes(heights, widths, step_generator(7, 1, 1))[0]
    assert not torch.equal(step0, step1)


def test_boxes_follow_random_resized_crop_constraints():
    n = 4000
    h, w = torch.full((n,), 300), torch.full((n,), 400)
    boxes, flip = crops.random_resized_boxes(h, w, torch.Generator().manual_seed(0))
    top, left, bh, bw = boxes.unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (top + bh <= 300).all() and (left + bw <= 400).all()
    area = bh * bw / (300 * 400)
    assert area.min() >= 0.08 - 0.01 and area.max() <= 1.0
    assert abs(flip.float().mean() - 0.5) < 0.04  # (the box distribution: the get_params test above)


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
    assert box[0].tolist() == [10.0, 20.0, 20.0, 20.0]
    out = crops.crop_resize([im], box, 16)
    # Resize(32) then CenterCrop(16) == the central half of the short side, resized to 16
    # (the same pixels, one resize instead of two: close, not equal)
    ref = TF.center_crop(TF.resize(im.float(), [32, 48], antialias=True), [16, 16]) / 255
    assert (out[0] - ref).abs().mean() < 0.02


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


def test_device_and_worker_paths_give_the_same_crops_up_to_uint8_rounding():
    # the GPU path (float result) and the CPU workers' path (uint8 result) run the same
    # antialiased resize on the same rounded boxes: they differ by the final rounding only
    ims = images(2)
    boxes, flip = crops.random_resized_boxes([i.shape[1] for i in ims], [i.shape[2] for i in ims],
                                             torch.Generator().manual_seed(9))
    device = crops.crop_resize(ims, boxes, 24, flip)
    worker = crops.crop_resize_each(ims, boxes, 24, flip).float() / 255
    assert (device - worker).abs().max() <= 1.01 / 255
