"""The import graph points one way: kernels import nothing above them, and
``maaskit.distributed`` has no import cycle (read from the source, so lazy imports count)."""

from __future__ import annotations

import ast
from pathlib import Path

import maaskit

SRC = Path(maaskit.__file__).parent
KERNEL_SOURCES = SRC.parents[1] / "kernels"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every maaskit module ``path`` imports, at top level or inside a function."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("maaskit"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("maaskit"):
                found.add(target)
    return found


def test_kernels_import_nothing_above_them():
    upward = {}
    for path in sorted((SRC / "_kernels").rglob("*.py")):
        bad = {m for m in _imports(path) if not m.startswith(("maaskit._kernels", "maaskit._ext"))}
        if bad:
            upward[_module_name(path)] = sorted(bad)
    for pyx in sorted(KERNEL_SOURCES.glob("*.pyx")):
        for line in pyx.read_text().splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and words[1].startswith("maaskit") \
                    and not words[1].startswith(("maaskit._kernels", "maaskit._ext")):
                upward.setdefault(pyx.name, []).append(words[1])
    assert not upward, f"kernel modules import upward: {upward}"


def test_distributed_has_no_import_cycle():
    graph = {}
    for path in sorted((SRC / "distributed").glob("*.py")):
        name = _module_name(path)
        graph[name] = {m for m in _imports(path) if m.startswith("maaskit.distributed.") and m != name}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            assert state.get(nxt) != 1, f"import cycle: {' -> '.join(trail + [node, nxt])}"
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])
    assert "maaskit.distributed._blocks" in graph, "the shared block helpers module moved"


def test_no_two_modules_import_each_other():
    # Siblings that need the same thing share a helper module (persistence and _sklearn_io
    # share _allow_list). A package importing its own submodules is not a pair of siblings.
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}
    pairs = sorted({tuple(sorted((a, b))) for a, targets in graph.items() for b in targets
                    if a in graph.get(b, ()) and not (b.startswith(a + ".") or a.startswith(b + "."))})
    assert not pairs, f"modules that import each other: {pairs}"
