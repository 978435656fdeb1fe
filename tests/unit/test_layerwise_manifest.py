"""Layer-wise training reads ImageNet-style manifests: images decoded by DataLoader workers,
batches in the mini-batch file's order, whole splits streamed for evaluation."""

import numpy as np
import torch
from PIL import Image

from layerwise.data.store import write_manifest
from layerwise.h5io import atomic_h5
from layerwise.training.evaluation import read_eval
from layerwise.training.greedy import train_layer
from layerwise.training.sources import ManifestSource

torch.set_num_threads(1)


def manifest(tmp_path, n_train=12, n_test=6):
    rng = np.random.default_rng(0)
    paths, labels = [], []
    for i in range(n_train + n_test):
        label = i % 2
        rel = f"{'train' if i < n_train else 'val'}/c{label}/{i}.JPEG"
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 100, (60, 80, 3)) + 120 * label
        Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / rel)
        paths.append(rel)
        labels.append(label)
    data = tmp_path / "data.h5"
    write_manifest(data, tmp_path, paths, labels, ["c0", "c1"],
                   {"train": np.arange(n_train), "test": np.arange(n_train, n_train + n_test)},
                   params={}, seed=0)
    rows = np.array([[0, 5, 2, 7], [1, 3, 4, 6], [8, 9, 10, 11]], dtype=np.int64)
    batches = tmp_path / "batches.h5"
    with atomic_h5(batches, "partition_batches", {}, 0) as f:
        f["batches"] = rows
        f["sizes"] = np.full(3, 4)
    return data, batches, rows


def test_manifest_batches_follow_the_file_and_a_layer_trains(tmp_path):
    data, batches, rows = manifest(tmp_path)
    source = ManifestSource(data, workers=0)
    assert source.image_shape == (3, 224, 224) and source.num_classes == 2
    plain = torch.cat(list(source.chunks("train", rows[1], 4)))
    assert plain.shape == (4, 3, 224, 224)
    # with a deterministic transform, step i of an epoch decodes exactly row i's images
    from layerwise.training.sampler import FixedBatchSampler

    source.train.transform = source.plain["train"].transform
    sampler = FixedBatchSampler(rows, "shuffled", seed=2)
    source.attach(sampler, 0, 1)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        for step, row in enumerate(sampler):
            got = source.train_batch(row, epoch, step)
            assert torch.equal(got, torch.cat(list(source.chunks("train", row, 4))))
    # the test split streams in order: chunk i is image i
    firsts = [x[0] for x in source.chunks("test", None, 1)]
    assert len(firsts) == 6
    cfg = {
        "run": "m", "preset": "m", "layer": 1, "seed": 0, "batch_order": "fixed", "augment": "none",
        "cache_frozen": True, "workers": 0,
        "eval": {"pooled_size": 2, "feature_subsample": 4, "logits_dtype": "float16"},
        "schedule": {"epochs": 2, "lr": 0.01, "checkpoint_every": 0},
        "model": {"k": 1, "layers": 2, "width": 2, "downsample_at": [1]},
    }
    seen = []
    train_layer(cfg, data, batches, [], tmp_path / "l1/weights.pt", tmp_path / "l1/eval.h5",
                on_step=lambda e, s: seen.append((e, s)))
    assert seen == [(e, s) for e in range(2) for s in range(1, 4)]
    ev = read_eval(tmp_path / "l1/eval.h5")
    assert ev["logits"].shape == (6, 2) and list(ev["labels"]) == [0, 1] * 3
    assert np.isfinite(ev["metrics"]["train_loss"]).all()
