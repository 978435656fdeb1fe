# The README's two commands: `make demo` and `make test`. Both create .venv from
# the pinned workflow/envs/requirements.txt on first use and reuse it afterwards.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
CORES ?= 2
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: demo test lint report plan clean-results

$(STAMP): workflow/envs/requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 2; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r workflow/envs/requirements.txt
	touch $(STAMP)

# The whole DAG on the embedded dataset, then the HTML report of its tables and figures.
# Snakemake finds workflow/Snakefile and applies its workflow profile (workflow/profiles/default).
# On failure: the one-line error of each failed job (docs/running.md "When something goes wrong").
demo: $(STAMP)
	snakemake --cores $(CORES) || { python workflow/scripts/failed_jobs.py; exit 1; }
	snakemake --cores $(CORES) --report results/report.html

report: demo

lint: $(STAMP)
	snakefmt --check workflow/Snakefile workflow/rules
	ruff check workflow/scripts benchmarks tests
	snakemake --lint

# The cost plan of a target before running it (jobs, image-layers, device-hours, memory, disk,
# critical path, wall time on CORES and GPUS): `make plan TARGET=results/imagenet_table3.csv
# CORES=16 GPUS=4`; PLAN_ARGS passes more options (--configfile, --sizes, --gpu-device; docs/running.md).
TARGET ?=
GPUS ?= 0
plan: $(STAMP)
	python workflow/scripts/plan.py $(TARGET) --cores $(CORES) --gpus $(GPUS) $(PLAN_ARGS)

# pytest, then the mutants of the reported numbers' functions: each must fail a test (tests/mutants_partition.sh).
test: lint
	pytest
	bash tests/mutants_partition.sh

clean-results:
	rm -rf results .snakemake
