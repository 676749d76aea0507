#!/usr/bin/env python3
"""Build pinned Go programs from the Go module proxy, once, and print where the binary is.

    python3 tools/gobin.py gatewayd-v0.11.1   # prints /abs/path/to/gatewayd (builds it first if needed)
    python3 tools/gobin.py --all              # prebuild every program
    python3 tools/gobin.py --list             # names and pinned versions

Each program is pinned by a wrapper module in ``tools/go/<name>/`` (``go.mod``, ``go.sum`` and a
``//go:build tools`` ``tools.go`` that imports the program's main package). The build runs inside that
directory with ``-mod=readonly``, so exactly the committed versions are used, with ``CGO_ENABLED=0``.

The binary is cached in ``$GPA_CACHE_DIR/bin/<name>/<key>/<binary>`` (``GPA_CACHE_DIR`` defaults to
``${XDG_CACHE_HOME:-~/.cache}/gatewayd-plugin-actions``), where ``<key>`` hashes the wrapper's
``go.mod``, ``go.sum``, the build recipe and the Go toolchain (``go env GOVERSION GOOS GOARCH``), so a Go
upgrade rebuilds instead of reusing binaries made by the old compiler. Builds go to a temporary file
that is renamed into place, under a per-name ``fcntl`` lock, so concurrent callers build once and never
see a partial file.

Re-pinning (do not use ``go mod tidy`` here: it resolves test-only imports of dependencies at
*latest*, which drifts from the upstream build list)::

    cd tools/go/<name> && printf 'module gatewayd-plugin-actions/tools/go/<name>\\n\\ngo 1.24\\n' > go.mod
    go get <module>@<version> && go mod edit -toolchain=none
    # gatewayd v0.10.3 only: go mod edit -replace=github.com/imdario/mergo=dario.cat/mergo@v1.0.2
    # (v0.10.3's own go.mod has that replace; v0.11.1 dropped it and requires dario.cat/mergo v1.0.2
    # directly, so repeating it there fails with "used for two different module paths").
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TOOLS_GO = Path(__file__).resolve().parent / "go"


@dataclass(frozen=True)
class Program:
    name: str  # the wrapper directory under tools/go/
    module: str  # the pinned module (its version is read from the wrapper's go.mod)
    package: str  # the main package to build
    binary: str  # file name of the built binary
    tags: tuple[str, ...] = ()
    version_ldflag: str = ""  # "-X <pkg>.<Var>" that receives the pinned version (with its "v")


def gatewayd(version: str) -> Program:
    return Program(name=f"gatewayd-{version}", module="github.com/gatewayd-io/gatewayd",
                   package="github.com/gatewayd-io/gatewayd", binary="gatewayd",
                   # The tags of GatewayD's release build; both build from the module zip.
                   tags=("embed_plugin_template", "embed_swagger"),
                   version_ldflag="-X github.com/gatewayd-io/gatewayd/config.Version")


PROGRAMS: dict[str, Program] = {p.name: p for p in (
    gatewayd("v0.10.3"),
    gatewayd("v0.11.1"),
    Program(name="actionlint", module="github.com/rhysd/actionlint",
            package="github.com/rhysd/actionlint/cmd/actionlint", binary="actionlint"),
    Program(name="act", module="github.com/nektos/act", package="github.com/nektos/act", binary="act"),
)}


class GobinError(Exception):
    """A failure reported as one line, without a traceback."""


def log(message: str) -> None:
    print(f"gobin: {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    if configured := os.environ.get("GPA_CACHE_DIR"):
        return Path(configured).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "gatewayd-plugin-actions"


def pinned_version(program: Program, go_mod: str) -> str:
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(program.module)}\s+(v\S+)", go_mod, re.MULTILINE)
    if not match:
        raise GobinError(f"tools/go/{program.name}/go.mod does not require {program.module}")
    version = match.group(1)
    if program.name.startswith(f"{program.binary}-v") and program.name != f"{program.binary}-{version}":
        raise GobinError(f"tools/go/{program.name}/go.mod pins {program.module} {version}, not the named version")
    return version


def build_args(program: Program, version: str) -> list[str]:
    ldflags = "-s -w" + (f" {program.version_ldflag}={version}" if program.version_ldflag else "")
    args = ["build", "-mod=readonly", "-buildvcs=false", "-trimpath", "-ldflags", ldflags]
    if program.tags:
        args += ["-tags", ",".join(program.tags)]
    return args


@functools.cache
def toolchain() -> str:
    """``go env GOVERSION GOOS GOARCH`` of the ``go`` on PATH (part of the cache key)."""
    try:
        result = subprocess.run(["go", "env", "GOVERSION", "GOOS", "GOARCH"], capture_output=True, text=True,
                                check=False)
    except FileNotFoundError:
        raise GobinError("no `go` on PATH: install Go (see go.mod of the wrapper modules for the minimum)") from None
    if result.returncode != 0:
        raise GobinError(f"`go env` failed: {first_error(result.stderr)}")
    return " ".join(result.stdout.split())


def plan(program: Program) -> tuple[Path, str, list[str]]:
    """The cached binary's path, the pinned version and the ``go`` arguments (without ``-o``)."""
    wrapper = TOOLS_GO / program.name
    try:
        go_mod = (wrapper / "go.mod").read_bytes()
        go_sum = (wrapper / "go.sum").read_bytes()
    except OSError as exc:
        raise GobinError(f"cannot read the pins in {wrapper}: {exc.strerror}") from exc
    version = pinned_version(program, go_mod.decode("utf-8", "replace"))
    args = build_args(program, version)
    digest = hashlib.sha256()
    for part in (go_mod, go_sum, "\0".join([*args, program.package]).encode(), toolchain().encode()):
        digest.update(hashlib.sha256(part).digest())
    key = digest.hexdigest()[:16]
    return cache_root() / "bin" / program.name / key / program.binary, version, args


def first_error(stderr: str) -> str:
    """The most telling line of go's stderr: the first that is neither a ``# package`` header nor a hint."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if not line[0].isspace() and not line.startswith(("#", "go: downloading"))]
    line = (errors or lines or ["go build failed"])[0]
    return line if len(line) <= 400 else line[:397] + "..."


@contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure(program: Program) -> Path:
    """Return the cached binary, building it first if it is missing."""
    binary, version, args = plan(program)
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    with locked(binary.parent.parent / ".lock"):
        if binary.is_file() and os.access(binary, os.X_OK):  # another process built it meanwhile
            return binary
        binary.parent.mkdir(parents=True, exist_ok=True)
        log(f"building {program.binary} {version} from Go modules (cached afterwards)…")
        started = time.monotonic()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{program.binary}.", dir=binary.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        env = dict(os.environ, CGO_ENABLED="0", GOWORK="off", GOFLAGS="")
        # plan() already ran `go env` (toolchain()): a missing `go` was reported there.
        result = subprocess.run(["go", *args, "-o", str(tmp), program.package], cwd=TOOLS_GO / program.name,
                                env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise GobinError(f"building {program.name} failed: {first_error(result.stderr)}")
        tmp.chmod(0o755)
        tmp.replace(binary)
        log(f"built {program.name} in {time.monotonic() - started:.1f}s: {binary}")
    return binary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build pinned Go programs from the Go module proxy (cached).")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(PROGRAMS)}")
    parser.add_argument("--all", action="store_true", help="build every program")
    parser.add_argument("--list", action="store_true", help="print each name with its pinned module version")
    options = parser.parse_args(argv)
    names = list(PROGRAMS) if options.all or options.list else options.names
    if not names:
        parser.error("give a program name, --all or --list")
    try:
        for name in names:
            program = PROGRAMS.get(name)
            if program is None:
                raise GobinError(f"unknown program {name!r}; known: {', '.join(PROGRAMS)}")
            if options.list:
                _, version, _ = plan(program)
                print(f"{name}\t{program.module}@{version}")
            else:
                print(ensure(program))
    except GobinError as exc:
        print(f"gobin: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
