# Stage 7, probes: linear / CNN-p / SVM separability of every trained layer (paper 003
# Figure 3), one job per run and layer, then one figure per dataset. Runs come from the
# layer-wise stage's config (layerwise.smk helpers); without a profile there are none.


from layerwise.probes.plan import probe_files, probe_groups

PROBE_LAYERS = lambda dataset, preset: lw_layers(lw_model(dataset, preset))


wildcard_constraints:
    run="[a-z0-9-]+\.[a-z0-9-]+\.seed[0-9]+",


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
    threads: 1
    resources:
        mem_mb=4000,
        runtime="2h",
        gpu=1,
    params:
        cfg=lambda wc: as_json(config["probes"]),
    shell:
        # joined, not added: the linter reads a name plus a string with slashes as path composition
        " ".join(
            [
                LAUNCH,
                "python workflow/scripts/probe_layer.py --eval {input.eval}",
                "--params {params.cfg:q} --output {output.probes} --threads {threads} > {log} 2>&1",
            ]
        )


rule probe_figure:
    input:
        probes=lambda wc: probe_files(config, wc.dataset, PROBE_LAYERS),
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
        groups=lambda wc: as_json(probe_groups(config, wc.dataset)),
    shell:
        "python workflow/scripts/probe_figure.py --dataset {wildcards.dataset} --groups {params.groups:q}"
        " --inputs {input.probes} --figure {output.figure} --table {output.table} > {log} 2>&1"


if probe_files(config, layerwise_dataset(), PROBE_LAYERS):
    ALL_TARGETS.append(f"results/{layerwise_dataset()}/figures/probes.png")
