"""A fixed low-resolution view of a manifest's images, streamed in chunks by DataLoader workers.

The graph stage (``graph.features: pixels``) and the autoencoder (``ae:<name>``)
need every training image at a small fixed size, which for ImageNet would not
fit in memory at once (1.28 M x 64 x 64 x 3 bytes = 15.7 GB). Each image is
decoded with JPEG DCT scaling (``draft``: 2-8x less work than a full decode),
resized so its short side is ``side`` (antialiased, bicubic) and centre-cropped
to ``side`` x ``side``. PIL is deterministic, so the view is the same bit for bit.
"""

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from layerwise.data.datasets import ManifestDataset
from layerwise.data.imagefolder import load_rgb, to_rgb
from layerwise.errors import InputError, worker_message


def low_res(path, side):
    """uint8 (side, side, 3): short side resized to ``side``, centre crop."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (side, side))  # only changes JPEG decoding; other formats ignore it
            img.load()
            img = to_rgb(img, path)  # 16-bit grey scaled, not clipped
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        load_rgb(path)  # decodes again and raises the one clear InputError naming the file
        raise
    w, h = img.size
    scale = side / min(w, h)
    nw, nh = max(side, round(w * scale)), max(side, round(h * scale))
    img = img.resize((nw, nh), Image.BICUBIC)
    left, top = (nw - side) // 2, (nh - side) // 2
    return np.asarray(img.crop((left, top, left + side, top + side)))


class LowResDataset(Dataset):
    """``(uint8 (3, side, side), label)`` of one split of a manifest data.h5, in split order."""

    def __init__(self, data_path, split, side):
        self.manifest = ManifestDataset(data_path, split)
        self.side = side

    def __len__(self):
        return len(self.manifest)

    def __getitem__(self, i):
        path = self.manifest.root / self.manifest.paths[i].decode()
        return torch.from_numpy(low_res(path, self.side)).permute(2, 0, 1).contiguous(), int(self.manifest.labels[i])


def low_res_chunks(data_path, split, side, chunk, workers, batch_sampler=None):
    """Iterate uint8 (b, 3, side, side) chunks of a split (in order, or by ``batch_sampler``)."""
    dataset = LowResDataset(data_path, split, side)
    if batch_sampler is None:
        loader = DataLoader(dataset, batch_size=chunk, num_workers=workers)
    else:
        loader = DataLoader(dataset, batch_sampler=batch_sampler, num_workers=workers)
    try:
        for x, _ in loader:
            yield x
    except InputError as err:  # from a worker: the file's one-line error, not torch's traceback
        raise type(err)(worker_message(err)) from None
