"""``test-plugin``: build the plugin as the release does, install it with the real installer, load it in a real
GatewayD against real PostgreSQL, and prove traffic flows through it (plaintext and TLS) without a crash."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from types import FrameType

from gatewayd_plugin_actions import actions_io
from gatewayd_plugin_actions.commands.common import add_gatewayd_run, add_project
from gatewayd_plugin_actions.gatewayd import program
from gatewayd_plugin_actions.gatewayd.session import DEFAULT_START_TIMEOUT, PluginRunFailed, RunReport, summary_json
from gatewayd_plugin_actions.integration import engine
from gatewayd_plugin_actions.integration.engine import IntegrationOptions
from gatewayd_plugin_actions.userfiles import path_arg


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("test-plugin", help="load the plugin in a real GatewayD and send SQL through it",
                                   description=__doc__)
    add_project(parser)
    plugin = parser.add_argument_group("the plugin")
    add_gatewayd_run(parser.add_argument_group("GatewayD and PostgreSQL"), plugin)
    plugin.add_argument("--dev", action="store_true",
                        help="run GatewayD with --dev (it then ignores the plugin checksum)")
    plugin.add_argument("--checksum", metavar="HEX",
                        help="write this checksum instead of the binary's sha256 (a negative check: without "
                             "--dev GatewayD must refuse the plugin)")
    plugin.add_argument("--no-install", dest="install", action="store_false",
                        help="skip the `gatewayd plugin install` round-trip; load the built binary directly")
    plugin.add_argument("--health-check-period", default="1s", metavar="DURATION",
                        help="healthCheckPeriod for the run (default: 1s)")
    plugin.add_argument("--start-timeout", default=DEFAULT_START_TIMEOUT, metavar="DURATION",
                        help="startTimeout for the run: how long GatewayD waits for the plugin to serve (default: "
                             "%(default)s; GatewayD's own default is 1m)")
    plugin.add_argument("--settle", type=float, metavar="SECONDS",
                        help="how long to watch for crashes after the SQL (default: 2 × healthCheckPeriod + 0.5)")
    plugin.add_argument("--ready-timeout", type=float, default=90.0, metavar="SECONDS",
                        help="how long GatewayD may take to answer /healthz with 200 (default: 90)")
    plugin.add_argument("--plugin-errors", choices=engine.PLUGIN_ERRORS_MODES, default="warn",
                        help="what the plugin's own error and warning log lines do: warn (listed, annotated, "
                             "in the summary; the default), fail (the job fails naming the first) or ignore")
    build = parser.add_argument_group("build (as `release` builds)")
    build.add_argument("--version-variable", metavar="IMPORTPATH.Version")
    build.add_argument("--build-tags", default="", metavar="TAGS")
    build.add_argument("--ldflags", dest="extra_ldflags", default="", metavar="FLAGS")
    build.add_argument("--main-package", default=".", metavar="PKG")
    build.add_argument("--cgo", action="store_true")
    build.add_argument("--extra-files", metavar="PATH", nargs="*", default=[], type=path_arg)
    sql = parser.add_argument_group("SQL")
    sql.add_argument("--sql-file", type=path_arg, metavar="FILE",
                     help="more SQL to run through GatewayD (psql -X -A -t -q -v ON_ERROR_STOP=1)")
    sql.add_argument("--expect-file", type=path_arg, metavar="FILE",
                     help="the exact output --sql-file must print (trailing whitespace ignored)")
    parser.add_argument("--keep-logs", type=path_arg, metavar="DIR",
                        help="copy GatewayD's log, the generated configs and psql transcripts here")
    parser.set_defaults(func=run)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so every `finally` runs: GatewayD, PostgreSQL and the temp dir go away


def _summary(report: RunReport) -> str:
    ready = report.ready
    poll_ms = program.HEALTHZ_POLL_SECONDS * 1000
    rows = [
        ["GatewayD", report.gatewayd_version, report.gatewayd_source],
        ["PostgreSQL", report.postgres, ""],
        ["plugin", f"{report.plugin} {report.plugin_version}", ", ".join(report.hook_names) or "no hooks"],
        ["install", report.installed or "skipped (--no-install)", ""],
        ["time to ready", f"{ready.seconds:.2f}s" if ready else "-",
         f"/healthz polled every {poll_ms:.0f} ms; turned 200 within {ready.window * 1000:.0f} ms of detection" if ready
         else ""],
    ]
    if report.retried:
        rows.append(["GatewayD restarted once", "its own known race", report.retried])
    rows += [[f"SQL: {s.name}", "ok" if s.ok else "FAILED", f"{s.detail} ({s.seconds:.2f}s)"] for s in report.sql]
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items())
    logged = []
    if report.plugin_logged:
        logged = [f"**{report.plugin} logged errors or warnings of its own** (GatewayD relayed them; "
                  "`plugin-errors: fail` makes them fail the job):", "",
                  *("- `" + line.replace("`", "'") + "`" for line in report.plugin_logged), ""]
    return "\n".join([f"### test-plugin: {report.plugin} in {report.gatewayd_version}", "",
                      actions_io.markdown_table(["", "", ""], rows), *logged, f"Timings: {timings}", ""])


def run(args: argparse.Namespace) -> int:
    previous = signal.signal(signal.SIGTERM, _terminate)
    options = IntegrationOptions(
        project=args.project.resolve(), gatewayd_version=args.gatewayd_version,
        gatewayd_binary=args.gatewayd_binary, postgres_url=args.postgres_url,
        sql_file=args.sql_file.resolve() if args.sql_file else None,
        expect_file=args.expect_file.resolve() if args.expect_file else None,
        plugin_env=list(args.plugin_env), plugin_args=args.plugin_args, dev=args.dev, checksum=args.checksum,
        install=args.install, keep_logs=args.keep_logs.resolve() if args.keep_logs else None,
        health_check_period=args.health_check_period, start_timeout=args.start_timeout,
        ready_timeout=args.ready_timeout, settle=args.settle,
        repository=args.repository, version_variable=args.version_variable, build_tags=args.build_tags,
        extra_ldflags=args.extra_ldflags, main_package=args.main_package, cgo=args.cgo,
        extra_files=list(args.extra_files), plugin_errors=args.plugin_errors)
    try:
        report = engine.run_test_plugin(options)
    except PluginRunFailed as failure:
        print(f"test-plugin FAILED: {failure.reason}", file=sys.stderr, flush=True)
        if failure.log_lines:
            where = f" (all logs: {options.keep_logs})" if options.keep_logs else " (keep them all with --keep-logs)"
            print(f"{failure.title}{where}:", file=sys.stderr)
            for line in failure.log_lines:
                print(f"  {line}", file=sys.stderr)
        sys.stderr.flush()
        actions_io.append_summary(f"### test-plugin FAILED\n\n{failure.reason}\n")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    ready = report.ready
    actions_io.set_output("gatewayd-version", report.gatewayd_version)
    actions_io.set_output("time-to-ready", f"{ready.seconds:.3f}" if ready else "")
    actions_io.set_output("plugin-name", report.plugin)
    actions_io.set_output("plugin-version", report.plugin_version)
    actions_io.set_output("plugin-hooks", ",".join(report.hook_names))
    actions_io.set_output("result", json.dumps(summary_json(report)))
    actions_io.append_summary(_summary(report))
    logged = (f"; {len(report.plugin_logged)} error/warning line(s) of the plugin's own, see the warnings above"
              if report.plugin_logged else "")
    actions_io.progress(f"test-plugin OK: {report.plugin} {report.plugin_version} loaded in "
                        f"{report.gatewayd_version}, ready in {ready.seconds:.2f}s, "
                        f"{sum(s.ok for s in report.sql)} SQL checks passed, total {report.timings['total']:.1f}s"
                        f"{logged}" if ready else "test-plugin OK")
    return 0
