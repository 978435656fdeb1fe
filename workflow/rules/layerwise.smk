# Greedy layer-wise training (paper 003): one train_layer job per layer and run, chained
# through weights.pt; end-to-end baselines; tables and the per-layer accuracy figure.
# Runs are "{preset}.{sampler}-s{seed}" (sampler: a batches file, or shuffle-s<seed>,
# ordinary SGD drawn by the job itself, no file); presets and tables come from
# config["layerwise"]["profiles"][dataset]; the run plan (LW_PLAN, common.smk) lives in
# workflow/scripts/layerwise/training/runs.py (plain Python, tested without Snakemake).


wildcard_constraints:
    preset="[a-z0-9-]+",
    table="table[0-9]+|compression",


rule train_layer:
    input:
        data="results/{dataset}/data.h5",
        batches=run_batches,
        store=training_store,
        previous=previous_weights,
    output:
        weights="results/{dataset}/train/{preset}.{sampler}-s{seed}/layer{layer}/weights.pt",
        eval="results/{dataset}/train/{preset}.{sampler}-s{seed}/layer{layer}/eval.h5",
    log:
        "results/logs/train_layer/{dataset}/{preset}.{sampler}-s{seed}/layer{layer}.log",
    benchmark:
        "results/benchmarks/train_layer/{dataset}/{preset}.{sampler}-s{seed}/layer{layer}.tsv"
    wildcard_constraints:
        sampler=RUN_SAMPLER,
    conda:
        CONDA_ENV
    threads: training_threads
    resources:
        gpu=1,
        mem_mb=training_mem_mb,
        runtime=training_runtime,
    params:
        cfg=layer_params,
        batches=batches_arg,
    shell:
        # joined, not added: the linter reads a name plus a string with slashes as path composition
        " ".join(
            [
                LAUNCH,
                script("train_layer.py"),
                "--data {input.data:q}",
                "{params.batches} --previous {input.previous:q}",
                "--weights {output.weights:q} --eval {output.eval:q} --threads {threads}",
                "--params {params.cfg:q} > {log:q} 2>&1",
            ]
        )


rule train_e2e:
    input:
        data="results/{dataset}/data.h5",
        batches=run_batches,
        store=training_store,
    output:
        weights="results/{dataset}/train/{preset}.{sampler}-s{seed}/e2e/weights.pt",
        eval="results/{dataset}/train/{preset}.{sampler}-s{seed}/e2e/eval.h5",
    log:
        "results/logs/train_e2e/{dataset}/{preset}.{sampler}-s{seed}.log",
    benchmark:
        "results/benchmarks/train_e2e/{dataset}/{preset}.{sampler}-s{seed}.tsv"
    wildcard_constraints:
        sampler=RUN_SAMPLER,
    conda:
        CONDA_ENV
    threads: training_threads
    resources:
        gpu=1,
        mem_mb=training_mem_mb,
        runtime=training_runtime,
    params:
        cfg=e2e_params,
        batches=batches_arg,
    shell:
        " ".join(
            [
                LAUNCH,
                script("train_e2e.py"),
                "--data {input.data:q}",
                "{params.batches} --weights {output.weights:q}",
                "--eval {output.eval:q} --threads {threads}",
                "--params {params.cfg:q} > {log:q} 2>&1",
            ]
        )


rule layerwise_table:
    input:
        evals=table_inputs,
    output:
        table=report(
            "results/{dataset}_{table}.csv",
            caption="../report/layerwise_table.rst",
            category="Layer-wise training",
        ),
        figure=report(
            "results/{dataset}/figures/layerwise_{table}_accuracy.png",
            caption="../report/layerwise_accuracy.rst",
            category="Layer-wise training",
        ),
    log:
        "results/logs/layerwise_table/{dataset}_{table}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        rows=table_rows,
    shell:
        " ".join(
            [
                script("layerwise_table.py"),
                "--dataset {wildcards.dataset} --table {wildcards.table}"
                " --rows {params.rows:q} --output {output.table:q} --figure {output.figure:q} > {log:q} 2>&1",
            ]
        )
