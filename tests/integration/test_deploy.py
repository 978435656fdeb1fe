"""The workflow as a deployed one runs it: from an empty directory, with the tiny .test config.

`snakemake -s <clone>/workflow/Snakefile --directory . --configfile <clone>/.test/config.yaml`
must find its scripts, schemas, envs, report captions and workflow profile relative to the
Snakefile, and write only under the working directory.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, TEST_CONFIG, run_snakemake

pytestmark = pytest.mark.integration


def test_empty_directory_dry_run_shows_every_stage(tmp_path):
    proc = run_snakemake(tmp_path, "-n", "--configfile", str(TEST_CONFIG))
    out = proc.stdout + proc.stderr
    test = yaml.safe_load(TEST_CONFIG.read_text())
    c, p = test["clustering"], test["parsimonious"]
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
              if re.fullmatch(r"\w+\s+\d+", line.strip())}
    assert counts["cluster"] == len(c["methods"]) * len(c["heads"]) * len(c["seeds"])
    assert counts["train_parsimonious"] == len(p["methods"]) * len(p["seeds"])
    # 2 layer-wise runs (robust-hier, shuffle) of a 2-layer k=2 preset, one e2e run each
    assert counts["train_layer"] == 4 and counts["train_e2e"] == 2
    for rule in ("prepare_data", "build_graph", "partition_batches", "train_autoencoder", "extract_features",
                 "layerwise_table", "probe_figure", "clustering_table", "parsimonious_table", "all"):
        assert counts.get(rule, 0) >= 1, rule
    # scripts are reached through the Snakefile's directory, not the working directory
    assert f"{REPO / 'workflow' / 'scripts' / 'prepare_data.py'}" in out
    assert "results/tiny/train/simcnn-k2.shuffle-s0-s0/layer2/eval.h5" in out
    # nothing but Snakemake's own metadata was written, and nothing was linked in
    assert sorted(p.name for p in tmp_path.iterdir()) == [".snakemake"]


def test_without_a_config_the_error_names_the_missing_file(tmp_path):
    proc = run_snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    assert "config/config.yaml" in proc.stdout + proc.stderr


def test_tiny_config_builds_every_target_and_the_report(tmp_path):
    """CI's report build (issue 15): rule all on .test/config.yaml for real, then --report."""
    run_snakemake(tmp_path, "--configfile", str(TEST_CONFIG))
    results = tmp_path / "results"
    table = pd.read_csv(results / "tiny_table3.csv")
    assert table["sampler"].tolist() == ["robust-hier", "shuffle"] * 2
    assert (results / "tiny_clustering.csv").exists() and (results / "tiny_parsimonious.csv").exists()
    assert (results / "tiny/figures/probes.png").stat().st_size > 1000
    report = results / "report.html"
    run_snakemake(tmp_path, "--configfile", str(TEST_CONFIG), "--report", str(report))
    html = report.read_text(errors="replace")
    assert report.stat().st_size > 100_000
    # every stage's report(...) outputs made it in, under their categories
    for name in ("samples.png", "partition_runtime.png", "tiny_table3.csv", "layerwise_table3_accuracy.png",
                 "tiny_clustering.csv", "probes.png", "tiny_parsimonious.csv"):
        assert name in html, name
    for category in ("Partitioning", "Layer-wise training", "Clustering", "Probes"):
        assert category in html, category
    assert not list(tmp_path.glob("workflow")) and not list(tmp_path.glob("Snakefile"))
    # a changed training schedule reruns the training jobs (params functions take wildcards only)
    changed = tmp_path / "epochs.yaml"
    cfg = yaml.safe_load(TEST_CONFIG.read_text())
    cfg["layerwise"]["profiles"]["tiny"]["schedule"]["epochs"] += 1
    changed.write_text(yaml.safe_dump(cfg))
    out = run_snakemake(tmp_path, "-n", "--configfile", str(changed)).stdout
    assert re.search(r"^train_layer\s+4$", out, re.M) and re.search(r"^train_e2e\s+2$", out, re.M), out[-3000:]


def test_rule_files_include_in_any_order_after_common(tmp_path):
    """No rule file reads another's names (issue 15): the stages included in reverse order give
    the same demo DAG."""
    copy = tmp_path / "workflow"
    shutil.copytree(REPO / "workflow", copy, ignore=shutil.ignore_patterns("__pycache__"))
    snakefile = copy / "Snakefile"
    lines = snakefile.read_text().split("\n")
    stages = [line for line in lines if line.startswith('include: "rules/') and "common.smk" not in line]
    assert len(stages) >= 9
    rest = [line for line in lines if line not in stages]
    at = rest.index('include: "rules/common.smk"') + 1
    snakefile.write_text("\n".join(rest[:at] + stages[::-1] + rest[at:]))
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    shutil.copy(REPO / "config" / "config.yaml", work / "config" / "config.yaml")

    def jobs(snake):
        out = run_snakemake(work, "-n", "--forceall", "-s", str(snake)).stdout
        return sorted(line.split() for line in out.splitlines() if re.fullmatch(r"\w+\s+\d+", line.strip()))

    assert jobs(snakefile) == jobs(REPO / "workflow" / "Snakefile")


def test_deployed_as_a_module_the_way_snakedeploy_lays_it_out(tmp_path):
    """`snakedeploy deploy-workflow` writes workflow/Snakefile importing ours with `module` and
    `use rule * from`, and copies config/; configured with the .test config, the dry run there
    plans the same jobs as running our Snakefile directly (issue 23: catalog "standardized usage")."""
    (tmp_path / "workflow").mkdir()
    shutil.copytree(REPO / "config", tmp_path / "config")
    shutil.copy(TEST_CONFIG, tmp_path / "config" / "config.yaml")  # the user's edit of the template
    (tmp_path / "workflow" / "Snakefile").write_text(
        'configfile: "config/config.yaml"\n\n\n'
        "module layerwise:\n"
        f"    snakefile:\n        {str(REPO / 'workflow' / 'Snakefile')!r}\n"
        "    config:\n        config\n\n\n"
        "use rule * from layerwise\n"
    )
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "-p", "--cores", "2"], cwd=tmp_path,
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    def counts(out):
        return {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
                if re.fullmatch(r"\w+\s+\d+", line.strip())}

    deployed = counts(proc.stdout)
    (tmp_path / "direct").mkdir()
    direct = counts(run_snakemake(tmp_path / "direct", "-n", "--configfile", str(TEST_CONFIG)).stdout)
    assert deployed == direct and deployed["train_layer"] == 4 and deployed["plan_vs_measured"] == 1
    # the module's scripts are reached from its own directory, not the deploying workflow's
    assert f"{REPO / 'workflow' / 'scripts' / 'prepare_data.py'}" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [".snakemake", "config", "direct", "workflow"]
