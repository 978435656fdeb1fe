"""benchmarks/gpu_acceptance.sh's pieces that run without Snakemake: the PyYAML stand-in, the
schema defaults, the parsing of gpu_step.py's table, and the whole script in --cpu-smoke mode."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SUBSET = REPO.parent / "shared" / "data" / "cifar10-subset"


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, REPO / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_minimal_yaml_reads_every_config_as_pyyaml_does():
    shim = load("minimal_yaml", "benchmarks/minimal_env/yaml.py")
    files = [*REPO.glob("config/*.yaml"), *REPO.glob(".test/*.yaml"), *REPO.glob("workflow/schemas/*.yaml"),
             *REPO.glob("workflow/profiles/*/config.yaml")]
    assert len(files) > 10
    for path in files:
        text = path.read_text()
        assert shim.safe_load(text) == yaml.safe_load(text), path
    tricky = "a: 1e-4\nb: 1.0e-4\nc: [x, 'y z', {d: ~}]\nd: >\n  one\n  two # not a comment\n\n  three\ne: >-\n  x\n"
    assert shim.safe_load(tricky) == yaml.safe_load(tricky)
    with pytest.raises(ValueError, match="line 2"):
        shim.safe_load("a:\n  - b: 1\n")


def test_schema_defaults_are_filled_as_snakemake_validate_fills_them():
    acceptance = load("gpu_acceptance", "benchmarks/gpu_acceptance.py")
    schema_tests = load("schema_tests", "tests/unit/test_config_schema.py")
    want = schema_tests._load_config()
    schema_tests.validate_config(want)  # what the Snakefile does
    assert acceptance.load_config() == want


def test_gpu_step_table_is_parsed_per_dataset_and_layer():
    acceptance = load("gpu_acceptance", "benchmarks/gpu_acceptance.py")
    # gpu_step.py's own format strings (its header and row lines)
    text = "device: H100\n\ncifar10 simcnn-k3, batch 128, 32x32: images/s and peak MB per step\n"
    text += f"{'layer':>6} {'fp32 img/s':>11} {'fp32 MB':>9} {'bf16 img/s':>11} {'bf16 MB':>9} {'speed-up':>9}\n"
    text += f"{'1':>6} {20000.0:11.0f} {900.0:9.0f} {52000.0:11.0f} {500.0:9.0f} {2.6:8.2f}x\n"
    text += "\nimagenet simcnn-k3, batch 256, 224x224: images/s and peak MB per step\n"
    text += f"{'1':>6} {1901.0:11.0f} {22600.0:9.0f} {4579.0:11.0f} {11800.0:9.0f} {2.41:8.2f}x\n"
    text += f"{'e2e':>6} {1073.0:11.0f} {9.0:9.0f} {2259.0:11.0f} {9.0:9.0f} {2.1:8.2f}x\n"
    rates = acceptance._gpu_step_rates(text)
    assert rates == {("cifar10", "1"): (20000.0, 52000.0), ("imagenet", "1"): (1901.0, 4579.0),
                     ("imagenet", "e2e"): (1073.0, 2259.0)}


@pytest.mark.skipif(not SUBSET.is_dir(), reason="needs ../shared/data/cifar10-subset")
def test_cpu_smoke_run_goes_end_to_end(tmp_path):
    # every stage of the script on tiny sizes: tests, gpu_step (no CUDA: a note), the store
    # loader, prepare_data + a real train_layer job, and the summary table; with the stand-ins
    # of PyYAML and tqdm (benchmarks/minimal_env), as on a machine without them
    env = {**os.environ, "PYTHON": sys.executable, "MINIMAL_ENV": "1"}
    run = subprocess.run(["bash", "benchmarks/gpu_acceptance.sh", str(SUBSET), "--cpu-smoke", "--out", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "== GPU acceptance summary ==" in run.stdout and "minimal_env/yaml.py" in run.stdout
    assert "train_layer.py cifar10 simcnn-k3 layer 1, 1 epoch" in run.stdout
    assert (tmp_path / "cifar10" / "train" / "layer1" / "eval.h5").is_file()
    assert "store_cpu_images_per_s=" in (tmp_path / "logs" / "loader.log").read_text()
