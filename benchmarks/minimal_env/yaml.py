"""``yaml.safe_load`` for the YAML this project's configs use, on machines without PyYAML.

benchmarks/gpu_acceptance.sh puts this folder on PYTHONPATH only when ``import
yaml`` fails (a GPU machine with nothing but torch, torchvision, h5py, numba,
scikit-learn and pandas). It reads block mappings and sequences, flow
collections (also across lines), anchors and aliases, comments, quoted and
plain scalars resolved as PyYAML's YAML 1.1 resolver does (``1e-4`` is a
string there, ``1.0e-4`` a float); anything else raises ``ValueError`` naming
the line. tests/unit/test_gpu_acceptance.py compares it with PyYAML on every
config of the repository.
"""

import re

__all__ = ["safe_load", "YAMLError"]


class YAMLError(ValueError):
    pass


_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_FLOAT = re.compile(r"^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?$")
_BOOL = {"yes": True, "no": False, "on": True, "off": False, "true": True, "false": False}


def _scalar(text):
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text.lower() in _BOOL and text in (text.lower(), text.capitalize(), text.upper()):
        return _BOOL[text.lower()]
    if _INT.match(text):
        return int(text.replace("_", ""))
    if _FLOAT.match(text) and text not in (".", "+.", "-."):
        return float(text.replace("_", ""))
    if text.lower() in (".inf", "+.inf", "-.inf", ".nan"):
        return float(text.lower().lstrip("+").replace(".", ""))
    return text


def _uncomment(line):
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"" and (i == 0 or line[i - 1] in " \t[{,:"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


class _Flow:
    """Recursive descent over one flow value: ``{a: 1, b: [x, 'y']}``."""

    def __init__(self, text, where, anchors):
        self.s, self.i, self.where, self.anchors = text, 0, where, anchors

    def fail(self, what):
        raise YAMLError(f"{self.where}: {what} at {self.s[self.i:self.i + 20]!r}")

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\n":
            self.i += 1

    def value(self, stops):
        self.ws()
        ch = self.s[self.i] if self.i < len(self.s) else ""
        if ch == "{":
            return self.mapping()
        if ch == "[":
            return self.sequence()
        if ch in "'\"":
            return self.quoted()
        if ch == "*":
            name = self.plain(stops)[1:]
            if name not in self.anchors:
                self.fail(f"unknown alias *{name}")
            return self.anchors[name]
        return _scalar(self.plain(stops))

    def plain(self, stops):
        start = self.i
        while self.i < len(self.s) and self.s[self.i] not in stops:
            if self.s[self.i] == ":" and ":" in stops and (self.i + 1 == len(self.s) or self.s[self.i + 1] in " ,]}"):
                break
            self.i += 1
        return self.s[start : self.i].strip()

    def quoted(self):
        q = self.s[self.i]
        out, self.i = [], self.i + 1
        while self.i < len(self.s):
            ch = self.s[self.i]
            if q == "'" and ch == "'" and self.s[self.i + 1 : self.i + 2] == "'":
                out.append("'")
                self.i += 2
                continue
            if ch == q:
                self.i += 1
                return "".join(out)
            if q == '"' and ch == "\\":
                nxt = self.s[self.i + 1]
                out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
                self.i += 2
                continue
            out.append(ch)
            self.i += 1
        self.fail("unterminated string")

    def mapping(self):
        self.i += 1
        out = {}
        while True:
            self.ws()
            if self.s[self.i] == "}":
                self.i += 1
                return out
            key = self.quoted() if self.s[self.i] in "'\"" else _scalar(self.plain(":,}"))
            self.ws()
            if self.s[self.i] == ":":
                self.i += 1
                out[key] = self.value(",}")
            else:
                out[key] = None
            self.ws()
            if self.s[self.i] == ",":
                self.i += 1
            elif self.s[self.i] != "}":
                self.fail("expected , or }")

    def sequence(self):
        self.i += 1
        out = []
        while True:
            self.ws()
            if self.s[self.i] == "]":
                self.i += 1
                return out
            out.append(self.value(",]"))
            self.ws()
            if self.s[self.i] == ",":
                self.i += 1
            elif self.s[self.i] != "]":
                self.fail("expected , or ]")


def _balance(text):
    depth, quote = 0, None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return depth


_BLOCK = re.compile(r"^(\s*)(.*:)\s+([>|])([-+]?)\s*$")
_UNSET = object()


def _block_scalar(raw, n, indent, style, chomp):
    """The folded (>) or literal (|) scalar starting at raw[n]: (value, next line index)."""
    body = []
    while n < len(raw) and (not raw[n].strip() or len(raw[n]) - len(raw[n].lstrip(" ")) > indent):
        body.append(raw[n])
        n += 1
    while body and not body[-1].strip():
        n -= 1  # trailing blank lines belong to the document (chomping below)
        body.pop()
    if not body:
        return "", n
    cut = min(len(line) - len(line.lstrip(" ")) for line in body if line.strip())
    lines = [line[cut:] if line.strip() else "" for line in body]
    if style == "|":
        text = "\n".join(lines)
    else:
        text, blank = "", False
        for i, line in enumerate(lines):
            if not line:
                text += "\n"
                blank = True
            elif line.startswith((" ", "\t")) or (i and lines[i - 1].startswith((" ", "\t"))):
                text += ("\n" if i and not blank else "") + line
                blank = False
            else:
                text += (" " if i and not blank else "") + line
                blank = False
    return text + ("" if chomp == "-" else "\n"), n


def safe_load(stream):
    text = stream.read() if hasattr(stream, "read") else stream
    lines = []  # (indent, text, line number, value of a block scalar), flow values joined across lines
    raw = text.splitlines()
    n = 0
    while n < len(raw):
        line, number = _uncomment(raw[n]), n + 1
        n += 1
        if not line.strip() or line.strip() in ("---", "..."):
            continue
        block = _BLOCK.match(line)
        if block:
            indent = len(block.group(1))
            value, n = _block_scalar(raw, n, indent, block.group(3), block.group(4))
            lines.append((indent, block.group(2), number, value))
            continue
        while _balance(line) > 0 and n < len(raw):
            line += "\n" + _uncomment(raw[n])
            n += 1
        lines.append((len(line) - len(line.lstrip(" ")), line.strip(), number, _UNSET))
    anchors = {}
    value, pos = _block(lines, 0, anchors)
    if pos != len(lines):
        raise YAMLError(f"line {lines[pos][2]}: unexpected indentation")
    return value


def _inline(text, number, anchors):
    anchor = None
    if text.startswith("&"):
        anchor, _, text = text[1:].partition(" ")
        text = text.strip()
    parser = _Flow(text, f"line {number}", anchors)
    value = parser.value("")
    parser.ws()
    if parser.i != len(text):
        parser.fail("unexpected text")
    if anchor:
        anchors[anchor] = value
    return value


def _split_key(text, number):
    parser = _Flow(text, f"line {number}", {})
    key = parser.quoted() if text[0] in "'\"" else _scalar(parser.plain(":"))
    if parser.i >= len(text) or text[parser.i] != ":":
        raise YAMLError(f"line {number}: expected `key: value`, got {text!r}")
    return key, text[parser.i + 1 :].strip()


def _block(lines, pos, anchors):
    if pos >= len(lines):
        return None, pos
    indent = lines[pos][0]
    if lines[pos][1].startswith("- ") or lines[pos][1] == "-":
        out = []
        while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("-"):
            rest, number = lines[pos][1][1:].strip(), lines[pos][2]
            pos += 1
            if re.match(r"^[^'\"\[{&*][^:]*:( |$)", rest):
                raise YAMLError(f"line {number}: a mapping inside a block sequence is not supported here")
            if rest:
                out.append(_inline(rest, number, anchors))
            else:
                item, pos = _block(lines, pos, anchors) if pos < len(lines) and lines[pos][0] > indent else (None, pos)
                out.append(item)
        return out, pos
    out = {}
    while pos < len(lines) and lines[pos][0] == indent:
        key, rest = _split_key(lines[pos][1], lines[pos][2])
        number, preset = lines[pos][2], lines[pos][3]
        pos += 1
        if preset is not _UNSET:  # a block scalar, read with its raw lines
            out[key] = preset
            continue
        anchor = None
        if rest.startswith("&") and " " not in rest:
            anchor, rest = rest[1:], ""
        if rest:
            out[key] = _inline(rest, number, anchors)
        elif pos < len(lines) and (lines[pos][0] > indent
                                   or (lines[pos][0] == indent and lines[pos][1].startswith("- "))):
            out[key], pos = _block(lines, pos, anchors)
        else:
            out[key] = None
        if anchor:
            anchors[anchor] = out[key]
    if pos < len(lines) and lines[pos][0] > indent:
        raise YAMLError(f"line {lines[pos][2]}: unexpected indentation")
    return out, pos
