"""The package layering of src/monodepthkit: no import cycle, no import from a higher layer.

Every ``import`` and ``from ... import`` of every module counts, at module level or inside a
function, so that a lazy import cannot hide an upward arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "monodepthkit"

# Each package may import from its own layer or a lower one (a lower number), never from a
# higher one; packages of one layer may import each other as long as no cycle forms.
LAYERS: dict[str, int] = {
    "errors": 0,
    "geometry": 1,
    "data": 2,
    "models": 3,
    "losses": 3,
    "eval": 4,  # metrics, protocol, reports and pose math: no model is run here
    "tasks": 5,
    "inference": 6,  # the Predictor and everything that runs a model (evaluation included)
    "checkpoints": 6,
    "compare": 7,
    "training": 7,
    "demo": 7,
    "cli": 8,
    "__init__": 9,  # the root package re-exports the Predictor
}

# Known upward imports, each with the issue that removes it: (importing module, imported module).
ALLOWED_UPWARD: set[tuple[str, str]] = set()


def module_names() -> dict[str, Path]:
    """{dotted module name: file} of every module of the package."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("monodepthkit", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def import_edges(modules: dict[str, Path]) -> dict[str, dict[str, int]]:
    """{module: {imported project module: line}}, imports inside functions included."""
    edges: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target in modules and target != name:
                    found.setdefault(target, node.lineno)
        edges[name] = found
    return edges


def layer_of(module: str) -> str:
    """The layering table's key of a module: its subpackage (or root module) name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def import_cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in edges.get(module, {}):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in edges:
        if module not in index:
            visit(module)
    return cycles


def test_every_package_has_a_layer():
    modules = module_names()
    missing = sorted({layer_of(name) for name in modules} - set(LAYERS))
    assert not missing, f"add these packages to LAYERS in {Path(__file__).name}: {missing}"


def test_no_import_from_a_higher_layer():
    modules = module_names()
    edges = import_edges(modules)
    upward = []
    for module, targets in sorted(edges.items()):
        for target, line in sorted(targets.items()):
            source_layer, target_layer = layer_of(module), layer_of(target)
            if LAYERS[target_layer] <= LAYERS[source_layer]:
                continue
            if (module, target) in ALLOWED_UPWARD:
                continue
            path = modules[module].relative_to(PACKAGE.parent)
            upward.append(
                f"{path}:{line}: {module} imports {target} ({source_layer}, layer "
                f"{LAYERS[source_layer]}, may not import {target_layer}, layer "
                f"{LAYERS[target_layer]})"
            )
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_no_import_cycle():
    edges = import_edges(module_names())
    cycles = import_cycles(edges)
    described = [
        "; ".join(f"{m} imports {sorted(set(edges[m]) & set(c))}" for m in c) for c in cycles
    ]
    assert not cycles, "import cycles between modules:\n" + "\n".join(described)


SYNTHETIC_WORLD = "monodepthkit.data.synthetic"


def test_inference_does_not_depend_on_the_synthetic_world():
    # The Predictor and export read the camera from the checkpoint and check exports on images
    # that need no world; only data/ knows the synthetic presets.
    edges = import_edges(module_names())
    found = sorted(
        f"{module} imports {target}"
        for module, targets in edges.items()
        if layer_of(module) == "inference"
        for target in targets
        if target.startswith(SYNTHETIC_WORLD)
    )
    assert not found, "\n".join(found)


def test_allowed_upward_imports_still_exist():
    # A stale allow-list entry would hide the next upward import of the same pair.
    edges = import_edges(module_names())
    stale = sorted(pair for pair in ALLOWED_UPWARD if pair[1] not in edges.get(pair[0], {}))
    assert not stale, f"remove these entries of ALLOWED_UPWARD, the imports are gone: {stale}"
