"""Command-line config: nested numbers typed per the schema, and validation errors in a few lines."""

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from layerwise.configcheck import coerce_overrides, explain, validator

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"


def base_config():
    return yaml.safe_load((ROOT / "config/config.yaml").read_text())


def test_nested_command_line_numbers_are_typed_per_schema():
    config = base_config()
    # What Snakemake makes of --config graph='{knn: 10, kernel: cosine}' and a nested list.
    overrides = {
        "graph": {"knn": "10", "kernel": "cosine"},
        "datasets": {"synthetic": {"synthetic": {"classes_per_level": ["8", "6"], "noise_std": "2.5"}}},
    }
    config["graph"].update(copy.deepcopy(overrides["graph"]))
    config["datasets"]["synthetic"]["synthetic"].update(copy.deepcopy(overrides["datasets"]["synthetic"]["synthetic"]))
    changed = coerce_overrides(config, overrides, SCHEMA)
    syn = config["datasets"]["synthetic"]["synthetic"]
    assert config["graph"]["knn"] == 10 and isinstance(config["graph"]["knn"], int)
    assert syn["classes_per_level"] == [8, 6] and syn["noise_std"] == 2.5
    assert config["graph"]["kernel"] == "cosine"
    assert sorted(changed) == sorted(["graph.knn", "datasets.synthetic.synthetic.classes_per_level.0",
                                      "datasets.synthetic.synthetic.classes_per_level.1",
                                      "datasets.synthetic.synthetic.noise_std"])
    assert list(validator(SCHEMA).iter_errors(config)) == []


def test_strings_from_config_files_and_words_are_not_coerced():
    config = base_config()
    config["graph"]["knn"] = "10"  # from a config file: an error, not a silent fix
    config["graph"]["projection_dim"] = "ten"
    coerce_overrides(config, {"graph": {"projection_dim": "ten"}}, SCHEMA)
    assert config["graph"]["knn"] == "10" and config["graph"]["projection_dim"] == "ten"
    assert len(list(validator(SCHEMA).iter_errors(config))) == 2


def test_validation_error_is_a_few_lines_with_key_and_expected_type():
    config = base_config()
    config["graph"]["knn"] = "ten"
    error = next(validator(SCHEMA).iter_errors(config))
    text = explain(error)
    lines = text.splitlines()
    assert lines[0] == "invalid config at graph.knn: 'ten' is not of type 'integer'"
    assert lines[1].startswith("  expected: integer, at least 1 (Neighbours per item")
    assert "--configfile" in lines[2] and len(lines) == 3
    assert len(str(error).splitlines()) > 10  # what Snakemake printed: the schema


def test_explain_finds_the_error_behind_a_workflow_error():
    config = base_config()
    config["datasets"]["synthetic"]["synthetic"]["n_trian"] = 5
    try:
        try:
            jsonschema.validate(config, {})  # stand-in for Snakemake's validate
            raise next(validator(SCHEMA).iter_errors(config))
        except jsonschema.ValidationError:
            # no `from`: like Snakemake, so explain() must follow the implicit __context__
            raise RuntimeError("Error validating config file.")  # noqa: B904
    except RuntimeError as err:
        text = explain(err)
    assert text.startswith("invalid config at datasets.synthetic.synthetic: ")
    assert "'n_trian' was unexpected" in text and len(text.splitlines()) == 3


@pytest.mark.parametrize("prefix", ["", "graph"])
def test_prefix_names_the_section(prefix):
    sub = yaml.safe_load((ROOT / "workflow/schemas/graph.schema.yaml").read_text())
    error = next(jsonschema.Draft202012Validator(sub).iter_errors({"knn": 0}))
    assert explain(error, prefix).startswith(f"invalid config at {prefix + '.' if prefix else ''}knn: 0 is less")
