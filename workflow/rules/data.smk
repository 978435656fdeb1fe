# Stage 1, data: every dataset into results/{dataset}/data.h5 (pixels or a manifest).


rule prepare_data:
    output:
        data="results/{dataset}/data.h5",
    log:
        "results/logs/prepare_data/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_data/{dataset}.tsv"
    conda:
        CONDA_ENV
    threads: 4
    resources:
        mem_mb=8000,
        runtime="2h",
    params:
        cfg=prepare_params,
        # paths, sizes and mtimes under the root: Snakemake reruns a job whose params changed
        root_listing=root_listing,
    shell:
        "python workflow/scripts/prepare_data.py --name {wildcards.dataset} --params {params.cfg:q}"
        " --output {output.data} --threads {threads} > {log} 2>&1"


ALL_TARGETS.append(f"results/{config['dataset']}/data.h5")


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
        "python workflow/scripts/plot_samples.py --data {input.data} --output {output} > {log} 2>&1"


if dataset_config(config["dataset"])["kind"] != "imagenet":
    ALL_TARGETS.append(f"results/{config['dataset']}/figures/samples.png")


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
    threads: 4
    resources:
        mem_mb=4000,
        runtime="12h",
    params:
        cfg=lambda wildcards: as_json(dataset_config(wildcards.dataset)["store"]),
    shell:
        "python workflow/scripts/build_store.py --data {input.data} --output {output.store}"
        " --params {params.cfg:q} --threads {threads} > {log} 2>&1"
