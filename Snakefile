# Layer-wise training pipeline: data -> features -> graph -> batches -> layers -> heads -> report.
# See README.md for the commands and DESIGN notes; config keys are documented in
# workflow/schemas/ and commented in config/config.yaml.
from pathlib import Path
import sys

import yaml
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))
from layerwise.configcheck import coerce_overrides, explain

_schema = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
# Nested --config values arrive as strings ('{knn: 10}' -> '10'): type them per the schema.
coerce_overrides(config, workflow.config_settings.config, _schema)
_where = ""  # the section being validated, for the error's key
try:
    validate(config, "workflow/schemas/config.schema.yaml")
    # Snakemake fills schema defaults only in inline subschemas, not through $ref:
    # validate every referenced section (and every dataset entry) on its own as well.
    for _key, _sub in yaml.safe_load(_schema.read_text())["properties"].items():
        if "$ref" in _sub:
            _where = _key
            validate(config[_key], f"workflow/schemas/{_sub['$ref']}")
    for _name, _entry in config["datasets"].items():
        _where = f"datasets.{_name}"
        validate(_entry, "workflow/schemas/dataset.schema.yaml")
except WorkflowError as _err:
    raise WorkflowError(explain(_err, _where)) from None
if config["dataset"] not in config["datasets"]:
    raise WorkflowError(
        f"invalid config at dataset: {config['dataset']!r} is not a key of `datasets`; valid: "
        f"{', '.join(sorted(config['datasets']))}. Use --config dataset=NAME with one of them "
        'or add an entry under `datasets` (README "Datasets").'
    )


wildcard_constraints:
    dataset="|".join(sorted(config["datasets"])),


# Each stage's rule file appends the targets that `make demo` (rule all) builds.
ALL_TARGETS = []


localrules:
    all,


rule all:
    default_target: True
    input:
        lambda wildcards: ALL_TARGETS,


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/graph.smk"
include: "workflow/rules/batches.smk"
include: "workflow/rules/layerwise.smk"
include: "workflow/rules/autoencoder.smk"
include: "workflow/rules/clustering.smk"
include: "workflow/rules/probes.smk"
include: "workflow/rules/parsimonious.smk"
include: "workflow/rules/report.smk"
