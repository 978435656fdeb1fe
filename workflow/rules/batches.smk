# Stage "batches": fixed mini-batch sequences by robust submodular partitioning (paper 000) or at random.


rule partition_batches:
    input:
        graph=partition_graph,
    output:
        batches="results/{dataset}/batches/{sampler}.h5",
    log:
        "results/logs/partition_batches/{dataset}/{sampler}.log",
    benchmark:
        "results/benchmarks/partition_batches/{dataset}/{sampler}.tsv"
    # upstream of the training chains: before independent leaf jobs, so the chains start early
    priority: 10
    conda:
        CONDA_ENV
    threads: cpu_threads(1)  # parallel calls within a hierarchy level
    resources:
        mem_mb=partition_mem_mb,
        runtime="1h",
    params:
        cfg=partition_params,
    shell:
        " ".join(
            [
                script("partition_batches.py"),
                "--graph {input.graph:q} --threads {threads}"
                " --sampler {wildcards.sampler} --output {output.batches:q} --params {params.cfg:q} > {log:q} 2>&1",
            ]
        )


rule partition_figures:
    input:
        graph="results/{dataset}/graph/%s.h5" % GRAPH_STEM,
        batches="results/{dataset}/batches/robust-hier.h5",
    output:
        runtime=report(
            "results/{dataset}/figures/partition_runtime.png",
            caption="../report/partition_runtime.rst",
            category="Partitioning",
        ),
        queues=report(
            "results/{dataset}/figures/partition_queues.png",
            caption="../report/partition_queues.rst",
            category="Partitioning",
        ),
        factor=report(
            "results/{dataset}/figures/partition_factor.png",
            caption="../report/partition_factor.rst",
            category="Partitioning",
        ),
    log:
        "results/logs/partition_figures/{dataset}.log",
    benchmark:
        "results/benchmarks/partition_figures/{dataset}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime="30m",
    params:
        cfg=partition_figures_params,
    shell:
        " ".join(
            [
                script("partition_figures.py"),
                "--graph {input.graph:q} --batches {input.batches:q}"
                " --runtime {output.runtime:q} --queues {output.queues:q} --factor {output.factor:q}"
                " --params {params.cfg:q} > {log:q} 2>&1",
            ]
        )
