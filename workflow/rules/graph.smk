# Stage "graph": the class-by-class similarity graph of paper 000 (f_NN ground), one file per
# feature set: results/{dataset}/graph/pixels.h5 or .../graph/ae-<name>.h5 (graph.features ae:<name>).


wildcard_constraints:
    features="pixels|ae-[A-Za-z0-9_.]+",


# File stem of the configured graph.features (read by batches.smk).
GRAPH_STEM = config["graph"]["features"].replace("ae:", "ae-", 1)


rule build_graph:
    input:
        data="results/{dataset}/data.h5",
        # Autoencoder features only when the graph is built on them: pixels wait for nothing.
        features=lambda wildcards: (
            []
            if wildcards.features == "pixels"
            else f"results/{wildcards.dataset}/autoencoder/{wildcards.features[3:]}/features.h5"
        ),
    output:
        graph="results/{dataset}/graph/{features}.h5",
    log:
        "results/logs/build_graph/{dataset}/{features}.log",
    benchmark:
        "results/benchmarks/build_graph/{dataset}/{features}.tsv"
    conda:
        CONDA_ENV
    threads: config["graph"]["threads"]
    resources:
        mem_mb=8000,
        runtime="1h",
    params:
        # The graph section with `features` taken from the file stem (pixels | ae-<name>).
        cfg=lambda wildcards: as_json(
            dict(config["graph"], features=wildcards.features.replace("ae-", "ae:", 1))
        ),
        features_arg=lambda wildcards, input: (
            f"--features-file {input.features}" if input.features else ""
        ),
    shell:
        "python workflow/scripts/build_graph.py --data {input.data} {params.features_arg}"
        " --out {output.graph} --params {params.cfg:q} --threads {threads} > {log} 2>&1"
