"""Device choice: CUDA when present, otherwise CPU (every stage must run on CPU)."""

import torch


def pick_device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
