# Stage "autoencoder": paper 000's residual autoencoder (train_autoencoder) and paper 002's
# classifiers augmented with decoding pathways (train_augmented, one job per section 4.1
# step), the features.h5 of any of them (extract_features), paper 002's Table 1
# (ae_report) and the residual autoencoders' MSE table (ae_mse). The job plan (AE_PLAN, common.smk) lives in
# workflow/scripts/layerwise/autoencoder/plan.py.


rule train_autoencoder:
    input:
        data="results/{dataset}/data.h5",
    output:
        model="results/{dataset}/autoencoder/{ae}/model.pt",
    log:
        "results/logs/train_autoencoder/{dataset}/{ae}.log",
    benchmark:
        "results/benchmarks/train_autoencoder/{dataset}/{ae}.tsv"
    wildcard_constraints:
        ae=AE_PLAN.residual_pattern(),
    conda:
        CONDA_ENV
    threads: gpu_share_threads(2)
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=240,
    params:
        cfg=residual_params,
    shell:
        # joined, not added: the linter reads a name plus a string with slashes as path composition
        " ".join(
            [
                LAUNCH,
                script("train_autoencoder.py"),
                "--data {input.data:q}",
                "--output {output.model:q} --params {params.cfg:q} --threads {threads} > {log:q} 2>&1",
            ]
        )


rule train_augmented:
    input:
        data="results/{dataset}/data.h5",
        init=augmented_init,
    output:
        model="results/{dataset}/autoencoder/{ae}/model.pt",
        eval="results/{dataset}/autoencoder/{ae}/eval.h5",
    log:
        "results/logs/train_augmented/{dataset}/{ae}.log",
    benchmark:
        "results/benchmarks/train_augmented/{dataset}/{ae}.tsv"
    wildcard_constraints:
        ae=AE_PLAN.augmented_pattern(),
    conda:
        CONDA_ENV
    threads: gpu_share_threads(2)
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=600,
    params:
        cfg=augmented_params,
        init_arg=init_arg,
    shell:
        " ".join(
            [
                LAUNCH,
                script("train_augmented.py"),
                "--data {input.data:q}",
                "--name {wildcards.ae} {params.init_arg} --output {output.model:q}",
                "--eval {output.eval:q} --params {params.cfg:q} --threads {threads} > {log:q} 2>&1",
            ]
        )


rule extract_features:
    input:
        data="results/{dataset}/data.h5",
        model="results/{dataset}/autoencoder/{ae}/model.pt",
    output:
        features="results/{dataset}/autoencoder/{ae}/features.h5",
    log:
        "results/logs/extract_features/{dataset}/{ae}.log",
    benchmark:
        "results/benchmarks/extract_features/{dataset}/{ae}.tsv"
    conda:
        CONDA_ENV
    threads: gpu_share_threads(2)
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=60,
    params:
        cfg=extract_params,
    shell:
        " ".join(
            [
                LAUNCH,
                script("extract_features.py"),
                "--data {input.data:q}",
                "--model {input.model:q} --output {output.features:q} --params {params.cfg:q}",
                "--threads {threads} > {log:q} 2>&1",
            ]
        )


rule ae_report:
    input:
        evals=report_evals,
    output:
        table=report(
            "results/{dataset}_ae_table.csv",
            caption="../report/ae_table.rst",
            category="Autoencoder",
        ),
        recon=report(
            "results/{dataset}/figures/ae_reconstructions.png",
            caption="../report/ae_reconstructions.rst",
            category="Autoencoder",
        ),
        curves=report(
            "results/{dataset}/figures/ae_training_curves.png",
            caption="../report/ae_training_curves.rst",
            category="Autoencoder",
        ),
    log:
        "results/logs/ae_report/{dataset}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        kind=dataset_kind,
    shell:
        " ".join(
            [
                script("ae_report.py"),
                "--evals {input.evals:q} --dataset {wildcards.dataset} --kind {params.kind}",
                "--table {output.table:q} --recon-fig {output.recon:q} --curves-fig {output.curves:q}",
                "> {log:q} 2>&1",
            ]
        )


rule ae_mse:
    input:
        residual=report_residual,
    output:
        table=report(
            "results/{dataset}_ae_mse.csv",
            caption="../report/ae_mse.rst",
            category="Autoencoder",
        ),
        figure=report(
            "results/{dataset}/figures/ae_residual_curves.png",
            caption="../report/ae_residual_curves.rst",
            category="Autoencoder",
        ),
    log:
        "results/logs/ae_mse/{dataset}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        " ".join(
            [
                script("ae_mse.py"),
                "--residual {input.residual:q} --dataset {wildcards.dataset}",
                "--table {output.table:q} --figure {output.figure:q} > {log:q} 2>&1",
            ]
        )
