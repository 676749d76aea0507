"""``go test -json`` with a coverage profile, read into counts, coverage % and failure annotations.

The human log stays what ``go test -v`` prints (the JSON stream's ``Output`` fields, replayed as they
arrive); the step summary and annotations come from the same stream, so nothing runs twice.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gatewayd_plugin_actions import actions_io, gotools
from gatewayd_plugin_actions.actions_io import display_path
from gatewayd_plugin_actions.errors import Problem, UserError

# "    plugin_test.go:42: want 1, got 2" as the testing package prints it.
_LOCATION_RE = re.compile(r"^\s+([\w./-]+\.go):(\d+): (.*)$")


@dataclass
class GoTestCase:
    package: str
    name: str
    outcome: str = "run"  # pass, fail, skip; "run" if the binary died mid-test
    elapsed: float = 0.0
    output: list[str] = field(default_factory=list)


@dataclass
class PackageResult:
    name: str
    outcome: str = "run"
    output: list[str] = field(default_factory=list)
    coverage: float | None = None


@dataclass
class GoTestReport:
    tests: dict[tuple[str, str], GoTestCase] = field(default_factory=dict)
    packages: dict[str, PackageResult] = field(default_factory=dict)
    build_errors: list[str] = field(default_factory=list)
    coverage: float | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for test in self.tests.values() if test.outcome == outcome)

    @property
    def passed(self) -> int:
        return self.count("pass")

    @property
    def failed(self) -> int:
        return sum(1 for test in self.tests.values() if test.outcome in ("fail", "run"))

    @property
    def skipped(self) -> int:
        return self.count("skip")

    @property
    def failed_packages(self) -> list[PackageResult]:
        return [p for p in self.packages.values() if p.outcome == "fail"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.failed_packages and not self.build_errors

    def failing_leaves(self) -> list[GoTestCase]:
        """Failed tests none of whose subtests failed: where the failure really is."""
        failed = [t for t in self.tests.values() if t.outcome in ("fail", "run")]
        names = {(t.package, t.name) for t in failed}
        return [t for t in failed
                if not any(p == t.package and n.startswith(t.name + "/") for p, n in names)]


_COVERAGE_RE = re.compile(r"coverage: ([\d.]+)% of statements")


def parse_events(lines: Iterable[str], echo: bool = False) -> GoTestReport:
    report = GoTestReport()
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            # go vet and build errors arrive on the same stream as plain text (older Go)
            report.build_errors.append(line)
            if echo:
                print(line, flush=True)
            continue
        action = event.get("Action", "")
        if action in ("build-output", "build-fail"):
            if action == "build-output":
                report.build_errors.append(event.get("Output", "").rstrip("\n"))
                if echo:
                    print(event.get("Output", ""), end="", flush=True)
            continue
        package = event.get("Package", "")
        name = event.get("Test")
        result = report.packages.setdefault(package, PackageResult(package)) if package else None
        if action == "output":
            text = event.get("Output", "")
            if echo:
                print(text, end="", flush=True)
            if name:
                report.tests.setdefault((package, name), GoTestCase(package, name)).output.append(text)
            elif result is not None:
                result.output.append(text)
                if match := _COVERAGE_RE.search(text):
                    result.coverage = float(match.group(1))
            continue
        if name:
            test = report.tests.setdefault((package, name), GoTestCase(package, name))
            if action in ("pass", "fail", "skip"):
                test.outcome = action
                test.elapsed = float(event.get("Elapsed") or 0.0)
        elif result is not None and action in ("pass", "fail", "skip"):
            result.outcome = action
    return report


def profile_coverage(profile: Path) -> float | None:
    """Total statement coverage of a ``-coverprofile``, as ``go tool cover -func`` computes it."""
    if not profile.is_file():
        return None
    blocks: dict[str, tuple[int, bool]] = {}
    for line in profile.read_text(encoding="utf-8").splitlines()[1:]:
        try:
            where, statements, count = line.rsplit(" ", 2)
            covered = int(count) > 0
            previous = blocks.get(where)
            blocks[where] = (int(statements), covered or (previous is not None and previous[1]))
        except ValueError:
            continue
    total = sum(statements for statements, _ in blocks.values())
    if total == 0:
        return None
    return round(100.0 * sum(s for s, covered in blocks.values() if covered) / total, 1)


def package_dirs(project: Path) -> dict[str, Path]:
    """import path → directory, for turning ``file.go:12`` in test output into a workspace path."""
    result = subprocess.run([gotools.go_binary(), "list", "-e", "-f", "{{.ImportPath}}\t{{.Dir}}", "./..."],
                            cwd=project, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    dirs: dict[str, Path] = {}
    for line in result.stdout.splitlines():
        package, _, directory = line.partition("\t")
        if directory:
            dirs[package] = Path(directory)
    return dirs


def failure_problems(report: GoTestReport, project: Path) -> list[Problem]:
    dirs = package_dirs(project) if not report.ok else {}
    problems: list[Problem] = []
    for test in report.failing_leaves():
        file: str | None = None
        line: int | None = None
        messages: list[str] = []
        for text in test.output:
            if match := _LOCATION_RE.match(text.rstrip("\n")):
                if file is None:
                    directory = dirs.get(test.package, project)
                    file, line = display_path(directory / match.group(1)), int(match.group(2))
                messages.append(match.group(3))
            elif text.startswith("panic:"):
                messages.append(text.strip())
        detail = "; ".join(messages[:3]) or ("did not finish (panic or timeout)" if test.outcome == "run"
                                              else "failed")
        problems.append(Problem(f"{test.name} failed: {detail}", file, line, title=f"go test: {test.package}"))
    for package in report.failed_packages:
        if any(t.package == package.name and t.outcome in ("fail", "run") for t in report.tests.values()):
            continue
        tail = "".join(package.output[-5:]).strip() or "failed"
        problems.append(Problem(f"package {package.name} failed: {tail}", title="go test"))
    if report.build_errors and not problems:
        # Not always a build error: the exit status, or "ran no test" (the reason is in the line itself).
        problems.append(Problem("go test failed: " + "; ".join(report.build_errors[-10:]), title="go test"))
    return problems


def test_command(test_args: str, coverprofile: Path | None, packages: list[str]) -> list[str]:
    try:
        extra = shlex.split(test_args)
    except ValueError as exc:
        raise UserError(f"test-args {test_args!r}: {exc}") from None
    command = [gotools.go_binary(), "test", "-json"]
    if coverprofile is not None:
        if not any(arg.startswith("-covermode") for arg in extra):
            command.append("-covermode=atomic")
        command.append(f"-coverprofile={coverprofile}")
    # The packages go before the user's flags: after a flag `go test` does not know (a typo such as -rase), it
    # takes every later word as an argument for the test binary, so `./...` would silently become one.
    return [*command, *packages, *extra]


def test_files(project: Path) -> int:
    """How many ``*_test.go`` files the module has (vendor/, testdata/ and hidden folders do not count)."""
    skipped = {"vendor", "testdata"}
    return sum(1 for path in project.rglob("*_test.go")
               if not any(part in skipped or part.startswith((".", "_")) for part in path.relative_to(project).parts))


def run_tests(project: Path, test_args: str, coverprofile: Path | None, packages: list[str],
              allow_no_tests: bool = False) -> GoTestReport:
    command = test_command(test_args, coverprofile, packages)
    actions_io.progress(f"$ {shlex.join(command)}")
    with subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          stdin=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        report = parse_events(process.stdout, echo=True)
        code = process.wait()
    sys.stdout.flush()
    if coverprofile is not None:
        report.coverage = profile_coverage(coverprofile)
    if code != 0 and report.ok:
        report.build_errors.append(f"go test exited with status {code}")
    if report.ok and not report.tests and not allow_no_tests and (files := test_files(project)):
        report.build_errors.append(
            f"go test ran no test, although the module has {files} *_test.go file(s): check test-args "
            f"({test_args!r}) and the packages ({shlex.join(packages)}); set allow-no-tests if that is intended")
    return report
