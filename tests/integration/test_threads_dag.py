"""Threads follow the machine Snakemake is given: a dry run of the ImageNet Table 3 on a
generated tree with `--cores 16 --resources gpu=4` gives every training job a quarter of
the cores (four jobs at once, one per GPU) and the once-per-dataset CPU stages all cores;
without a gpu resource a job keeps its dataset kind's threads."""

import re

import pytest
from test_imagenet_dag import imagenet_tree

from conftest import run_snakemake, write_config

pytestmark = pytest.mark.integration


def dry_run_jobs(workflow_dir, *args):
    """(rule, threads, gpu) of every job that `snakemake -n` lists (threads 1 when not printed)."""
    out = run_snakemake(workflow_dir, "-n", *args).stdout
    jobs = []
    for block in re.split(r"\n(?=rule \w+:)", out)[1:]:
        rule = re.match(r"rule (\w+):", block).group(1)
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        gpu = re.search(r"^\s+resources: .*\bgpu=(\d+)", block, re.M)
        jobs.append((rule, int(threads.group(1)) if threads else 1, int(gpu.group(1)) if gpu else 0))
    return jobs


def concurrent(jobs, rule, cores, gpus):
    """How many jobs of ``rule`` fit the machine at once (cores and GPUs both counted)."""
    sizes = {(t, g) for r, t, g in jobs if r == rule}
    assert len(sizes) == 1, sizes
    ((threads, gpu),) = sizes
    return min(cores // threads, gpus // gpu if gpu else cores)


@pytest.fixture
def imagenet_config(workflow_dir):
    root = workflow_dir / "imagenet"
    imagenet_tree(root, train_per_class=3, val_per_class=1)
    return write_config(workflow_dir, {
        "datasets": {"imagenet": {"kind": "imagenet", "root": str(root), "verify_images": "header",
                                  "loader": "store"}},
        "batches": {"datasets": {"imagenet": {"batch_size": 4, "levels": [8]}}},
    })


def test_four_gpus_run_four_training_jobs(workflow_dir, imagenet_config):
    jobs = dry_run_jobs(workflow_dir, "--cores", "16", "--resources", "gpu=4", "--configfile",
                        str(imagenet_config), "--", "results/imagenet_table3.csv")
    assert sum(r == "train_layer" for r, *_ in jobs) == 96
    assert concurrent(jobs, "train_layer", 16, 4) == 4  # 8 threads per job ran two and left two GPUs idle
    assert concurrent(jobs, "train_e2e", 16, 4) == 4
    threads = {r: t for r, t, _ in jobs}
    for rule in ("prepare_data", "build_store", "build_graph", "partition_batches"):
        assert threads[rule] == 16, (rule, threads[rule])


def test_cpu_only_keeps_the_kind_threads(workflow_dir, imagenet_config):
    jobs = dry_run_jobs(workflow_dir, "--cores", "16", "--configfile", str(imagenet_config),
                        "--", "results/imagenet_table3.csv")
    assert {t for r, t, _ in jobs if r == "train_layer"} == {8}  # TRAINING_RESOURCES imagenet
    jobs = dry_run_jobs(workflow_dir, "--cores", "2", "--resources", "gpu=4", "--configfile",
                        str(imagenet_config), "--", "results/imagenet_table3.csv")
    threads = {r: t for r, t, _ in jobs}
    assert threads["train_layer"] == 1 and threads["build_store"] == 2  # more GPUs than cores: one each
