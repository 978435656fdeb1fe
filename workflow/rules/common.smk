# Helpers shared by the rule files: config lookups and the Python used by shell rules.
import json

SCRIPTS = "workflow/scripts"
DATASETS = sorted(config["datasets"])


wildcard_constraints:
    dataset="|".join(DATASETS),


def dataset_config(dataset):
    """The validated config entry of one dataset (see workflow/schemas/dataset.schema.yaml)."""
    return config["datasets"][dataset]


def as_json(obj):
    """Params travel to entry scripts as one JSON argument, so a job sees only its own params."""
    return json.dumps(obj, sort_keys=True)


# Prefix of every training command: takes the rule's GPU lease (see launch.py).
LAUNCH = "python workflow/scripts/launch.py --gpus {resources.gpu} --"
