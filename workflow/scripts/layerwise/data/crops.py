"""Batched ImageNet crops after decoding: RandomResizedCrop + flip, and the single centre crop.

Crop boxes are drawn for a whole batch at once (from the stored image sizes,
before decoding, so workers need no pixels to draw them) and applied image by
image: on CPU by torchvision's antialiased uint8 kernel (``crop_resize_each``),
on the GPU by an antialiased float resize of each box into the fixed output
(``crop_resize``). Both are torchvision's ``resized_crop(..., antialias=True)``
on the same rounded boxes, so memory never depends on the batch's largest image.

Boxes are float ``(top, left, height, width)`` in pixels. Randomness comes from
one generator per (seed, epoch, step) with a fixed number of draws per image,
so a batch is bit-for-bit the same on CPU whatever the worker, resume point or
chunking.
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


def crop_resize(images, boxes, size, flip=None, antialias=True):
    """Bilinear ``size`` x ``size`` crops of uint8 images (list of (3, h_i, w_i)) -> float (n, 3, size, size) in [0, 1].

    The device path (GPU decoding): each image's box, rounded to whole pixels as
    torchvision does, is resized on its own straight into the fixed output, so
    the only transient beyond the result is one box in float32 (never a batch
    canvas sized by the tallest and the widest image). With ``antialias`` this is
    ``torchvision.transforms.v2.functional.resized_crop(..., antialias=True)`` on
    float pixels (tests compare the two). Boxes and flips stay on the host: no
    transfer, no synchronisation.
    """
    out = torch.empty(len(images), 3, size, size, dtype=torch.float32, device=images[0].device)
    flips = [False] * len(images) if flip is None else flip.tolist()
    for i, (im, (top, left, h, w)) in enumerate(zip(images, boxes.round().long().tolist(), strict=True)):
        crop = im[None, :, top : top + h, left : left + w].float()
        y = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=antialias, align_corners=False)[0]
        out[i] = y.flip(-1) if flips[i] else y
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


_STATS = {}  # (device, scale) -> (mean, 1 / std), made once per device


def _stats(device, scale):
    key = (str(device), scale)
    if key not in _STATS:
        mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1) * scale
        inv_std = 1.0 / (torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1) * scale)
        _STATS[key] = (mean.to(device), inv_std.to(device))
    return _STATS[key]


def normalise(x):
    """uint8 or [0, 1] float (n, 3, H, W) -> standardised with the ImageNet channel statistics."""
    mean, inv_std = _stats(x.device, 255.0 if x.dtype == torch.uint8 else 1.0)  # 1/255 folds in
    return x.float().sub_(mean).mul_(inv_std)  # in place on a float input (a fresh batch)
