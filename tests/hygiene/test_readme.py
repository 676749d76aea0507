"""The README's inputs/outputs tables are generated from the action.yml files and must not drift."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT

TOOL = REPO_ROOT / "tools" / "readme_tables.py"
ACTIONS = (".", "test", "test-plugin", "release")


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), "--check", "--root", str(root)], capture_output=True,
                          text=True, check=False, timeout=60)


def test_readme_tables_match_the_action_files() -> None:
    result = check(REPO_ROOT)
    assert result.returncode == 0, result.stderr


def test_every_input_and_output_is_in_the_readme() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for action in ACTIONS:
        path = REPO_ROOT / action / "action.yml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for kind in ("inputs", "outputs"):
            block = readme.split(f"<!-- BEGIN GENERATED {kind} {action} -->", 1)[1].split("<!-- END GENERATED", 1)[0]
            for name in data.get(kind) or {}:
                assert f"| `{name}` |" in block, f"{action}/action.yml {kind[:-1]} {name} is not in README.md"


def test_drift_is_detected(tmp_path: Path) -> None:
    for action in ACTIONS:
        (tmp_path / action).mkdir(exist_ok=True)
        shutil.copy2(REPO_ROOT / action / "action.yml", tmp_path / action / "action.yml")
    shutil.copy2(REPO_ROOT / "README.md", tmp_path / "README.md")
    assert check(tmp_path).returncode == 0
    action = tmp_path / "test" / "action.yml"
    action.write_text(action.read_text(encoding="utf-8").replace(
        "  coverage:\n", "  brand-new-input:\n    description: Added without regenerating.\n  coverage:\n"),
        encoding="utf-8")
    result = check(tmp_path)
    assert result.returncode == 1
    assert "brand-new-input" in result.stderr and "stale" in result.stderr
    # regenerating fixes it
    subprocess.run([sys.executable, str(TOOL), "--root", str(tmp_path)], check=True, capture_output=True)
    assert check(tmp_path).returncode == 0
    assert "| `brand-new-input` |" in (tmp_path / "README.md").read_text(encoding="utf-8")


def test_a_missing_block_is_an_error(tmp_path: Path) -> None:
    for action in ACTIONS:
        (tmp_path / action).mkdir(exist_ok=True)
        shutil.copy2(REPO_ROOT / action / "action.yml", tmp_path / action / "action.yml")
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- BEGIN GENERATED outputs release -->")
    end = readme.index("<!-- END GENERATED outputs release -->") + len("<!-- END GENERATED outputs release -->")
    (tmp_path / "README.md").write_text(readme[:start] + readme[end:], encoding="utf-8")
    result = check(tmp_path)
    assert result.returncode == 1 and "no generated outputs table for release/action.yml" in result.stderr


def _readme_layout() -> set[str]:
    """The package paths the README's layout block lists (files, and folders ending in /)."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- layout:")
    opening = readme.index("```\n", start) + 4
    block = readme[opening:readme.index("\n```", opening)]
    listed: set[str] = set()
    folders: list[tuple[int, str]] = []
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        names = []
        for word in line.split():
            if not (word.endswith(".py") or word.endswith("/")):
                break
            names.append(word)
        if not names:
            continue  # a description's second line
        while folders and folders[-1][0] >= indent:
            folders.pop()
        base = folders[-1][1] if folders else ""
        for name in names:
            listed.add(base + name)
        if len(names) == 1 and names[0].endswith("/"):
            folders.append((indent, base + names[0]))
    return listed


def test_readme_layout_lists_every_module_and_nothing_else() -> None:
    package = REPO_ROOT / "scripts" / "gatewayd_plugin_actions"
    modules = {f"scripts/gatewayd_plugin_actions/{p.relative_to(package).as_posix()}"
               for p in package.rglob("*.py") if p.name != "__init__.py" and "__pycache__" not in p.parts}
    listed = _readme_layout()
    files = {p for p in listed if p.endswith(".py")}
    assert modules - files == set(), "modules the README's layout does not list"
    assert files - modules == set(), "the README's layout lists modules that do not exist"
    missing = [p for p in listed if p.endswith("/") and not (REPO_ROOT / p).is_dir()]
    assert missing == [], "folders the README's layout lists that do not exist"
