"""Batched ImageNet crops after decoding: RandomResizedCrop + flip, and the single centre crop.

A per-image Python loop of torchvision transforms cannot keep up with batched
GPU decoding, so crop boxes are drawn for a whole batch at once (from the
stored image sizes, before decoding) and applied with one ``grid_sample`` over
the zero-padded batch. Sampling is bilinear at the same source coordinates as
``torchvision.transforms.v2.functional.resized_crop(..., antialias=False)``
(tests compare the two); the store bounds the short side, so crops are never
shrunk by much and antialiasing matters little.

Boxes are float ``(top, left, height, width)`` in pixels. Randomness comes from
one generator per (seed, epoch, step) with a fixed number of draws per image,
so a batch is bit-for-bit the same on CPU whatever the worker or resume point (the
same images batched differently round differently in the last float bit: the
padded canvas changes grid_sample's coordinate normalisation).
"""

import math

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SCALE = (0.08, 1.0)
RATIO = (3.0 / 4.0, 4.0 / 3.0)
ATTEMPTS = 10


def random_resized_boxes(heights, widths, generator, scale=SCALE, ratio=RATIO):
    """torchvision's RandomResizedCrop.get_params for a batch, plus a flip per image.

    Up to ten (area, log-ratio) attempts per image, the first that fits wins;
    otherwise the ratio-clamped centre crop (as torchvision). Returns
    (boxes float64 (n, 4), flip bool (n,)).
    """
    h = torch.as_tensor(heights, dtype=torch.float64)
    w = torch.as_tensor(widths, dtype=torch.float64)
    n = len(h)
    area = (h * w)[:, None]
    u_area = torch.rand(n, ATTEMPTS, generator=generator, dtype=torch.float64)
    u_ratio = torch.rand(n, ATTEMPTS, generator=generator, dtype=torch.float64)
    u_y = torch.rand(n, generator=generator, dtype=torch.float64)
    u_x = torch.rand(n, generator=generator, dtype=torch.float64)
    flip = torch.rand(n, generator=generator) < 0.5
    target = area * (scale[0] + (scale[1] - scale[0]) * u_area)
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * u_ratio)
    cw = torch.round(torch.sqrt(target * aspect))
    ch = torch.round(torch.sqrt(target / aspect))
    ok = (cw > 0) & (ch > 0) & (cw <= w[:, None]) & (ch <= h[:, None])
    first = ok.int().argmax(1)
    has = ok.any(1)
    ch = ch.gather(1, first[:, None]).squeeze(1)
    cw = cw.gather(1, first[:, None]).squeeze(1)
    # fallback: whole image, ratio clamped into [ratio[0], ratio[1]], centred
    in_ratio = w / h
    fw = torch.where(in_ratio < ratio[0], w, torch.where(in_ratio > ratio[1], torch.round(h * ratio[1]), w))
    fh = torch.where(in_ratio < ratio[0], torch.round(w / ratio[0]), h)
    ch, cw = torch.where(has, ch, fh), torch.where(has, cw, fw)
    top = torch.where(has, torch.floor(u_y * (h - ch + 1)), torch.floor((h - ch) / 2))
    left = torch.where(has, torch.floor(u_x * (w - cw + 1)), torch.floor((w - cw) / 2))
    return torch.stack([top, left, ch, cw], 1), flip


def center_boxes(heights, widths, size, resize):
    """Resize(short side -> ``resize``) + CenterCrop(``size``) as a box in the stored image."""
    h = torch.as_tensor(heights, dtype=torch.float64)
    w = torch.as_tensor(widths, dtype=torch.float64)
    side = torch.minimum(h, w) * (size / resize)
    return torch.stack([(h - side) / 2, (w - side) / 2, side, side], 1)


def crop_resize(images, boxes, size, flip=None):
    """Bilinear ``size`` x ``size`` crops of uint8 images (list of (3, h_i, w_i)) -> float (n, 3, size, size) in [0, 1].

    Source coordinates follow ``F.interpolate(align_corners=False)`` on the crop
    (clamped to the crop), so an integer box reproduces torchvision's resized_crop.
    """
    n = len(images)
    device = images[0].device
    hmax = max(int(im.shape[1]) for im in images)
    wmax = max(int(im.shape[2]) for im in images)
    batch = torch.zeros(n, 3, hmax, wmax, dtype=torch.float32, device=device)
    for i, im in enumerate(images):
        batch[i, :, : im.shape[1], : im.shape[2]] = im
    boxes = boxes.to(device=device, dtype=torch.float64)
    top, left, bh, bw = boxes.unbind(1)
    steps = (torch.arange(size, device=device, dtype=torch.float64) + 0.5) / size
    ys = top[:, None] + (steps[None, :] * bh[:, None] - 0.5).clamp_min(0)
    xs = left[:, None] + (steps[None, :] * bw[:, None] - 0.5).clamp_min(0)
    ys = torch.minimum(ys, (top + bh - 1)[:, None])
    xs = torch.minimum(xs, (left + bw - 1)[:, None])
    if flip is not None:
        xs = torch.where(flip.to(device)[:, None], xs.flip(1), xs)
    # pixel coordinate p -> grid_sample's normalised coordinate (align_corners=False)
    gy = ((ys + 0.5) / hmax * 2 - 1).float()
    gx = ((xs + 0.5) / wmax * 2 - 1).float()
    grid = torch.stack([gx[:, None, :].expand(n, size, size), gy[:, :, None].expand(n, size, size)], -1)
    out = F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.div_(255.0)


def crop_resize_each(images, boxes, size, flip=None):
    """CPU path of :func:`crop_resize` (uint8 result): antialiased bilinear resize of each crop.

    The same arithmetic as torchvision's ``resized_crop(..., antialias=True)``, run
    on a channels_last view, where PyTorch's uint8 kernel is about 3x faster. On
    CPU a per-image loop costs nothing extra (each worker decodes image by image
    anyway) and only the ``size`` x ``size`` results are converted to float later,
    not the padded batch. Boxes are rounded to whole pixels as torchvision does.
    """
    out = torch.empty(len(images), 3, size, size, dtype=torch.uint8)
    flips = [False] * len(images) if flip is None else flip.tolist()
    for i, (im, (top, left, h, w)) in enumerate(zip(images, boxes.round().long().tolist(), strict=True)):
        crop = im[None, :, top : top + h, left : left + w].contiguous(memory_format=torch.channels_last)
        y = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
        out[i] = y.flip(-1) if flips[i] else y
    return out  # uint8: a quarter of the bytes to pass from a worker; normalise() converts


def normalise(x):
    """uint8 or [0, 1] float (n, 3, H, W) -> standardised with the ImageNet channel statistics."""
    scale = 255.0 if x.dtype == torch.uint8 else 1.0  # the 1/255 folds into the statistics
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1) * scale
    inv_std = 1.0 / (torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1) * scale)
    return x.float().sub_(mean).mul_(inv_std)  # in place on a float input (a fresh batch)
