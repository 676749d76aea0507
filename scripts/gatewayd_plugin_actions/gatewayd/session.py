"""A plugin in a real GatewayD, from a temp dir to a clean stop: the machinery of ``test-plugin`` and of the
release gate's load.

1. GatewayD: a published release (downloaded, verified against ``checksums.txt``, cached) or a given binary;
2. install round-trip (default): the real ``gatewayd plugin install --name`` of the archive, whose installed
   copy is what GatewayD then loads;
3. configs: ``gatewayd_plugins.yaml`` from the plugin's own file (ruamel round-trip: comments kept) with
   ``localPath``/``checksum`` set, overrides merged, a short ``healthCheckPeriod`` and ``startTimeout``; a minimal
   ``gatewayd.yaml`` on free loopback ports; both linted by the real GatewayD (:mod:`.configs`);
4. PostgreSQL: the caller's, or a throwaway one;
5. ``gatewayd run`` in the plugin's repository (``workdir``: GatewayD's working directory is the plugin's, where
   relative paths in its env and args resolve; those that name nothing are said first) with a scrubbed
   environment; ``/healthz`` polled until 200; the plugin must be in
   ``GetPlugins`` *and* have logged "Plugin is ready"; then the caller's checks (``while_loaded``);
6. SIGTERM: exit 0 and "GatewayD is shutdown".

Nothing outlives the session: GatewayD runs in its own process group (its plugins with it), the temp dir is
removed in ``finally``; ``keep_logs`` copies the evidence out first. Failure reasons are read from GatewayD's
log by :mod:`.diagnose`.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatewayd_plugin_actions import actions_io
from gatewayd_plugin_actions.errors import Problem, UserError
from gatewayd_plugin_actions.gatewayd import diagnose, download, postgres, program
from gatewayd_plugin_actions.gatewayd.configs import Ports, global_config, plugins_config, self_signed_cert
from gatewayd_plugin_actions.goplugin import PathSetting, missing_paths, parse_plugin_env, socket_dir
from gatewayd_plugin_actions.manifest import parse_seconds
from gatewayd_plugin_actions.semver import Version

# The SDK's plugin/v1 HookName enum (HOOK_NAME_ON_CONFIG_LOADED = 1 …), named as the plugin's methods are.
# GatewayD (v0.10.3, v0.11.1) registers a method for these numbers only: any other number a plugin lists, such
# as 1000 for a custom hook, is skipped without a word (custom hooks reach a plugin through OnHook, 22).
HOOK_NAMES = {
    1: "OnConfigLoaded", 2: "OnNewLogger", 3: "OnNewPool", 4: "OnNewClient", 5: "OnNewProxy", 6: "OnNewServer",
    7: "OnSignal", 8: "OnRun", 9: "OnBooting", 10: "OnBooted", 11: "OnOpening", 12: "OnOpened", 13: "OnClosing",
    14: "OnClosed", 15: "OnTraffic", 16: "OnTrafficFromClient", 17: "OnTrafficToServer",
    18: "OnTrafficFromServer", 19: "OnTrafficToClient", 20: "OnShutdown", 21: "OnTick", 22: "OnHook",
}
LOG_FILE = "gatewayd.log"
# GatewayD's own default is 1m (v0.10.3 and v0.11.1); a run's start (GatewayD up, the plugin not serving,
# GatewayD giving up) then takes ~12 s on a loaded 2-core runner, within the 20 s the check may cost.
DEFAULT_START_TIMEOUT = "10s"


@dataclass(kw_only=True)
class RunOptions:
    """How GatewayD is run with the plugin (test-plugin's options add the build and the traffic)."""

    gatewayd_version: str = "latest"
    gatewayd_binary: Path | None = None
    postgres_url: str | None = None
    plugin_env: list[str] = field(default_factory=list)
    plugin_args: str | None = None  # shell-quoted; None keeps the manifest's args
    dev: bool = False
    checksum: str | None = None  # None = the sha256 GatewayD must see
    install: bool = True
    keep_logs: Path | None = None
    health_check_period: str = "1s"
    start_timeout: str = DEFAULT_START_TIMEOUT  # GatewayD's startTimeout: how long a plugin may take to serve
    # GatewayD's working directory, so the plugin's: where relative paths in its env and args resolve (see
    # goplugin.path_settings). The plugin's repository, as for a user who runs GatewayD there; None: the temp dir.
    workdir: Path | None = None
    announce_missing_paths: bool = True  # False: the caller already warned about them
    ready_timeout: float = 90.0
    log_level: str = "debug"  # GatewayD's; `dev` runs it at trace


@dataclass
class SqlResult:
    name: str
    ok: bool
    seconds: float
    detail: str  # what was checked, or why it failed


@dataclass
class RunReport:
    plugin: str = ""
    plugin_version: str = ""
    expected_version: Version | None = None  # injected by the build (test-plugin): the plugin should report it
    hooks: list[int] = field(default_factory=list)
    gatewayd_version: str = ""
    gatewayd_source: str = ""
    postgres: str = ""
    ready: program.Readiness | None = None
    sql: list[SqlResult] = field(default_factory=list)
    installed: str = ""
    retried: str = ""  # why GatewayD had to be started a second time (a known GatewayD race)
    plugin_logged: list[str] = field(default_factory=list)  # the plugin's own error and warning lines, reported
    timings: dict[str, float] = field(default_factory=dict)
    logs: Path | None = None

    @property
    def hook_names(self) -> list[str]:
        return [hook_name(h) for h in self.hooks]


def hook_name(number: int) -> str:
    """``OnTrafficFromClient`` for 16; a number the SDK does not name is a custom hook."""
    return HOOK_NAMES.get(number, f"custom hook {number}")


class PluginRunFailed(UserError):
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


def parse_plugin_args(text: str | None) -> list[str] | None:
    """``--plugin-args`` split like a shell would (None keeps the manifest's args)."""
    if text is None:
        return None
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise UserError(f"--plugin-args {text!r}: {exc}") from None


@dataclass
class Session:
    options: RunOptions
    root: Path  # the temp dir; removed at the end
    sockets: Path  # TMPDIR of GatewayD and the plugin: go-plugin's unix sockets land here
    report: RunReport = field(default_factory=RunReport)
    plugin_env: list[str] | None = None  # plugins[0].env as configured for GatewayD: what the plugin is given
    missing_paths: list[PathSetting] = field(default_factory=list)  # path-like env/args values naming nothing
    ports: Ports | None = None  # None: fresh ports for every start; `dev` keeps one set across restarts

    @property
    def work(self) -> Path:
        """Configs, the installed plugin, logs."""
        return self.root / "gatewayd"

    @property
    def gatewayd_cwd(self) -> Path:
        """Where GatewayD (and so the plugin) runs."""
        return self.options.workdir or self.work

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.report.timings[name] = self.report.timings.get(name, 0.0) + time.monotonic() - started


# What the caller checks while the plugin is loaded (test-plugin: SQL through the proxy, then the settle).
WhileLoaded = Callable[["Session", program.GatewayDProcess, postgres.Postgres, Ports], None]


def resolve_gatewayd(run: Session) -> Path:
    opts = run.options
    with run.stage("gatewayd"):
        if opts.gatewayd_binary is not None:
            got = download.from_path(opts.gatewayd_binary)
        else:
            got = download.fetch(opts.gatewayd_version)
        run.report.gatewayd_version = program.gatewayd_version(got.path)
        run.report.gatewayd_source = {"path": str(got.path), "cache": f"{got.archive} (cached)",
                                      "download": f"{got.archive} (downloaded, checksum verified)"}[got.source]
    actions_io.progress(f"  GatewayD: {run.report.gatewayd_version} from {run.report.gatewayd_source}")
    return got.path


def place_plugin(run: Session, gatewayd_bin: Path, plugin: PluginUnderTest) -> tuple[str, str]:
    """The plugin binary GatewayD will load, and its checksum: installed by the real installer, or copied."""
    name = plugin.name
    built_sha = plugin.binary_sha256
    archive = plugin.archive
    if run.options.install:
        with run.stage("install"):
            result = program.install_local_archive(gatewayd_bin, archive, name, run.work)
        (run.work / "install.log").write_text(result.output + "\n", encoding="utf-8")
        if result.config.is_file():
            result.config.replace(run.work / "installed_plugins.yaml")
        if not result.ok or result.binary is None:
            problem = result.problems[0] if result.problems else "unknown"
            output = result.output.strip().splitlines()[-diagnose.MAX_LOG_LINES:]
            raise PluginRunFailed(f"install round-trip failed: {problem}", output,
                                  title="`gatewayd plugin install` output")
        checksum = str(result.entry["checksum"])
        if checksum != built_sha:
            raise PluginRunFailed(f"the installed {name} (sha256 {checksum[:16]}…) is not the binary that was built "
                             f"(sha256 {built_sha[:16]}…)")
        run.report.installed = f"`gatewayd plugin install --name {name} {archive.name}` → {result.entry['localPath']}"
        actions_io.progress(f"  installed {archive.name} with the real installer → {result.entry['localPath']}")
        # Absolute: GatewayD runs in the plugin's repository, not next to the installed copy.
        return str(run.work / str(result.entry["localPath"])), checksum
    plugins_dir = run.work / "plugins"
    plugins_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(plugin.binary, plugins_dir / name)
    return str(plugins_dir / name), built_sha


def write_configs(run: Session, gatewayd_bin: Path, plugin: PluginUnderTest, local_path: str, checksum: str,
                   pg: postgres.Postgres) -> tuple[Ports, Path, Path]:
    opts = run.options
    with run.stage("configs"):
        args = parse_plugin_args(opts.plugin_args)
        generated = plugins_config(plugin.manifest, local_path, opts.checksum or checksum,
                                   parse_plugin_env(opts.plugin_env), args, opts.health_check_period,
                                   opts.start_timeout)
        run.plugin_env = generated.env
        run.missing_paths = missing_paths(generated.env, generated.args, run.gatewayd_cwd)
        if opts.announce_missing_paths:
            announce_missing(run.missing_paths, run.gatewayd_cwd, plugin.manifest_display, generated.lines)
        plugins_path = run.work / "gatewayd_plugins.yaml"
        plugins_path.write_text(generated.text, encoding="utf-8")
        cert, key = self_signed_cert(run.root)
        ports = run.ports or Ports.pick()
        config_path = run.work / "gatewayd.yaml"
        raft = Path(tempfile.mkdtemp(prefix="raft-", dir=run.root))
        config_path.write_text(global_config(ports, pg.target.address, cert, key, raft, opts.log_level),
                               encoding="utf-8")
        lints = (("gatewayd_plugins.yaml", "plugin", program.lint_plugins_config, plugins_path),
                 ("gatewayd.yaml", "config", program.lint_global_config, config_path))
        for kind, subcommand, lint, path in lints:
            ok, output = lint(gatewayd_bin, path, run.work)
            if not ok:
                raise PluginRunFailed(f"the generated {kind} is rejected by `gatewayd {subcommand} lint` "
                                 f"({run.report.gatewayd_version}): {program.lint_error(output)}",
                                 output.splitlines()[-diagnose.MAX_LOG_LINES:], title="lint output")
    actions_io.progress(f"  configs: {plugins_path.name} (from {plugin.manifest_display}, healthCheckPeriod "
                        f"{opts.health_check_period}, startTimeout {opts.start_timeout}), gatewayd.yaml (proxy "
                        f"127.0.0.1:{ports.proxy}, API 127.0.0.1:{ports.http}); both pass GatewayD's lint")
    return ports, config_path, plugins_path


def announce_missing(missing: list[PathSetting], cwd: Path, manifest: str, lines: dict[str, int]) -> None:
    """Before GatewayD starts: one warning per path-like env/args value that names nothing (the plugin may
    create it, so this alone fails nothing; if the plugin then does not start, the failure names it)."""
    actions_io.report([Problem(setting.missing_line(cwd), manifest if setting.setting in lines else None,
                               lines.get(setting.setting), severity="warning", title="test-plugin")
                       for setting in missing])


def fail_with_log(run: Session, process: program.GatewayDProcess, reason: str) -> PluginRunFailed:
    lines = program.parse_log(process.read_log())
    code = process.poll()
    if code is not None and "GatewayD exited" not in reason:
        reason += f"; GatewayD exited with code {code}{diagnose.go_panic(lines)}"
    failure = PluginRunFailed(reason, diagnose.relevant_lines(lines, run.report.plugin))
    failure.gatewayd_race = code is not None and diagnose.known_gatewayd_race(lines, run.report.plugin)
    return failure


def check_loaded(run: Session, process: program.GatewayDProcess) -> None:
    plugin = run.report.plugin
    try:
        listed = process.get_plugins()
    except (OSError, ValueError) as exc:
        raise fail_with_log(run, process, f"GetPlugins failed: {exc}") from None
    entry = next((c for c in listed if isinstance(c.get("id"), dict) and c["id"].get("name") == plugin), None)
    lines = program.parse_log(process.read_log())
    ready = any(ln.message == program.READY_MARKER and ln.about(plugin) for ln in lines)
    if entry is None or not ready:
        missing = " and ".join(x for x, gone in (("not listed by GetPlugins", entry is None),
                                                 (f"no '{program.READY_MARKER}' logged", not ready)) if gone)
        reason = diagnose.did_not_serve(lines, plugin, run.options.start_timeout) or (
            f"plugin {plugin} did not load in {run.report.gatewayd_version} ({missing}): "
            f"{diagnose.why_not_loaded(lines, plugin, run.plugin_env)}")
        if run.missing_paths:  # the likeliest cause, said first
            reason = f"{run.missing_paths[0].missing_line(run.gatewayd_cwd)}; {reason}"
        raise PluginRunFailed(reason, diagnose.relevant_lines(lines, plugin))
    run.report.plugin_version = str(entry["id"].get("version", ""))
    run.report.hooks = [int(h) for h in entry.get("hooks") or [] if str(h).isdigit()]
    actions_io.progress(f"  loaded: {plugin} {run.report.plugin_version or '(no version)'}, hooks "
                        f"{', '.join(run.report.hook_names) or 'none'} (GetPlugins + '{program.READY_MARKER}')")
    expected = run.report.expected_version
    if expected is not None and not expected.is_reported_as(run.report.plugin_version):
        actions_io.notice(f"{plugin} reports version {run.report.plugin_version!r}, but the build injected "
                          f"{expected.number!r}: does PluginID use the Version variable?")


def stop(run: Session, process: program.GatewayDProcess) -> None:
    with run.stage("stop"):
        code = process.stop()
    if code is None:
        raise fail_with_log(run, process, "GatewayD did not stop within 30s of SIGTERM")
    log = process.read_log()
    if code != 0:
        raise fail_with_log(run, process, f"GatewayD exited with code {code} after SIGTERM (expected 0)")
    if program.SHUTDOWN_MARKER not in log:
        raise fail_with_log(run, process, f"GatewayD exited 0 but never logged '{program.SHUTDOWN_MARKER}'")
    actions_io.progress(f"  stopped: SIGTERM → exit 0, '{program.SHUTDOWN_MARKER}'")


def serve(run: Session, gatewayd_bin: Path, plugin: PluginUnderTest, local_path: str, checksum: str,
          pg: postgres.Postgres, while_loaded: WhileLoaded | None = None) -> None:
    """One GatewayD, from start to graceful stop; a known GatewayD panic (not the plugin's doing) gets one retry."""
    for attempt in (1, 2):
        try:
            serve_once(run, gatewayd_bin, plugin, local_path, checksum, pg, while_loaded)
            return
        except PluginRunFailed as failure:
            if attempt == 2 or not failure.gatewayd_race:
                raise
            (run.work / LOG_FILE).replace(run.work / f"gatewayd-attempt{attempt}.log")
            run.report.sql.clear()
            run.report.retried = failure.reason
            actions_io.report([Problem(f"{run.report.gatewayd_version} crashed with one of its own known races, not "
                                       f"because of the plugin ({failure.reason}); running it once more",
                                       severity="warning", title="test-plugin")])


def serve_once(run: Session, gatewayd_bin: Path, plugin: PluginUnderTest, local_path: str, checksum: str,
               pg: postgres.Postgres, while_loaded: WhileLoaded | None) -> None:
    opts = run.options
    ports, config, plugins = write_configs(run, gatewayd_bin, plugin, local_path, checksum, pg)
    process = program.GatewayDProcess.start(gatewayd_bin, run.gatewayd_cwd, config, plugins, run.work / LOG_FILE,
                                            f"127.0.0.1:{ports.http}", program.scrubbed_env(run.sockets),
                                            opts.dev)
    try:
        # GatewayD loads its plugins before it serves anything: the wait covers the whole startTimeout.
        ready_timeout = max(opts.ready_timeout, parse_seconds(opts.start_timeout) + 30)
        ready = process.wait_ready(ready_timeout)
        run.report.ready = ready
        run.report.timings["start→ready"] = ready.seconds
        if not ready.ok:
            if process.exit_code is not None:
                raise fail_with_log(run, process, diagnose.why_exited(process))
            raise fail_with_log(run, process, f"GatewayD was not ready within {ready_timeout:.0f}s "
                                              f"(/healthz: {ready.last_status})")
        actions_io.progress(f"  ready: /healthz 200 after {ready.seconds:.2f}s ({ready.polls} polls; "
                            f"turned 200 within the last {ready.window * 1000:.0f} ms)")
        check_loaded(run, process)
        if while_loaded is not None:
            while_loaded(run, process, pg, ports)
        stop(run, process)
    finally:
        process.kill()


def keep_logs(run: Session) -> None:
    target = run.options.keep_logs
    if target is None:
        return
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(run.work.glob("*")):
        if path.is_file() and (path.suffix in (".log", ".yaml", ".out", ".json")):
            shutil.copy2(path, target / path.name)
    run.report.logs = target


def summary_json(report: RunReport) -> dict[str, Any]:
    ready = report.ready
    return {
        "plugin": report.plugin, "plugin_version": report.plugin_version, "hooks": report.hook_names,
        "gatewayd": report.gatewayd_version, "gatewayd_source": report.gatewayd_source, "postgres": report.postgres,
        "time_to_ready": round(ready.seconds, 3) if ready else None,
        "ready_window": round(ready.window, 3) if ready else None,
        "sql": [{"name": s.name, "ok": s.ok, "seconds": round(s.seconds, 3), "detail": s.detail} for s in report.sql],
        "installed": report.installed, "retried": report.retried, "plugin_logged": report.plugin_logged,
        "timings": {k: round(v, 3) for k, v in report.timings.items()},
    }


def load_released_plugin(gatewayd_binary: Path, plugin: PluginUnderTest, plugin_env: list[str],
                         postgres_url: str | None = None, workdir: Path | None = None) -> RunReport:
    """The release gate's GatewayD step, on test-plugin's machinery without its traffic checks: the real
    ``gatewayd plugin install`` takes the released archive, GatewayD loads the installed copy (GetPlugins and
    "Plugin is ready") against PostgreSQL, then stops cleanly on SIGTERM. Raises ``PluginRunFailed``."""
    options = RunOptions(gatewayd_binary=gatewayd_binary, postgres_url=postgres_url, plugin_env=list(plugin_env),
                         workdir=workdir, announce_missing_paths=False)  # the gate's handshake warned
    parse_plugin_env(options.plugin_env)
    with open_session(options) as run:
        run.report.plugin = plugin.name
        given_pg = postgres.given(postgres_url) if postgres_url else None
        resolve_gatewayd(run)
        # The installer runs while PostgreSQL starts: neither needs the other.
        with ThreadPoolExecutor(max_workers=1) as pool:
            placed = pool.submit(place_plugin, run, gatewayd_binary, plugin)
            with provide_postgres(run, given_pg) as pg:
                local_path, checksum = placed.result()
                serve(run, gatewayd_binary, plugin, local_path, checksum, pg)
        return run.report


@contextlib.contextmanager
def provide_postgres(run: Session, given_pg: postgres.Postgres | None) -> Iterator[postgres.Postgres]:
    provisioning = time.monotonic()
    with postgres.provide(given_pg) as pg:
        run.report.timings["postgres"] = time.monotonic() - provisioning
        run.report.postgres = f"{pg.version} ({'throwaway' if pg.managed else 'given'}, {pg.target.address})"
        actions_io.progress(f"  PostgreSQL: {run.report.postgres}")
        yield pg


@contextlib.contextmanager
def open_session(options: RunOptions) -> Iterator[Session]:
    """A run's temp dir and socket dir, its summary.json and kept logs; nothing outlives it."""
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="gpa-test-plugin-"))
    sockets = socket_dir(root)
    run = Session(options, root, sockets)
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
            keep_logs(run)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(sockets, ignore_errors=True)
