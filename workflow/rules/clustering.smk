# Stage 6, cluster: deep layerwise clustering (paper 001) and its Figure-3 baselines,
# one job per method x head, then results/{dataset}_clustering.csv.


wildcard_constraints:
    method="dlc|jl|cnn|cnn-random|pixels",
    head="linear|fc",


rule cluster:
    input:
        data="results/{dataset}/data.h5",
    output:
        variant="results/{dataset}/clustering/{method}-{head}.h5",
    log:
        "results/logs/cluster/{dataset}/{method}-{head}.log",
    benchmark:
        "results/benchmarks/cluster/{dataset}/{method}-{head}.tsv"
    conda:
        CONDA_ENV
    threads: 2
    resources:
        mem_mb=16000,
        runtime="12h",
        gpu=1,
    params:
        cfg=lambda wc: as_json(config["clustering"]),
        scratch="results/{dataset}/clustering/.scratch/{method}-{head}",
    shell:
        # joined, not added: the linter reads a name plus a string with slashes as path composition
        " ".join(
            [
                LAUNCH,
                "python workflow/scripts/cluster.py --data {input.data}",
                "--method {wildcards.method} --head {wildcards.head} --params {params.cfg:q}",
                "--output {output.variant} --scratch {params.scratch} --threads {threads} > {log} 2>&1",
            ]
        )


rule clustering_table:
    input:
        variants=lambda wc: expand(
            "results/{dataset}/clustering/{method}-{head}.h5",
            dataset=wc.dataset,
            method=config["clustering"]["methods"],
            head=config["clustering"]["heads"],
        ),
    output:
        table=report(
            "results/{dataset}_clustering.csv",
            caption="../report/clustering_table.rst",
            category="Clustering",
        ),
    log:
        "results/logs/clustering_table/{dataset}.log",
    conda:
        CONDA_ENV
    shell:
        "python workflow/scripts/clustering_table.py --dataset {wildcards.dataset}"
        " --inputs {input.variants} --output {output.table} > {log} 2>&1"


ALL_TARGETS.append(f"results/{config['dataset']}_clustering.csv")
