# Stage "batches": fixed mini-batch sequences by robust submodular partitioning (paper 000) or at random.


wildcard_constraints:
    sampler="robust-flat|robust-hier|robust-sat|random-s[0-9]+",


SAMPLERS = list(config["batches"]["samplers"]) + [
    f"random-s{seed}" for seed in config["batches"]["random_seeds"]
]


# Per dataset, only the keys that change a partition (figure settings rerun nothing else): the
# dataset's entry in batches.datasets over the global batch_size / levels, and the config
# section they come from (for error messages).
BATCHES_PARAMS = {
    name: {
        "batch_size": own.get("batch_size") or config["batches"]["batch_size"],
        "levels": (
            own["levels"]
            if own.get("levels") is not None
            else config["batches"]["levels"]
        ),
        "method": config["batches"]["method"],
        "key": f"batches.datasets.{name}" if own else "batches",
    }
    for name in config["datasets"]
    for own in [config["batches"].get("datasets", {}).get(name) or {}]
}


rule partition_batches:
    input:
        graph="results/{dataset}/graph/%s.h5" % GRAPH_STEM,
    output:
        batches="results/{dataset}/batches/{sampler}.h5",
    log:
        "results/logs/partition_batches/{dataset}/{sampler}.log",
    benchmark:
        "results/benchmarks/partition_batches/{dataset}/{sampler}.tsv"
    conda:
        CONDA_ENV
    threads: config["batches"]["threads"]
    resources:
        mem_mb=4000,
        runtime="1h",
    params:
        cfg=lambda wildcards: as_json(BATCHES_PARAMS[wildcards.dataset]),
    shell:
        "python workflow/scripts/partition_batches.py --graph {input.graph} --threads {threads}"
        " --sampler {wildcards.sampler} --out {output.batches} --params {params.cfg:q} > {log} 2>&1"


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
        cfg=lambda wildcards: as_json(
            {
                "batch_size": BATCHES_PARAMS[wildcards.dataset]["batch_size"],
                "figures": config["batches"]["figures"],
            }
        ),
    shell:
        "python workflow/scripts/partition_figures.py --graph {input.graph} --batches {input.batches}"
        " --runtime {output.runtime} --queues {output.queues} --factor {output.factor}"
        " --params {params.cfg:q} > {log} 2>&1"


ALL_TARGETS.extend(
    expand(
        "results/{dataset}/batches/{sampler}.h5",
        dataset=config["dataset"],
        sampler=SAMPLERS,
    )
    + expand(
        "results/{dataset}/figures/partition_{name}.png",
        dataset=config["dataset"],
        name=["runtime", "queues", "factor"],
    )
)
