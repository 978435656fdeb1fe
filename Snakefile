# Layer-wise training pipeline: data -> features -> graph -> batches -> layers -> heads -> report.
# See README.md for the commands and DESIGN notes; config keys are documented in
# workflow/schemas/ and commented in config/config.yaml.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


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
include: "workflow/rules/report.smk"
