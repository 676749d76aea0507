"""Fixtures for the Go parts: real GatewayD binaries built from Go modules by ``tools/gobin.py`` and the
example plugin (its sources and a host build of it). Re-exported by ``tests/conftest.py``."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent.parent
GOBIN_SCRIPT = _ROOT / "tools" / "gobin.py"
EXAMPLE_PLUGIN_SRC = _ROOT / "examples" / "gatewayd-plugin-example"
EXAMPLE_PLUGIN_NAME = "gatewayd-plugin-example"
EXAMPLE_VERSION_VARIABLE = "github.com/gatewayd-plugin-actions/gatewayd-plugin-example/plugin.Version"
# Every GatewayD the suite runs against (tools/go/gatewayd-<version>/ pins each one).
GATEWAYD_VERSIONS = ("v0.10.3", "v0.11.1")
MAGIC_COOKIE_KEY = "GATEWAYD_PLUGIN"
MAGIC_COOKIE_VALUE = "5712b87aa5d7e9f9e9ab643e6603181c5b796015cb1c09d6f5ada882bf2a1872"
# go-plugin's handshake line: CORE|APP|NETWORK|ADDR|PROTOCOL[|CERT[|MUX]] (contract §3.3).
HANDSHAKE_RE = re.compile(r"^1\|1\|(unix|tcp)\|[^|]+\|grpc(\|.*)?$")
# Variables that change how a plugin binary starts; stripped from inherited environments.
_PLUGIN_VARS = re.compile(r"^(MAGIC_COOKIE_|GATEWAYD_PLUGIN$|PLUGIN_|EXAMPLE_)")


def gobin_path(name: str, timeout: float = 1800) -> Path:
    """The binary of a pinned Go program (``tools/gobin.py NAME``), built on first use and cached."""
    result = subprocess.run([sys.executable, str(GOBIN_SCRIPT), name], capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        pytest.fail(f"tools/gobin.py {name} failed: {result.stderr.strip()}")
    return Path(result.stdout.strip().splitlines()[-1])


def go_env(**extra: str) -> dict[str, str]:
    """The environment for ``go`` commands on the example: no cgo, no workspace, no inherited GOFLAGS."""
    env = {k: v for k, v in os.environ.items() if not _PLUGIN_VARS.match(k)}
    env.update(CGO_ENABLED="0", GOWORK="off", GOFLAGS="-buildvcs=false")
    env.update(extra)
    return env


def plugin_env(handshake: bool = True, **extra: str) -> dict[str, str]:
    """The environment GatewayD gives a plugin (magic cookie from the config ``env`` plus the variables
    go-plugin adds); ``handshake=False`` leaves all of them out."""
    env = {k: v for k, v in os.environ.items() if not _PLUGIN_VARS.match(k)}
    if handshake:
        env.update(MAGIC_COOKIE_KEY=MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE=MAGIC_COOKIE_VALUE,
                   GATEWAYD_PLUGIN=MAGIC_COOKIE_VALUE, PLUGIN_PROTOCOL_VERSIONS="1")
    env.update(extra)
    return env


def build_example(output: Path, version: str | None = None, source: Path = EXAMPLE_PLUGIN_SRC,
                  goos: str | None = None, goarch: str | None = None) -> Path:
    """``CGO_ENABLED=0 go build -trimpath`` of the example (optionally injecting ``plugin.Version``)."""
    ldflags = "-s -w" + (f" -X {EXAMPLE_VERSION_VARIABLE}={version}" if version else "")
    extra = {k: v for k, v in (("GOOS", goos), ("GOARCH", goarch)) if v}
    result = subprocess.run(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(output), "."],
                            cwd=source, env=go_env(**extra), capture_output=True, text=True, timeout=900,
                            stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        pytest.fail(f"go build of the example ({goos or 'host'}/{goarch or 'host'}) failed:\n{result.stderr}")
    return output


def read_first_line(process: subprocess.Popen[bytes], timeout: float) -> str | None:
    """The first stdout line of ``process`` (without the newline), or None if none came in time."""
    assert process.stdout is not None
    buffer = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return None
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:  # EOF: the process closed stdout (usually: it exited)
                return buffer.decode(errors="replace") or None
            buffer += chunk
    return buffer.split(b"\n", 1)[0].decode(errors="replace")


@pytest.fixture(scope="session")
def gatewayd_binaries() -> dict[str, Path]:
    """{"v0.10.3": path, "v0.11.1": path}: real GatewayD builds (release tags, CGO off) via tools/gobin.py."""
    return {version: gobin_path(f"gatewayd-{version}") for version in GATEWAYD_VERSIONS}


@pytest.fixture(scope="session")
def example_plugin_src() -> Path:
    """The example plugin's source tree (read-only: copy it before changing anything)."""
    return EXAMPLE_PLUGIN_SRC


@pytest.fixture(scope="session")
def example_plugin_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host build of the example plugin, as released (CGO off, -trimpath), reporting version 0.1.0."""
    return build_example(tmp_path_factory.mktemp("example-bin") / EXAMPLE_PLUGIN_NAME, version="0.1.0")
