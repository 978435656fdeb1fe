"""Small data any working image classifier learns in a few epochs: oriented bars at random places.

Four labels (horizontal, vertical, diagonal, anti-diagonal bar of length side/2) drawn
bright on a noisy dark background at a random position, so a model must find a local
shape anywhere in the image; no pixel average separates the labels. Chance is 25 %.
"""

import numpy as np
import torch

CLASSES = 4


def bars(n, side=16, seed=0, channels=3):
    """uint8 images (n, channels, side, side) and int64 labels (balanced, shuffled)."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % CLASSES)
    images = rng.normal(40, 12, size=(n, side, side))
    length = side // 2
    steps = np.arange(length)
    for i, y in enumerate(labels):
        r, c = rng.integers(0, side - length, size=2)
        rows, cols = {
            0: (r + 0 * steps, c + steps),
            1: (r + steps, c + 0 * steps),
            2: (r + steps, c + steps),
            3: (r + steps, c + length - 1 - steps),
        }[int(y)]
        images[i, rows, cols] = rng.normal(200, 12, size=length)
    images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    images = np.repeat(images[:, None], channels, axis=1)
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))
