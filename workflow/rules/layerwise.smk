# Greedy layer-wise training (paper 003): one train_layer job per layer and run, chained
# through weights.pt; end-to-end baselines; tables and the per-layer accuracy figure.
# Runs are "{preset}.{sampler}.seed{seed}" (sampler: a batches file, or shuffle-s<seed>,
# ordinary SGD drawn by the job itself, no file); presets and tables come from
# config["layerwise"]["profiles"][dataset]; the run plan lives in
# workflow/scripts/layerwise/training/runs.py (plain Python, tested without Snakemake).
# common.smk has put workflow/scripts on sys.path.
from layerwise.training.runs import RunPlan

LW_PLAN = RunPlan(config)
# names other stages (probes.smk) use
lw_profile = LW_PLAN.profile
lw_model = LW_PLAN.model
lw_layers = LW_PLAN.layers


wildcard_constraints:
    preset="[a-z0-9-]+",
    seed="[0-9]+",
    layer="[0-9]+",
    table="table[0-9]+|compression",


# The batches stage owns the global `sampler` constraint; training also takes shuffle-s<seed>.
LW_SAMPLER = "robust-[a-z]+|random-s[0-9]+|shuffle-s[0-9]+"


rule train_layer:
    input:
        data="results/{dataset}/data.h5",
        batches=lambda wc: LW_PLAN.batches_input(wc.dataset, wc.sampler),
        store=training_store,
        previous=lambda wc: LW_PLAN.previous_weights(
            wc.dataset, wc.preset, wc.sampler, wc.seed, wc.layer
        ),
    output:
        weights="results/{dataset}/train/{preset}.{sampler}.seed{seed}/layer{layer}/weights.pt",
        eval="results/{dataset}/train/{preset}.{sampler}.seed{seed}/layer{layer}/eval.h5",
    log:
        "results/logs/train_layer/{dataset}/{preset}.{sampler}.seed{seed}/layer{layer}.log",
    benchmark:
        "results/benchmarks/train_layer/{dataset}/{preset}.{sampler}.seed{seed}/layer{layer}.tsv"
    wildcard_constraints:
        sampler=LW_SAMPLER,
    conda:
        CONDA_ENV
    threads: lambda wc: LW_PLAN.profile(wc.dataset)["threads"]
    resources:
        gpu=1,
        mem_mb=lambda wc: LW_PLAN.profile(wc.dataset)["mem_mb"],
        runtime=lambda wc: LW_PLAN.profile(wc.dataset)["runtime"],
    params:
        cfg=lambda wc: LW_PLAN.job_params(
            wc.dataset, wc.preset, wc.sampler, wc.seed, wc.layer
        ),
        batches=lambda wc, input: LW_PLAN.batches_arg(input.batches),
    shell:
        # joined, not added: the linter reads a name plus a string with slashes as path composition
        " ".join(
            [
                LAUNCH,
                "python workflow/scripts/train_layer.py --data {input.data:q}",
                "{params.batches} --previous {input.previous:q}",
                "--weights {output.weights:q} --eval {output.eval:q} --threads {threads}",
                "--params {params.cfg:q} > {log:q} 2>&1",
            ]
        )


rule train_e2e:
    input:
        data="results/{dataset}/data.h5",
        batches=lambda wc: LW_PLAN.batches_input(wc.dataset, wc.sampler),
        store=training_store,
    output:
        weights="results/{dataset}/train/{preset}.{sampler}.seed{seed}/e2e/weights.pt",
        eval="results/{dataset}/train/{preset}.{sampler}.seed{seed}/e2e/eval.h5",
    log:
        "results/logs/train_e2e/{dataset}/{preset}.{sampler}.seed{seed}.log",
    benchmark:
        "results/benchmarks/train_e2e/{dataset}/{preset}.{sampler}.seed{seed}.tsv"
    wildcard_constraints:
        sampler=LW_SAMPLER,
    conda:
        CONDA_ENV
    threads: lambda wc: LW_PLAN.profile(wc.dataset)["threads"]
    resources:
        gpu=1,
        mem_mb=lambda wc: LW_PLAN.profile(wc.dataset)["mem_mb"],
        runtime=lambda wc: LW_PLAN.profile(wc.dataset)["runtime"],
    params:
        cfg=lambda wc: LW_PLAN.job_params(wc.dataset, wc.preset, wc.sampler, wc.seed),
        batches=lambda wc, input: LW_PLAN.batches_arg(input.batches),
    shell:
        " ".join(
            [
                LAUNCH,
                "python workflow/scripts/train_e2e.py --data {input.data:q}",
                "{params.batches} --weights {output.weights:q}",
                "--eval {output.eval:q} --threads {threads}",
                "--params {params.cfg:q} > {log:q} 2>&1",
            ]
        )


rule layerwise_table:
    input:
        evals=lambda wc: LW_PLAN.table_inputs(wc.dataset, wc.table),
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
        rows=lambda wc: as_json(LW_PLAN.table_rows(wc.dataset, wc.table)),
    shell:
        "python workflow/scripts/make_table3.py --dataset {wildcards.dataset} --table {wildcards.table}"
        " --rows {params.rows:q} --out {output.table:q} --figure {output.figure:q} > {log:q} 2>&1"


ALL_TARGETS.extend(
    [
        f"results/{layerwise_dataset()}_table3.csv",
        f"results/{layerwise_dataset()}/figures/layerwise_table3_accuracy.png",
    ]
)
