#!/usr/bin/env python3
"""What `make` needs before it starts, checked with one clear line each (stdlib only: it runs before .venv exists).

    python3 tools/prereqs.py go FILE...   # `go` on PATH is at least the highest `go` directive of the go.mod FILEs
    python3 tools/prereqs.py go-minimum FILE...   # print that version (the README's prerequisite is held to it)
    python3 tools/prereqs.py python       # this python is >= 3.11
    python3 tools/prereqs.py venv-failed DIR  # after `python -m venv DIR` failed: clean up, say what to install

The Makefile passes the go.mod files of what each target builds (`make demo`: the demo GatewayD and the example
plugin; `make test`: every go.mod in the repository), so the minimum follows the pins: a GatewayD whose go.mod
needs a newer Go raises it, and the wrapper module's `go` directive already holds its upstream's (`go get`
raises it to the dependency's).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

MIN_PYTHON = (3, 11)
_GO_DIRECTIVE = re.compile(r"^go\s+(\d+)\.(\d+)(?:\.(\d+))?\s*$", re.MULTILINE)
_GO_VERSION = re.compile(r"\bgo(\d+)\.(\d+)(?:\.(\d+))?")

Version = tuple[int, int, int]


class PrereqError(Exception):
    """One line for the person running make."""


def show(version: Version) -> str:
    return ".".join(str(part) for part in version)


def go_directive(go_mod: Path) -> Version:
    match = _GO_DIRECTIVE.search(go_mod.read_text(encoding="utf-8"))
    if not match:
        raise PrereqError(f"{go_mod}: no `go` directive")
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def go_minimum(go_mods: list[Path]) -> tuple[Version, Path]:
    """The highest `go` directive among ``go_mods`` and the file that sets it."""
    if not go_mods:
        raise PrereqError("no go.mod files given")
    return max(((go_directive(path), path) for path in go_mods), key=lambda pair: pair[0])


def installed_go() -> Version:
    go = shutil.which("go")
    if go is None:
        raise PrereqError("no `go` on PATH")
    result = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False,
                            stdin=subprocess.DEVNULL)
    match = _GO_VERSION.search(result.stdout)
    if result.returncode != 0 or not match:
        result = subprocess.run([go, "version"], capture_output=True, text=True, check=False,
                                stdin=subprocess.DEVNULL)
        match = _GO_VERSION.search(result.stdout)
    if not match:
        raise PrereqError(f"`{go} version` printed no Go version: {(result.stdout + result.stderr).strip()[:200]!r}")
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def check_go(go_mods: list[Path]) -> None:
    needed, source = go_minimum(go_mods)
    try:
        found = installed_go()
    except PrereqError as exc:
        raise PrereqError(f"{exc}: install Go >= {show(needed)} (required by {source}) from "
                          "https://go.dev/dl and put it on PATH") from None
    if found < needed:
        raise PrereqError(f"Go {show(found)} is too old: {source} needs Go >= {show(needed)}; install a newer Go "
                          "from https://go.dev/dl and put it first on PATH")


def check_python() -> None:
    if sys.version_info < MIN_PYTHON:
        raise PrereqError(f"Python {sys.version.split()[0]} is too old: Python >= "
                          f"{'.'.join(map(str, MIN_PYTHON))} is needed (make PYTHON=python3.11 ...)")


def explain_venv_failure(directory: Path) -> None:
    """After `python -m venv` failed (its own message is above): remove the half-made venv, which would pass for
    a good one next time, and name the usual cause. Debian and Ubuntu ship venv's ensurepip separately."""
    shutil.rmtree(directory, ignore_errors=True)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    raise PrereqError(f"`python3 -m venv {directory}` failed (its message is above); on Debian or Ubuntu that means "
                      f"the venv module is missing: `apt-get install python3-venv` (or python{version}-venv), "
                      "then make again")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("go", "go-minimum", "python", "venv-failed"):
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    try:
        if command == "go":
            check_go([Path(a) for a in args])
        elif command == "go-minimum":
            print(show(go_minimum([Path(a) for a in args])[0]))
        elif command == "python":
            check_python()
        else:
            explain_venv_failure(Path(args[0]))
    except (PrereqError, OSError) as exc:
        print(f"make: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
