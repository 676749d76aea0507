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
