"""Layer-wise stage through Snakemake: the ImageNet DAG (dry run) and a tiny real table."""

import re

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import run_snakemake, synthetic_params, write_config

pytestmark = pytest.mark.integration

IMAGENET_LAYERS = {"simcnn-k1": 8, "simcnn-k2": 8, "simcnn-k3": 8, "vgg11-k3": 8}


def imagefolder(root, classes=("n01", "n02"), per_class=3):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for wnid in classes:
            folder = root / split / wnid
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{wnid}_{i}.JPEG")


def test_imagenet_table3_dry_run_has_one_gpu_job_per_layer_and_run(workflow_dir):
    imagefolder(workflow_dir / "imagenet")
    cfg = write_config(workflow_dir, {
        "datasets": {"imagenet": {"kind": "imagenet", "root": str(workflow_dir / "imagenet")}},
        "layerwise": {"seeds": [0], "random_seeds": [0, 1], "samplers": ["robust-hier", "random"]},
    })
    out = run_snakemake(workflow_dir, "-n", "results/imagenet_table3.csv", "--configfile", str(cfg)).stdout
    jobs = re.split(r"\n(?=(?:local)?rule \w+:)", out)
    layer_jobs = [j for j in jobs if j.startswith("rule train_layer:")]
    runs = [(p, s) for p in IMAGENET_LAYERS for s in ("robust-hier-s0", "random-s0-s0", "random-s1-s1")]
    assert len(layer_jobs) == sum(IMAGENET_LAYERS.values()) * 3
    for preset, sampler in runs:
        for j in range(1, IMAGENET_LAYERS[preset] + 1):
            target = f"results/imagenet/train/{preset}.{sampler}/layer{j}/eval.h5"
            (job,) = [x for x in layer_jobs if target in x]
            assert re.search(r"resources:.*\bgpu=1\b", job)
    e2e = [j for j in jobs if j.startswith("rule train_e2e:")]
    assert len(e2e) == 3 and all(re.search(r"\bgpu=1\b", j) for j in e2e)
    assert "results/imagenet/batches/robust-hier.h5" in out


def test_tiny_table_is_built_end_to_end(workflow_dir):
    cfg = write_config(
        workflow_dir,
        {
            "dataset": "tiny",
            "datasets": {"tiny": {"kind": "synthetic", "synthetic": synthetic_params(n_train=160, n_test=40)}},
            "graph": {"knn": 5, "projection_dim": 16},
            "batches": {"batch_size": 32, "levels": [64], "samplers": ["robust-hier"], "random_seeds": [0]},
            "layerwise": {
                "seeds": [0],
                "random_seeds": [0],
                "samplers": ["robust-hier", "random", "shuffle"],
                "eval": {"feature_subsample": 20},
                "profiles": {
                    "tiny": {
                        # 2 epochs of 5 steps: zeroing momentum at the only decay leaves a run at chance
                        "schedule": {"epochs": 2, "lr": 0.05, "lr_step": 1, "reset_momentum_at_decay": False},
                        "models": {
                            "simcnn-k2": {"k": 2, "layers": 2, "width": 4, "aux_width": 8, "batchnorm": True},
                            "simcnn-e2e": {
                                "train": "e2e",
                                "k": 2,
                                "layers": 2,
                                "width": 4,
                                "aux_width": 8,
                                "batchnorm": True,
                            },
                        },
                        "tables": {"table3": ["simcnn-k2", "simcnn-e2e"]},
                    }
                },
            },
            "probes": {"presets": ["simcnn-k2"]},  # the probe stage reads our presets
        },
    )
    run_snakemake(workflow_dir, "results/tiny_table3.csv", "--configfile", str(cfg))
    table = pd.read_csv(workflow_dir / "results/tiny_table3.csv")
    assert list(table.columns[:16]) == [
        "model", "k", "train", "sampler", "seeds", "top1", "top1_ens", "top5", "top5_ens", "params",
        "train_seconds", "peak_mem_mb", "paper_top1", "paper_top1_ens", "paper_top5", "paper_top5_ens"]
    assert table["sampler"].tolist() == ["robust-hier", "random", "shuffle"] * 2
    assert table["train"].tolist() == ["layerwise"] * 3 + ["e2e"] * 3
    # shuffle-s0 runs read no batches file: ordinary SGD draws its own permutations
    assert not (workflow_dir / "results/tiny/batches/shuffle-s0.h5").exists()
    assert (workflow_dir / "results/tiny/train/simcnn-k2.shuffle-s0-s0/layer2/eval.h5").exists()
    # each row from its run's eval.h5 files, read here with h5py: top1 of the last layer's
    # logits, top1_ens of 2 z_1 + 4 z_2 (the profile's default logit ensemble; e2e: top1)
    runs = {"robust-hier": "robust-hier-s0", "random": "random-s0-s0", "shuffle": "shuffle-s0-s0"}
    for _, row in table.iterrows():
        preset = "simcnn-k2" if row["train"] == "layerwise" else "simcnn-e2e"
        base = workflow_dir / f"results/tiny/train/{preset}.{runs[row['sampler']]}"
        files = [base / "layer1/eval.h5", base / "layer2/eval.h5"] if preset == "simcnn-k2" else [base / "e2e/eval.h5"]
        logits, labels = [], None
        for path in files:
            with h5py.File(path, "r") as f:
                logits.append(f["logits"][()].astype(np.float64))
                labels = f["labels"][()]
        ens = sum(2.0 ** j * z for j, z in enumerate(logits, start=1)) if len(files) > 1 else logits[-1]
        assert row["top1"] == pytest.approx(100 * np.mean(logits[-1].argmax(1) == labels), abs=0.006)
        assert row["top1_ens"] == pytest.approx(100 * np.mean(ens.argmax(1) == labels), abs=0.006)
        assert row["ensemble"] == "logits" and row["scope"] == "extension"  # no paper numbers for tiny
    assert table["paper_top1"].isna().all()
    assert (workflow_dir / "results/tiny/figures/layerwise_table3_accuracy.png").stat().st_size > 1000
    assert not list((workflow_dir / "results/tiny/train").rglob("*.scratch"))
