"""The ``test`` action's subcommands: ``lint-plan``, ``lint``, ``govulncheck``, ``go-test``, ``test-summary``.

Each check writes a small JSON result into ``--report-dir`` (when given) so the last step can draw one
summary table even when an earlier check failed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import tempfile
from pathlib import Path

from gatewayd_plugin_actions import actions_io, gotools
from gatewayd_plugin_actions.checks import golangci, gotest, govulncheck, plan, summary
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.userfiles import path_arg


def _project(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", type=path_arg, default=Path(), metavar="DIR",
                        help="the Go module to check (default: the current directory)")
    parser.add_argument("--report-dir", type=path_arg, metavar="DIR",
                        help="write this check's result as JSON here, for test-summary")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = subparsers.add_parser("lint-plan", help="which Go and golangci-lint to use, and their cache key",
                                 description="Print (and on Actions, output) the Go version, the golangci-lint "
                                             "release chosen from the config's version key, and the cache key.")
    _project(plan)
    plan.add_argument("--golangci-lint-version", default="auto", metavar="VERSION",
                      help="force a golangci-lint release (default: auto, from the config's version key)")
    plan.set_defaults(func=run_plan)

    lint = subparsers.add_parser("lint", help="build (once) and run golangci-lint matching the config's major")
    _project(lint)
    lint.add_argument("--golangci-lint-version", default="auto", metavar="VERSION")
    lint.add_argument("--args", default="", metavar="ARGS", help="extra arguments for `golangci-lint run`")
    lint.set_defaults(func=run_lint)

    vuln = subparsers.add_parser("govulncheck", help=f"run govulncheck {govulncheck.GOVULNCHECK.version} with the "
                                                     "project's Go")
    _project(vuln)
    vuln.add_argument("--db", metavar="URL", help=f"vulnerability database (default: ${govulncheck.DB_ENV} or "
                                                  "https://vuln.go.dev)")
    vuln.add_argument("packages", nargs="*", default=["./..."], help="packages (default: ./...)")
    vuln.set_defaults(func=run_govulncheck)

    test = subparsers.add_parser("go-test", help="go test -json with coverage; counts, coverage %%, annotations")
    _project(test)
    test.add_argument("--test-args", default="", metavar="ARGS", help="extra `go test` arguments, e.g. '-race'")
    test.add_argument("--coverprofile", type=path_arg, default=Path("profile.cov"), metavar="FILE",
                      help="coverage profile, relative to --project (default: profile.cov)")
    test.add_argument("--no-coverage", dest="coverage", action="store_false", help="skip the coverage profile")
    test.add_argument("--allow-no-tests", action="store_true",
                      help="pass when no test ran (by default that fails in a module with *_test.go files)")
    test.add_argument("packages", nargs="*", default=["./..."], help="packages (default: ./...)")
    test.set_defaults(func=run_go_test)

    summary = subparsers.add_parser("test-summary", help="one step-summary table from the checks' results")
    summary.add_argument("--report-dir", type=path_arg, required=True, metavar="DIR")
    summary.set_defaults(func=run_summary)


def _project_dir(args: argparse.Namespace) -> Path:
    project: Path = args.project.resolve()
    if not (project / "go.mod").is_file():
        raise UserError(f"{args.project}: no go.mod here; set working-directory to the plugin's Go module")
    return project


def run_plan(args: argparse.Namespace) -> int:
    project = _project_dir(args)
    report_dir = args.report_dir or Path(tempfile.mkdtemp(prefix="gpa-test.", dir=os.environ.get("RUNNER_TEMP")))
    outputs = plan.tools_plan(project, args.golangci_lint_version, report_dir)
    for name, value in outputs.items():
        actions_io.set_output(name, value)
    summary.write_report(report_dir, "plan", outputs)
    return 0


def run_lint(args: argparse.Namespace) -> int:
    project = _project_dir(args)
    goversion = gotools.go_version(project)
    lint = golangci.plan(project, goversion, args.golangci_lint_version)
    os.environ.setdefault("GOLANGCI_LINT_CACHE",
                          str(gotools.tools_root() / goversion / f"golangci-lint-cache@{lint.version}"))
    actions_io.progress(f"golangci-lint {lint.version}: {lint.reason}")
    try:
        extra = shlex.split(args.args)
    except ValueError as exc:
        raise UserError(f"golangci-lint args {args.args!r}: {exc}") from None
    with actions_io.group(f"golangci-lint {lint.version}"):
        result = golangci.run_lint(project, lint, extra)
    actions_io.report(result.findings)
    errors = sum(1 for p in result.findings if p.is_error)
    summary.write_report(args.report_dir, "lint", {"version": lint.version, "findings": result.count, "errors": errors,
                                            "config": str(lint.config or "")})
    actions_io.set_output("lint-findings", str(result.count))
    actions_io.progress(f"golangci-lint {lint.version}: {result.count} finding(s)")
    return 1 if result.exit_code != 0 else 0


def run_govulncheck(args: argparse.Namespace) -> int:
    project = _project_dir(args)
    with actions_io.group(f"govulncheck {govulncheck.GOVULNCHECK.version}"):
        vulns = govulncheck.run_govulncheck(project, args.packages, args.db)
    actions_io.report(govulncheck.problems(vulns))
    called = [v for v in vulns if v.called]
    summary.write_report(args.report_dir, "govulncheck", {
        "version": govulncheck.GOVULNCHECK.version, "called": len(called), "other": len(vulns) - len(called),
        "ids": [v.osv for v in called]})
    actions_io.set_output("vulnerabilities", str(len(called)))
    actions_io.progress(f"govulncheck: {len(called)} vulnerability(ies) in called code, "
                        f"{len(vulns) - len(called)} more in dependencies but not called")
    return 1 if called else 0


def run_go_test(args: argparse.Namespace) -> int:
    project = _project_dir(args)
    profile = (project / args.coverprofile).resolve() if args.coverage else None
    report = gotest.run_tests(project, args.test_args, profile, args.packages, args.allow_no_tests)
    problems = gotest.failure_problems(report, project)
    coverage = "" if report.coverage is None else f"{report.coverage:.1f}"
    summary.write_report(args.report_dir, "go-test", {
        "passed": report.passed, "failed": report.failed, "skipped": report.skipped, "coverage": report.coverage,
        "failed_packages": len(report.failed_packages), "build_errors": len(report.build_errors),
        "failures": [str(p) for p in problems[:20]]})
    actions_io.set_output("tests-passed", str(report.passed))
    actions_io.set_output("tests-failed", str(report.failed))
    actions_io.set_output("coverage", coverage)
    actions_io.set_output("coverage-profile", str(profile) if profile and profile.exists() else "")
    actions_io.progress(f"go test: {report.passed} passed, {report.failed} failed, {report.skipped} skipped"
                        + (f"; coverage {coverage}%" if coverage else ""))
    actions_io.report(problems)  # after the counts: a failed run ends with why it failed
    return 0 if report.ok else 1


def run_summary(args: argparse.Namespace) -> int:
    markdown = summary.summary_markdown(args.report_dir)
    actions_io.append_summary(markdown)
    if not actions_io.in_actions():
        print(markdown)
    return 0
