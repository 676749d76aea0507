"""Go tools (golangci-lint, govulncheck) built from the Go module proxy with the project's own Go.

One Go everywhere: the tools are ``go install``-ed by the same ``go`` (same ``GOTOOLCHAIN``, same working
directory) that runs the tests, never by a second toolchain or a second checkout (govulncheck-action's
drift). Binaries land in ``<tools dir>/<go version>/<name>@<version>/`` so a cache
keyed by the Go version restores exactly what this Go built.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gatewayd_plugin_actions import actions_io
from gatewayd_plugin_actions.errors import UserError

# Override of the tools directory (tests, self-hosted runners). Not GATEWAYD_*: GatewayD reads those as config.
TOOLS_ENV = "GPA_TOOLS_DIR"
# What `go` says (with -mod=readonly, as the release builds) when go.mod/go.sum are not tidy: the release's build
# error hint and `init`'s go.sum check read the same words.
NOT_TIDY_MARKERS = ("missing go.sum entry", "updates to go.mod needed")


def says_not_tidy(go_output: str) -> bool:
    return any(marker in go_output for marker in NOT_TIDY_MARKERS)


@dataclass(frozen=True)
class GoTool:
    name: str  # the binary's name
    package: str  # the main package's import path, without @version
    version: str  # a pinned module version, e.g. v1.1.4

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


TOOL_PINS = Path(__file__).resolve().parent / "toolpins" / "go.mod"


@functools.cache
def pinned_version(module: str, go_mod: Path = TOOL_PINS) -> str:
    """The version of ``module`` that ``go_mod`` (a go.mod under ``toolpins/``) requires. The pins live in go.mod
    files (not in Python) so that Dependabot's gomod ecosystem bumps them; a bot's PR is complete by itself."""
    text = go_mod.read_text(encoding="utf-8")
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", text, re.MULTILINE)
    if match is None:
        raise UserError(f"{go_mod}: no `require {module} vX.Y.Z`; reinstall gatewayd-plugin-actions")
    return match.group(1)


def go_directive(go_mod: Path) -> tuple[int, int]:
    """(major, minor) of the ``go`` directive of ``go_mod``."""
    match = re.search(r"^go\s+(\d+)\.(\d+)", go_mod.read_text(encoding="utf-8"), re.MULTILINE)
    if match is None:
        raise UserError(f"{go_mod}: no `go` directive; reinstall gatewayd-plugin-actions")
    return int(match.group(1)), int(match.group(2))


def tools_root() -> Path:
    """Where built tools live: $GPA_TOOLS_DIR, the runner's tool cache, else ~/.cache."""
    if explicit := os.environ.get(TOOLS_ENV):
        return Path(explicit)
    if tool_cache := os.environ.get("RUNNER_TOOL_CACHE"):
        return Path(tool_cache) / "gatewayd-plugin-actions"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gatewayd-plugin-actions" / "tools"


def go_binary() -> str:
    path = shutil.which("go")
    if path is None:
        raise UserError("`go` is not on PATH; install Go first (on Actions: actions/setup-go with go-version-file)")
    return path


def go_env(project: Path, *names: str) -> list[str]:
    """``go env NAME…`` as the project sees it (its go.mod may select another toolchain)."""
    result = subprocess.run([go_binary(), "env", *names], cwd=project, capture_output=True, text=True,
                            check=False, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise UserError(f"`go env` failed in {project}: {result.stderr.strip()}")
    return result.stdout.splitlines()


@functools.cache  # asked by the command and again by ensure_tool within one run
def go_version(project: Path) -> str:
    """The Go the project builds with, e.g. ``go1.24.6``."""
    return go_env(project, "GOVERSION")[0].strip()


_GO_VERSION_RE = re.compile(r"^go(\d+)\.(\d+)")


def go_minor(version: str) -> tuple[int, int]:
    """``go1.24.6`` → ``(1, 24)``; devel builds count as very new."""
    match = _GO_VERSION_RE.match(version)
    if match is None:
        return (1, 999)
    return (int(match.group(1)), int(match.group(2)))


def tool_path(tool: GoTool, goversion: str) -> Path:
    suffix = ".exe" if os.name == "nt" else ""
    return tools_root() / goversion / f"{tool.name}@{tool.version}" / f"{tool.name}{suffix}"


def ensure_tool(tool: GoTool, project: Path) -> Path:
    """The tool's binary, built with the project's Go on first use (``go install pkg@version``)."""
    goversion = go_version(project)
    target = tool_path(tool, goversion)
    if target.is_file() and os.access(target, os.X_OK):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    actions_io.progress(f"building {tool.spec} with {goversion} (once per Go version; cached)")
    with tempfile.TemporaryDirectory(dir=target.parent) as staging:
        env = dict(os.environ, GOBIN=staging, CGO_ENABLED="0")
        env.pop("GOFLAGS", None)  # the project's -mod=vendor or -race must not leak into the tool build
        result = subprocess.run([go_binary(), "install", "-trimpath", tool.spec], cwd=project, env=env,
                                capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise UserError(f"could not build {tool.spec} with {goversion}:\n{result.stderr.strip()}")
        built = Path(staging) / target.name
        built.replace(target)  # atomic: a concurrent job sees the old state or the finished binary
    return target
