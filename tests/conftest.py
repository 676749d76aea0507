"""Shared fixtures: one per real part (the CLI as a process, Go plugin sources, GatewayD binaries, fake GitHub,
PostgreSQL). Part-specific fixtures live in ``tests/fixtures/`` and are re-exported here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PLUGIN = REPO_ROOT / "examples" / "gatewayd-plugin-example"
CLI = [sys.executable, "-m", "gatewayd_plugin_actions"]

for _module in ("tests.fixtures.go", "tests.fixtures.github", "tests.fixtures.postgres", "tests.fixtures.oracles",
                "tests.fixtures.network", "tests.fixtures.plugin_repos", "tests.fixtures.redis",
                "tests.fixtures.openapi"):
    try:
        _mod = __import__(_module, fromlist=["*"])
    except ModuleNotFoundError as exc:  # a part not written yet must not hide the others
        if exc.name != _module:
            raise
        continue
    globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("_")})


RunCli = Callable[..., subprocess.CompletedProcess[str]]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment a CLI run gets: ours minus anything GitHub Actions would inject."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_"))}
    env.pop("SOURCE_DATE_EPOCH", None)
    env["PYTHONPATH"] = str(REPO_ROOT / "scripts")
    env.update(extra)
    return env


@pytest.fixture
def run_cli() -> RunCli:
    """Run the real CLI as a subprocess; asserts it never prints a Python traceback."""

    def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*CLI, *map(str, args)], cwd=cwd, env=env or clean_env(), capture_output=True,
                                text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        assert "Traceback (most recent call last)" not in result.stderr, result.stderr
        return result

    return run


def copy_plugin(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("dist", ".git"))
    return dest


def git_init(project: Path, tag: str | None = None) -> None:
    """Make ``project`` a git repository with one commit (fixed dates, so builds are reproducible)."""
    env = dict(os.environ, GIT_AUTHOR_DATE="2026-01-02T03:04:05Z", GIT_COMMITTER_DATE="2026-01-02T03:04:05Z",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.invalid")
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *command], cwd=project, env=env, check=True)
    if tag:
        subprocess.run(["git", "tag", tag], cwd=project, env=env, check=True)


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A private, git-initialised copy of the embedded example plugin."""
    project = copy_plugin(EXAMPLE_PLUGIN, tmp_path / "gatewayd-plugin-example")
    git_init(project)
    return project


def parse_output_file(text: str) -> dict[str, str]:
    """Read a ``$GITHUB_OUTPUT`` file: ``name=value`` lines and ``name<<DELIM`` … ``DELIM`` blocks."""
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            while index < len(lines) and lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            index += 1
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs
