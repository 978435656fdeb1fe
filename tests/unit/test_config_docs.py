"""config/README.md is generated from workflow/schemas/*.yaml and must match them.

Catches: a schema edited without regenerating the page; a key added to a
config file but not to the schema; a --check that passes whatever the schema
says; a YAML slip that turns a description into a bogus schema keyword.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import config_docs  # workflow/scripts is on pytest's pythonpath (pytest.ini)

ROOT = Path(__file__).resolve().parents[2]

PAGE = ROOT / "config" / "README.md"
SCRIPT = ROOT / "workflow" / "scripts" / "config_docs.py"
# Every config file a user or the tests run with: the shipped one, the reduced
# real-data profiles, and the catalog's .test/ config once it exists.
CONFIGS = sorted((ROOT / "config").rglob("*.yaml")) + sorted((ROOT / ".test").glob("*.yaml"))
KEYWORDS = {
    "$schema", "$ref", "$defs", "title", "description", "type", "default", "enum",
    "properties", "additionalProperties", "propertyNames", "required", "pattern",
    "items", "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf",
}


def config_paths(node, prefix=()):
    """Dotted paths of every mapping key in a config (lists are values, not keys)."""
    for key, value in node.items():
        path = prefix + (str(key),)
        yield path
        if isinstance(value, dict):
            yield from config_paths(value, path)


def documented(path, patterns):
    """True if some documented pattern matches ``path``; ``<...>`` parts match any key."""
    for pattern in patterns:
        if len(pattern) == len(path) and all(
            p == k or (p.startswith("<") and p.endswith(">")) for p, k in zip(pattern, path, strict=True)
        ):
            return True
    return False


@pytest.fixture(scope="module")
def patterns():
    # Split on dots outside <...> placeholders (none of them contain a dot).
    return [tuple(p.split(".")) for p in config_docs.documented_paths()]


def run_check(*args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", *args],
        capture_output=True, text=True, cwd=ROOT,
    )


def test_committed_page_matches_the_schemas():
    assert PAGE.read_text() == config_docs.render(), (
        "config/README.md is stale: run python workflow/scripts/config_docs.py"
    )
    result = run_check()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("hashseed", ["1", "2"])
def test_generation_is_the_same_in_another_process(tmp_path, hashseed):
    """A fresh interpreter with another string-hash seed writes the committed page byte for
    byte (a set or dict order that depends on hashing would reorder rows)."""
    out = tmp_path / "README.md"
    env = {"PYTHONHASHSEED": hashseed, "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, cwd=ROOT, env=env)
    assert out.read_bytes() == PAGE.read_bytes()


def test_every_config_key_has_a_documented_row(patterns):
    assert CONFIGS, "no config files found"
    missing = []
    for config in CONFIGS:
        for path in config_paths(yaml.safe_load(config.read_text()) or {}):
            if not documented(path, patterns):
                missing.append(f"{config.relative_to(ROOT)}: {'.'.join(path)}")
    assert not missing, "keys without a schema entry / config/README.md row:\n" + "\n".join(missing)


def test_the_key_matcher_rejects_undocumented_keys(patterns):
    # The test above is only as good as `documented`: an unknown key must fail it.
    assert documented(("datasets", "mine", "synthetic", "seed"), patterns)
    assert documented(("layerwise", "profiles", "x", "models", "y", "schedule", "lr"), patterns)
    assert not documented(("graph", "no_such_key"), patterns)
    assert not documented(("datasets", "mine", "no_such_key"), patterns)
    assert not documented(("no_such_section",), patterns)


def test_every_key_has_a_description():
    blank = [row.path for _, _, rows in config_docs.sections(config_docs.SCHEMAS)
             for row in rows if not row.description]
    assert not blank, f"schema entries without a description: {blank}"


def test_defaults_and_enums_come_from_the_schema():
    page = PAGE.read_text()
    # Values read from the schema files by hand, through a $ref each.
    assert "| `graph.knn` | integer | `20` |" in page
    assert "| `batches.method` | string | `onthefly` | one of `onthefly`, `lazy` |" in page
    assert "| `datasets.<name>.kind` | string | `synthetic` | required; one of" in page
    assert "| `clustering.jl.kmeans_iterations` | integer | `30` | ≥ 1 |" in page  # $defs via $ref
    assert "| `layerwise.profiles.<dataset>.models.<preset>.arch` |" in page


@pytest.mark.parametrize("change", ["description", "default"])
def test_check_fails_when_a_schema_changes(tmp_path, change):
    schemas = tmp_path / "schemas"
    shutil.copytree(config_docs.SCHEMAS, schemas)
    graph = schemas / "graph.schema.yaml"
    data = yaml.safe_load(graph.read_text())
    if change == "description":
        data["properties"]["knn"]["description"] = "A changed description."
    else:
        data["properties"]["knn"]["default"] = 21
    graph.write_text(yaml.safe_dump(data, sort_keys=False))

    result = run_check("--schemas", str(schemas))
    assert result.returncode == 1
    assert "config/README.md" in result.stderr and "out of date" in result.stderr
    assert "python workflow/scripts/config_docs.py" in result.stderr

    # Regenerating from the altered schemas makes the check pass again.
    page = tmp_path / "README.md"
    subprocess.run([sys.executable, str(SCRIPT), "--schemas", str(schemas), "--out", str(page)],
                   check=True, cwd=ROOT)
    assert run_check("--schemas", str(schemas), "--out", str(page)).returncode == 0
    assert ("A changed description." in page.read_text()) == (change == "description")


def test_check_fails_when_the_page_is_missing(tmp_path):
    result = run_check("--out", str(tmp_path / "README.md"))
    assert result.returncode == 1 and "is missing" in result.stderr


def _keywords(node, where, bad):
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "default":
            continue  # data, not schema
        if key in ("properties", "$defs"):
            for name, child in value.items():
                _keywords(child, f"{where}.{name}", bad)
            continue
        if key not in KEYWORDS:
            bad.append(f"{where}: {key!r}")
        if isinstance(value, dict):
            _keywords(value, f"{where}.{key}", bad)


def test_schemas_use_only_known_keywords():
    # `{description: (cnn, cnn-random) ...}` in a YAML flow mapping once split the
    # text at the comma into a description "(cnn" and a keyword nobody reads.
    bad = []
    for path in sorted(config_docs.SCHEMAS.glob("*.yaml")):
        _keywords(yaml.safe_load(path.read_text()), path.name, bad)
    assert not bad, f"unknown schema keywords (a quoting slip?): {bad}"
