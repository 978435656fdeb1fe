# Stage 6, cluster: deep layerwise clustering (paper 001) and its Figure-3 baselines,
# one job per method x head x seed, then results/{dataset}_clustering.csv (mean ± std).


wildcard_constraints:
    head="linear|fc",


rule cluster:
    input:
        data="results/{dataset}/data.h5",
    output:
        variant="results/{dataset}/clustering/{method}-{head}-s{seed}.h5",
    log:
        "results/logs/cluster/{dataset}/{method}-{head}-s{seed}.log",
    benchmark:
        "results/benchmarks/cluster/{dataset}/{method}-{head}-s{seed}.tsv"
    wildcard_constraints:
        method="dlc|jl|cnn|cnn-random|pixels",
    conda:
        CONDA_ENV
    threads: gpu_share_threads(1)  # torch threads (two jobs share the 2 demo cores)
    resources:
        mem_mb=4000,
        runtime="12h",
        gpu=1,
    params:
        cfg=clustering_params,
    shell:
        # joined, not added: the linter reads a name plus a string with slashes as path composition
        " ".join(
            [
                LAUNCH,
                script("cluster.py"),
                "--data {input.data:q}",
                "--method {wildcards.method} --head {wildcards.head} --seed {wildcards.seed}",
                "--params {params.cfg:q}",
                "--output {output.variant:q} --threads {threads} > {log:q} 2>&1",
            ]
        )


rule clustering_table:
    input:
        data="results/{dataset}/data.h5",
        variants=clustering_runs,
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
        " ".join(
            [
                script("clustering_table.py"),
                "--dataset {wildcards.dataset} --data {input.data:q}"
                " --inputs {input.variants:q} --output {output.table:q} > {log:q} 2>&1",
            ]
        )
