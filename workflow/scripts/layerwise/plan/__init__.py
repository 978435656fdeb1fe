"""The cost plan of a target (workflow/scripts/plan.py): the DAG Snakemake would run (dag),
split sizes and shapes of its datasets (datasets), device rates from a calibration file or a
short self-calibration (rates), per-job estimates of time, images, memory and disk (estimate),
a list-scheduling simulation of the DAG on given cores and GPUs with its critical path
(schedule), the printout (printing) and the check of a plan against a run's benchmark files
(compare)."""
