# Paper 004 §4.2: the quick CIFAR CNN with baseline, weight decay, dropout and the three
# clustering regularisers, one job per method and seed, then results/{dataset}_parsimonious.csv.


wildcard_constraints:
    pmethod="baseline|weight-decay|dropout|sample|spatial|channel",
    pseed="[0-9]+",


rule train_parsimonious:
    input:
        data="results/{dataset}/data.h5",
    output:
        run="results/{dataset}/parsimonious/{pmethod}-s{pseed}.h5",
    log:
        "results/logs/train_parsimonious/{dataset}/{pmethod}-s{pseed}.log",
    benchmark:
        "results/benchmarks/train_parsimonious/{dataset}/{pmethod}-s{pseed}.tsv"
    conda:
        CONDA_ENV
    threads: 2
    resources:
        mem_mb=8000,
        runtime="8h",
        gpu=1,
    params:
        cfg=lambda wc: as_json(config["parsimonious"]),
        kind=lambda wc: dataset_config(wc.dataset)["kind"],
    shell:
        # joined, not added: the linter reads a name plus a string with slashes as path composition
        " ".join(
            [
                LAUNCH,
                "python workflow/scripts/train_parsimonious.py --data {input.data}",
                "--kind {params.kind} --method {wildcards.pmethod} --seed {wildcards.pseed}",
                "--params {params.cfg:q} --output {output.run}",
                "--threads {threads} > {log} 2>&1",
            ]
        )


rule parsimonious_table:
    input:
        runs=lambda wc: expand(
            "results/{dataset}/parsimonious/{pmethod}-s{pseed}.h5",
            dataset=wc.dataset,
            pmethod=config["parsimonious"]["methods"],
            pseed=config["parsimonious"]["seeds"],
        ),
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
        "python workflow/scripts/parsimonious_table.py --dataset {wildcards.dataset}"
        " --inputs {input.runs} --output {output.table} > {log} 2>&1"


ALL_TARGETS.append(f"results/{config['dataset']}_parsimonious.csv")
