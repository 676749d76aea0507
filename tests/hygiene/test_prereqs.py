"""The README's prerequisites are true, and `make` says what is missing before it starts.

The Go a target needs is the highest `go` directive among the go.mod files it builds (the Makefile lists them:
GO_MODS_DEMO, GO_MODS_TEST), so the numbers the README states are held to those files, and the Makefile's
check runs here against a fake `go` on PATH, a PATH without `go`, and a Python whose venv cannot install pip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

PREREQS = REPO_ROOT / "tools" / "prereqs.py"


def make(*args: str, env: dict[str, str] | None = None, path: str | None = None) -> subprocess.CompletedProcess[str]:
    make_binary = shutil.which("make")
    assert make_binary is not None
    environment = dict(env or os.environ)
    if path is not None:
        environment["PATH"] = path
    return subprocess.run([make_binary, "--no-print-directory", "-C", str(REPO_ROOT), f"PYTHON={sys.executable}",
                           *args], capture_output=True, text=True, timeout=300, check=False, env=environment,
                          stdin=subprocess.DEVNULL)


def go_mods_of(target: str) -> list[str]:
    """The go.mod files the Makefile checks for ``target`` (from `make -n`, so the test reads the Makefile's own
    list)."""
    result = make("-n", f"go-{target}")
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "tools/prereqs.py go " in line]
    return line.split("tools/prereqs.py go ", 1)[1].split()


def minimum(target: str) -> str:
    result = subprocess.run([sys.executable, str(PREREQS), "go-minimum", *go_mods_of(target)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return ".".join(result.stdout.strip().split(".")[:2])


def test_make_checks_the_go_mods_of_what_it_builds() -> None:
    demo, everything = set(go_mods_of("demo")), set(go_mods_of("test"))
    assert "tools/go/gatewayd-v0.11.1/go.mod" in demo, "make demo builds the GatewayD of DEMO_GATEWAYD"
    tracked = {str(p.relative_to(REPO_ROOT)) for p in REPO_ROOT.rglob("go.mod")
               if not {".venv", "dist"} & set(p.relative_to(REPO_ROOT).parts)}
    assert everything == tracked
    assert demo <= everything


def test_the_readme_states_the_go_and_python_the_targets_need() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    development = readme[readme.index("## Development"):]
    text = " ".join(development.split())
    match = re.search(r"Go ≥ (\d+\.\d+) for `make test`, Go ≥ (\d+\.\d+) for `make demo`", text)
    assert match is not None, "the Development section no longer states the Go each target needs"
    assert (match.group(1), match.group(2)) == (minimum("test"), minimum("demo")), \
        "README Development states other Go versions than the go.mod files make builds need (tools/prereqs.py)"
    assert "apt-get install python3-venv" in text
    assert "Python ≥ 3.11" in text
    # CI sets up the Go make test needs (a newer one would hide a README that understates it).
    ci = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yaml").read_text(encoding="utf-8"))
    go_steps = [s for s in ci["jobs"]["test"]["steps"] if str(s.get("uses", "")).startswith("actions/setup-go@")]
    assert [s["with"]["go-version"] for s in go_steps] == [minimum("test")]


def fake_go(directory: Path, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    go = directory / "go"
    go.write_text("#!/usr/bin/env bash\n"
                  f'if [[ "$*" == "env GOVERSION" ]]; then echo go{version}; exit 0; fi\n'
                  f'if [[ "$*" == "version" ]]; then echo "go version go{version} linux/amd64"; exit 0; fi\n'
                  "exit 2\n", encoding="utf-8")
    go.chmod(0o755)
    return directory


@pytest.mark.parametrize(("target", "needs"), [("demo", "1.25.0"), ("test", "1.26.0")])
def test_make_with_an_old_go_stops_first_naming_the_go_mod(tmp_path: Path, target: str, needs: str) -> None:
    shims = fake_go(tmp_path / "bin", "1.24.6")
    result = make(target, path=f"{shims}{os.pathsep}{os.environ['PATH']}")
    assert result.returncode != 0
    named = re.search(rf"^make: Go 1\.24\.6 is too old: (\S+/go\.mod) needs Go >= {re.escape(needs)}; "
                      r"install a newer Go from https://go.dev/dl and put it first on PATH$", result.stderr,
                      re.MULTILINE)
    assert named is not None, result.stderr
    assert named.group(1) in go_mods_of(target)
    assert re.search(rf"^go {re.escape(needs)}$", (REPO_ROOT / named.group(1)).read_text(encoding="utf-8"),
                     re.MULTILINE), "the named go.mod is one that needs that Go"
    assert "pip" not in result.stdout + result.stderr, "the check runs before anything is installed"


def test_make_with_a_new_enough_go_passes_the_check(tmp_path: Path) -> None:
    shims = fake_go(tmp_path / "bin", "1.26.0")
    result = make("go-test", "go-demo", path=f"{shims}{os.pathsep}{os.environ['PATH']}")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_make_without_go_says_which_go_to_install(tmp_path: Path) -> None:
    """A PATH with make's own needs (bash, find, the Python) and no go."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "find", "env"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    result = make("go-demo", path=str(bin_dir))
    assert result.returncode != 0
    assert "make: no `go` on PATH: install Go >= 1.25.0 (required by tools/go/gatewayd-v0.11.1/go.mod) from " \
           "https://go.dev/dl and put it on PATH" in result.stderr, result.stderr


DEBIAN_VENV_FAILURE = """The virtual environment was not created successfully because ensurepip is not
available.  On Debian/Ubuntu systems, you need to install the python3-venv
package using the following command.

    apt install python3.11-venv

You may need to use sudo with that command.  After installing the python3-venv
package, recreate your virtual environment.
"""


def test_a_python_without_venv_stops_bootstrap_naming_python3_venv(tmp_path: Path) -> None:
    """Debian's python3 without python3-venv: `python3 -m venv DIR` leaves a venv without pip and fails (the
    text above is Debian's). A python3 that does exactly that and is otherwise the real one; `make bootstrap`
    must stop there, before any pip, with the fix, and remove the half-made venv."""
    venv = tmp_path / "venv"
    python = tmp_path / "python3"
    python.write_text("#!/usr/bin/env bash\n"
                      'if [[ "${1:-} ${2:-}" == "-m venv" ]]; then\n'
                      f'  mkdir -p "$3/bin"; cat >&2 <<\'EOF\'\n{DEBIAN_VENV_FAILURE}EOF\n  exit 1\nfi\n'
                      f'exec {sys.executable} "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    result = make("bootstrap", f"VENV={venv}", f"PYTHON={python}")
    assert result.returncode != 0
    assert "you need to install the python3-venv" in result.stderr, "venv's own words stay visible"
    assert re.search(rf"^make: `python3 -m venv {re.escape(str(venv))}` failed \(its message is above\); on Debian "
                     r"or Ubuntu that means the venv module is missing: `apt-get install python3-venv` \(or "
                     r"python3\.\d+-venv\), then make again$", result.stderr, re.MULTILINE), result.stderr
    assert "pip" not in result.stdout
    assert not venv.exists(), "a half-made venv would pass for a good one next time"
