"""Fixtures for the Go parts: real GatewayD binaries built from Go modules by ``tools/gobin.py`` and the
example plugin (its sources and a host build of it). Re-exported by ``tests/conftest.py``."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
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


# --------------------------------------------------------------------------------------------------
# Broken variants of the example plugin (for the release gate): each one is the example with one
# exact text substitution in main.go; go.mod / go.sum are untouched, so builds stay warm.
# --------------------------------------------------------------------------------------------------

WRONG_COOKIE_VALUE = "0badc0de" * 8  # 64 hex digits, not GatewayD's cookie
NEEDS_ENV_KEY = "EXAMPLE_SETTING"
NEEDS_ENV_VALUE = "on"
_SERVE_ANCHOR = "\tgoplugin.Serve(&goplugin.ServeConfig{\n"
_COOKIE_ANCHOR = ('\t\t\tMagicCookieKey:   sdkConfig.GetEnv("MAGIC_COOKIE_KEY", ""),\n'
                  '\t\t\tMagicCookieValue: sdkConfig.GetEnv("MAGIC_COOKIE_VALUE", ""),\n')
_LOGGER_ANCHOR = "\tif os.Getenv(exitAtStartEnv) == \"1\" {\n"
_IMPORTS_END_ANCHOR = "\n)\n\n// Failure knobs"
# kind -> [(anchor in main.go, replacement), ...]. Each anchor must occur exactly once.
PLUGIN_VARIANTS: dict[str, list[tuple[str, str]]] = {
    # panics as soon as it starts (right after flag parsing), with or without the handshake env
    "panic": [("\tflag.Parse()\n",
               '\tflag.Parse()\n\tpanic("example: failed to load settings")\n')],
    # logs "Starting plugin", then blocks forever and never calls goplugin.Serve. (A bare `select {}`
    # would not do: with no other goroutine the Go runtime aborts with "all goroutines are asleep".)
    "never-serves": [(_SERVE_ANCHOR, "\tfor { // never serves\n\t\ttime.Sleep(time.Hour)\n\t}\n" + _SERVE_ANCHOR)],
    # a compiled-in handshake cookie that is not GatewayD's: go-plugin refuses to serve
    "wrong-cookie": [(_COOKIE_ANCHOR,
                      '\t\t\tMagicCookieKey:   "GATEWAYD_PLUGIN",\n'
                      f'\t\t\tMagicCookieValue: "{WRONG_COOKIE_VALUE}",\n'),
                     (_IMPORTS_END_ANCHOR,
                      "\n)\n\nvar _ = sdkConfig.GetEnv // keeps the import used\n\n// Failure knobs")],
    # exits 1 with an error log line unless EXAMPLE_SETTING=on is in its environment
    "needs-env": [(_LOGGER_ANCHOR,
                   f'\tif os.Getenv("{NEEDS_ENV_KEY}") != "{NEEDS_ENV_VALUE}" {{\n'
                   f'\t\tlogger.Error("{NEEDS_ENV_KEY} is not {NEEDS_ENV_VALUE}: refusing to start")\n'
                   "\t\tos.Exit(1)\n\t}\n\n" + _LOGGER_ANCHOR)],
    # metadata GetPluginConfig cannot encode (structpb takes []any, not []string: an easy slip): the handshake
    # passes, but GatewayD skips the plugin ("Failed to get plugin metadata"); only a load in GatewayD sees it
    "bad-plugin-config": [("\timpl := &plugin.Plugin{Logger: logger}\n",
                           '\tplugin.PluginConfig["tags"] = []string{"example"}\n'
                           "\timpl := &plugin.Plugin{Logger: logger}\n")],
}
BROKEN_PLUGIN_KINDS = ("panic", "never-serves", "wrong-cookie")


def patch_plugin_variant(project: Path, kind: str) -> Path:
    """Apply variant ``kind`` of :data:`PLUGIN_VARIANTS` to ``project/main.go`` (fails loudly when the
    anchor text is gone, i.e. when main.go changed)."""
    main_go = project / "main.go"
    text = main_go.read_text(encoding="utf-8")
    for anchor, replacement in PLUGIN_VARIANTS[kind]:
        assert text.count(anchor) == 1, f"main.go of the example changed: anchor for {kind!r} not found once:\n{anchor}"
        text = text.replace(anchor, replacement, 1)
    main_go.write_text(text, encoding="utf-8")
    return project


def broken_plugin_project(tmp_path: Path, kind: str, tag: str | None = None) -> Path:
    """A git-initialised copy of the example plugin in ``tmp_path/<kind>/gatewayd-plugin-example`` whose
    main.go is patched to misbehave as ``kind`` (a key of :data:`PLUGIN_VARIANTS`)."""
    from tests.conftest import copy_plugin, git_init  # noqa: PLC0415 - conftest imports this module

    project = copy_plugin(EXAMPLE_PLUGIN_SRC, tmp_path / kind / EXAMPLE_PLUGIN_NAME)
    patch_plugin_variant(project, kind)
    git_init(project, tag=tag)
    return project


@pytest.fixture
def broken_plugin(tmp_path: Path) -> Callable[..., Path]:
    """``broken_plugin("panic")`` → a private, git-initialised project of that variant (see
    :func:`broken_plugin_project`; kinds: :data:`PLUGIN_VARIANTS`)."""

    def make(kind: str, tag: str | None = None) -> Path:
        return broken_plugin_project(tmp_path, kind, tag)

    return make
