"""Graph and partition stages through Snakemake, on a tiny config in a temporary directory."""

import numpy as np
import pytest

from conftest import run_snakemake, synthetic_params, write_config
from layerwise.h5io import open_checked
from layerwise.submodular.batchfile import load_batches

pytestmark = pytest.mark.integration

SAMPLERS = ["robust-hier", "robust-flat", "robust-sat", "random-s0", "random-s1"]


def _config(tmp, **graph):
    return write_config(
        tmp,
        {
            "dataset": "tiny",
            "datasets": {"tiny": {"kind": "synthetic", "synthetic": synthetic_params(n_train=200, n_test=40)}},
            "graph": {"knn": 5, "projection_dim": 32, **graph},
            "batches": {
                # The global sizes do not fit 200 items: the per-dataset entry must win.
                "batch_size": 256,
                "levels": [1024, 512],
                "datasets": {"tiny": {"batch_size": 16, "levels": [64, 32]}},
                "samplers": ["robust-hier", "robust-flat", "robust-sat"],
                "random_seeds": [0, 1],
                "figures": {"sizes": [40, 80, 160], "blocks": 4, "repeats": 1},
            },
        },
    )


def test_dry_run_lists_every_sampler_and_needs_no_autoencoder(workflow_dir):
    cfg = _config(workflow_dir)
    targets = [f"results/tiny/batches/{s}.h5" for s in SAMPLERS]
    out = run_snakemake(workflow_dir, "-n", *targets, "--configfile", str(cfg)).stdout
    for sampler in SAMPLERS:
        assert f"results/tiny/batches/{sampler}.h5" in out
    assert "build_graph" in out and "results/tiny/graph/pixels.h5" in out
    assert "autoencoder" not in out
    cfg = _config(workflow_dir, features="ae:resae")
    proc = run_snakemake(
        workflow_dir, "-n", "results/tiny/batches/robust-hier.h5", "--configfile", str(cfg), check=False
    )
    assert "results/tiny/autoencoder/resae/features.h5" in proc.stdout + proc.stderr


def test_snakemake_builds_batches_and_figures(workflow_dir):
    cfg = _config(workflow_dir)
    targets = [f"results/tiny/batches/{s}.h5" for s in SAMPLERS] + [
        f"results/tiny/figures/partition_{name}.png" for name in ("runtime", "queues", "factor")
    ]
    run_snakemake(workflow_dir, *targets, "--configfile", str(cfg))
    for sampler in SAMPLERS:
        batches, sizes = load_batches(workflow_dir / f"results/tiny/batches/{sampler}.h5", n_train=200)
        assert len(sizes) == 13 and sizes.max() - sizes.min() <= 1
    with open_checked(workflow_dir / "results/tiny/batches/robust-hier.h5", "partition_batches") as f:
        assert list(f["levels/block_size"][()]) == [64, 32, 16]
        assert 0 < f.attrs["certificate_ratio"] <= 1 and f.attrs["tau"] >= 2
        # 200 items, 13 batches: level 64 gets ceil(13/4) = 4 blocks of 4,3,3,3 batches, level 32 8 blocks.
        assert list(f["levels/num_blocks"][()]) == [4, 8, 13]
        assert (f["levels/max_batches"][()] - f["levels/min_batches"][()] <= 1).all()
        assert (f["levels/ratio"][()] >= 0.6).all() and (f["levels/ratio"][()] <= 1).all()
        assert np.isnan(f["levels/dense_min_block_value"][()]).all()  # dense graph: nothing to rescore
        hier = f["values"][()].min()
    with open_checked(workflow_dir / "results/tiny/batches/robust-sat.h5", "partition_batches") as f:
        assert 0 < f.attrs["certificate_ratio"] <= 1 and f.attrs["method"] == "greedsat"
    with open_checked(workflow_dir / "results/tiny/batches/random-s0.h5", "partition_batches") as f:
        assert hier >= f["values"][()].min()  # robust beats random on the min block
    for name in ("runtime", "queues", "factor"):
        assert (workflow_dir / f"results/tiny/figures/partition_{name}.png").stat().st_size > 1000
    bad = _config(workflow_dir)
    bad.write_text(bad.read_text().replace("- 64\n", "- 48\n"))
    proc = run_snakemake(
        workflow_dir,
        "results/tiny/batches/robust-hier.h5",
        "--forcerun",
        "partition_batches",
        "--configfile",
        str(bad),
        check=False,
    )
    # refused at start-up (issue 20), before the forced job could delete the built file
    assert proc.returncode != 0
    assert "invalid config at batches.datasets.tiny.levels[0]: 48 is not a multiple of" in proc.stdout + proc.stderr
    assert (workflow_dir / "results/tiny/batches/robust-hier.h5").exists()
    assert np.isfinite(hier)


def test_knn_graph_reports_the_dense_objective(workflow_dir):
    """graph.form knn optimises f_kNN <= f_NN; the file also scores every level under the dense f_NN."""
    cfg = _config(workflow_dir, form="knn")
    run_snakemake(workflow_dir, "results/tiny/batches/robust-hier.h5", "--configfile", str(cfg))
    with open_checked(workflow_dir / "results/tiny/batches/robust-hier.h5", "partition_batches") as f:
        own, dense = f["levels/min_block_value"][()], f["levels/dense_min_block_value"][()]
        assert f.attrs["graph_approximate"] and np.isfinite(dense).all()
        assert (dense >= own - 1e-6).all()
        assert f.attrs["dense_min_block_value"] == dense[-1]
    log = (workflow_dir / "results/logs/partition_batches/tiny/robust-hier.log").read_text()
    assert "min block under the dense f_NN of paper 000" in log
