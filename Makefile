# The README's two commands: `make demo` and `make test`. Both create .venv from
# the pinned envs/requirements.txt on first use and reuse it afterwards.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
CORES ?= 2
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: demo test lint report clean-results

$(STAMP): envs/requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 2; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r envs/requirements.txt
	touch $(STAMP)

# The whole DAG on the embedded dataset, then the HTML report of its tables and figures.
# On failure: the one-line error of each failed job (README "When something goes wrong").
demo: $(STAMP)
	snakemake --profile profiles/default --cores $(CORES) || { python workflow/scripts/failed_jobs.py; exit 1; }
	snakemake --profile profiles/default --cores $(CORES) --report results/report.html

report: demo

lint: $(STAMP)
	snakefmt --check Snakefile workflow/rules
	snakemake --lint

test: lint
	pytest

clean-results:
	rm -rf results .snakemake
