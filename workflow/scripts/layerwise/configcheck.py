"""Config checks for the Snakefile: command-line values typed per the schema, and short errors.

Snakemake parses ``--config key=value`` with YAML's base loader when the value is
nested (``--config graph='{knn: 10}'``), so every nested number arrives as the
string ``'10'``. :func:`coerce_overrides` parses such strings where the schema
wants a number, integer, boolean or null. Snakemake's own validation error prints
the whole schema (90-430 lines); :func:`explain` reduces it to the key, the value,
what the schema expects and where to fix it.
"""

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import jsonschema
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCALARS = {"integer", "number", "boolean", "null"}


def validator(schema_path):
    """A Draft 2020-12 validator of ``schema_path`` resolving its relative ``$ref`` files."""
    schema_path = Path(schema_path).resolve()
    schema = yaml.safe_load(schema_path.read_text())
    schema["$id"] = schema_path.as_uri()

    def retrieve(uri):
        return Resource.from_contents(yaml.safe_load(Path(url2pathname(urlparse(uri).path)).read_text()))

    return Draft202012Validator(schema, registry=Registry(retrieve=retrieve))


def _leaves(errors):
    for err in errors:
        yield err
        yield from _leaves(err.context or ())


def _given(overrides, path):
    """Whether ``path`` (keys and list indices) lies inside what the command line set."""
    node = overrides
    for key in path:
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return False
    return True


def _set(config, path, value):
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def coerce_overrides(config, overrides, schema_path):
    """Parse strings given on the command line where the schema expects a scalar of another type.

    Only values inside ``overrides`` (Snakemake's ``--config`` entries) change: a
    config file's ``knn: "10"`` stays an error. Returns the dotted keys changed.
    """
    check = validator(schema_path)
    changed = []
    for _ in range(1000):  # one value per pass: paths shift as values change
        for err in _leaves(check.iter_errors(config)):
            path = list(err.absolute_path)
            wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
            if err.validator != "type" or not isinstance(err.instance, str) or not SCALARS & set(wanted):
                continue
            if not path or not _given(overrides, path):
                continue
            try:
                value = yaml.safe_load(err.instance)
            except yaml.YAMLError:
                continue
            if any(check.is_type(value, t) for t in wanted):
                _set(config, path, value)
                changed.append(".".join(map(str, path)))
                break
        else:
            return changed
    return changed


def _expected(schema):
    parts = []
    if "type" in schema:
        parts.append(" or ".join(schema["type"]) if isinstance(schema["type"], list) else schema["type"])
    if "enum" in schema:
        parts.append("one of " + ", ".join(map(str, schema["enum"])))
    for word, key in (("at least", "minimum"), ("at most", "maximum"), ("matching", "pattern")):
        if key in schema:
            parts.append(f"{word} {schema[key]}")
    text = ", ".join(parts) or "see the schema"
    desc = " ".join(str(schema.get("description", "")).split())
    if desc:
        text += f" ({desc[:160]}{'...' if len(desc) > 160 else ''})"
    return text


def explain(error, prefix=""):
    """A few lines for a jsonschema ValidationError: the key, the problem, what is expected, the fix."""
    original = error
    while error is not None and not isinstance(error, jsonschema.ValidationError):
        error = error.__cause__ or error.__context__  # Snakemake raises from within its except
    if error is None:
        return str(original)
    error = jsonschema.exceptions.best_match([error])
    key = ".".join([p for p in [prefix] if p] + [str(p) for p in error.absolute_path]) or "(top level)"
    lines = [
        f"invalid config at {key}: {error.message}",
        f"  expected: {_expected(error.schema)}",
        "  Fix it in config/config.yaml or in a file given with --configfile (the keys are documented "
        "in workflow/schemas/ and config/README.md). Values nested in --config arrive as strings; "
        "numbers there are converted, anything else belongs in a --configfile.",
    ]
    return "\n".join(lines)


# ---- checks the schema cannot express, run at start-up (the Snakefile) ----
# A mistake found inside a job is found after Snakemake deleted that job's old outputs,
# and fixing it reruns everything downstream: whatever can be checked from the config
# alone is checked before any job starts.

FIX = "Fix it in config/config.yaml or in a file given with --configfile (config/README.md)."


def batch_settings(config, dataset):
    """``(batch_size, levels, key)``: the dataset's entry in batches.datasets over the global ones."""
    batches = config["batches"]
    own = (batches.get("datasets") or {}).get(dataset) or {}
    key = f"batches.datasets.{dataset}" if own else "batches"
    size = own.get("batch_size") or batches["batch_size"]
    levels = own["levels"] if own.get("levels") is not None else batches["levels"]
    return size, list(levels), key


def train_size(entry):
    """The training set size where the config alone gives it (synthetic data), else None."""
    if entry.get("kind") == "synthetic":
        return (entry.get("synthetic") or {}).get("n_train")
    return None


def _level_problems(size, levels, key):
    sizes = [*levels, size]
    for i in range(len(sizes) - 1):
        nxt = f"{key}.batch_size" if i == len(sizes) - 2 else f"{key}.levels[{i + 1}]"
        if sizes[i] <= sizes[i + 1]:
            return [f"invalid config at {key}.levels[{i}]: {sizes[i]} is not larger than {nxt}={sizes[i + 1]}; "
                    "levels decrease strictly down to the batch size (e.g. [1024, 512] over 128)"]
        if sizes[i] % sizes[i + 1]:
            return [f"invalid config at {key}.levels[{i}]: {sizes[i]} is not a multiple of {nxt}={sizes[i + 1]}; "
                    "blocks split into whole sub-blocks (e.g. [1024, 512] over 128)"]
    return []


def _uses(config, kind):
    return kind in config["batches"].get("samplers", []) or kind in config["layerwise"].get("samplers", [])


def batch_problems(config, gpus=None):
    """Levels, batch sizes against the training set and against GPU ranks, per dataset.

    ``gpus``: {rule: GPU count} from ``--set-resources RULE:gpu=N``; a layer-wise training
    job splits each global batch over its ranks, so the batch size must be a multiple.
    """
    problems = []
    hier = _uses(config, "robust-hier")
    training = {rule: n for rule, n in (gpus or {}).items() if rule in ("train_layer", "train_e2e") and n > 1}
    for name in config["datasets"]:
        size, levels, key = batch_settings(config, name)
        if hier:
            problems += _level_problems(size, levels, key)
        if name in config["layerwise"]["profiles"]:
            for rule, ranks in sorted(training.items()):
                if size % ranks:
                    problems.append(f"invalid config at {key}.batch_size: {size} does not split over the {ranks} "
                                    f"GPUs of --set-resources {rule}:gpu={ranks}; use a multiple of {ranks}")
    return problems


def fit_problem(config, dataset, sampler):
    """Whether the dataset's batch settings fit its training set, where the config gives its size.

    Run by the input functions of the jobs that use them (partition_batches, and training
    with shuffle-s<seed>), so only for datasets in the DAG, and still before any job starts.
    """
    n = train_size(config["datasets"][dataset])
    if n is None:
        return None
    size, levels, key = batch_settings(config, dataset)
    where = f"dataset {dataset!r} (datasets.{dataset}.synthetic.n_train={n})"
    if size > n:
        return (f"invalid config at {key}.batch_size: {size} is larger than the training set of {where}, "
                f"so {sampler} would make one batch of the whole set; lower it to at most {n}")
    if sampler == "robust-hier" and levels and levels[0] >= n:
        return (f"invalid config at {key}.levels[0]: {levels[0]} is not smaller than the training set of {where}; "
                "lower it or drop the level")
    return None


def table_problems(config):
    """Every preset a layer-wise table lists is a model of the same profile."""
    problems = []
    for dataset, profile in config["layerwise"]["profiles"].items():
        models = profile.get("models") or {}
        for table, presets in (profile.get("tables") or {}).items():
            for preset in presets:
                if preset not in models:
                    problems.append(
                        f"invalid config at layerwise.profiles.{dataset}.tables.{table}: preset {preset!r} is not "
                        f"a key of layerwise.profiles.{dataset}.models (valid: {', '.join(sorted(models))}); "
                        "correct the name or add the model"
                    )
    return problems


def gpu_overrides(overwrite_resources):
    """{rule: GPU count} of Snakemake's ``--set-resources RULE:gpu=N`` (integers only)."""
    out = {}
    for rule, resources in (overwrite_resources or {}).items():
        value = (resources or {}).get("gpu")
        value = getattr(value, "value", value)  # a snakemake.resources.Resource
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            out[rule] = int(value)
    return out


def startup_problems(config, gpus=None):
    """All problems found from the config alone; the Snakefile stops on any, before a job starts."""
    problems = batch_problems(config, gpus) + table_problems(config)
    return list(dict.fromkeys(problems))  # datasets sharing the global settings share a problem
