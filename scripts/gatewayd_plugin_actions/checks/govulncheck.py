"""govulncheck, pinned and run with the project's Go: no second checkout, no switch to ``stable``.

govulncheck-action re-checks the repository out, installs ``@latest`` (golang/go#67782) and defaults to
Go ``stable`` (golang/go#70036). Here the pinned release is built by the same ``go`` that runs the tests,
in place. Only vulnerabilities whose vulnerable symbols the code calls fail the step, as govulncheck's own
text mode does; imported-only and required-only ones are reported as notices.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatewayd_plugin_actions import actions_io, gotools
from gatewayd_plugin_actions.actions_io import display_path
from gatewayd_plugin_actions.errors import Problem, UserError, last_lines

GOVULNCHECK = gotools.GoTool("govulncheck", "golang.org/x/vuln/cmd/govulncheck",
                             gotools.pinned_version("golang.org/x/vuln"))
DB_ENV = "GOVULNDB"  # a mirror of vuln.go.dev (file:// or https://), as the go command's own docs name it


@dataclass
class Vulnerability:
    osv: str
    summary: str = ""
    fixed_version: str = ""
    module: str = ""
    level: str = "module"  # "symbol" (called), "package" (imported) or "module" (required)
    position: tuple[str, int] | None = None  # first call site in the project, when called
    trace: list[str] = field(default_factory=list)

    @property
    def called(self) -> bool:
        return self.level == "symbol"


_LEVELS = {"module": 0, "package": 1, "symbol": 2}


def parse_stream(text: str) -> list[Any]:
    """govulncheck's ``-format json`` output: a stream of concatenated JSON objects."""
    decoder = json.JSONDecoder()
    messages: list[Any] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return messages
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise UserError(f"govulncheck wrote unreadable JSON at offset {index}: {exc}") from None
        messages.append(value)


def _frame_text(frame: dict[str, Any]) -> str:
    """``hclog.New``, ``yamux.(*Session).Ping``, or the package/module when no function is known."""
    function = frame.get("function")
    if not function:
        return str(frame.get("package") or frame.get("module") or "?")
    package = str(frame.get("package") or "").rsplit("/", 1)[-1]
    receiver = frame.get("receiver")
    name = f"{receiver}.{function}" if receiver else function
    return f"{package}.{name}" if package else name


def collect(messages: Iterable[Any], base: Path) -> list[Vulnerability]:
    """One Vulnerability per OSV id, at the deepest level any finding reached."""
    summaries: dict[str, str] = {}
    found: dict[str, Vulnerability] = {}
    for message in messages:
        if not isinstance(message, dict):
            continue
        if osv := message.get("osv"):
            summaries[osv.get("id", "")] = osv.get("summary") or osv.get("details", "").split("\n")[0]
        finding = message.get("finding")
        if not finding:
            continue
        trace = finding.get("trace") or [{}]
        vulnerable = trace[0]
        level = "symbol" if vulnerable.get("function") else "package" if vulnerable.get("package") else "module"
        vuln = found.setdefault(finding["osv"], Vulnerability(finding["osv"]))
        if _LEVELS[level] < _LEVELS[vuln.level] and vuln.module:
            continue
        vuln.level = level
        vuln.fixed_version = finding.get("fixed_version") or ""
        vuln.module = f"{vulnerable.get('module', '')}@{vulnerable.get('version', '')}".rstrip("@")
        vuln.trace = [_frame_text(frame) for frame in reversed(trace)]
        for frame in reversed(trace):  # the outermost frame is the project's own call site
            position = frame.get("position") or {}
            if position.get("filename") and position.get("line"):
                path = Path(position["filename"])
                vuln.position = (display_path(path if path.is_absolute() else base / path), int(position["line"]))
                break
    for vuln in found.values():
        vuln.summary = summaries.get(vuln.osv, "")
    return sorted(found.values(), key=lambda v: (-_LEVELS[v.level], v.osv))


def problems(vulns: list[Vulnerability]) -> list[Problem]:
    out: list[Problem] = []
    for vuln in vulns:
        fix = f"; fixed in {vuln.fixed_version}" if vuln.fixed_version else "; no fix yet"
        if vuln.called:
            file, line = vuln.position or (None, None)
            out.append(Problem(f"{vuln.osv}: {vuln.summary} — {vuln.module} is called via "
                               f"{' → '.join(vuln.trace)}{fix}", file, line, "error", title=f"govulncheck: {vuln.osv}"))
        else:
            how = "imported" if vuln.level == "package" else "required"
            out.append(Problem(f"{vuln.osv}: {vuln.summary} — {vuln.module} is {how} but the vulnerable code is "
                               f"not called{fix}", severity="notice", title=f"govulncheck: {vuln.osv}"))
    return out


def run_govulncheck(project: Path, packages: list[str], db: str | None = None) -> list[Vulnerability]:
    binary = gotools.ensure_tool(GOVULNCHECK, project)
    command = [str(binary), "-format", "json"]
    database = db or os.environ.get(DB_ENV)
    if database:
        command += ["-db", database]
    command += packages
    actions_io.progress(f"$ {' '.join(command)}")
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise UserError(f"govulncheck {GOVULNCHECK.version} failed (exit {result.returncode}):\n"
                        f"{result.stderr.strip() or last_lines(result.stdout, 2000)}")
    return collect(parse_stream(result.stdout), project)
