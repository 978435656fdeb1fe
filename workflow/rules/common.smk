# What all stages share: config lookups, JSON params, script paths, the launcher
# prefix, wildcard constraints, the run plans, runtime defaults and the targets of rule all,
# then each stage's input and params functions (rule files hold rules only, as
# `snakemake --lint` asks). Included first; no rule file reads another rule file's names, so
# the stages include in any order (tests/integration/test_deploy.py).
import json
import shlex
from pathlib import Path

# The library (workflow/scripts, put on sys.path by the Snakefile) is imported by input/param
# functions too (e.g. root checks at DAG time).
from layerwise.configcheck import FIX, fit_problem
from layerwise.autoencoder.plan import AutoencoderPlan
from layerwise.probes.plan import probe_files, probe_groups
from layerwise.training.runs import RunPlan

# Entry scripts sit beside the rules (workflow/scripts), whatever the working directory;
# WORKFLOW_DIR is set by the Snakefile (module-safe, unlike workflow.basedir).
SCRIPTS = WORKFLOW_DIR / "scripts"

# Every rule runs in the pinned environment (conda users) or in .venv (make); relative to the
# rule files in workflow/rules/.
CONDA_ENV = "../envs/environment.yaml"


def script(name):
    """`python <workflow>/scripts/<name>`, quoted for the shell, to start a rule's shell command."""
    return f"python {shlex.quote(str(SCRIPTS / name))}"


# Prefix of every training command, which takes the job's GPU lease (launch.py);
# training rules prepend it to their shell command in Python.
LAUNCH = f"{script('launch.py')} --gpus {{resources.gpu}} --"

# Batch files: robust-* partitions and random-s<seed> sequences (rule partition_batches).
BATCH_SAMPLER = "robust-flat|robust-hier|robust-sat|random-s[0-9]+"
# Training runs also take shuffle-s<seed>: ordinary SGD drawn by the job itself, no file.
RUN_SAMPLER = f"{BATCH_SAMPLER}|shuffle-s[0-9]+"


wildcard_constraints:
    dataset="|".join(sorted(config["datasets"])),
    sampler=BATCH_SAMPLER,
    seed="[0-9]+",
    layer="[0-9]+",


# The job plans of the layer-wise and autoencoder stages (plain Python, tested without Snakemake).
LW_PLAN = RunPlan(config)
AE_PLAN = AutoencoderPlan(config)

# File stem of the configured graph.features: results/{dataset}/graph/{GRAPH_STEM}.h5.
GRAPH_STEM = config["graph"]["features"].replace("ae:", "ae-", 1)


def dataset_config(dataset):
    """The validated config entry of one dataset (see workflow/schemas/dataset.schema.yaml)."""
    if dataset not in config["datasets"]:
        raise WorkflowError(
            f"dataset {dataset!r} is not configured; config `datasets` has: "
            f"{', '.join(sorted(config['datasets']))}. Pick one (--config dataset=NAME) "
            "or add an entry under `datasets` (docs/data.md)."
        )
    return config["datasets"][dataset]


def dataset_kind(wildcards):
    return dataset_config(wildcards.dataset)["kind"]


def layerwise_dataset():
    """Dataset of the layer-wise Table 3 and probes that rule all builds (layerwise.dataset)."""
    return config["layerwise"].get("dataset") or config["dataset"]


def preset_layers(dataset, preset):
    """Number of trained layers of a layer-wise preset (probe jobs run one per layer)."""
    return LW_PLAN.layers(LW_PLAN.model(dataset, preset))


def as_json(obj):
    """Params travel to entry scripts as one JSON argument, so a job sees only its own params."""
    return json.dumps(obj, sort_keys=True)


# Runtime settings of a training job per dataset kind: threads (torch threads) are those of a
# CPU-only run; with `--resources gpu=N` a job gets its GPU's share of --cores instead
# (training_threads). Not science: override per run with --set-threads / --set-resources or a
# profile (profiles/cifar10-subset). `workers` (DataLoader workers, ImageNet-style data) sit in
# the job's params, so they stay fixed per kind: a different --cores must not rerun finished jobs.
TRAINING_RESOURCES = {
    "synthetic": {"threads": 1, "mem_mb": 2000, "runtime": 20},
    "cifar10": {"threads": 4, "mem_mb": 16000, "runtime": 720},
    "cifar100": {"threads": 4, "mem_mb": 16000, "runtime": 720},
    "imagenet": {"threads": 8, "mem_mb": 64000, "runtime": 4320},
}


def global_resource(name):
    """A value given on the command line or in a profile (--cores, --resources NAME=N), read at
    parse time; None where not given (cluster runs may leave --cores unset)."""
    try:
        value = workflow.global_resources[name]
    except (KeyError, ValueError, WorkflowError):
        return None
    value = getattr(value, "value", value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# The machine as Snakemake was told: --cores (threads of local jobs are capped by it anyway)
# and --resources gpu=N (GPUs the jobs hold at once).
CORES = global_resource("_cores")
GPUS = global_resource("gpu")


def cpu_threads(fallback):
    """Threads of a CPU stage that runs once per dataset (store, features, graph, data): every
    core Snakemake was given; `fallback` where --cores is unset (cluster runs)."""
    return CORES if CORES else fallback


def gpu_share_threads(fallback):
    """Threads of a job holding one GPU: its share of --cores when --resources gpu=N is given, so
    `--cores 16 --resources gpu=4` runs four jobs of 4 threads; `fallback` otherwise."""
    if CORES and GPUS:
        return max(1, CORES // GPUS)
    return fallback


def training_threads(wildcards):
    return gpu_share_threads(
        TRAINING_RESOURCES[dataset_config(wildcards.dataset)["kind"]]["threads"]
    )


def training_workers(wildcards):
    """DataLoader workers of ImageNet-style data (job params: fixed per dataset kind)."""
    return TRAINING_RESOURCES[dataset_config(wildcards.dataset)["kind"]]["threads"]


def training_mem_mb(wildcards):
    return TRAINING_RESOURCES[dataset_config(wildcards.dataset)["kind"]]["mem_mb"]


def training_runtime(wildcards):
    return TRAINING_RESOURCES[dataset_config(wildcards.dataset)["kind"]]["runtime"]


def prepare_params(wildcards):
    """The dataset entry as JSON; a missing root stops the DAG here, naming the key."""
    from layerwise.data.prepare import check_root
    from layerwise.errors import InputError

    cfg = dataset_config(wildcards.dataset)
    if cfg["kind"] != "synthetic":
        try:
            check_root(wildcards.dataset, cfg)
        except InputError as err:
            raise WorkflowError(str(err)) from None
    return as_json(cfg)


def root_listing(wildcards):
    """Digest of the dataset root's file listing: a changed root reruns prepare_data."""
    from layerwise.data.prepare import root_fingerprint
    from layerwise.errors import InputError

    try:
        return root_fingerprint(wildcards.dataset, dataset_config(wildcards.dataset))
    except InputError as err:
        raise WorkflowError(str(err)) from None


def training_store(wildcards):
    """The store a training job reads: ImageNet-style data with loader `store`, else nothing."""
    cfg = dataset_config(wildcards.dataset)
    if cfg["kind"] == "imagenet" and cfg["loader"] == "store":
        return f"results/{wildcards.dataset}/store.h5"
    return []


def batch_samplers():
    """Batch files of the demo (`all`), every robust sampler and one random-s<seed> per seed."""
    return list(config["batches"]["samplers"]) + [
        f"random-s{seed}" for seed in config["batches"]["random_seeds"]
    ]


def all_targets(wildcards):
    """What `make demo` builds (`all`): the configured dataset through every stage, and the
    tables on the datasets their keys name (layerwise/autoencoder/parsimonious.dataset ...).
    """
    data, lw = config["dataset"], layerwise_dataset()
    ae = config["autoencoder"].get("dataset") or data
    res = config["autoencoder"].get("residual_dataset") or ae
    pars = config["parsimonious"].get("dataset") or data
    for key, name in (
        ("layerwise.dataset", lw),
        ("autoencoder.dataset", ae),
        ("autoencoder.residual_dataset", res),
        ("parsimonious.dataset", pars),
    ):
        if name not in config["datasets"]:
            raise WorkflowError(
                f"config {key}={name!r} is not a key of `datasets` "
                f"({', '.join(sorted(config['datasets']))}); name one, or null for `dataset`"
            )
    targets = [f"results/{data}/data.h5"]
    if dataset_config(data)["kind"] != "imagenet":
        targets.append(f"results/{data}/figures/samples.png")
    targets += expand(
        "results/{dataset}/batches/{sampler}.h5", dataset=data, sampler=batch_samplers()
    )
    targets += expand(
        "results/{dataset}/figures/partition_{name}.png",
        dataset=data,
        name=["runtime", "queues", "factor"],
    )
    targets += [
        f"results/{lw}_table3.csv",
        f"results/{lw}/figures/layerwise_table3_accuracy.png",
    ]
    targets += AE_PLAN.demo_targets(ae, res)
    targets.append(f"results/{data}_clustering.csv")
    if probe_files(config, lw, preset_layers):
        targets.append(f"results/{lw}/figures/probes.png")
    targets.append(f"results/{pars}_parsimonious.csv")
    # issue 22: sequential vs decoupled greedy, where the profile has the table
    if "decoupled" in LW_PLAN.profile(lw)["tables"]:
        targets.append(f"results/{lw}_decoupled.csv")
    targets.append("results/plan_vs_measured.csv")
    return targets


# ---- input and params functions of data.smk ----


def store_params(wildcards):
    return as_json(dataset_config(wildcards.dataset)["store"])


# ---- input and params functions of graph.smk ----


def graph_features_input(wildcards):
    """Autoencoder features only when the graph is built on them: pixels wait for nothing."""
    if wildcards.features == "pixels":
        return []
    return (
        f"results/{wildcards.dataset}/autoencoder/{wildcards.features[3:]}/features.h5"
    )


def graph_params(wildcards):
    """The graph section with `features` taken from the file stem (pixels | ae-<name>)."""
    features = wildcards.features.replace("ae-", "ae:", 1)
    return as_json(dict(config["graph"], features=features))


def features_arg(wildcards, input):
    return f"--features-file {shlex.quote(input.features)}" if input.features else ""


# ---- input and params functions of batches.smk ----


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


def partition_graph(wildcards):
    """The graph a partition reads; first, batch sizes that do not fit the training set stop the run."""
    check_fit(wildcards.dataset, wildcards.sampler)
    return f"results/{wildcards.dataset}/graph/{GRAPH_STEM}.h5"


def check_fit(dataset, sampler):
    problem = fit_problem(config, dataset, sampler)
    if problem:
        raise WorkflowError(f"{problem}\n{FIX}")


def partition_mem_mb(wildcards, input):
    """The graph's entries and the first level's blocks (layerwise.submodular.memory; docs/batches.md)."""
    from layerwise.submodular.memory import partition_mem_mb as estimate

    own = BATCHES_PARAMS[wildcards.dataset]
    return estimate(input.graph, wildcards.sampler, own["batch_size"], own["levels"])


def partition_params(wildcards):
    return as_json(BATCHES_PARAMS[wildcards.dataset])


def partition_figures_params(wildcards):
    return as_json(
        {
            "batch_size": BATCHES_PARAMS[wildcards.dataset]["batch_size"],
            "figures": config["batches"]["figures"],
        }
    )


# ---- input and params functions of layerwise.smk ----


def run_batches(wildcards):
    """The run's batches file; none for shuffle-s<seed> (whose batch size must fit the training set)."""
    if wildcards.sampler.startswith("shuffle-"):
        check_fit(wildcards.dataset, wildcards.sampler)
    return LW_PLAN.batches_input(wildcards.dataset, wildcards.sampler)


def batches_arg(wildcards, input):
    return LW_PLAN.batches_arg(input.batches)


def previous_weights(wildcards):
    """weights.pt of the layers below: layer j trains on the frozen layers 1..j-1."""
    return LW_PLAN.previous_weights(
        wildcards.dataset,
        wildcards.preset,
        wildcards.sampler,
        wildcards.seed,
        wildcards.layer,
    )


# Params functions take wildcards only: Snakemake reruns a job whose params changed only then.
# ImageNet-style data: the DataLoader workers are the CPU-only threads of the dataset kind.
def layer_params(wildcards):
    return LW_PLAN.job_params(
        wildcards.dataset,
        wildcards.preset,
        wildcards.sampler,
        wildcards.seed,
        wildcards.layer,
        threads=training_workers(wildcards),
    )


def e2e_params(wildcards):
    return LW_PLAN.job_params(
        wildcards.dataset,
        wildcards.preset,
        wildcards.sampler,
        wildcards.seed,
        threads=training_workers(wildcards),
    )


def table_inputs(wildcards):
    return LW_PLAN.table_inputs(wildcards.dataset, wildcards.table)


def table_rows(wildcards):
    return as_json(LW_PLAN.table_rows(wildcards.dataset, wildcards.table))


# ---- input and params functions of autoencoder.smk ----


def residual_params(wildcards):
    return AE_PLAN.residual_params(wildcards.ae)


def augmented_init(wildcards):
    """The previous section 4.1 step's model.pt (none for step 1)."""
    return AE_PLAN.augmented_init(wildcards.dataset, wildcards.ae)


def augmented_params(wildcards):
    return AE_PLAN.augmented_params()


def init_arg(wildcards, input):
    return f"--init {shlex.quote(input.init)}" if input.init else ""


def extract_params(wildcards):
    return as_json({"batch_size": config["autoencoder"]["extract_batch_size"]})


def report_evals(wildcards):
    return AE_PLAN.report_evals(wildcards.dataset)


def report_residual(wildcards):
    return AE_PLAN.report_residual(wildcards.dataset)


# ---- input and params functions of clustering.smk ----


def clustering_params(wildcards):
    return as_json(config["clustering"])


def clustering_runs(wildcards):
    return expand(
        "results/{dataset}/clustering/{method}-{head}-s{seed}.h5",
        dataset=wildcards.dataset,
        method=config["clustering"]["methods"],
        head=config["clustering"]["heads"],
        seed=config["clustering"]["seeds"],
    )


# ---- input and params functions of probes.smk ----


def probes_params(wildcards):
    return as_json(config["probes"])


def probe_inputs(wildcards):
    return probe_files(config, wildcards.dataset, preset_layers)


def probe_figure_groups(wildcards):
    return as_json(probe_groups(config, wildcards.dataset))


# ---- input and params functions of parsimonious.smk ----


def parsimonious_params(wildcards):
    # `dataset` picks the demo's target only: changing it must not rerun other datasets' jobs
    return as_json({k: v for k, v in config["parsimonious"].items() if k != "dataset"})


def parsimonious_runs(wildcards):
    return expand(
        "results/{dataset}/parsimonious/{method}-s{seed}.h5",
        dataset=wildcards.dataset,
        method=config["parsimonious"]["methods"],
        seed=config["parsimonious"]["seeds"],
    )


# ---- input and params functions of report.smk ----


def plan_inputs(wildcards):
    """Every target of `all` except the comparison itself, which runs after their jobs."""
    return [t for t in all_targets(wildcards) if t != "results/plan_vs_measured.csv"]


def plan_config(wildcards):
    return as_json(config)


# ---- input and params functions of decoupled.smk ----


def decoupled_groups(wildcards):
    """GPUs a decoupled job leases: one per block group (async), one for sync."""
    model = LW_PLAN.model(wildcards.dataset, wildcards.preset)
    d = model.get("decoupled") or {}
    return int(d.get("groups", 1)) if d.get("mode", "sync") == "async" else 1


def decoupled_threads(wildcards):
    """Async groups on the CPU run side by side: at least one core per group."""
    return max(training_threads(wildcards), decoupled_groups(wildcards))


def decoupled_params(wildcards):
    return LW_PLAN.job_params(
        wildcards.dataset,
        wildcards.preset,
        wildcards.sampler,
        wildcards.seed,
        threads=training_threads(wildcards),
    )


def decoupled_table_inputs(wildcards):
    rows = LW_PLAN.decoupled_rows(wildcards.dataset)
    return sorted({p for row in rows for paths in row["runs"].values() for p in paths})


def decoupled_table_rows(wildcards):
    return as_json(LW_PLAN.decoupled_rows(wildcards.dataset))
