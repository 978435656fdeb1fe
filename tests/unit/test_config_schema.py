"""The config schema: every key typed, defaulted and described; unknown keys rejected."""

from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "workflow" / "schemas"


def _load_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def _resolve(ref, doc):
    """A subschema for ``ref``: another file beside this one, or ``#/...`` inside ``doc``."""
    if ref.startswith("#/"):
        target = doc
        for part in ref[2:].split("/"):
            target = target[part]
        return target, doc
    other = yaml.safe_load((SCHEMAS / ref).read_text())
    return other, other


def _walk(schema, where, doc):
    for key, sub in schema.get("properties", {}).items():
        here = f"{where}.{key}"
        yield here, sub
        if "$ref" in sub:
            target, target_doc = _resolve(sub["$ref"], doc)
            yield from _walk(target, here, target_doc)
        else:
            yield from _walk(sub, here, doc)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        if "$ref" in extra:
            target, target_doc = _resolve(extra["$ref"], doc)
            yield from _walk(target, f"{where}.*", target_doc)
        else:
            yield from _walk(extra, f"{where}.*", doc)


def test_every_key_has_type_default_description():
    root = yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text())
    missing = []
    for key, sub in _walk(root, "config", root):
        typed = "type" in sub or "$ref" in sub or "enum" in sub
        if not (typed and "default" in sub and "description" in sub):
            missing.append(key)
    assert not missing, f"keys without type/default/description: {missing}"


def validate_config(cfg):
    """What the Snakefile does: the whole config, then each $ref section for its defaults."""
    validate(cfg, str(SCHEMAS / "config.schema.yaml"))
    for key, sub in yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text())["properties"].items():
        if "$ref" in sub:
            validate(cfg[key], str(SCHEMAS / sub["$ref"]))
    for entry in cfg["datasets"].values():
        validate(entry, str(SCHEMAS / "dataset.schema.yaml"))


def test_shipped_config_validates_and_gets_defaults():
    cfg = _load_config()
    validate_config(cfg)
    assert cfg["datasets"]["imagenet"]["synthetic"]["n_train"] == 5000  # filled default


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.update(datset="synthetic"),
        lambda c: c["datasets"]["synthetic"]["synthetic"].update(n_trian=10),
        lambda c: c["datasets"]["synthetic"].update(kind="mnist"),
        lambda c: c["datasets"]["synthetic"]["synthetic"].update(patch_size="two"),
    ],
)
def test_unknown_or_mistyped_keys_are_rejected(mutate):
    cfg = _load_config()
    mutate(cfg)
    with pytest.raises(WorkflowError):
        validate_config(cfg)
