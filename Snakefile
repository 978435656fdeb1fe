# Layer-wise training pipeline: data -> features -> graph -> batches -> layers -> heads -> report.
# See README.md for the commands and DESIGN notes; config keys are documented in
# workflow/schemas/ and commented in config/config.yaml.
from pathlib import Path

import yaml
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")
# Snakemake fills schema defaults only in inline subschemas, not through $ref:
# validate every referenced section (and every dataset entry) on its own as well.
for _key, _sub in yaml.safe_load(
    (Path(workflow.basedir) / "workflow/schemas/config.schema.yaml").read_text()
)["properties"].items():
    if "$ref" in _sub:
        validate(config[_key], f"workflow/schemas/{_sub['$ref']}")
for _entry in config["datasets"].values():
    validate(_entry, "workflow/schemas/dataset.schema.yaml")


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
