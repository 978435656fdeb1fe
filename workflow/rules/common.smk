# Helpers shared by all stages: config lookups, JSON params, the launcher prefix.
import json

# The library (workflow/scripts, put on sys.path by the Snakefile) is imported by input/param
# functions too (e.g. root checks at DAG time).

# Every rule runs in the pinned environment (conda users) or in .venv (make).
CONDA_ENV = "../../envs/environment.yaml"


def dataset_config(dataset):
    """The validated config entry of one dataset (see workflow/schemas/dataset.schema.yaml)."""
    if dataset not in config["datasets"]:
        raise WorkflowError(
            f"dataset {dataset!r} is not configured; config `datasets` has: "
            f"{', '.join(sorted(config['datasets']))}. Pick one (--config dataset=NAME) "
            'or add an entry under `datasets` (README "Datasets").'
        )
    return config["datasets"][dataset]


def layerwise_dataset():
    """Dataset of the layer-wise Table 3 and probes that rule all builds (layerwise.dataset)."""
    return config["layerwise"].get("dataset") or config["dataset"]


def as_json(obj):
    """Params travel to entry scripts as one JSON argument, so a job sees only its own params."""
    return json.dumps(obj, sort_keys=True)


# Prefix of every training command, which takes the job's GPU lease (launch.py);
# training rules prepend it to their shell command in Python.
LAUNCH = "python workflow/scripts/launch.py --gpus {resources.gpu} --"


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
