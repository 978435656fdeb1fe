# Stage "graph": the class-by-class similarity graph of paper 000 (f_NN ground), one file per
# feature set: results/{dataset}/graph/pixels.h5 or .../graph/ae-<name>.h5 (graph.features ae:<name>).


wildcard_constraints:
    features="pixels|ae-[A-Za-z0-9_.]+",


rule build_graph:
    input:
        data="results/{dataset}/data.h5",
        features=graph_features_input,
    output:
        graph="results/{dataset}/graph/{features}.h5",
    log:
        "results/logs/build_graph/{dataset}/{features}.log",
    benchmark:
        "results/benchmarks/build_graph/{dataset}/{features}.tsv"
    # upstream of the training chains: before independent leaf jobs, so the chains start early
    priority: 10
    conda:
        CONDA_ENV
    threads: cpu_threads(2)
    resources:
        mem_mb=8000,
        runtime="1h",
    params:
        cfg=graph_params,
        features_arg=features_arg,
    shell:
        " ".join(
            [
                script("build_graph.py"),
                "--data {input.data:q} {params.features_arg}"
                " --output {output.graph:q} --params {params.cfg:q} --threads {threads} > {log:q} 2>&1",
            ]
        )
