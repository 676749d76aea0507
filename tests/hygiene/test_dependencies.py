"""The package declares what it imports, no more, with lower bounds that really have what it calls.

The composites install requirements/runtime.txt; `pip install .` installs pyproject.toml's dependencies.
Both must name every distribution scripts/ imports (urllib3 was imported but not declared), nothing it does not
import (PyYAML was declared for two calls ruamel.yaml does as well), and bounds old enough to be honest and new
enough to work: the urllib3 bound is checked against real releases from PyPI.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "scripts" / "gatewayd_plugin_actions"
OWN = "gatewayd_plugin_actions"


def declared() -> dict[str, Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}


def runtime_in() -> dict[str, Requirement]:
    lines = (REPO_ROOT / "requirements" / "runtime.in").read_text(encoding="utf-8").splitlines()
    requirements = [Requirement(line) for line in (raw.split("#")[0].strip() for raw in lines) if line]
    return {canonicalize_name(r.name): r for r in requirements}


def imported_modules() -> dict[str, str]:
    """Top-level names of every absolute import in the package (type-checking-only ones included), each with
    the first file:line that imports it."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.partition(".")[0], f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    return found


def third_party_imports() -> dict[str, str]:
    """Distribution (canonical name) → where the package first imports it."""
    owners = importlib.metadata.packages_distributions()
    result: dict[str, str] = {}
    for module, where in imported_modules().items():
        if module in sys.stdlib_module_names or module in (OWN, "__future__"):
            continue
        distributions = owners.get(module)
        assert distributions, f"{where}: imports {module!r}, which no installed distribution provides"
        for distribution in distributions:
            result.setdefault(canonicalize_name(distribution), where)
    return result


def test_every_import_of_the_package_is_declared() -> None:
    imports = third_party_imports()
    assert {"requests", "urllib3", "ruamel-yaml"} <= set(imports), imports  # the scan sees real imports
    missing = {name: where for name, where in imports.items() if name not in declared()}
    assert missing == {}, "imported but not in pyproject.toml's dependencies (and requirements/runtime.in)"


def test_every_declared_dependency_is_imported() -> None:
    unused = set(declared()) - set(third_party_imports())
    assert unused == set(), "declared but never imported by scripts/: drop them (one library per job)"


def test_runtime_in_repeats_pyproject_exactly() -> None:
    assert {name: str(r) for name, r in runtime_in().items()} == {name: str(r) for name, r in declared().items()}


def pinned(lock: str) -> dict[str, Version]:
    versions = {}
    for line in (REPO_ROOT / "requirements" / lock).read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            versions[canonicalize_name(name)] = Version(rest.split()[0])
    return versions


def test_the_locks_satisfy_the_declared_bounds() -> None:
    for lock in ("runtime.txt", "dev.txt"):
        versions = pinned(lock)
        for name, requirement in declared().items():
            assert name in versions, f"requirements/{lock} lacks {name}"
            assert requirement.specifier.contains(versions[name]), f"requirements/{lock}: {name}=={versions[name]} " \
                                                                   f"is outside {requirement}"


def lower_bound(name: str) -> Version:
    bounds = [Version(s.version) for s in declared()[name].specifier if s.operator == ">="]
    assert len(bounds) == 1, f"{name}: declare one `>=` lower bound"
    return bounds[0]


def install(tmp_path: Path, spec: str) -> tuple[Path, str]:
    """``spec`` installed alone (no dependencies) into a folder of its own; returns it and the version pip chose."""
    target = tmp_path / spec.replace("<", "lt").replace("=", "eq")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                             "--no-deps", "--only-binary=:all:", "--target", str(target), spec],
                            capture_output=True, text=True, timeout=300, check=False, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"pip could not install {spec} from the package index: {result.stderr[-2000:]}"
    (dist_info,) = target.glob("*.dist-info")
    return target, dist_info.name.removesuffix(".dist-info").partition("-")[2]


def build_the_client_retry(site: Path) -> subprocess.CompletedProcess[str]:
    """The client's own Retry, built with the urllib3 in ``site`` first on the path, in a fresh interpreter."""
    code = ("import urllib3; from gatewayd_plugin_actions.github.client import Limits, make_retry; "
            "retry = make_retry(Limits()); print(urllib3.__version__, retry.retry_after_max)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO_ROOT / "scripts")])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False,
                          env=env, stdin=subprocess.DEVNULL)


def test_the_urllib3_lower_bound_is_the_first_release_the_client_works_with(tmp_path: Path) -> None:
    """urllib3 at exactly the declared bound builds the client's Retry (retry_after_max and all); the newest
    release below the bound raises TypeError, so the bound is neither too low nor needlessly high."""
    bound = lower_bound("urllib3")
    site, version = install(tmp_path, f"urllib3=={bound}")
    works = build_the_client_retry(site)
    assert works.returncode == 0, works.stderr
    assert works.stdout.split() == [version, "600"]
    below_site, below = install(tmp_path, f"urllib3<{bound}")
    assert Version(below) < bound
    fails = build_the_client_retry(below_site)
    assert fails.returncode != 0
    assert "TypeError" in fails.stderr and "retry_after_max" in fails.stderr, fails.stderr


def test_the_requests_bound_accepts_the_urllib3_bound() -> None:
    """requests' own metadata (the installed one) must allow our urllib3 lower bound, and our requests bound must
    be one that accepts urllib3 2 (2.30.0 is the first; older ones require urllib3 < 2)."""
    assert lower_bound("requests") >= Version("2.30.0")
    wanted = [Requirement(r) for r in importlib.metadata.requires("requests") or []]
    (urllib3,) = [r for r in wanted if canonicalize_name(r.name) == "urllib3"]
    assert urllib3.specifier.contains(lower_bound("urllib3"))
