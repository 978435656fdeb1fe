"""The plan's pieces against independent references: a hand-made dry-run printout, schedules
worked out by hand, real files written by the pipeline's own writers, calibration checks."""

import json

import numpy as np
import pytest
import torch

from layerwise.models.simcnn import block_widths, count_params, make_block, make_head, spec_from_config
from layerwise.plan import dag, datasets, rates, schedule
from layerwise.plan.dag import Job
from layerwise.plan.estimate import Estimator
from layerwise.training.evaluation import write_eval

DRY = """Building DAG of jobs...
Job stats:
job          count
[Sat Dec  5 21:08:21 2026]
rule prepare_data:
    output: results/tiny/data.h5
    log: results/logs/prepare_data/tiny.log
    jobid: 2
    benchmark: results/benchmarks/prepare_data/tiny.tsv
    reason: Missing output files: results/tiny/data.h5
    wildcards: dataset=tiny
    threads: 2
    resources: tmpdir=/tmp, runtime=120, mem_mb=8000, mem=8 GB, mem_mib=7630
Shell command: python prepare_data.py --name tiny --params '{"kind": "synthetic", "n": 3}' --output x > log 2>&1

rule train_layer:
    input: results/tiny/data.h5, results/tiny/batches/robust-hier.h5
    output: results/tiny/train/a/layer1/weights.pt, results/tiny/train/a/layer1/eval.h5
    jobid: 8
    wildcards: dataset=tiny, preset=simcnn-k2, sampler=robust-hier, seed=0, layer=1
    resources: tmpdir=/tmp, gpu=1, runtime=20, mem_mb=2000, mem=2 GB, mem_mib=1908
Shell command: python launch.py --gpus 1 -- python train_layer.py --params '{"layer": 1, "model": {"k": 2}}' > l 2>&1

localrule all:
    input: results/tiny/train/a/layer1/eval.h5, results/tiny/data.h5
    jobid: 0
    reason: Input files updated by another job
    resources: tmpdir=/tmp
"""


def test_dry_run_printout_gives_rules_wildcards_threads_resources_params_and_dependencies():
    jobs = {j.jobid: j for j in dag.parse_dry_run(DRY)}
    assert sorted(jobs) == [0, 2, 8]
    prep, layer, top = jobs[2], jobs[8], jobs[0]
    assert (prep.rule, prep.threads, prep.mem_mb, prep.gpus) == ("prepare_data", 2, 8000, 0)
    assert prep.params == {"kind": "synthetic", "n": 3}
    assert prep.benchmark == "results/benchmarks/prepare_data/tiny.tsv"
    assert layer.threads == 1 and layer.gpus == 1  # threads are printed only above 1
    assert layer.wildcards == {"dataset": "tiny", "preset": "simcnn-k2", "sampler": "robust-hier", "seed": 0,
                               "layer": 1}
    assert layer.params["model"] == {"k": 2}
    # the batches file is not produced by a job of this plan (it exists): no dependency
    assert layer.deps == [2] and top.deps == [2, 8] and top.rule == "all"


def _jobs(specs):
    """specs: (jobid, threads, gpus, deps)."""
    return [Job(k, f"r{k}", {}, t, {"gpu": g}, [], [], deps=list(d)) for k, t, g, d in specs]


def test_list_schedule_counts_threads_and_gpus_as_worked_out_by_hand():
    four = _jobs([(k, 8, 1, ()) for k in range(4)])
    ten = {k: 10.0 for k in range(4)}
    sim = schedule.simulate(four, ten, cores=32, gpus=4)
    assert sim.makespan == 10 and sim.gpu_busy == 40
    # 16 cores hold two 8-thread jobs: two of the four GPUs stay idle, twice as long
    sim = schedule.simulate(four, ten, cores=16, gpus=4)
    assert sim.makespan == 20 and sim.gpu_busy / (4 * sim.makespan) == 0.5
    # without GPUs the jobs run on CPU; threads above --cores are capped as Snakemake does
    assert schedule.simulate(four, ten, cores=4, gpus=0).makespan == 40


def test_longest_remaining_path_goes_first_and_is_the_critical_path():
    # 0 -> 1 -> 2 (a 30 s chain) and independent 3 (25 s), one core: chain first gives 55
    jobs = _jobs([(0, 1, 0, ()), (1, 1, 0, (0,)), (2, 1, 0, (1,)), (3, 1, 0, ())])
    secs = {0: 10.0, 1: 10.0, 2: 10.0, 3: 25.0}
    assert schedule.critical_path(jobs, secs) == [0, 1, 2]
    sim = schedule.simulate(jobs, secs, cores=2, gpus=0)
    assert sim.makespan == 30  # the chain bounds it; job 3 runs beside it
    assert schedule.simulate(jobs, secs, cores=1, gpus=0).makespan == sum(secs.values())


def test_config_hint_names_the_key_that_adds_a_missing_target():
    msg = "MissingInputException: Missing input files for rule all: results/foo_table3.csv"
    assert "layerwise.profiles.foo.tables.table3" in dag.config_hint(msg)
    assert "batches.samplers" in dag.config_hint("No rule to produce results/tiny/batches/robust-sat.h5")


TINY_MODEL = {"arch": "simcnn", "k": 2, "layers": 2, "width": 4, "aux_width": 8, "batchnorm": True,
              "downsample_at": [], "input_downsample": True}


def _layer_job(layer, tmp_path, classes=4, feature_subsample=20):
    params = {"layer": layer, "model": TINY_MODEL, "schedule": {"epochs": 2}, "batch_size": 32,
              "augment": "none", "cache_frozen": True, "preset": "p",
              "eval": {"feature_subsample": feature_subsample, "pooled_size": 2, "logits_dtype": "float32"}}
    return Job(1, "train_layer", {"dataset": "d", "layer": layer}, 1, {"gpu": 1}, [],
               [str(tmp_path / "weights.pt"), str(tmp_path / "eval.h5")], params)


CAL = {"gflops": {"fp32": 10.0}, "forward_gflops": {"fp32": 10.0}, "step_overhead_s": 0.001,
       "job_startup_s": 2.0, "light_startup_s": 0.5, "layers": {}}


@pytest.mark.parametrize("layer", [1, 2])
def test_weights_and_eval_sizes_match_the_pipeline_writers_within_ten_percent(tmp_path, layer):
    info = datasets.DatasetInfo("d", "synthetic", 400, 100, 3, 16, 4, "test")
    job = _layer_job(layer, tmp_path)
    est = Estimator({"d": info}, CAL, None, 0)(job)
    spec = spec_from_config(TINY_MODEL, 4, 3, 16)
    block = make_block(spec, layer - 1, pruned=False)
    head = make_head(spec, layer - 1, block_widths(spec)[layer - 1])
    torch.save({"spec": spec.to_dict(), "layer": layer, "run": "r", "block": block.state_dict(),
                "head": head.state_dict()}, tmp_path / "weights.pt")
    width = block_widths(spec)[layer - 1]
    feats = {s: (np.zeros((20, width, 2, 2), np.float32), np.arange(20), np.zeros(20, np.int64))
             for s in ("train", "test")}
    metrics = {k: [0.5, 0.6] for k in ("train_loss", "train_top1", "test_top1", "test_top5")}
    write_eval(tmp_path / "eval.h5", params=job.params, seed=0, layer=layer, run="r",
               logits=np.zeros((100, 4), np.float32), labels=np.zeros(100, np.int64), metrics=metrics,
               features=feats, attrs={"train_seconds": 1.0, "preset": "p"})
    for path, (kind, size) in est.outputs.items():
        actual = (tmp_path / path.rsplit("/", 1)[-1]).stat().st_size
        assert 0.9 < size / actual < 1.1, (kind, size, actual)
    assert count_params(block) + count_params(head) == pytest.approx((est.outputs[job.outputs[0]][1] - 6144) / 4)


def test_training_time_scales_with_epochs_and_split_size_and_counts_frozen_passes(tmp_path):
    small = datasets.DatasetInfo("d", "synthetic", 10_000, 100, 3, 16, 4, "test")
    big = datasets.DatasetInfo("d", "synthetic", 20_000, 100, 3, 16, 4, "test")
    job = _layer_job(2, tmp_path)
    a, b = Estimator({"d": small}, CAL, None, 0)(job), Estimator({"d": big}, CAL, None, 0)(job)
    start = CAL["job_startup_s"]
    assert 1.9 < (b.seconds - start) / (a.seconds - start) < 2.05
    # layer 2, cached frozen inputs: 2 epochs x n through layer 2, the frozen layer 1 once
    assert a.image_layers == 2 * 10_000 + 10_000
    job.params["augment"] = "flip_crop"  # no cache: the frozen layer runs every epoch
    assert Estimator({"d": small}, CAL, None, 0)(job).image_layers == 2 * 10_000 * 2


def test_calibration_of_another_version_or_device_is_ignored_with_a_line(tmp_path):
    cpu, _ = rates.this_device()
    good = dict(CAL, version=rates.code_version(), device=cpu, source="t", written="now")
    paths = []
    for name, cal in (("good", good), ("old", dict(good, version="0.0.1")),
                      ("other", dict(good, device="cpu: another machine"))):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(cal))
    found, gpu, notes = rates.load(paths)
    assert found["job_startup_s"] == 2.0 and gpu is None
    assert any("old.json ignored: written by version 0.0.1" in n for n in notes)
    assert any("other.json ignored: measured on 'cpu: another machine'" in n for n in notes)
    gpu_cal = dict(good, device="cuda: NVIDIA H200")
    (tmp_path / "gpu.json").write_text(json.dumps(gpu_cal))
    assert rates.load([tmp_path / "gpu.json"], gpu_device="NVIDIA H200")[1]["device"] == "cuda: NVIDIA H200"
    if not torch.cuda.is_available():
        assert rates.load([tmp_path / "gpu.json"])[1] is None


def test_synthetic_sizes_and_side_come_from_the_entry():
    entry = {"kind": "synthetic", "synthetic": {"n_train": 160, "n_test": 40, "channels": 3, "semantic_size": 4,
                                                "patch_size": 2, "classes_per_level": [5, 6], "num_classes": 4}}
    info = datasets.from_entry("tiny", entry)
    assert (info.n_train, info.n_test, info.side, info.num_classes) == (160, 40, 16, 4)
    assert datasets.parse_sizes(["imagenet=1281167,50000"]) == {"imagenet": [1281167, 50000, None]}
