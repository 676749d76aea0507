"""``test-plugin``: prove the plugin, built as it will be released, loads in a real GatewayD and serves traffic.

1. validate ``gatewayd_plugin.yaml``; build the host binary with the release's flags and pack its archive
   (the release's own stages);
2. a GatewayD session (:mod:`gatewayd.session`): install round-trip, configs, PostgreSQL, ``gatewayd run``,
   the plugin listed and ready;
3. while it is loaded: SQL through the proxy, plaintext and TLS, plus the caller's SQL file against its
   expected output (:mod:`.sql`); then settle for at least two health-check periods, after which no crash,
   failed ping or reload may be logged;
4. SIGTERM: exit 0 and "GatewayD is shutdown";
5. the plugin's own error and warning lines (a plugin that lost its Redis keeps serving and only says so in its
   log): warnings by default, a failure with ``--plugin-errors fail``, unreported with ``ignore``.

Each step is timed and fails with one line that says why (then the relevant GatewayD log lines).
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gatewayd_plugin_actions import actions_io
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.gatewayd import diagnose, postgres, program
from gatewayd_plugin_actions.gatewayd.configs import Ports
from gatewayd_plugin_actions.gatewayd.session import (
    HOOK_NAMES,
    LOG_FILE,
    PluginRunFailed,
    PluginUnderTest,
    RunOptions,
    RunReport,
    Session,
    WhileLoaded,
    fail_with_log,
    open_session,
    parse_plugin_args,
    place_plugin,
    provide_postgres,
    resolve_gatewayd,
    serve,
)
from gatewayd_plugin_actions.goplugin import parse_plugin_env
from gatewayd_plugin_actions.integration.sql import smoke, user_sql
from gatewayd_plugin_actions.manifest import DURATION_RE, parse_seconds
from gatewayd_plugin_actions.release import stages
from gatewayd_plugin_actions.release.context import Options, ReleaseContext
from gatewayd_plugin_actions.stage import run_stages
from gatewayd_plugin_actions.targets import host_target


@dataclass(kw_only=True)
class IntegrationOptions(RunOptions):
    """test-plugin's options: the GatewayD run's, the build's (as ``release`` builds) and the traffic's."""

    project: Path
    sql_file: Path | None = None
    expect_file: Path | None = None
    settle: float | None = None  # seconds; default 2 × healthCheckPeriod + 0.5 s
    repository: str | None = None
    version_variable: str | None = None
    build_tags: str = ""
    extra_ldflags: str = ""
    main_package: str = "."
    cgo: bool = False
    extra_files: list[Path] = field(default_factory=list)
    plugin_errors: str = "warn"  # what the plugin's own error and warning lines do: warn, fail or ignore

    def __post_init__(self) -> None:
        # GatewayD runs in the repository, as a user runs it next to the plugin: relative paths resolve there.
        if self.workdir is None:
            self.workdir = self.project


PLUGIN_ERRORS_MODES = ("warn", "fail", "ignore")


def settle_seconds(options: IntegrationOptions) -> float:
    """How long to watch after the SQL: at least two health checks (the first ping comes one period in)."""
    minimum = 2 * parse_seconds(options.health_check_period)
    return options.settle if options.settle is not None else minimum + 0.5


def prepare(run: Session, opts: IntegrationOptions) -> ReleaseContext:
    """Validate ``gatewayd_plugin.yaml`` and pick the version, as ``release --snapshot`` does (host target only)."""
    ctx = ReleaseContext(Options(
        project=opts.project, dist=run.root / "dist", targets=[host_target()], version_variable=opts.version_variable,
        cgo=opts.cgo, extra_files=list(opts.extra_files), main_package=opts.main_package,
        build_tags=opts.build_tags, extra_ldflags=opts.extra_ldflags, repository=opts.repository, snapshot=True))
    run_stages(stages.PLAN, ctx, grouped=False)
    run.report.timings.update(ctx.timings)
    run.report.plugin = ctx.plugin_name
    if ctx.version_variable and ctx.version is not None:
        run.report.expected_version = ctx.version
    return ctx


def build_plugin(run: Session, ctx: ReleaseContext) -> PluginUnderTest:
    """Build and pack the host target exactly as ``release`` does."""
    assert ctx.manifest is not None
    run_stages(stages.HOST_BUILD, ctx, grouped=False)  # inside test-plugin's own log group
    run.report.timings.update(ctx.timings)
    binary, archive = ctx.binaries[0], ctx.archives[0]
    return PluginUnderTest(ctx.plugin_name, ctx.manifest.path, ctx.manifest.display, archive.path, binary.path,
                           binary.sha256)


def settle(run: Session, process: program.GatewayDProcess, options: IntegrationOptions) -> None:
    """Wait past two health checks, then nothing may have crashed, failed a ping or been reloaded."""
    wait = settle_seconds(options)
    with run.stage("settle"):
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
    plugin = run.report.plugin
    lines = program.parse_log(process.read_log())
    exited = process.poll()
    then = f"; GatewayD then exited with code {exited}{diagnose.go_panic(lines)}" if exited is not None else ""
    trouble = [ln for ln in lines if ln.about(plugin) and ln.message in program.TROUBLE_MARKERS]
    if trouble:
        first = trouble[0]
        error = program.log_field(first.text, "error")
        panic = diagnose.plugin_panic(lines, plugin)
        raise PluginRunFailed(f"plugin {plugin} crashed or was restarted after it was ready: '{first.message}'"
                         f"{f' ({error.splitlines()[0][:160]})' if error else ''}"
                         f"{f' after it panicked: {panic}' if panic else ''}, seen after settling "
                         f"{wait:.1f}s (healthCheckPeriod {options.health_check_period}){then}",
                         diagnose.relevant_lines(lines, plugin))
    if exited is not None:
        raise fail_with_log(run, process,
                             f"GatewayD exited with code {exited} while settling{diagnose.go_panic(lines)}")
    actions_io.progress(f"  settled {wait:.1f}s (≥ 2 × healthCheckPeriod {options.health_check_period}): "
                        "no failed ping, crash or reload")


def plugin_logged(run: Session, options: IntegrationOptions) -> None:
    """The plugin's own error and warning lines over the whole run (start to stop): listed, then warnings
    (annotations), a failure that names the first one (``fail``), or only counted (``ignore``)."""
    plugin = run.report.plugin
    log = (run.work / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    logged = diagnose.plugin_logged(program.parse_log(log), plugin)
    if not logged:
        actions_io.progress(f"  {plugin} logged no error or warning line of its own")
        return
    counts = {kind: sum(1 for item in logged if item.severity == kind) for kind in ("error", "warning")}
    what = f"{plugin} logged " + " and ".join(
        f"{n} distinct {kind} line{'s' if n > 1 else ''}" for kind, n in counts.items() if n) + " of its own"
    if options.plugin_errors == "ignore":
        actions_io.progress(f"  {what} (not reported: plugin-errors ignore)")
        return
    run.report.plugin_logged = [str(item) for item in logged]
    if options.plugin_errors == "fail":
        raise PluginRunFailed(f"{what} (plugin-errors fail); the first: {logged[0]}", run.report.plugin_logged,
                              title=f"what {plugin} logged (its own error and warning lines, as GatewayD relayed them)")
    actions_io.progress(f"  {what} (plugin-errors warn; fail makes them fail the job):")
    actions_io.report([Problem(f"{plugin} logged {'an error' if item.severity == 'error' else 'a warning'}: "
                               f"{item.text}{f' ({item.count} times)' if item.count > 1 else ''}",
                               severity="warning", title=f"{plugin} log") for item in logged])


def unregistered_hooks(run: Session) -> None:
    """A hook number outside the SDK's HookName enum is listed by GetPlugins but never registered (GatewayD skips
    it without a word): say so, since the plugin's author may expect it to be called."""
    unknown = [str(h) for h in run.report.hooks if h not in HOOK_NAMES]
    if unknown:
        actions_io.notice(f"{run.report.plugin} lists hook{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}, "
                          f"which the SDK's HookName enum does not name: {run.report.gatewayd_version} registers "
                          "nothing for such a number, so it is never called")


def traffic(options: IntegrationOptions) -> WhileLoaded:
    """What test-plugin checks while the plugin is loaded."""
    def check(run: Session, process: program.GatewayDProcess, pg: postgres.Postgres, ports: Ports) -> None:
        with run.stage("sql"):
            smoke(run, process, pg, ports)
            user_sql(run, process, pg, ports, options.sql_file, options.expect_file)
        settle(run, process, options)
    return check


def run_test_plugin(options: IntegrationOptions) -> RunReport:
    """The whole ``test-plugin``; raises ``PluginRunFailed`` (a ``UserError``) with a one-line reason on failure."""
    if os.name == "nt":
        raise UserError("test-plugin runs on Linux and macOS (GatewayD's plugins talk over unix sockets there, and "
                        "it is stopped with SIGTERM); use an ubuntu-* or macos-* runner")
    postgres.psql_binary()  # the SQL checks need it: say so before building anything
    if options.expect_file is not None and options.sql_file is None:
        raise UserError("--expect-file needs --sql-file")
    for path in (options.sql_file, options.expect_file):
        if path is not None and not path.is_file():
            raise UserError(f"{path}: no such file")
    if not DURATION_RE.match(options.health_check_period) or parse_seconds(options.health_check_period) <= 0:
        raise UserError(f"--health-check-period {options.health_check_period!r}: expected a positive Go duration "
                        "such as 1s or 500ms")
    if not DURATION_RE.match(options.start_timeout) or parse_seconds(options.start_timeout) <= 0:
        raise UserError(f"--start-timeout {options.start_timeout!r}: expected a positive Go duration such as 10s")
    if options.settle is not None and options.settle < 2 * parse_seconds(options.health_check_period):
        raise UserError(f"--settle {options.settle:g} is shorter than 2 × healthCheckPeriod "
                        f"({options.health_check_period}): a crash would go unseen; lower --health-check-period "
                        "instead")
    if options.plugin_errors not in PLUGIN_ERRORS_MODES:
        raise UserError(f"--plugin-errors {options.plugin_errors!r}: expected warn, fail or ignore")
    if options.checksum is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", options.checksum):
        raise UserError("--checksum must be 64 hex digits")
    parse_plugin_env(options.plugin_env)
    parse_plugin_args(options.plugin_args)  # bad quoting is reported before anything is built
    with open_session(options) as run:
        with actions_io.group("validate"):
            ctx = prepare(run, options)
        # A given server must be there before anything is built.
        given_pg = postgres.given(options.postgres_url) if options.postgres_url else None
        with actions_io.group("GatewayD"):
            gatewayd_bin = resolve_gatewayd(run)
        with actions_io.group("build the plugin as the release does (PostgreSQL starts meanwhile)"), \
                ThreadPoolExecutor(max_workers=1) as pool:
            built = pool.submit(build_plugin, run, ctx)
            with provide_postgres(run, given_pg) as pg:
                plugin = built.result()
                with actions_io.group("install round-trip" if options.install else "place the plugin"):
                    local_path, checksum = place_plugin(run, gatewayd_bin, plugin)
                with actions_io.group(f"run {run.report.plugin} in {run.report.gatewayd_version}"):
                    serve(run, gatewayd_bin, plugin, local_path, checksum, pg, traffic(options))
                    unregistered_hooks(run)
                    plugin_logged(run, options)
        return run.report
