"""Command-line config: nested numbers typed per the schema, and validation errors in a few lines."""

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from layerwise.configcheck import coerce_overrides, explain, fit_problem, gpu_overrides, startup_problems, validator
from layerwise.errors import InputError
from layerwise.submodular.hierarchy import check_levels

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


# ---- start-up checks (issue 20 cases 2 and 11): what a job would refuse, refused before any job ----


def test_the_shipped_config_has_no_startup_problem():
    assert startup_problems(base_config()) == []


@pytest.mark.parametrize("levels", [[512, 1024], [1024, 1024], [1000, 500], [1024, 512, 192]])
def test_levels_the_partition_job_refuses_are_refused_at_startup(levels):
    config = base_config()
    config["batches"]["levels"] = levels
    problems = startup_problems(config)
    # the peer: the job's own check (hierarchy.check_levels) on a set large enough for every level
    with pytest.raises(InputError, match=r"batches\.levels\[\d\]"):
        check_levels(10**6, levels, 128)
    assert len(problems) == 1 and problems[0].startswith("invalid config at batches.levels[")


def test_good_levels_pass_like_the_job_check():
    config = base_config()
    config["batches"]["levels"] = [2048, 256]
    assert startup_problems(config) == []
    assert check_levels(10**6, [2048, 256], 128) == [2048, 256, 128]


def test_levels_are_not_checked_when_no_robust_hier_sequence_is_built():
    config = base_config()
    config["batches"]["levels"] = [100, 1000]
    config["batches"]["samplers"] = ["robust-flat"]
    config["layerwise"]["samplers"] = ["random", "shuffle"]
    assert startup_problems(config) == []


def test_batch_size_larger_than_a_synthetic_training_set_names_the_key():
    config = base_config()
    config["datasets"]["synthetic"]["synthetic"]["n_train"] = 100
    config["batches"]["datasets"]["synthetic"] = {"batch_size": 400, "levels": []}
    assert startup_problems(config) == []  # only jobs that use the batch size ask (input functions)
    assert fit_problem(config, "synthetic", "shuffle-s0") == (
        "invalid config at batches.datasets.synthetic.batch_size: 400 is larger than the training set of "
        "dataset 'synthetic' (datasets.synthetic.synthetic.n_train=100), so shuffle-s0 would make one batch "
        "of the whole set; lower it to at most 100"
    )
    config["batches"]["datasets"]["synthetic"] = {"batch_size": 25, "levels": [100]}
    assert fit_problem(config, "synthetic", "robust-flat") is None
    assert fit_problem(config, "synthetic", "robust-hier").startswith(
        "invalid config at batches.datasets.synthetic.levels[0]: 100 is not smaller than the training set")
    assert fit_problem(config, "cifar10", "shuffle-s0") is None  # size unknown before prepare_data


def test_batch_size_must_split_over_the_gpus_of_set_resources():
    config = base_config()
    assert gpu_overrides({"train_layer": {"gpu": 3}, "prepare_data": {"mem_mb": 5}}) == {"train_layer": 3}
    problems = startup_problems(config, {"train_layer": 3, "build_graph": 3})
    assert "invalid config at batches.batch_size: 128 does not split over the 3 GPUs of --set-resources " \
           "train_layer:gpu=3; use a multiple of 3" in problems
    assert all("build_graph" not in p for p in problems)
    assert startup_problems(config, {"train_layer": 2, "train_e2e": 4}) == []


def test_unknown_table_preset_is_named_at_startup():
    config = base_config()
    config["layerwise"]["profiles"]["cifar10"]["tables"]["table2"].append("simcnn-k9")
    (problem,) = startup_problems(config)
    assert problem.startswith("invalid config at layerwise.profiles.cifar10.tables.table2: preset 'simcnn-k9' "
                              "is not a key of layerwise.profiles.cifar10.models (valid: fig3-k1-m128, ")
    assert problem.endswith("simcnn-w64-e2e); correct the name or add the model")
