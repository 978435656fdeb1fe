# Stage 6, cluster: deep layerwise clustering (paper 001) and its Figure-3 baselines,
# one job per method x head x seed, then results/{dataset}_clustering.csv (mean ± std).


wildcard_constraints:
    method="dlc|jl|cnn|cnn-random|pixels",
    head="linear|fc",
    cseed=r"\d+",


rule cluster:
    input:
        data="results/{dataset}/data.h5",
    output:
        variant="results/{dataset}/clustering/{method}-{head}-s{cseed}.h5",
    log:
        "results/logs/cluster/{dataset}/{method}-{head}-s{cseed}.log",
    benchmark:
        "results/benchmarks/cluster/{dataset}/{method}-{head}-s{cseed}.tsv"
    conda:
        CONDA_ENV
    threads: config["clustering"]["threads"]
    resources:
        mem_mb=config["clustering"]["mem_mb"],
        runtime="12h",
        gpu=1,
    params:
        cfg=lambda wc: as_json(config["clustering"]),
    shell:
        # joined, not added: the linter reads a name plus a string with slashes as path composition
        " ".join(
            [
                LAUNCH,
                "python workflow/scripts/cluster.py --data {input.data}",
                "--method {wildcards.method} --head {wildcards.head} --seed {wildcards.cseed}",
                "--params {params.cfg:q}",
                "--output {output.variant} --threads {threads} > {log} 2>&1",
            ]
        )


rule clustering_table:
    input:
        data="results/{dataset}/data.h5",
        variants=lambda wc: expand(
            "results/{dataset}/clustering/{method}-{head}-s{cseed}.h5",
            dataset=wc.dataset,
            method=config["clustering"]["methods"],
            head=config["clustering"]["heads"],
            cseed=config["clustering"]["seeds"],
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
        "python workflow/scripts/clustering_table.py --dataset {wildcards.dataset} --data {input.data}"
        " --inputs {input.variants} --output {output.table} > {log} 2>&1"


ALL_TARGETS.append(f"results/{config['dataset']}_clustering.csv")
