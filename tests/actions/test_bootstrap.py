"""``scripts/bootstrap.sh``: the private venv every composite action starts with (real venvs, real pip)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = REPO_ROOT / "scripts" / "bootstrap.sh"


def bootstrap(runner_temp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("GITHUB_OUTPUT", "PYTHONPATH")}
    full.update(RUNNER_TEMP=str(runner_temp), **env)
    return subprocess.run(["bash", str(BOOTSTRAP)], env=full, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, check=False)


def test_cold_then_warm_through_a_launcher(tmp_path: Path) -> None:
    """Started through a launcher (like pyenv's shims), the interpreter is resolved once; the venv imports
    the package and its pinned dependencies; a second run reuses it and writes the step output."""
    calls = tmp_path / "launcher-calls"
    launcher = tmp_path / "python3"
    launcher.write_text(f'#!/usr/bin/env bash\necho x >>"{calls}"\nexec "{sys.executable}" "$@"\n')
    launcher.chmod(0o755)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()

    cold = bootstrap(runner_temp, GPA_BOOTSTRAP_PYTHON=str(launcher))
    assert cold.returncode == 0, cold.stderr
    venv_python = Path(cold.stdout.strip())
    assert venv_python.is_relative_to(runner_temp) and venv_python.is_file()
    assert calls.read_text().count("x") == 1, "only the probe goes through the launcher"
    check = subprocess.run([str(venv_python), "-c", "import gatewayd_plugin_actions, requests, ruamel.yaml, urllib3, "
                            "watchfiles; print(gatewayd_plugin_actions.__file__)"], capture_output=True, text=True,
                           timeout=60, check=False, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert check.returncode == 0, check.stderr
    assert Path(check.stdout.strip()).is_relative_to(REPO_ROOT / "scripts")

    output = tmp_path / "github-output"
    warm = bootstrap(runner_temp, GPA_BOOTSTRAP_PYTHON=str(launcher), GITHUB_OUTPUT=str(output))
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout == ""
    assert output.read_text() == f"python={venv_python}\n"
    assert [p.name for p in runner_temp.iterdir()] == [venv_python.parent.parent.name], "the venv was reused"


def test_too_old_python_is_one_annotation(tmp_path: Path) -> None:
    old = tmp_path / "python3.9"
    old.write_text('#!/usr/bin/env bash\nif [[ "$1" == --version ]]; then echo "Python 3.9.18"; exit 0; fi\nexit 1\n')
    old.chmod(0o755)
    result = bootstrap(tmp_path, GPA_BOOTSTRAP_PYTHON=str(old))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (f"::error title=gatewayd-plugin-actions::needs Python >= 3.11; found {old} "
                             "(Python 3.9.18)\n")
    assert not list(tmp_path.glob("gpa-venv-*"))
