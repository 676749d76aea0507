"""The package's shape, as the restructure promised it: no import cycle (counting imports under
TYPE_CHECKING and inside functions), publish and verify independent of the build stages, the dist
metadata file named in one module, small modules, no production name that pytest would collect."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "scripts" / "gatewayd_plugin_actions"
PACKAGE = "gatewayd_plugin_actions"
MAX_MODULE_LINES = 450


def module_name(path: Path, package_dir: Path = PACKAGE_DIR, package: str = PACKAGE) -> str:
    parts = list(path.relative_to(package_dir).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imported_modules(path: Path, modules: Iterable[str], package_dir: Path = PACKAGE_DIR,
                     package: str = PACKAGE) -> set[str]:
    """Every package module `path` imports anywhere in its body: top level, under `if TYPE_CHECKING:`,
    inside functions. `from x import y` counts `x.y` when that is a module, else `x`."""
    known = set(modules)
    me = module_name(path, package_dir, package)
    here = me if is_package(path) else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = here.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            for alias in node.names:
                found.add(f"{base}.{alias.name}")
    return {name for name in found if name in known and name != me}


def import_graph(package_dir: Path = PACKAGE_DIR, package: str = PACKAGE) -> dict[str, set[str]]:
    paths = sorted(package_dir.rglob("*.py"))
    names = [module_name(p, package_dir, package) for p in paths]
    return {name: imported_modules(p, names, package_dir, package) for name, p in zip(names, paths, strict=True)}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(graph: Mapping[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        node = todo.pop()
        for succ in graph.get(node, ()):
            if succ not in seen:
                seen.add(succ)
                todo.append(succ)
    return seen


GRAPH = import_graph()


def test_the_graph_sees_the_package() -> None:
    assert len(GRAPH) > 40
    # an in-function import and a TYPE_CHECKING import are edges too
    assert f"{PACKAGE}.release.stages" in GRAPH[f"{PACKAGE}.commands.release"] | reachable(
        GRAPH, f"{PACKAGE}.commands.release"
    )


def test_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


def test_the_cycle_check_finds_cycles_through_type_checking_and_function_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import thing\n    return thing\n")
    (pkg / "c.py").write_text("import pkg.a\nthing = 1\n")
    (pkg / "d.py").write_text("from . import c\n")
    graph = import_graph(pkg, "pkg")
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]


@pytest.mark.parametrize("wing", ["publish", "verify"])
def test_publish_and_verify_import_nothing_from_the_build_stages(wing: str) -> None:
    build_modules = {name for name in GRAPH if name.startswith(f"{PACKAGE}.release.")} | {f"{PACKAGE}.release"}
    wing_modules = [name for name in GRAPH if name == f"{PACKAGE}.{wing}" or name.startswith(f"{PACKAGE}.{wing}.")]
    assert wing_modules
    offenders = {name: sorted(reachable(GRAPH, name) & build_modules) for name in wing_modules}
    assert {name: deps for name, deps in offenders.items() if deps} == {}


def test_the_metadata_file_is_named_in_one_module() -> None:
    naming = sorted(
        module_name(path) for path in PACKAGE_DIR.rglob("*.py") if "metadata.json" in path.read_text(encoding="utf-8")
    )
    assert naming == [f"{PACKAGE}.dist"]


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE_DIR.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_no_production_module_or_class_looks_like_a_test() -> None:
    """pytest would collect them, and a reader would take them for tests."""
    offenders = []
    for path in PACKAGE_DIR.rglob("*.py"):
        if path.name.startswith("test"):
            offenders.append(str(path.relative_to(ROOT)))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.lower().startswith("test"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} class {node.name}")
    assert offenders == []
