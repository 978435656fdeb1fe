"""Wiring from eval.h5 files to the paper-003 tables: which ensemble, which layers in which order,
which rows carry the paper's numbers, and Table 1's one-job plan. Oracles: numpy written here."""

import copy
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from layerwise.errors import InputError
from layerwise.training.evaluation import ensemble, write_eval
from layerwise.training.runs import RunPlan
from layerwise.training.tables import PAPER, run_summary, table_rows

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from test_config_schema import validate_config  # noqa: E402

# Three layers, two test items of class 0, three classes. Item 0: layer 2 is confidently wrong
# (logit 10 on class 2), layer 3 mildly right: the logit sum follows layer 2's large logit, the
# probability sum layer 3's heavier weight. Item 1: each layer votes for another class, so the
# 2^j weights decide (the layers in reverse order pick class 1).
LOGITS = np.array([
    [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]],    # layer 1
    [[0.0, 0.0, 10.0], [0.0, 0.0, 1.0]],   # layer 2
    [[2.0, 0.0, 0.0], [1.0, 0.0, 0.0]],    # layer 3
])
LABELS = np.array([0, 0])


def np_softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def np_ensemble(layers, kind):
    w = 2.0 ** np.arange(1, len(layers) + 1)
    terms = [np_softmax(z) if kind == "probabilities" else z for z in layers]
    total = sum(wj * t for wj, t in zip(w, terms, strict=True))
    return total / w.sum() if kind == "probabilities" else total


def test_logit_and_probability_ensembles_against_numpy_and_differ():
    for kind in ("logits", "probabilities"):
        np.testing.assert_allclose(ensemble(list(LOGITS), kind).numpy(), np_ensemble(LOGITS, kind), rtol=1e-12)
    by_logits = np_ensemble(LOGITS, "logits").argmax(1)
    by_probs = np_ensemble(LOGITS, "probabilities").argmax(1)
    assert by_logits[0] == 2 and by_probs[0] == 0  # the hand-made case really separates them
    with pytest.raises(ValueError, match="ensemble kind"):
        ensemble(list(LOGITS), "votes")


def write_layers(tmp_path, logits, name="run", params=(10, 20, 30)):
    paths = []
    for j, z in enumerate(logits, start=1):
        path = tmp_path / name / f"layer{j}" / "eval.h5"
        metrics = {"train_loss": [1.0], "train_top1": [0.9], "test_top1": [0.5], "test_top5": [1.0]}
        write_eval(path, params={}, seed=0, layer=j, run=name, logits=z, labels=LABELS, metrics=metrics,
                   features={}, attrs={"train_seconds": 1.0, "peak_mem_mb": 1.0, "peak_mem_kind": "x",
                                       "num_params": params[j - 1], "preset": "p", "layers": len(logits)})
        paths.append(str(path))
    return paths


def top1(z):
    return 100 * float(np.mean(np.asarray(z).argmax(1) == LABELS))


@pytest.mark.parametrize("kind", ["logits", "probabilities"])
def test_run_summary_ensembles_the_layers_in_order(tmp_path, kind):
    """Layers that disagree: reversing them (or dropping one) changes the ensemble's top-1."""
    paths = write_layers(tmp_path, LOGITS)
    s = run_summary(paths, "run", kind)
    expect = [top1(np_ensemble(LOGITS[:j], kind)) for j in (1, 2, 3)]
    assert s["layer_top1_ens"] == pytest.approx(expect)
    assert s["top1_ens"] == pytest.approx(expect[-1])
    assert s["top1"] == pytest.approx(top1(LOGITS[-1])) and s["params"] == 30
    assert top1(np_ensemble(LOGITS[::-1], kind)) != expect[-1]  # the oracle tells the orders apart


def test_table_note_names_the_ensemble_and_paper_numbers_only_beside_shuffle(tmp_path):
    paths = write_layers(tmp_path, LOGITS)
    model = {"arch": "simcnn", "train": "layerwise", "k": 3}
    rows = [{"preset": "simcnn-k3", "sampler": s, "model": model, "ensemble": "probabilities",
             "runs": {"simcnn-k3.x": paths}} for s in ("shuffle", "robust-hier", "random")]
    frame, curves = table_rows("imagenet", "table3", rows)
    paper = PAPER[("imagenet", "table3")]["simcnn-k3"]
    shuffle, robust, random = (frame.iloc[i] for i in range(3))
    assert (shuffle["paper_top1"], shuffle["paper_top5_ens"]) == (paper[0], paper[3])
    assert shuffle["scope"] == "paper" and "extension" not in shuffle["note"]
    for row in (robust, random):
        assert row["paper_top1"] == "" and row["paper_top5"] == "" and row["scope"] == "extension"
        assert "extension" in row["note"]
    assert all("ensemble of probabilities" in n for n in frame["note"])
    assert frame["top1_ens"].iloc[0] == pytest.approx(top1(np_ensemble(LOGITS, "probabilities")))
    assert list(curves[0][4]) == pytest.approx([top1(np_ensemble(LOGITS[:j], "probabilities")) for j in (1, 2, 3)])


def imagenet_plan():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    validate_config(config)  # the Snakefile's validation fills the schema defaults
    return config, RunPlan(config)


def test_profiles_name_the_authors_ensembles():
    config, plan = imagenet_plan()
    assert plan.ensemble("imagenet") == "probabilities" and plan.ensemble("cifar10") == "logits"
    rows = plan.table_rows("imagenet", "table3")
    assert {r["ensemble"] for r in rows} == {"probabilities"}


def test_table1_reuses_the_k3_layers_and_adds_exactly_one_job():
    config, plan = imagenet_plan()
    k3 = set(plan.table_inputs("imagenet", "table3"))
    t1 = set(plan.table_inputs("imagenet", "table1"))
    extra = sorted(t1 - k3)
    # one extra eval.h5 per (sampler kind, run seed) of the mf512 row: its layer 8
    runs = [r for kind in config["layerwise"]["samplers"] for r, _, _ in plan.runs("simcnn-k3-mf512", kind)]
    assert extra == sorted(f"results/imagenet/train/{r}/layer8/eval.h5" for r in runs)
    run, sampler, seed = plan.runs("simcnn-k3-mf512", "shuffle")[0]
    donor = run.replace("simcnn-k3-mf512", "simcnn-k3")
    assert plan.previous_weights("imagenet", "simcnn-k3-mf512", sampler, seed, 8) == [
        f"results/imagenet/train/{donor}/layer{j}/weights.pt" for j in range(1, 8)]
    with pytest.raises(InputError, match="only its layer 8"):
        plan.previous_weights("imagenet", "simcnn-k3-mf512", sampler, seed, 3)
    row = [r for r in plan.table_rows("imagenet", "table1") if r["preset"] == "simcnn-k3-mf512"][0]
    assert "only layer 8 was retrained" in row["reused"]


def test_reuse_from_a_different_architecture_is_refused():
    config, _ = imagenet_plan()
    config = copy.deepcopy(config)
    config["layerwise"]["profiles"]["imagenet"]["models"]["simcnn-k3-mf512"]["width"] = 64
    with pytest.raises(InputError, match=r"reuse_layers_from.*differs in \['width'\]"):
        RunPlan(config).table_inputs("imagenet", "table1")


def test_accuracy_figure_one_panel_per_preset_integer_ticks():
    import matplotlib.pyplot as plt

    from layerwise_table import figure

    presets = ["simcnn-k1", "simcnn-k2", "simcnn-k3", "vgg11-k3", "vgg11-e2e"]
    curves = [(p, s, [8] if p.endswith("e2e") else [1, 2, 3], [50.0] if p.endswith("e2e") else [10.0, 20.0, 30.0],
               [50.0] if p.endswith("e2e") else [11.0, 21.0, 31.0])
              for p in presets for s in ("shuffle", "robust-hier", "random")]
    fig = figure(curves, "t")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == presets
    fig.canvas.draw()
    for ax in panels:
        colours = {line.get_label(): line.get_color() for line in ax.lines if not line.get_label().startswith("_")}
        assert set(colours) == {"shuffle", "robust-hier", "random"} and len(set(colours.values())) == 3
        assert all(float(t).is_integer() for t in ax.get_xticks())
    plt.close(fig)


def test_new_model_keys_at_their_defaults_leave_job_params_unchanged():
    """Presets that do not use aux_padding / aux_pool_batchnorm / reuse_layers_from get the
    job params they had before these keys existed (no rerun); the VGG preset that sets them
    passes them on, and the model built from the params is the same either way."""
    import json

    from layerwise.models.simcnn import spec_from_config

    config, plan = imagenet_plan()
    k3 = json.loads(plan.job_params("imagenet", "simcnn-k3", "shuffle-s0", 0, 1))["model"]
    assert not {"aux_padding", "aux_pool_batchnorm", "reuse_layers_from"} & set(k3)
    full = config["layerwise"]["profiles"]["imagenet"]["models"]["simcnn-k3"]
    assert spec_from_config(k3, 1000, 3, 224) == spec_from_config(full, 1000, 3, 224)
    vgg = json.loads(plan.job_params("imagenet", "vgg11-k3", "shuffle-s0", 0, 1))["model"]
    assert vgg["aux_padding"] == 0 and vgg["aux_pool_batchnorm"] is True
