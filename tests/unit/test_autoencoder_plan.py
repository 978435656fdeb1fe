"""The stage's job plan (what workflow/rules/autoencoder.smk asks for), without Snakemake."""

import re

import pytest

from layerwise.autoencoder.plan import AutoencoderPlan


def config(**over):
    ae = {
        "default": "resae",
        "variants": {"resae": {}, "wide.v2": {}},
        "augmented": {"table": True, "seed": 0},
    }
    ae.update(over)
    return {"autoencoder": ae}


def test_every_section_4_1_job_starts_from_its_predecessor_and_report_needs_seven_rows():
    plan = AutoencoderPlan(config())
    assert plan.augmented_init("d", "classifier") == []
    assert plan.augmented_init("d", "swwae_all") == "results/d/autoencoder/swwae_pretrain/model.pt"
    assert plan.augmented_init("d", "sae_pretrain") == "results/d/autoencoder/classifier/model.pt"
    assert plan.augmented_init("d", "baseline") == "results/d/autoencoder/classifier/model.pt"
    assert len(plan.report_evals("d")) == 7
    assert plan.demo_targets("d")[0] == "results/d/autoencoder/resae/features.h5"
    assert "table" not in plan.augmented_params()
    # names match graph.features' pattern ae:[A-Za-z0-9_.]+ and the constraints are disjoint
    for name in plan.residual + plan.augmented_pattern().split("|"):
        assert re.fullmatch(r"[A-Za-z0-9_.]+", name)
    assert re.fullmatch(plan.residual_pattern(), "wide.v2") and not re.fullmatch(
        plan.residual_pattern(), "widexv2"
    )
    assert not re.fullmatch(plan.augmented_pattern(), "resae")


def test_reserved_names_and_unknown_default_are_config_errors():
    with pytest.raises(ValueError, match="autoencoder.variants.baseline"):
        AutoencoderPlan(config(variants={"baseline": {}}))
    with pytest.raises(ValueError, match="autoencoder.default"):
        AutoencoderPlan(config(default="nope"))
    assert AutoencoderPlan(config(default="swwae_all")).demo_targets("d")[0].endswith("swwae_all/features.h5")
