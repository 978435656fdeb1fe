"""Decoupled stage through Snakemake (dry run): one job per decoupled run writes every layer."""

import re

import pytest
from test_layerwise_dag import imagefolder

from conftest import run_snakemake, write_config

pytestmark = pytest.mark.integration


def test_imagenet_decoupled_dry_run_one_job_per_run_with_a_gpu_per_group(workflow_dir):
    imagefolder(workflow_dir / "imagenet")
    cfg = write_config(workflow_dir, {
        "datasets": {"imagenet": {"kind": "imagenet", "root": str(workflow_dir / "imagenet")}},
        "layerwise": {"seeds": [0], "random_seeds": [0], "samplers": ["robust-hier", "random"]},
    })
    out = run_snakemake(workflow_dir, "-n", "results/imagenet_decoupled.csv", "--configfile", str(cfg)).stdout
    jobs = re.split(r"\n(?=(?:local)?rule \w+:)", out)
    decoupled = [j for j in jobs if j.startswith("rule train_decoupled_imagenet_J8:")]
    layer_jobs = [j for j in jobs if j.startswith("rule train_layer:")]
    # the first sampler kind only: 4 decoupled runs, 2 sequential runs of 8 layers
    assert len(decoupled) == 4 and len(layer_jobs) == 16
    assert not any("-dgl" in j for j in layer_jobs)
    for preset, gpus in [("simcnn-k3-dgl", 1), ("simcnn-k3-dgl-async", 4), ("vgg11-k3-dgl", 1),
                         ("vgg11-k3-dgl-async", 4)]:
        (job,) = [j for j in decoupled if f"train/{preset}.robust-hier-s0/layer1/weights.pt" in j]
        for k in range(1, 9):
            assert f"train/{preset}.robust-hier-s0/layer{k}/eval.h5" in job
        assert re.search(rf"resources:.*\bgpu={gpus}\b", job)
    assert any(j.startswith("rule train_e2e:") for j in jobs)  # vgg11-e2e row
