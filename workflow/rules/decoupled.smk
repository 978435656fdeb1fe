# Decoupled greedy training (Belilovsky et al. 2020 on paper 003's objective, issue 22): one
# train_decoupled job trains all J layers of a run at once and writes the same per-layer
# weights.pt and eval.h5 as train_layer, so ensembles, tables, probes and the report read
# them unchanged. Outputs are a fixed list per rule, so there is one rule per layer count J
# and dataset of the configured decoupled presets (train_decoupled_<dataset>_J<J>); they win
# over train_layer on those presets. results/{dataset}_decoupled.csv compares them with sequential greedy.


for _name, _dataset, _layers, _presets in LW_PLAN.decoupled_rule_kinds():

    rule:
        name:
            _name
        input:
            data="results/{dataset}/data.h5",
            batches=run_batches,
            store=training_store,
        output:
            weights=[
                f"results/{{dataset}}/train/{{preset}}.{{sampler}}-s{{seed}}/layer{j}/weights.pt"
                for j in range(1, _layers + 1)
            ],
            eval=[
                f"results/{{dataset}}/train/{{preset}}.{{sampler}}-s{{seed}}/layer{j}/eval.h5"
                for j in range(1, _layers + 1)
            ],
        log:
            "results/logs/train_decoupled/{dataset}/{preset}.{sampler}-s{seed}.log",
        benchmark:
            "results/benchmarks/train_decoupled/{dataset}/{preset}.{sampler}-s{seed}.tsv"
        wildcard_constraints:
            sampler=RUN_SAMPLER,
            dataset=_dataset,
            preset=_presets,
        conda:
            CONDA_ENV
        threads: decoupled_threads
        resources:
            gpu=decoupled_groups,
            mem_mb=training_mem_mb,
            runtime=training_runtime,
        params:
            cfg=decoupled_params,
            batches=batches_arg,
        shell:
            " ".join(
                [
                    LAUNCH,
                    script("train_decoupled.py"),
                    "--data {input.data:q} {params.batches}",
                    "--weights {output.weights:q} --eval {output.eval:q} --threads {threads}",
                    "--params {params.cfg:q} > {log:q} 2>&1",
                ]
            )

    workflow.ruleorder(_name, "train_layer")


rule decoupled_table:
    input:
        data="results/{dataset}/data.h5",
        evals=decoupled_table_inputs,
    output:
        table=report(
            "results/{dataset}_decoupled.csv",
            caption="../report/decoupled_table.rst",
            category="Layer-wise training",
        ),
        figure=report(
            "results/{dataset}/figures/decoupled_accuracy.png",
            caption="../report/decoupled_accuracy.rst",
            category="Layer-wise training",
        ),
    log:
        "results/logs/decoupled_table/{dataset}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        rows=decoupled_table_rows,
    shell:
        " ".join(
            [
                script("decoupled_table.py"),
                "--dataset {wildcards.dataset} --data {input.data:q} --rows {params.rows:q}",
                "--output {output.table:q} --figure {output.figure:q} > {log:q} 2>&1",
            ]
        )
