"""Pixel sources on their device and the DataLoader worker rule (layerwise.training.sources)."""

import numpy as np
import pytest
import torch

from layerwise.data.store import write_arrays
from layerwise.training import inputs
from layerwise.training.sources import PixelSource, flip_crop, open_source
from layerwise.training.storesource import loader_workers


@pytest.fixture
def pixels(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(40) % 4
    path = tmp_path / "data.h5"
    write_arrays(path, images, labels, list("abcd"), {"train": np.arange(30), "test": np.arange(30, 40)}, {}, 0)
    return path


def test_flip_crop_is_bit_for_bit_the_previous_cpu_augmentation():
    images = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    for step in range(4):
        want = inputs.augment(images, inputs.step_generator(5, 2, step))
        assert torch.equal(flip_crop(images, inputs.step_generator(5, 2, step)), want)


def test_pixel_source_steps_equal_the_previous_implementation_on_cpu(pixels):
    # the previous PixelSource.train_batch: index, inputs.augment, inputs.normalise on the host
    arrays = inputs.load_arrays(pixels)
    src = open_source(pixels, "flip_crop", 5, 0, device="cpu")
    assert isinstance(src, PixelSource) and src.device.type == "cpu"
    rng = np.random.default_rng(0)
    for step in range(3):
        idx = rng.permutation(30)[:8]
        images = inputs.augment(arrays.train_images[torch.as_tensor(idx)], inputs.step_generator(5, 1, step))
        assert torch.equal(src.train_batch(idx, 1, step), inputs.normalise(images, arrays))
    test = torch.cat(list(src.chunks("test", chunk=4)))
    assert torch.equal(test, inputs.normalise(arrays.test_images, arrays))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_resident_pixels_on_cuda_give_the_cpu_batches(pixels):
    cpu = open_source(pixels, "flip_crop", 5, 0, device="cpu")
    gpu = open_source(pixels, "flip_crop", 5, 0, device="cuda")
    assert gpu.device.type == "cuda" and gpu.images["train"].dtype == torch.uint8
    idx = np.arange(3, 19)
    for step in range(3):  # the gather is exact; the normalisation is IEEE elementwise arithmetic
        assert torch.equal(gpu.train_batch(idx, 0, step).cpu(), cpu.train_batch(idx, 0, step))


def test_loader_workers_follow_threads_and_split_size():
    # a 12-image tree on a 2-thread job: one worker (it started 16 before)
    assert loader_workers(2, 10, 2) == (1, 0)
    assert loader_workers(1, 10_000, 1_000) == (0, 0)  # everything in the job's thread
    assert loader_workers(16, 12, 4) == (1, 1)  # a tiny split needs one worker per loader
    for threads in range(1, 33):  # never more processes than threads; training keeps most
        train, evaluation = loader_workers(threads, 1_281_167, 50_000)
        assert 1 + train + evaluation <= max(1, threads) and train >= evaluation
    assert loader_workers(8, 1_281_167, 50_000) == (5, 2)
