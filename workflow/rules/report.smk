# Stage 8, report: the Snakemake HTML report (`make report`). Stages register their
# tables and figures with report(...) on their outputs; captions live in workflow/report/.


report: "../report/workflow.rst"


# The cost plan of this run's targets against its jobs' own benchmark files (issue 23):
# plan.py --compare (a dry run of the same DAG, the per-job estimates, results/benchmarks/).
rule plan_vs_measured:
    input:
        plan_inputs,
    output:
        report(
            "results/plan_vs_measured.csv",
            caption="../report/plan_vs_measured.rst",
            category="Plan",
        ),
    log:
        "results/logs/plan_vs_measured.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cfg=plan_config,
    shell:
        " ".join(
            [
                script("plan.py"),
                "{input:q} --compare --directory . --cores %d --config-json {params.cfg:q}"
                % workflow.cores,
                "--compare-csv {output:q} > {log:q} 2>&1",
            ]
        )
