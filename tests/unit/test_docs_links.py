"""Every relative link in README.md, docs/*.md and config/README.md resolves.

Catches a page moved or renamed without its links, and a link to a section
(``page.md#anchor``) whose heading was reworded.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "config" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose(path):
    """The page's lines outside fenced code blocks (a bash ``#`` comment is no heading)."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchor(heading):
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    return {anchor(line.lstrip("#")) for line in prose(path) if re.match(r"#{1,6} ", line)}


def links(path):
    for line in prose(path):
        for target in LINK.findall(line):
            if not re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                yield target


def test_anchor_matches_github():
    assert anchor(" Profiles: one machine, GPUs, SLURM") == "profiles-one-machine-gpus-slurm"
    assert anchor(" ImageNet: the training-image store") == "imagenet-the-training-image-store"


def test_pages_exist_and_link_to_each_other():
    assert (ROOT / "docs").is_dir() and len(PAGES) > 3
    readme_links = set(links(ROOT / "README.md"))
    assert "config/README.md" in readme_links
    for page in sorted((ROOT / "docs").glob("*.md")):  # no orphan page
        assert any(t.split("#")[0] == f"docs/{page.name}" for t in readme_links), page.name


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in links(page):
        file, _, fragment = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            broken.append(f"{target}: no file {dest}")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target}: no heading with anchor #{fragment} in {dest.name}")
    assert not broken, f"{page.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)
