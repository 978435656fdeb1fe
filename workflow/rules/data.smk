# Stage 1, data: every dataset into results/{dataset}/data.h5 (pixels or a manifest).


rule prepare_data:
    output:
        data="results/{dataset}/data.h5",
    log:
        "results/logs/prepare_data/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_data/{dataset}.tsv"
    # upstream of the training chains: before independent leaf jobs, so the chains start early
    priority: 10
    conda:
        CONDA_ENV
    threads: cpu_threads(4)
    resources:
        mem_mb=8000,
        runtime="2h",
    params:
        cfg=prepare_params,
        # paths, sizes and mtimes under the root: Snakemake reruns a job whose params changed
        root_listing=root_listing,
    shell:
        " ".join(
            [
                script("prepare_data.py"),
                "--name {wildcards.dataset} --params {params.cfg:q}"
                " --output {output.data:q} --threads {threads} > {log:q} 2>&1",
            ]
        )


rule plot_samples:
    input:
        data="results/{dataset}/data.h5",
    output:
        report(
            "results/{dataset}/figures/samples.png",
            caption="../report/data_samples.rst",
            category="Data",
        ),
    log:
        "results/logs/plot_samples/{dataset}.log",
    conda:
        CONDA_ENV
    shell:
        " ".join(
            [
                script("plot_samples.py"),
                "--data {input.data:q} --output {output:q} > {log:q} 2>&1",
            ]
        )


# The training-image store of ImageNet-style manifests (layerwise.data.imagestore): every
# image decoded once (truncated files stop here), re-encoded at a bounded size.
rule build_store:
    input:
        data="results/{dataset}/data.h5",
    output:
        store="results/{dataset}/store.h5",
    log:
        "results/logs/build_store/{dataset}.log",
    benchmark:
        "results/benchmarks/build_store/{dataset}.tsv"
    conda:
        CONDA_ENV
    threads: cpu_threads(4)
    resources:
        mem_mb=4000,
        runtime="12h",
    params:
        cfg=store_params,
    shell:
        " ".join(
            [
                script("build_store.py"),
                "--data {input.data:q} --output {output.store:q}"
                " --params {params.cfg:q} --threads {threads} > {log:q} 2>&1",
            ]
        )
