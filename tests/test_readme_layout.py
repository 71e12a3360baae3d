"""README's Layout section names every package and module of src/monodepthkit, and only those."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "monodepthkit"


def layout_tree() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Layout\n", 1)[1]
    return section.split("```\n", 2)[1]


def named_in_layout() -> set[str]:
    """Paths relative to src/monodepthkit the tree names: ``data/``, ``data/batch.py``, ..."""
    names, folders = set(), []
    for line in layout_tree().splitlines()[1:]:  # the first line is src/monodepthkit/
        indent = (len(line) - len(line.lstrip())) // 2
        tokens = re.findall(r"^\s*((?:\w+(?:\.py|/)(?:\s+|$))*)", line)[0].split()
        if not tokens:
            continue  # a continuation line of a description
        folders = folders[: indent - 1]
        for token in tokens:
            names.add("".join(folders) + token)
        if tokens[-1].endswith("/"):
            folders.append(tokens[-1])
    return names


def in_source() -> set[str]:
    """Every package folder and module, except __init__.py and the modules of a package the
    tree lists as one line (a folder with no file of it named)."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if path.name != "__init__.py":
            found.add(relative.as_posix())
        for parent in relative.parents:
            if parent != Path("."):
                found.add(parent.as_posix() + "/")
    return found


def test_the_layout_tree_matches_the_source_tree():
    named, actual = named_in_layout(), in_source()
    collapsed = {
        folder
        for folder in named
        if folder.endswith("/")
        and not any(other.startswith(folder) and other != folder for other in named)
    }
    actual = {
        path for path in actual if not any(path.startswith(c) and path != c for c in collapsed)
    }
    assert not named - actual, f"README Layout names what src/ lacks: {sorted(named - actual)}"
    assert not actual - named, f"README Layout misses: {sorted(actual - named)}"
