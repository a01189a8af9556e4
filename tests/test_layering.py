"""The import structure: runtime <- trainer <- export, no cycles, no project imports hidden in functions."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("runtime", "trainer", "export")
LAYER = {"runtime": 0, "trainer": 1, "export": 2}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level) for every import of `path`, relative ones resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            found.append((name, id(node) in top))
            # `from . import x` and `from .pkg import mod` may name submodules
            found += [(f"{name}.{a.name}", id(node) in top) for a in node.names
                      if (ROOT / Path(*f"{name}.{a.name}".split("."))).with_suffix(".py").is_file()]
    return found


def _project_modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _graph() -> dict[str, set[str]]:
    modules = _project_modules()
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m, _ in _imports(path) if m in modules and m != name}
    return graph


def test_layers_import_downward_only():
    for name, path in _project_modules().items():
        own = LAYER[name.split(".")[0]]
        for imported, _ in _imports(path):
            root = imported.split(".")[0]
            if root in LAYER:
                assert LAYER[root] <= own, f"{name} imports {imported}: {root} sits above {name.split('.')[0]}"
            if own == 0:
                assert root not in ("tensorflow", "keras", "tf2onnx", "onnx", "sacrebleu"), \
                    f"the runtime must run on numpy + onnxruntime: {name} imports {imported}"


def test_no_project_import_inside_functions():
    for name, path in _project_modules().items():
        hidden = [m for m, top in _imports(path) if not top and m.split(".")[0] in PACKAGES]
        assert not hidden, f"{name} imports {hidden} inside a function (an import cycle dodged?)"


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_the_checks_see_imports():
    # The walker must find what it is meant to forbid, or the tests above prove nothing.
    graph = _graph()
    assert "trainer.spec" in graph["export.graphs"] and "runtime.bundle" in graph["trainer.spec"]
    assert "runtime.translator" in graph["runtime.__main__"]
