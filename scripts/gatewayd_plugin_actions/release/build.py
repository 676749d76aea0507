"""Stage ``build``: cross-compile the plugin for every target, exactly as it will be released.

``CGO_ENABLED=0`` (as every official plugin since 2023), ``-trimpath`` and ``-buildvcs=false`` so two
builds of one commit are byte-identical wherever they run, ``-s -w`` as today's Makefiles, and the
version injected with ``-X`` into the plugin's ``Version`` variable. The Go linker silently ignores an
``-X`` for a symbol that does not exist (GatewayD's scaffold ships exactly that bug), so the variable is
checked in the source first.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from gatewayd_plugin_actions import actions_io, dist
from gatewayd_plugin_actions.contract import sha256_file
from gatewayd_plugin_actions.errors import Problem, UserError, shorten
from gatewayd_plugin_actions.gotools import go_binary, says_not_tidy
from gatewayd_plugin_actions.release.context import Binary, ReleaseContext
from gatewayd_plugin_actions.targets import Target


def go_module_path(project: Path) -> str:
    go_mod = project / "go.mod"
    try:
        text = go_mod.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{go_mod}: not found; the project must be a Go module (run `go mod init`)") from None
    match = re.search(r"^module\s+(\S+)", text, re.MULTILINE)
    if not match:
        raise UserError(f"{go_mod}: no module line")
    return match.group(1).strip('"')


def _package_declares(directory: Path, name: str) -> str | None:
    """'var' if the Go package in ``directory`` declares a package-level ``name`` as a var, 'const' for a
    const, else None. A text scan: enough to catch the silent -X no-op, without needing go/types."""
    if not directory.is_dir():
        return None
    word = re.escape(name)
    single = re.compile(rf"^(var|const)\s+{word}\b", re.MULTILINE)
    block = re.compile(r"^(var|const)\s*\((.*?)^\)", re.MULTILINE | re.DOTALL)
    # A declaration in a var/const block is `Version = …` or `Version string`; a composite-literal field such
    # as `Version: "0.1.0"` (GatewayD's scaffold has one in its PluginID) is not, and -X cannot set it.
    in_block = re.compile(rf"^\s*{word}(?:\s+string)?\s*=|^\s*{word}\s+string\s*$", re.MULTILINE)
    found: str | None = None
    for source in sorted(directory.glob("*.go")):
        if source.name.endswith("_test.go"):
            continue
        text = re.sub(r"//[^\n]*", "", source.read_text(encoding="utf-8", errors="replace"))
        kinds = [m.group(1) for m in single.finditer(text)]
        kinds += [m.group(1) for m in block.finditer(text) if in_block.search(m.group(2))]
        if "var" in kinds:
            return "var"
        if "const" in kinds:
            found = "const"
    return found


def resolve_version_variable(project: Path, requested: str | None) -> str | None:
    """The ``-X`` symbol for the version: the requested one (checked), or ``<module>/plugin.Version``."""
    module = go_module_path(project)
    if requested is None:
        candidate = f"{module}/plugin.Version"
        return candidate if _package_declares(project / "plugin", "Version") == "var" else None
    if requested in ("", "none"):
        return None
    package, _, name = requested.rpartition(".")
    if requested.startswith(("http://", "https://")):
        raise UserError(f"version variable {requested!r} contains a URL scheme; -X needs an import path "
                        f"such as {module}/plugin.Version (GatewayD's scaffold Makefile has this bug)")
    if not package or not name:
        raise UserError(f"version variable {requested!r} must look like IMPORTPATH.Name, "
                        f"e.g. {module}/plugin.Version")
    if package == "main":
        directory = project
    elif package == module or package.startswith(module + "/"):
        directory = project / package[len(module):].lstrip("/")
    else:
        raise UserError(f"version variable {requested!r} is outside this module ({module}); "
                        "the linker would ignore it silently")
    kind = _package_declares(directory, name)
    if kind == "const":
        raise UserError(f"{package}.{name} is a constant; -X can only set a string variable "
                        f"(change it to `var {name} = \"…\"`)")
    if kind is None:
        raise UserError(f"no string variable {name} in {directory}; the linker would ignore "
                        f"-X {requested} silently and the plugin would report the wrong version")
    return requested


def check_extra_ldflags(extra: str, version_variable: str | None) -> None:
    """Refuse ``--ldflags`` that cannot be split, or that set the version variable: the linker keeps the last
    ``-X``, so the archive named after the tag would hold a binary that reports another version."""
    try:
        words = shlex.split(extra)
    except ValueError as exc:
        raise UserError(f"--ldflags {shorten(extra, 200)!r} cannot be split ({exc}); quote it as a shell "
                        "would") from None
    for index, word in enumerate(words):
        if word in ("-X", "--X"):
            setting = words[index + 1] if index + 1 < len(words) else ""
        elif word.startswith(("-X=", "--X=")):
            setting = word.split("=", 1)[1]
        else:
            continue
        name = setting.split("=", 1)[0]
        if version_variable is not None and name == version_variable:
            raise UserError(f"--ldflags sets {name} ({shorten(setting, 80)!r}), the version variable the release "
                            f"injects from the tag; remove that -X from --ldflags: the tag decides the version")


def ldflags(ctx: ReleaseContext) -> str:
    flags = ["-s", "-w"]
    if ctx.version_variable and ctx.version is not None:
        flags.append(f"-X {ctx.version_variable}={ctx.version.number}")
    if ctx.options.extra_ldflags:
        flags.append(ctx.options.extra_ldflags)
    return " ".join(flags)


def build_command(ctx: ReleaseContext, output: Path) -> list[str]:
    command = [go_binary(), "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags(ctx), "-o", str(output)]
    if ctx.options.build_tags:
        command[2:2] = ["-tags", ctx.options.build_tags]
    command.append(ctx.options.main_package)
    return command


def binary_filename(ctx: ReleaseContext, target: Target) -> str:
    suffix = ".exe" if target.goos == "windows" and ctx.options.exe_suffix else ""
    return ctx.plugin_name + suffix


TOKEN_ENV = ("GITHUB_TOKEN", "GH_TOKEN", "GPA_GATEWAYD_TOKEN", "GPA_WORKFLOW_TOKEN")


# A cold build (empty module and build caches) can run for minutes without a word from `go build`: a line every
# HEARTBEAT seconds says which target is still building and whether Go is still downloading modules.
HEARTBEAT_ENV = "GPA_HEARTBEAT_SECONDS"
DEFAULT_HEARTBEAT_SECONDS = 15.0
DOWNLOADING = "go: downloading "


def heartbeat_seconds() -> float:
    """The heartbeat interval: $GPA_HEARTBEAT_SECONDS (tests and benchmarks shorten it), else 15 s."""
    text = os.environ.get(HEARTBEAT_ENV, "").strip()
    if not text:
        return DEFAULT_HEARTBEAT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise UserError(f"{HEARTBEAT_ENV}={text!r}: expected seconds between 0 and 3600 (default "
                        f"{DEFAULT_HEARTBEAT_SECONDS:g})")
    return value


@dataclass
class GoOutput:
    """What `go build` printed so far (stdout and stderr, one stream), read by a thread while it runs."""

    lines: list[str] = field(default_factory=list)
    downloads: int = 0  # `go: downloading MODULE VERSION` lines seen
    last_download: str = ""

    def read(self, stream: IO[str]) -> None:
        for line in stream:
            text = line.rstrip("\n")
            self.lines.append(text)
            if text.startswith(DOWNLOADING):
                self.downloads += 1
                self.last_download = text.removeprefix(DOWNLOADING).strip()


def heartbeat_line(target: Target, elapsed: float, output: GoOutput, downloads_before: int) -> str:
    """``  building linux/amd64   15.0s so far; go is downloading modules (12 so far, latest …)``. Go prints a
    line as it starts fetching each module and nothing while it compiles, so after the last download line the
    two cannot be told apart: the line says so rather than guess."""
    if output.downloads > downloads_before:
        doing = f"go is downloading modules ({output.downloads} so far, latest {shorten(output.last_download, 80)})"
    elif output.downloads:
        doing = (f"compiling (or still fetching {shorten(output.last_download, 80)}; {output.downloads} modules "
                 "downloaded so far)")
    else:
        doing = "compiling"
    return f"  building {target!s:<14} {elapsed:5.1f}s so far; {doing}"


def run_go_build(command: list[str], cwd: Path, env: dict[str, str], target: Target) -> tuple[int, str]:
    """Run `go build`, saying every heartbeat interval that it still runs (and what Go is doing)."""
    interval = heartbeat_seconds()
    output = GoOutput()
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace")
    reader = threading.Thread(target=output.read, args=(process.stdout,), daemon=True)
    reader.start()
    beat = started + interval
    seen = 0
    try:
        while True:
            try:
                code = process.wait(timeout=max(0.0, beat - time.monotonic()))
                break
            except subprocess.TimeoutExpired:
                now = time.monotonic()
                actions_io.progress(heartbeat_line(target, now - started, output, seen))
                seen = output.downloads
                beat = now + interval
    finally:
        if process.poll() is None:  # interrupted: no `go build` outlives the run
            process.kill()
            process.wait()
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
    return code, "\n".join(output.lines)


def build_target(ctx: ReleaseContext, target: Target) -> Binary:
    out_dir = ctx.options.dist / dist.BUILD_DIR / target.slug
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / binary_filename(ctx, target)
    # The plugin's own code runs at build time (cgo, generate hooks of tools): it never sees our tokens.
    env = {k: v for k, v in os.environ.items() if k not in TOKEN_ENV}
    env.update(GOOS=target.goos, GOARCH=target.goarch, CGO_ENABLED="1" if ctx.options.cgo else "0")
    started = time.monotonic()
    returncode, stderr = run_go_build(build_command(ctx, output), ctx.options.project, env, target)
    seconds = time.monotonic() - started
    if returncode != 0:
        lines = stderr.strip().splitlines()
        tail = "\n".join(lines[-15:])
        first = next((ln for ln in lines if ln.strip() and not ln.startswith(("go: downloading", "\t", "#"))), "")
        hint = ""
        if "usage: link" in stderr or "flag provided but not defined" in stderr:
            # The linker prints its whole usage; the one line that matters names the flag, we name the input.
            first = next((ln for ln in lines if "flag provided but not defined" in ln or "invalid" in ln), first)
            hint = (f"; the Go linker refused --ldflags {shorten(ctx.options.extra_ldflags, 200)!r}: check it "
                    "against `go tool link -help`")
            tail = first
        elif says_not_tidy(stderr):
            hint = ("; go.mod/go.sum are not tidy: run `go mod tidy` and commit both "
                    "(the release builds exactly what is committed)")
        raise UserError(f"go build failed for {target}:\n{tail}{hint}",
                        [Problem(f"go build failed for {target}: {first}{hint}")])
    size = output.stat().st_size
    actions_io.progress(f"  built    {target!s:<14} {size / 1e6:6.1f} MB  {seconds:5.1f}s")
    return Binary(target, output, sha256_file(output), size, seconds, started)
