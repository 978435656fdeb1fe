"""Rule all's data choices: the paper-002, residual-autoencoder and paper-004 tables follow
autoencoder.dataset, autoencoder.residual_dataset and parsimonious.dataset, and fall back to the
top-level dataset (residual_dataset: to autoencoder.dataset) when those are null."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def rule_all_outputs(tmp_path, ae, pars, res=None, check=True):
    """The files rule all asks for: dry run of the shipped config with the three keys overlaid."""
    overlay = tmp_path / "overlay.yaml"
    keys = {"autoencoder": {"dataset": ae, "residual_dataset": res}, "parsimonious": {"dataset": pars}}
    overlay.write_text(yaml.safe_dump(keys))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    out = subprocess.run(
        ["snakemake", "-n", "--forceall", "--cores", "2", "--configfile", "config/config.yaml", str(overlay)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    if check:
        assert out.returncode == 0, out.stderr[-2000:]
    return out.returncode, out.stdout + out.stderr


def test_demo_tables_follow_their_dataset_keys(tmp_path):
    _, text = rule_all_outputs(tmp_path, "digits", "synthetic-uniform", res="synthetic-uniform")
    assert "results/digits_ae_table.csv" in text and "results/digits_ae_mse.csv" not in text
    assert "results/synthetic-uniform_ae_mse.csv" in text
    assert "results/synthetic-uniform/autoencoder/resae/features.h5" in text  # default resae: its dataset
    assert "results/synthetic-uniform_parsimonious.csv" in text
    # the top-level dataset keeps its clustering table, and no longer its AE or parsimonious table
    assert "results/synthetic_clustering.csv" in text
    assert "results/synthetic_ae_table.csv" not in text and "results/synthetic_parsimonious.csv" not in text


def test_null_dataset_keys_mean_the_top_level_dataset(tmp_path):
    _, text = rule_all_outputs(tmp_path, None, None)
    assert "results/synthetic_ae_table.csv" in text and "results/synthetic_parsimonious.csv" in text
    assert "results/synthetic_ae_mse.csv" in text  # residual_dataset null: autoencoder.dataset


def test_an_unknown_dataset_name_is_one_error_naming_it(tmp_path):
    code, text = rule_all_outputs(tmp_path, "synthetic", "no-such-data", check=False)
    assert code != 0 and "parsimonious.dataset='no-such-data' is not a key of `datasets`" in text
    code, text = rule_all_outputs(tmp_path, "synthetic", None, res="no-such-data", check=False)
    assert code != 0 and "autoencoder.residual_dataset='no-such-data' is not a key of `datasets`" in text
