"""golangci-lint: pick the major the project's config is written for, build it with the project's Go, run it.

Every GatewayD plugin today has a v1 config (``enable-all`` plus a disable list); golangci-lint v2 and
golangci-lint-action v7+ reject those. So the config's ``version`` key decides: absent → the last v1
(v1.64.8), ``"2"`` → a current v2, the newest whose ``go`` directive the project's Go can build (setup-go
sets ``GOTOOLCHAIN=local``, and a linter built with an older Go than the code it reads refuses to run).
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gatewayd_plugin_actions import actions_io, gotools
from gatewayd_plugin_actions.actions_io import display_path
from gatewayd_plugin_actions.errors import Problem, Severity, UserError

CONFIG_NAMES = (".golangci.yml", ".golangci.yaml", ".golangci.toml", ".golangci.json")
LAST_V1 = "v1.64.8"
V1_PACKAGE = "github.com/golangci/golangci-lint/cmd/golangci-lint"
V2_PACKAGE = "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
V2_MODULE = "github.com/golangci/golangci-lint/v2"
# The v2 release for the newest Go: toolpins/golangci-lint-v2/go.mod requires it, and its `go` directive is that
# release's (`go get` raises it), so a Dependabot bump there moves the newest row by itself.
V2_PINS = gotools.TOOL_PINS.parent / "golangci-lint-v2" / "go.mod"
# The last v2 release for each older Go minor (facts that do not change: golangci-lint releases only for its
# newest Go). When a bump raises the pin's `go` directive, the release it replaced becomes a row here
# (tests/checks/test_go_checks.py fails until every minor down to the oldest has one).
V2_FOR_OLDER_GO: tuple[tuple[tuple[int, int], str], ...] = (
    ((1, 25), "v2.12.2"),
    ((1, 24), "v2.8.0"),
    ((1, 23), "v2.3.1"),
)


def v2_by_go() -> tuple[tuple[tuple[int, int], str], ...]:
    """Newest v2 release per minimum Go (the go directive of its go.mod), newest first."""
    newest = gotools.go_directive(V2_PINS)
    older = tuple(row for row in V2_FOR_OLDER_GO if row[0] < newest)
    return ((newest, gotools.pinned_version(V2_MODULE, V2_PINS)), *older)


@dataclass(frozen=True)
class LintPlan:
    config: Path | None
    config_version: int  # 1 or 2
    tool: gotools.GoTool
    reason: str

    @property
    def version(self) -> str:
        return self.tool.version


def find_config(project: Path) -> Path | None:
    """The config golangci-lint would read: in the project directory, then its parents up to the repo root."""
    directory = project.resolve()
    while True:
        for name in CONFIG_NAMES:
            if (directory / name).is_file():
                return directory / name
        if (directory / ".git").exists() or directory.parent == directory:
            return None
        directory = directory.parent


def config_version(config: Path) -> int:
    """1 or 2, from the config's top-level ``version`` key (absent means v1, as golangci-lint v2 reads it)."""
    text = config.read_text(encoding="utf-8")
    try:
        # YAML 1.2, as golangci-lint's reader (go-yaml v3) reads it; JSON is YAML too.
        data: Any = tomllib.loads(text) if config.suffix == ".toml" else YAML(typ="safe", pure=True).load(text)
    except (YAMLError, tomllib.TOMLDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise UserError(f"{display_path(config)}: not valid {config.suffix.lstrip('.')}: {reason}") from None
    if data is None:
        return 1
    if not isinstance(data, dict):
        raise UserError(f"{display_path(config)}: expected a mapping at the top level")
    value = data.get("version")
    if value is None:
        return 1
    if str(value).strip() == "2":
        return 2
    raise UserError(f"{display_path(config)}: unsupported golangci-lint config version {value!r} (expected \"2\" "
                    "or no version key for a v1 config)")


def v2_for_go(goversion: str) -> str:
    minor = gotools.go_minor(goversion)
    for minimum, release in v2_by_go():
        if minor >= minimum:
            return release
    raise UserError(f"{goversion} is too old for golangci-lint v2 (needs Go 1.23+); set golangci-lint-version")


def tool_for(version: str) -> gotools.GoTool:
    if not version.startswith("v"):
        version = "v" + version
    package = V1_PACKAGE if version.startswith("v1.") else V2_PACKAGE
    return gotools.GoTool("golangci-lint", package, version)


def plan(project: Path, goversion: str, override: str | None = None) -> LintPlan:
    config = find_config(project)
    major = config_version(config) if config else 2
    where = display_path(config) if config else "no config file"
    if override and override not in ("auto", "latest"):
        tool = tool_for(override)
        chosen = 1 if tool.version.startswith("v1.") else 2
        if chosen != major:
            raise UserError(f"golangci-lint-version {tool.version} cannot read a v{major} config ({where}); "
                            f"{'remove the version key' if major == 1 else 'use a v2 release'} or migrate "
                            "with `golangci-lint migrate`")
        return LintPlan(config, major, tool, f"golangci-lint-version {tool.version} requested")
    if major == 1:
        reason = f"{where} is a v1 config (no `version: \"2\"`): the last v1 release"
        return LintPlan(config, 1, tool_for(LAST_V1), reason)
    reason = f"{where}: v2, the newest release {goversion} can build"
    return LintPlan(config, 2, tool_for(v2_for_go(goversion)), reason)


@dataclass
class LintResult:
    findings: list[Problem] = field(default_factory=list)
    exit_code: int = 0

    @property
    def count(self) -> int:
        return len(self.findings)


def lint_command(binary: Path, lint: LintPlan, json_path: Path, extra: list[str]) -> list[str]:
    command = [str(binary), "run"]
    if lint.config_version == 1:
        command.append(f"--out-format=line-number:stdout,json:{json_path}")
    else:
        command += ["--output.text.path=stdout", "--output.text.colors=false", f"--output.json.path={json_path}"]
    return [*command, *extra]


def parse_json_report(text: str, base: Path) -> list[Problem]:
    """golangci-lint's JSON output → one Problem per issue, paths relative to the workspace."""
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise UserError(f"golangci-lint wrote unreadable JSON: {exc}") from None
    problems: list[Problem] = []
    for issue in data.get("Issues") or []:
        position = issue.get("Pos") or {}
        filename = position.get("Filename") or ""
        path = Path(filename)
        shown = display_path(path if path.is_absolute() else base / path) if filename else None
        severity: Severity = "warning" if str(issue.get("Severity", "")).lower() in ("warning", "info") else "error"
        linter = issue.get("FromLinter") or "golangci-lint"
        problems.append(Problem(f"{issue.get('Text', '').strip()} ({linter})", shown, position.get("Line") or None,
                                severity, title=f"golangci-lint: {linter}"))
    return problems


def run_lint(project: Path, lint: LintPlan, extra: list[str]) -> LintResult:
    binary = gotools.ensure_tool(lint.tool, project)
    json_path = Path(os.environ.get("RUNNER_TEMP") or project) / f".golangci-report-{os.getpid()}.json"
    command = lint_command(binary, lint, json_path, extra)
    actions_io.progress(f"$ {' '.join(command)}")
    try:
        result = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False,
                                stdin=subprocess.DEVNULL)
        report = json_path.read_text(encoding="utf-8") if json_path.exists() else ""
    finally:
        json_path.unlink(missing_ok=True)
    # golangci-lint's own text (stdout) is not echoed: every finding is in its JSON report, and the caller lists
    # each one once, as ``file:line: message`` (and an annotation on Actions). Echoing both printed each twice.
    if result.returncode not in (0, 1) or (result.returncode == 1 and not report.strip()):
        raise UserError(f"golangci-lint {lint.version} failed (exit {result.returncode}):\n{result.stderr.strip()}")
    findings = parse_json_report(report, project)
    return LintResult(findings, result.returncode)
