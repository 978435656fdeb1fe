# Paper 004 §4.2: the quick CIFAR CNN with baseline, weight decay, dropout and the three
# clustering regularisers, one job per method and seed, then results/{dataset}_parsimonious.csv.


rule train_parsimonious:
    input:
        data="results/{dataset}/data.h5",
    output:
        run="results/{dataset}/parsimonious/{method}-s{seed}.h5",
    log:
        "results/logs/train_parsimonious/{dataset}/{method}-s{seed}.log",
    benchmark:
        "results/benchmarks/train_parsimonious/{dataset}/{method}-s{seed}.tsv"
    wildcard_constraints:
        method="baseline|weight-decay|dropout|sample|spatial|channel",
    conda:
        CONDA_ENV
    threads: gpu_share_threads(2)
    resources:
        mem_mb=8000,
        runtime="8h",
        gpu=1,
    params:
        cfg=parsimonious_params,
        kind=dataset_kind,
    shell:
        # joined, not added: the linter reads a name plus a string with slashes as path composition
        " ".join(
            [
                LAUNCH,
                script("train_parsimonious.py"),
                "--data {input.data:q}",
                "--kind {params.kind} --method {wildcards.method} --seed {wildcards.seed}",
                "--params {params.cfg:q} --output {output.run:q}",
                "--threads {threads} > {log:q} 2>&1",
            ]
        )


rule parsimonious_table:
    input:
        runs=parsimonious_runs,
    output:
        table=report(
            "results/{dataset}_parsimonious.csv",
            caption="../report/parsimonious_table.rst",
            category="Clustering",
        ),
    log:
        "results/logs/parsimonious_table/{dataset}.log",
    conda:
        CONDA_ENV
    shell:
        " ".join(
            [
                script("parsimonious_table.py"),
                "--dataset {wildcards.dataset}"
                " --inputs {input.runs:q} --output {output.table:q} > {log:q} 2>&1",
            ]
        )
