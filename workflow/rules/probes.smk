# Stage 7, probes: linear / CNN-p / SVM separability of every trained layer (paper 003
# Figure 3), one job per run and layer, then one figure per dataset. Runs come from the
# layer-wise stage's config (LW_PLAN, common.smk); without a profile there are none.


wildcard_constraints:
    run="[a-z0-9-]+\.[a-z0-9-]+-s[0-9]+",


rule probe_layer:
    input:
        eval="results/{dataset}/train/{run}/layer{layer}/eval.h5",
    output:
        probes="results/{dataset}/probes/{run}/layer{layer}.h5",
    log:
        "results/logs/probe_layer/{dataset}/{run}/layer{layer}.log",
    benchmark:
        "results/benchmarks/probe_layer/{dataset}/{run}/layer{layer}.tsv"
    conda:
        CONDA_ENV
    threads: gpu_share_threads(1)
    resources:
        mem_mb=4000,
        runtime="2h",
        gpu=1,
    params:
        cfg=probes_params,
    shell:
        # joined, not added: the linter reads a name plus a string with slashes as path composition
        " ".join(
            [
                LAUNCH,
                script("probe_layer.py"),
                "--eval {input.eval:q}",
                "--params {params.cfg:q} --output {output.probes:q} --threads {threads} > {log:q} 2>&1",
            ]
        )


rule probe_figure:
    input:
        probes=probe_inputs,
    output:
        figure=report(
            "results/{dataset}/figures/probes.png",
            caption="../report/probes_figure.rst",
            category="Probes",
        ),
        table="results/{dataset}/probes/summary.csv",
    log:
        "results/logs/probe_figure/{dataset}.log",
    conda:
        CONDA_ENV
    params:
        groups=probe_figure_groups,
    shell:
        " ".join(
            [
                script("probe_figure.py"),
                "--dataset {wildcards.dataset} --groups {params.groups:q}"
                " --inputs {input.probes:q} --figure {output.figure:q} --table {output.table:q} > {log:q} 2>&1",
            ]
        )
