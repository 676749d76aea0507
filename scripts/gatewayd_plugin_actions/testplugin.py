"""``test-plugin``: prove the plugin, built as it will be released, loads in a real GatewayD and serves traffic.

Stages, each timed, each failing with one line that says why (then the relevant GatewayD log lines):

1. validate ``gatewayd_plugin.yaml``; build the host binary with the release's flags and pack its archive;
2. GatewayD: a published release (downloaded, verified against ``checksums.txt``, cached) or a given binary;
3. install round-trip (default): the real ``gatewayd plugin install --name`` of that archive, whose
   installed copy is what GatewayD then loads;
4. configs: ``gatewayd_plugins.yaml`` from the plugin's own file (ruamel round-trip: comments kept) with
   ``localPath``/``checksum`` set, overrides merged and a short ``healthCheckPeriod``; a minimal
   ``gatewayd.yaml`` on free loopback ports; both linted by the real GatewayD;
5. PostgreSQL: the caller's, or a throwaway one;
6. ``gatewayd run`` with a scrubbed environment; ``/healthz`` polled until 200; the plugin must be in
   ``GetPlugins`` *and* have logged "Plugin is ready";
7. SQL through the proxy, plaintext and TLS (a self-signed certificate made for the run), plus the
   caller's SQL file against its expected output;
8. settle for at least two health-check periods, then no crash, failed ping or reload may be logged;
9. SIGTERM: exit 0 and "GatewayD is shutdown".

Nothing outlives the run: GatewayD runs in its own process group (its plugins with it), the temp dir is
removed in ``finally``; ``--keep-logs`` copies the evidence out first.

The config files are made by ``testplugin_config``; failure reasons are read from GatewayD's log by
``diagnose``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatewayd_plugin_actions import (
    actions_io,
    build,
    diagnose,
    gatewayd,
    gatewayd_release,
    package,
    pipeline,
    postgres,
)
from gatewayd_plugin_actions.context import Options, ReleaseContext
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.manifest import DURATION_RE, parse_seconds
from gatewayd_plugin_actions.testplugin_config import Ports, global_config, plugins_config, self_signed_cert
from gatewayd_plugin_actions.verify import MAX_SOCKET_DIR, host_target, parse_plugin_env

HOOK_NAMES = {
    1: "OnConfigLoaded", 2: "OnNewLogger", 3: "OnNewPool", 4: "OnNewClient", 5: "OnNewProxy", 6: "OnNewServer",
    7: "OnSignal", 8: "OnRun", 9: "OnBooting", 10: "OnBooted", 11: "OnOpening", 12: "OnOpened", 13: "OnClosing",
    14: "OnClosed", 15: "OnTraffic", 16: "OnTrafficFromClient", 17: "OnTrafficToServer",
    18: "OnTrafficFromServer", 19: "OnTrafficToClient", 20: "OnShutdown", 21: "OnTick", 22: "OnHook",
}
LOG_FILE = "gatewayd.log"


@dataclass
class TestPluginOptions:
    project: Path
    gatewayd_version: str = "latest"
    gatewayd_binary: Path | None = None
    postgres_url: str | None = None
    sql_file: Path | None = None
    expect_file: Path | None = None
    plugin_env: list[str] = field(default_factory=list)
    plugin_args: str | None = None  # shell-quoted; None keeps the manifest's args
    dev: bool = False
    checksum: str | None = None  # None = the sha256 GatewayD must see
    install: bool = True
    keep_logs: Path | None = None
    health_check_period: str = "1s"
    ready_timeout: float = 90.0
    settle: float | None = None  # seconds; default 2 × healthCheckPeriod + 0.5 s
    repository: str | None = None
    version_variable: str | None = None
    build_tags: str = ""
    extra_ldflags: str = ""
    main_package: str = "."
    cgo: bool = False
    extra_files: list[Path] = field(default_factory=list)
    traffic: bool = True  # SQL through the proxy and the settle; False: load, check, stop (the release gate)


@dataclass
class SqlResult:
    name: str
    ok: bool
    seconds: float
    detail: str  # what was checked, or why it failed


@dataclass
class Report:
    plugin: str = ""
    plugin_version: str = ""
    expected_version: str = ""
    hooks: list[int] = field(default_factory=list)
    gatewayd_version: str = ""
    gatewayd_source: str = ""
    postgres: str = ""
    ready: gatewayd.Readiness | None = None
    sql: list[SqlResult] = field(default_factory=list)
    installed: str = ""
    retried: str = ""  # why GatewayD had to be started a second time (a known GatewayD race)
    timings: dict[str, float] = field(default_factory=dict)
    logs: Path | None = None

    @property
    def hook_names(self) -> list[str]:
        return [HOOK_NAMES.get(h, str(h)) for h in self.hooks]


class TestFailed(UserError):
    """A failed check: one line of reason, plus the GatewayD log lines that show it."""

    def __init__(self, reason: str, log_lines: list[str] | None = None,
                 title: str = "relevant GatewayD log lines") -> None:
        super().__init__(reason, [Problem(reason, title="test-plugin")])
        self.reason = reason
        self.log_lines = log_lines or []
        self.title = title
        self.gatewayd_race = False  # GatewayD died of a known bug of its own, not because of the plugin


@dataclass(frozen=True)
class PluginUnderTest:
    """What GatewayD is given: the plugin's name, its manifest (the repository's, or the one inside a released
    archive), the archive the installer takes, and the built binary (its path and sha256)."""

    name: str
    manifest: Path
    manifest_display: str
    archive: Path
    binary: Path
    binary_sha256: str


def settle_seconds(options: TestPluginOptions) -> float:
    """How long to watch after the SQL: at least two health checks (the first ping comes one period in)."""
    minimum = 2 * parse_seconds(options.health_check_period)
    return options.settle if options.settle is not None else minimum + 0.5


def parse_plugin_args(text: str | None) -> list[str] | None:
    """``--plugin-args`` split like a shell would (None keeps the manifest's args)."""
    if text is None:
        return None
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise UserError(f"--plugin-args {text!r}: {exc}") from None


# ---------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------


@dataclass
class _Run:
    options: TestPluginOptions
    root: Path  # the temp dir; removed at the end
    sockets: Path  # TMPDIR of GatewayD and the plugin: go-plugin's unix sockets land here
    report: Report = field(default_factory=Report)

    @property
    def work(self) -> Path:
        """GatewayD's cwd: configs, installed plugin, logs."""
        return self.root / "gatewayd"

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.report.timings[name] = self.report.timings.get(name, 0.0) + time.monotonic() - started


def _prepare(run: _Run) -> ReleaseContext:
    """Validate ``gatewayd_plugin.yaml`` and pick the version, as ``release --snapshot`` does (host target only)."""
    opts = run.options
    ctx = ReleaseContext(Options(
        project=opts.project, dist=run.root / "dist", targets=[host_target()], version_variable=opts.version_variable,
        cgo=opts.cgo, extra_files=list(opts.extra_files), main_package=opts.main_package,
        build_tags=opts.build_tags, extra_ldflags=opts.extra_ldflags, repository=opts.repository, snapshot=True))
    with run.stage("validate"):
        pipeline.stage_validate(ctx)
        pipeline.stage_version(ctx)
    run.report.plugin = ctx.plugin_name
    if ctx.version_variable and ctx.version is not None:
        run.report.expected_version = ctx.version.number
    return ctx


def _build(run: _Run, ctx: ReleaseContext) -> PluginUnderTest:
    """Build and pack the host target exactly as ``release`` does."""
    assert ctx.manifest is not None
    ctx.options.dist.mkdir(parents=True)
    with run.stage("build"):
        binary = build.build_target(ctx, host_target())
    with run.stage("package"):
        archive = package.package_target(ctx, binary)
    return PluginUnderTest(ctx.plugin_name, ctx.manifest.path, ctx.manifest.display, archive.path, binary.path,
                           binary.sha256)


def _gatewayd(run: _Run) -> Path:
    opts = run.options
    with run.stage("gatewayd"):
        if opts.gatewayd_binary is not None:
            got = gatewayd_release.from_path(opts.gatewayd_binary)
        else:
            got = gatewayd_release.fetch(opts.gatewayd_version)
        run.report.gatewayd_version = gatewayd.gatewayd_version(got.path)
        run.report.gatewayd_source = {"path": str(got.path), "cache": f"{got.archive} (cached)",
                                      "download": f"{got.archive} (downloaded, checksum verified)"}[got.source]
    actions_io.progress(f"  GatewayD: {run.report.gatewayd_version} from {run.report.gatewayd_source}")
    return got.path


def _place_plugin(run: _Run, gatewayd_bin: Path, plugin: PluginUnderTest) -> tuple[str, str]:
    """The plugin binary GatewayD will load, and its checksum: installed by the real installer, or copied."""
    name = plugin.name
    built_sha = plugin.binary_sha256
    archive = plugin.archive
    if run.options.install:
        with run.stage("install"):
            result = gatewayd.install_local_archive(gatewayd_bin, archive, name, run.work)
        (run.work / "install.log").write_text(result.output + "\n", encoding="utf-8")
        if result.config.is_file():
            result.config.replace(run.work / "installed_plugins.yaml")
        if not result.ok or result.binary is None:
            problem = result.problems[0] if result.problems else "unknown"
            output = result.output.strip().splitlines()[-diagnose.MAX_LOG_LINES:]
            raise TestFailed(f"install round-trip failed: {problem}", output, title="`gatewayd plugin install` output")
        checksum = str(result.entry["checksum"])
        if checksum != built_sha:
            raise TestFailed(f"the installed {name} (sha256 {checksum[:16]}…) is not the binary that was built "
                             f"(sha256 {built_sha[:16]}…)")
        run.report.installed = f"`gatewayd plugin install --name {name} {archive.name}` → {result.entry['localPath']}"
        actions_io.progress(f"  installed {archive.name} with the real installer → {result.entry['localPath']}")
        return f"./{result.entry['localPath']}", checksum
    plugins_dir = run.work / "plugins"
    plugins_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(plugin.binary, plugins_dir / name)
    return f"./plugins/{name}", built_sha


def _write_configs(run: _Run, gatewayd_bin: Path, plugin: PluginUnderTest, local_path: str, checksum: str,
                   pg: postgres.Postgres) -> tuple[Ports, Path, Path]:
    opts = run.options
    with run.stage("configs"):
        args = parse_plugin_args(opts.plugin_args)
        text = plugins_config(plugin.manifest, local_path, opts.checksum or checksum,
                              parse_plugin_env(opts.plugin_env), args, opts.health_check_period)
        plugins_path = run.work / "gatewayd_plugins.yaml"
        plugins_path.write_text(text, encoding="utf-8")
        cert, key = self_signed_cert(run.root)
        ports = Ports.pick()
        config_path = run.work / "gatewayd.yaml"
        raft = Path(tempfile.mkdtemp(prefix="raft-", dir=run.root))
        config_path.write_text(global_config(ports, pg.target.address, cert, key, raft),
                               encoding="utf-8")
        lints = (("gatewayd_plugins.yaml", "plugin", gatewayd.lint_plugins_config, plugins_path),
                 ("gatewayd.yaml", "config", gatewayd.lint_global_config, config_path))
        for kind, subcommand, lint, path in lints:
            ok, output = lint(gatewayd_bin, path, run.work)
            if not ok:
                raise TestFailed(f"the generated {kind} is rejected by `gatewayd {subcommand} lint` "
                                 f"({run.report.gatewayd_version}): {gatewayd.lint_error(output)}",
                                 output.splitlines()[-diagnose.MAX_LOG_LINES:], title="lint output")
    actions_io.progress(f"  configs: {plugins_path.name} (from {plugin.manifest_display}, healthCheckPeriod "
                        f"{opts.health_check_period}), gatewayd.yaml (proxy 127.0.0.1:{ports.proxy}, API "
                        f"127.0.0.1:{ports.http}); both pass GatewayD's lint")
    return ports, config_path, plugins_path


def _fail_with_log(run: _Run, process: gatewayd.GatewayDProcess, reason: str) -> TestFailed:
    lines = gatewayd.parse_log(process.read_log())
    code = process.poll()
    if code is not None and "GatewayD exited" not in reason:
        reason += f"; GatewayD exited with code {code}{diagnose.go_panic(lines)}"
    failure = TestFailed(reason, diagnose.relevant_lines(lines, run.report.plugin))
    failure.gatewayd_race = code is not None and diagnose.known_gatewayd_race(lines, run.report.plugin)
    return failure


def _check_loaded(run: _Run, process: gatewayd.GatewayDProcess) -> None:
    plugin = run.report.plugin
    try:
        listed = process.get_plugins()
    except (OSError, ValueError) as exc:
        raise _fail_with_log(run, process, f"GetPlugins failed: {exc}") from None
    entry = next((c for c in listed if isinstance(c.get("id"), dict) and c["id"].get("name") == plugin), None)
    lines = gatewayd.parse_log(process.read_log())
    ready = any(ln.message == gatewayd.READY_MARKER and ln.about(plugin) for ln in lines)
    if entry is None or not ready:
        missing = " and ".join(x for x, gone in (("not listed by GetPlugins", entry is None),
                                                 (f"no '{gatewayd.READY_MARKER}' logged", not ready)) if gone)
        raise TestFailed(f"plugin {plugin} did not load in {run.report.gatewayd_version} ({missing}): "
                         f"{diagnose.why_not_loaded(lines, plugin)}", diagnose.relevant_lines(lines, plugin))
    run.report.plugin_version = str(entry["id"].get("version", ""))
    run.report.hooks = [int(h) for h in entry.get("hooks") or [] if str(h).isdigit()]
    actions_io.progress(f"  loaded: {plugin} {run.report.plugin_version or '(no version)'}, hooks "
                        f"{', '.join(run.report.hook_names) or 'none'} (GetPlugins + '{gatewayd.READY_MARKER}')")
    if run.report.expected_version and run.report.plugin_version != run.report.expected_version:
        actions_io.notice(f"{plugin} reports version {run.report.plugin_version!r}, but the build injected "
                          f"{run.report.expected_version!r}: does PluginID use the Version variable?")


# GatewayD (seen with v0.10.3) can hand the first reply on a recycled backend connection to the goroutine of the
# client that just left ("Error writing to client … use of closed network connection"): the new client then never
# hears back and psql times out before running anything. A pause between sessions makes that rare, and a session
# that could not even connect is tried once more, with a warning; a statement that fails is never retried.
SESSION_PAUSE = 0.2
RETRY_PAUSE = 1.0


def _could_not_connect(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 2 and "psql: error: connection to server" in result.stderr and not result.stdout


def _psql(run: _Run, name: str, url: str, sql: str) -> subprocess.CompletedProcess[str]:
    time.sleep(SESSION_PAUSE)
    result = postgres.run_psql(url, sql)
    transcript = f"$ psql {postgres.redact(url)}\n{sql}\n--- exit {result.returncode}\n{result.stdout}\n--- stderr\n"
    transcript += result.stderr
    if _could_not_connect(result):
        first = (result.stderr.strip().splitlines() or [""])[-1]
        actions_io.report([Problem(f"SQL {name}: could not connect through GatewayD ({first}); retrying once (GatewayD "
                                   "can lose a new connection's startup reply when connections follow each other "
                                   "quickly)", severity="warning", title="test-plugin")])
        time.sleep(RETRY_PAUSE)
        result = postgres.run_psql(url, sql)
        transcript += f"\n--- retried: exit {result.returncode}\n{result.stdout}\n--- stderr\n{result.stderr}"
    (run.work / f"sql-{name.replace(' ', '-')}.out").write_text(transcript, encoding="utf-8")
    return result


def _sql_smoke(run: _Run, process: gatewayd.GatewayDProcess, pg: postgres.Postgres, ports: Ports) -> None:
    """CREATE, INSERT, SELECT (exact value), DROP through the proxy, plaintext and TLS."""
    for mode, sslmode in (("plaintext", "disable"), ("TLS", "require")):
        table = f"gpa_smoke_{secrets.token_hex(4)}"
        value = f"through GatewayD over {mode} {secrets.token_hex(4)}"
        sql = (f"CREATE TABLE {table} (id serial PRIMARY KEY, name text NOT NULL);\n"
               f"INSERT INTO {table} (name) VALUES ('{value}');\n"
               f"SELECT name FROM {table};\n"
               f"DROP TABLE {table};\n")
        if sslmode == "require":
            sql += "\\conninfo\n"
        started = time.monotonic()
        result = _psql(run, f"smoke {mode}", pg.target.url("127.0.0.1", ports.proxy, sslmode), sql)
        seconds = time.monotonic() - started
        out = result.stdout.splitlines()
        if result.returncode != 0:
            error = postgres.psql_error(result)
            run.report.sql.append(SqlResult(f"smoke over {mode}", False, seconds, error))
            raise _fail_with_log(run, process, f"SQL smoke over {mode} failed through GatewayD: {error}")
        if not out or out[0] != value:
            got = out[0] if out else "(nothing)"
            run.report.sql.append(SqlResult(f"smoke over {mode}", False, seconds, f"got {got!r}"))
            raise _fail_with_log(run, process, f"SQL smoke over {mode}: SELECT returned {got!r}, expected {value!r}")
        detail = "CREATE, INSERT, SELECT (exact value), DROP"
        if sslmode == "require":
            ssl = next((ln for ln in out if ln.startswith("SSL connection")), "")
            if not ssl:
                raise _fail_with_log(run, process, "SQL smoke over TLS: psql did not report an SSL connection")
            detail += "; " + ssl.split("(", 1)[-1].split(",")[0].replace("protocol: ", "")
        run.report.sql.append(SqlResult(f"smoke over {mode}", True, seconds, detail))
        actions_io.progress(f"  SQL over {mode}: {detail} ({seconds:.2f}s)")


def normalize_output(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def first_difference(expected: list[str], got: list[str]) -> str:
    for number, (want, have) in enumerate(zip(expected, got, strict=False), start=1):
        if want != have:
            return f"line {number}: expected {want!r}, got {have!r}"
    if len(expected) > len(got):
        return f"line {len(got) + 1}: expected {expected[len(got)]!r}, got end of output"
    return f"line {len(expected) + 1}: unexpected {got[len(expected)]!r}"


def _user_sql(run: _Run, process: gatewayd.GatewayDProcess, pg: postgres.Postgres, ports: Ports) -> None:
    opts = run.options
    if opts.sql_file is None:
        return
    started = time.monotonic()
    result = _psql(run, "user", pg.target.url("127.0.0.1", ports.proxy, "disable"),
                   opts.sql_file.read_text(encoding="utf-8"))
    seconds = time.monotonic() - started
    name = opts.sql_file.name
    if result.returncode != 0:
        error = postgres.psql_error(result)
        run.report.sql.append(SqlResult(name, False, seconds, error))
        raise _fail_with_log(run, process, f"{name} failed through GatewayD: {error}")
    detail = "ran without error"
    if opts.expect_file is not None:
        expected = normalize_output(opts.expect_file.read_text(encoding="utf-8"))
        got = normalize_output(result.stdout)
        if expected != got:
            diff = first_difference(expected, got)
            run.report.sql.append(SqlResult(name, False, seconds, diff))
            raise TestFailed(f"SQL expectation not met: {name} output differs from {opts.expect_file.name} "
                             f"({diff})", [f"--- expected ({opts.expect_file})", *expected[:20],
                                           "--- got", *got[:20]], title="psql output")
        detail = f"output matches {opts.expect_file.name} ({len(expected)} lines)"
    run.report.sql.append(SqlResult(name, True, seconds, detail))
    actions_io.progress(f"  SQL {name}: {detail} ({seconds:.2f}s)")


def _settle(run: _Run, process: gatewayd.GatewayDProcess) -> None:
    """Wait past two health checks, then nothing may have crashed, failed a ping or been reloaded."""
    wait = settle_seconds(run.options)
    with run.stage("settle"):
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
    plugin = run.report.plugin
    lines = gatewayd.parse_log(process.read_log())
    exited = process.poll()
    then = f"; GatewayD then exited with code {exited}{diagnose.go_panic(lines)}" if exited is not None else ""
    trouble = [ln for ln in lines if ln.about(plugin) and ln.message in gatewayd.TROUBLE_MARKERS]
    if trouble:
        first = trouble[0]
        error = gatewayd.log_field(first.text, "error")
        raise TestFailed(f"plugin {plugin} crashed or was restarted after it was ready: '{first.message}'"
                         f"{f' ({error.splitlines()[0][:160]})' if error else ''}, seen after settling "
                         f"{wait:.1f}s (healthCheckPeriod {run.options.health_check_period}){then}",
                         diagnose.relevant_lines(lines, plugin))
    if exited is not None:
        raise _fail_with_log(run, process,
                             f"GatewayD exited with code {exited} while settling{diagnose.go_panic(lines)}")
    actions_io.progress(f"  settled {wait:.1f}s (≥ 2 × healthCheckPeriod {run.options.health_check_period}): "
                        "no failed ping, crash or reload")


def _stop(run: _Run, process: gatewayd.GatewayDProcess) -> None:
    with run.stage("stop"):
        code = process.stop()
    if code is None:
        raise _fail_with_log(run, process, "GatewayD did not stop within 30s of SIGTERM")
    log = process.read_log()
    if code != 0:
        raise _fail_with_log(run, process, f"GatewayD exited with code {code} after SIGTERM (expected 0)")
    if gatewayd.SHUTDOWN_MARKER not in log:
        raise _fail_with_log(run, process, f"GatewayD exited 0 but never logged '{gatewayd.SHUTDOWN_MARKER}'")
    actions_io.progress(f"  stopped: SIGTERM → exit 0, '{gatewayd.SHUTDOWN_MARKER}'")


def _serve(run: _Run, gatewayd_bin: Path, plugin: PluginUnderTest, local_path: str, checksum: str,
           pg: postgres.Postgres) -> None:
    """One GatewayD, from start to graceful stop; a known GatewayD panic (not the plugin's doing) gets one retry."""
    for attempt in (1, 2):
        try:
            _serve_once(run, gatewayd_bin, plugin, local_path, checksum, pg)
            return
        except TestFailed as failure:
            if attempt == 2 or not failure.gatewayd_race:
                raise
            (run.work / LOG_FILE).replace(run.work / f"gatewayd-attempt{attempt}.log")
            run.report.sql.clear()
            run.report.retried = failure.reason
            actions_io.report([Problem(f"{run.report.gatewayd_version} crashed with one of its own known races, not "
                                       f"because of the plugin ({failure.reason}); running it once more",
                                       severity="warning", title="test-plugin")])


def _serve_once(run: _Run, gatewayd_bin: Path, plugin: PluginUnderTest, local_path: str, checksum: str,
                pg: postgres.Postgres) -> None:
    opts = run.options
    ports, config, plugins = _write_configs(run, gatewayd_bin, plugin, local_path, checksum, pg)
    process = gatewayd.GatewayDProcess.start(gatewayd_bin, run.work, config, plugins, run.work / LOG_FILE,
                                             f"127.0.0.1:{ports.http}", gatewayd.scrubbed_env(run.sockets),
                                             opts.dev)
    try:
        ready = process.wait_ready(opts.ready_timeout)
        run.report.ready = ready
        run.report.timings["start→ready"] = ready.seconds
        if not ready.ok:
            if process.exit_code is not None:
                raise _fail_with_log(run, process, diagnose.why_exited(process))
            raise _fail_with_log(run, process, f"GatewayD was not ready within {opts.ready_timeout:.0f}s "
                                               f"(/healthz: {ready.last_status})")
        actions_io.progress(f"  ready: /healthz 200 after {ready.seconds:.2f}s ({ready.polls} polls; "
                            f"turned 200 within the last {ready.window * 1000:.0f} ms)")
        _check_loaded(run, process)
        if opts.traffic:
            with run.stage("sql"):
                _sql_smoke(run, process, pg, ports)
                _user_sql(run, process, pg, ports)
            _settle(run, process)
        _stop(run, process)
    finally:
        process.kill()


def _keep_logs(run: _Run) -> None:
    target = run.options.keep_logs
    if target is None:
        return
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(run.work.glob("*")):
        if path.is_file() and (path.suffix in (".log", ".yaml", ".out", ".json")):
            shutil.copy2(path, target / path.name)
    run.report.logs = target


def summary_json(report: Report) -> dict[str, Any]:
    ready = report.ready
    return {
        "plugin": report.plugin, "plugin_version": report.plugin_version, "hooks": report.hook_names,
        "gatewayd": report.gatewayd_version, "gatewayd_source": report.gatewayd_source, "postgres": report.postgres,
        "time_to_ready": round(ready.seconds, 3) if ready else None,
        "ready_window": round(ready.window, 3) if ready else None,
        "sql": [{"name": s.name, "ok": s.ok, "seconds": round(s.seconds, 3), "detail": s.detail} for s in report.sql],
        "installed": report.installed, "retried": report.retried,
        "timings": {k: round(v, 3) for k, v in report.timings.items()},
    }


def socket_dir(root: Path) -> Path:
    """A home for go-plugin's sockets: inside ``root`` when short enough (see ``MAX_SOCKET_DIR``; a deep TMPDIR
    such as pytest's or macOS's /var/folders/… is not), else a short one under /tmp."""
    inside = root / "t"
    if len(str(inside)) <= MAX_SOCKET_DIR:
        inside.mkdir()
        return inside
    return Path(tempfile.mkdtemp(prefix="gpa-", dir="/tmp" if Path("/tmp").is_dir() else None))


def run_test_plugin(options: TestPluginOptions) -> Report:
    """The whole ``test-plugin``; raises ``TestFailed`` (a ``UserError``) with a one-line reason on failure."""
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
    if options.settle is not None and options.settle < 2 * parse_seconds(options.health_check_period):
        raise UserError(f"--settle {options.settle:g} is shorter than 2 × healthCheckPeriod "
                        f"({options.health_check_period}): a crash would go unseen; lower --health-check-period "
                        "instead")
    if options.checksum is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", options.checksum):
        raise UserError("--checksum must be 64 hex digits")
    parse_plugin_env(options.plugin_env)
    parse_plugin_args(options.plugin_args)  # bad quoting is reported before anything is built
    with _session(options) as run:
        with actions_io.group("validate"):
            ctx = _prepare(run)
        # A given server must be there before anything is built.
        given_pg = postgres.given(options.postgres_url) if options.postgres_url else None
        with actions_io.group("GatewayD"):
            gatewayd_bin = _gatewayd(run)
        with actions_io.group("build the plugin as the release does (PostgreSQL starts meanwhile)"), \
                ThreadPoolExecutor(max_workers=1) as pool:
            built = pool.submit(_build, run, ctx)
            with _postgres(run, given_pg) as pg:
                plugin = built.result()
                with actions_io.group("install round-trip" if options.install else "place the plugin"):
                    local_path, checksum = _place_plugin(run, gatewayd_bin, plugin)
                with actions_io.group(f"run {run.report.plugin} in {run.report.gatewayd_version}"):
                    _serve(run, gatewayd_bin, plugin, local_path, checksum, pg)
        return run.report


def load_released_plugin(gatewayd_binary: Path, plugin: PluginUnderTest, plugin_env: list[str],
                         postgres_url: str | None = None) -> Report:
    """The release gate's GatewayD step, on test-plugin's machinery with the traffic checks off: the real
    ``gatewayd plugin install`` takes the released archive, GatewayD loads the installed copy (GetPlugins and
    "Plugin is ready") against PostgreSQL, then stops cleanly on SIGTERM. Raises ``TestFailed``."""
    options = TestPluginOptions(project=plugin.manifest.parent, gatewayd_binary=gatewayd_binary,
                                postgres_url=postgres_url, plugin_env=list(plugin_env), traffic=False)
    parse_plugin_env(options.plugin_env)
    with _session(options) as run:
        run.report.plugin = plugin.name
        given_pg = postgres.given(postgres_url) if postgres_url else None
        _gatewayd(run)
        # The installer runs while PostgreSQL starts: neither needs the other.
        with ThreadPoolExecutor(max_workers=1) as pool:
            placed = pool.submit(_place_plugin, run, gatewayd_binary, plugin)
            with _postgres(run, given_pg) as pg:
                local_path, checksum = placed.result()
                _serve(run, gatewayd_binary, plugin, local_path, checksum, pg)
        return run.report


@contextlib.contextmanager
def _postgres(run: _Run, given_pg: postgres.Postgres | None) -> Iterator[postgres.Postgres]:
    provisioning = time.monotonic()
    with postgres.provide(given_pg) as pg:
        run.report.timings["postgres"] = time.monotonic() - provisioning
        run.report.postgres = f"{pg.version} ({'throwaway' if pg.managed else 'given'}, {pg.target.address})"
        actions_io.progress(f"  PostgreSQL: {run.report.postgres}")
        yield pg


@contextlib.contextmanager
def _session(options: TestPluginOptions) -> Iterator[_Run]:
    """A run's temp dir and socket dir, its summary.json and kept logs; nothing outlives it."""
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="gpa-test-plugin-"))
    sockets = socket_dir(root)
    run = _Run(options, root, sockets)
    try:
        run.work.mkdir()
        yield run
        run.report.timings["total"] = time.monotonic() - started
    finally:
        run.report.timings.setdefault("total", time.monotonic() - started)
        with contextlib.suppress(OSError):
            (run.work / "summary.json").write_text(json.dumps(summary_json(run.report), indent=2) + "\n",
                                                   encoding="utf-8")
        with contextlib.suppress(OSError):
            _keep_logs(run)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(sockets, ignore_errors=True)
