"""The main command, `results/imagenet_table3.csv`, run for real on CPU on a generated
ImageNet-layout tree: manifest, store, pixel features, graph, robust and random
sequences, every layer job and the table with both sampler rows."""

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import run_snakemake, write_config

pytestmark = pytest.mark.integration

WNIDS = ("n01440764", "n01443537", "n01484850", "n01491361", "n01494475", "n01496331")
PALETTE = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200], [200, 200, 40], [200, 40, 200],
                    [40, 200, 200]])


def class_image(rng, label, h, w):
    """Noise around the class colour, with a bright square at a class-dependent corner."""
    pixels = rng.normal(PALETTE[label], 40, (h, w, 3))
    y, x = (label % 2) * h // 2, (label // 2 % 2) * w // 2
    pixels[y : y + h // 2, x : x + w // 2] += 60
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def imagenet_tree(root, train_per_class=40, val_per_class=8, seed=0):
    """train/<wnid>/*.JPEG and val/<wnid>/*.JPEG of 40-64 px images, with the usual oddities:
    one grayscale JPEG, one CMYK JPEG and one PNG saved under a .JPEG name."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for label, wnid in enumerate(WNIDS):
            folder = root / split / wnid
            folder.mkdir(parents=True)
            for i in range(count):
                img = class_image(rng, label, int(rng.integers(40, 65)), int(rng.integers(40, 65)))
                img.save(folder / f"{wnid}_{i}.JPEG", quality=90)
    odd = root / "train" / WNIDS[0]
    class_image(rng, 0, 48, 56).convert("L").save(odd / f"{WNIDS[0]}_0.JPEG")
    class_image(rng, 0, 50, 44).convert("CMYK").save(odd / f"{WNIDS[0]}_1.JPEG")
    class_image(rng, 0, 52, 60).save(odd / f"{WNIDS[0]}_2.JPEG", format="PNG")


def test_imagenet_table3_runs_for_real_on_cpu(workflow_dir, monkeypatch):
    # pinned to the CPU (the launcher leases no GPU from an empty list): the memory figure is then
    # the CPU tally on every host, also where a GPU would be handed to the layer jobs
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delenv("LAYERWISE_GPU_COUNT", raising=False)
    root = workflow_dir / "imagenet"
    imagenet_tree(root)
    cfg = write_config(workflow_dir, {
        "datasets": {"imagenet": {"kind": "imagenet", "root": str(root), "verify_images": "header",
                                  "loader": "store", "store": {"short_side": 40, "quality": 90}}},
        "graph": {"features": "pixels", "knn": 5, "projection_dim": 16, "side": 16},
        # the ImageNet entry of batches.datasets (paper 003's 256) overrides the global keys
        "batches": {"datasets": {"imagenet": {"batch_size": 24, "levels": [48]}},
                    "samplers": ["robust-hier"], "random_seeds": [0]},
        "layerwise": {"seeds": [0], "random_seeds": [0], "samplers": ["robust-hier", "random"],
                      "precision": "auto", "eval": {"feature_subsample": 20},
                      "profiles": {"imagenet": {
                          "image_size": 32, "augment": "none",
                          "schedule": {"epochs": 2, "lr": 0.05, "lr_step": 1, "weight_decay": 0.0001},
                          "models": {"simcnn-k1": {"k": 1, "layers": 2, "width": 8, "downsample_at": [1]},
                                     "simcnn-e2e": {"train": "e2e", "k": 1, "layers": 2, "width": 8,
                                                    "downsample_at": [1]}},
                          "tables": {"table3": ["simcnn-k1", "simcnn-e2e"]}}}},
    })
    run_snakemake(workflow_dir, "results/imagenet_table3.csv", "--configfile", str(cfg))
    results = workflow_dir / "results"
    with h5py.File(results / "imagenet/store.h5", "r") as f:
        assert len(f["offsets"]) == 6 * 48 + 1
        assert max(f["heights"][()].min(), f["widths"][()].min()) <= 40  # short side bounded
    with h5py.File(results / "imagenet/graph/pixels.h5", "r") as f:
        assert f.attrs["stage"] == "build_graph"
    table = pd.read_csv(results / "imagenet_table3.csv")
    assert table["sampler"].tolist() == ["robust-hier", "random", "robust-hier", "random"]
    assert table["train"].tolist() == ["layerwise", "layerwise", "e2e", "e2e"]
    # every layer job ran and recorded its memory; classes are separable by colour: not chance
    for run in ("simcnn-k1.robust-hier-s0", "simcnn-k1.random-s0-s0"):
        for j in (1, 2):
            with h5py.File(results / f"imagenet/train/{run}/layer{j}/eval.h5", "r") as f:
                assert f.attrs["peak_mem_mb"] > 0 and f.attrs["peak_mem_kind"] == "cpu_step_tally"
    assert (table["peak_mem_mb"] > 0).all()
    assert table["peak_mem_mb_layers"].str.count(";").tolist() == [1, 1, 0, 0]
    assert (table["top1"] > 100 / len(WNIDS) + 10).all(), table[["model", "sampler", "top1"]]


def test_a_truncated_jpeg_passing_the_header_check_stops_build_store_naming_the_file(workflow_dir):
    root = workflow_dir / "imagenet"
    imagenet_tree(root, train_per_class=3, val_per_class=1)
    bad = root / "train" / WNIDS[2] / f"{WNIDS[2]}_1.JPEG"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) * 2 // 3])  # headers intact, scan data cut
    cfg = write_config(workflow_dir, {"datasets": {"imagenet": {
        "kind": "imagenet", "root": str(root), "verify_images": "header"}}})
    proc = run_snakemake(workflow_dir, "results/imagenet/store.h5", "--configfile", str(cfg), check=False)
    assert proc.returncode != 0
    assert (workflow_dir / "results/imagenet/data.h5").exists()  # the header check let it through
    assert not (workflow_dir / "results/imagenet/store.h5").exists()
    log = (workflow_dir / "results/logs/build_store/imagenet.log").read_text()
    assert f"error: {bad}: cannot decode this image" in log
