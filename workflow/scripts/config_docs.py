"""Write config/README.md, the reference of every config key, from workflow/schemas/*.yaml.

The schemas are the one place a key's type, default and description live; this
page is generated from them so the two cannot drift (tests/unit/test_config_docs.py
runs ``--check``). Usage::

    python workflow/scripts/config_docs.py            # rewrite config/README.md
    python workflow/scripts/config_docs.py --check    # exit 1 if it is stale

Only PyYAML is needed (no Snakemake, no layerwise import), so the check is cheap.
"""

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "workflow" / "schemas"
OUT = ROOT / "config" / "README.md"
REGENERATE = "python workflow/scripts/config_docs.py"

# Name shown for the free key of a mapping (``additionalProperties``), by the
# mapping's own key; anything else shows as <name>.
PLACEHOLDERS = {
    "profiles": "<dataset>",
    "models": "<preset>",
    "tables": "<table>",
    "paper": "<method>-<head>",
    "paper_settings": "<kind>",
    "schedule": "<key>",
    "presets": "<dataset>",
}


class Schemas:
    """The schema files of one directory, with ``$ref`` resolution (files and ``#/$defs/...``)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.documents = {}

    def document(self, name):
        if name not in self.documents:
            path = self.directory / name
            if not path.is_file():
                raise SystemExit(f"error: {path}: referenced schema file is missing")
            self.documents[name] = yaml.safe_load(path.read_text())
        return self.documents[name]

    def resolve(self, node, doc):
        """``(node, doc)`` with ``$ref`` followed; keys beside ``$ref`` override the target's."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            target_doc, _, pointer = ref.partition("#")
            target_doc = target_doc or doc
            target = self.document(target_doc)
            for part in filter(None, pointer.split("/")):
                target = target[part]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node, doc = {**target, **siblings}, target_doc
        return node, doc


def fmt_type(node):
    kinds = node.get("type")
    if kinds is None:
        return "any"
    kinds = kinds if isinstance(kinds, list) else [kinds]
    items = node.get("items")
    names = []
    for kind in kinds:
        if kind == "array" and isinstance(items, dict) and "type" in items:
            names.append(f"list of {items['type']}")
        else:
            names.append(str(kind))
    return " or ".join(names)


def fmt_value(value):
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def fmt_allowed(node, parent, key):
    """Enum values, numeric range, list length and key restrictions of a node.

    ``key`` is None for the free key of a mapping (``additionalProperties``), which
    the parent's ``propertyNames`` constrains; a named key may be ``required``.
    """
    parts = ["required"] if key in (parent or {}).get("required", []) else []
    for prefix, source in (("", node), ("items ", node.get("items") or {})):
        if source.get("enum"):
            values = ", ".join(f"`{fmt_value(v)}`" for v in source["enum"])
            parts.append(f"{prefix}one of {values}")
    for source in (node, node.get("items") or {}):
        low, high = source.get("minimum"), source.get("maximum")
        xlow, xhigh = source.get("exclusiveMinimum"), source.get("exclusiveMaximum")
        bits = []
        if low is not None:
            bits.append(f"≥ {fmt_value(low)}")
        if xlow is not None:
            bits.append(f"> {fmt_value(xlow)}")
        if high is not None:
            bits.append(f"≤ {fmt_value(high)}")
        if xhigh is not None:
            bits.append(f"< {fmt_value(xhigh)}")
        if bits:
            parts.append(("items " if source is not node else "") + ", ".join(bits))
    if node.get("multipleOf") is not None:
        parts.append(f"multiple of {fmt_value(node['multipleOf'])}")
    if node.get("minItems") is not None or node.get("maxItems") is not None:
        low, high = node.get("minItems"), node.get("maxItems")
        if low is not None and low == high:
            parts.append(f"exactly {low} items")
        else:
            parts.append(", ".join(x for x in (
                f"≥ {low} items" if low is not None else "",
                f"≤ {high} items" if high is not None else "") if x))
    names = ((parent or {}).get("propertyNames") or {}) if key is None else {}
    if names.get("pattern"):
        parts.append(f"key matches `{names['pattern']}`")
    if names.get("enum"):
        parts.append("key one of " + ", ".join(f"`{v}`" for v in names["enum"]))
    return "; ".join(parts)


def fmt_text(text):
    """One line of Markdown: ``<`` and ``*`` outside code spans are escaped so that
    ``root/train/<class>/*.png`` is not read as an HTML tag or emphasis."""
    words = " ".join(str(text or "").split()).split("`")
    for i in range(0, len(words), 2):  # even pieces are outside backticks
        words[i] = words[i].replace("<", "&lt;").replace("*", "\\*")
    return "`".join(words)


def cell(text):
    """A table cell: pipes escaped (GitHub splits on them even inside code spans)."""
    return text.replace("|", "\\|") if text else "—"


class Row:
    def __init__(self, path, node, parent, key):
        self.path = path
        self.type = fmt_type(node)
        self.default = f"`{fmt_value(node['default'])}`" if "default" in node else "—"
        self.allowed = fmt_allowed(node, parent, key)
        self.description = fmt_text(node.get("description"))

    def markdown(self):
        return (f"| `{self.path}` | {self.type} | {cell(self.default)} | {cell(self.allowed)} "
                f"| {cell(self.description)} |")


def walk(schemas, node, doc, path, rows, parent=None, key=""):
    """Append a Row for ``path`` and every key below it, depth first, in schema order."""
    node, doc = schemas.resolve(node, doc)
    rows.append(Row(path, node, parent, key))
    for name, child in (node.get("properties") or {}).items():
        walk(schemas, child, doc, f"{path}.{name}", rows, node, name)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        placeholder = PLACEHOLDERS.get(path.rsplit(".", 1)[-1], "<name>")
        walk(schemas, extra, doc, f"{path}.{placeholder}", rows, node, None)


def sections(schemas_dir):
    """``[(key, intro, rows)]``, one per top-level key of config.schema.yaml."""
    schemas = Schemas(schemas_dir)
    top = schemas.document("config.schema.yaml")
    out = []
    for key, prop in top["properties"].items():
        intro = ""
        if "$ref" in prop:  # the section file's own description
            intro = fmt_text(schemas.document(prop["$ref"].partition("#")[0]).get("description"))
        rows = []
        walk(schemas, prop, "config.schema.yaml", key, rows)
        out.append((key, intro, rows))
    return out


def render(schemas_dir=SCHEMAS):
    schemas_dir = Path(schemas_dir)
    top = Schemas(schemas_dir).document("config.schema.yaml")
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from workflow/schemas/*.yaml by workflow/scripts/config_docs.py;",
        f"     do not edit by hand. After changing a schema run: {REGENERATE} -->",
        "",
        fmt_text(top.get("description")),
        "",
        "Set keys in `config/config.yaml` (the shipped values, commented), override them",
        "with `--configfile my.yaml` or `--config key=value`. Snakemake passes values",
        "nested in `--config` as strings (`--config graph='{knn: 10}'` gives `'10'`);",
        "numbers, booleans and nulls there are converted to the type the schema asks",
        "for, anything more complex belongs in a `--configfile`. An unknown key stops the",
        "run at start-up naming it; an invalid value stops it with three lines: the key,",
        "the value's problem, and what the schema expects.",
        "",
        "Paths are dotted; `<name>` and the like stand for a key you choose (a dataset",
        "name, a preset name). *Default* is the schema's default, used when the key is",
        "absent; `config/config.yaml` may ship another value. `—`: none.",
        "",
        "Sections:",
        "",
    ]
    parts = sections(schemas_dir)
    lines += [f"- [`{key}`](#{key})" for key, _, _ in parts]
    for key, intro, rows in parts:
        lines += ["", f"## {key}", ""]
        if intro:
            lines += [intro, ""]
        lines += ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
        lines += [row.markdown() for row in rows]
    return "\n".join(lines) + "\n"


def documented_paths(schemas_dir=SCHEMAS):
    """Every dotted path with a row (placeholders such as ``<name>`` match any key)."""
    return [row.path for _, _, rows in sections(schemas_dir) for row in rows]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemas", type=Path, default=SCHEMAS, help="schema directory")
    parser.add_argument("--out", type=Path, default=OUT, help="page to write or check")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if --out differs from the schemas")
    args = parser.parse_args(argv)
    text = render(args.schemas)
    if args.check:
        current = args.out.read_text() if args.out.is_file() else None
        if current == text:
            return 0
        if current is None:
            problem = "is missing"
        else:
            old, new = current.splitlines(), text.splitlines()
            line = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
                        min(len(old), len(new)))
            problem = f"is out of date with {args.schemas} (first difference at line {line + 1})"
        print(f"error: {args.out}: {problem}. Regenerate it: {REGENERATE}"
              + ("" if args.schemas == SCHEMAS else f" --schemas {args.schemas}")
              + ("" if args.out == OUT else f" --out {args.out}"), file=sys.stderr)
        return 1
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(args.out)  # atomic: a reader never sees half a page
    return 0


if __name__ == "__main__":
    sys.exit(main())
