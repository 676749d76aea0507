"""``dev``: the plugin developers' guide's step 4 as one command, on test-plugin's machinery.

1. validate and build the host target exactly as ``release`` does (PLAN, then HOST_BUILD) while PostgreSQL
   starts (a throwaway one, or ``--postgres-url``);
2. a GatewayD session (:mod:`..gatewayd.session`): the built binary placed, configs linted, ``gatewayd run --dev``
   at trace level (the plugin's ``--log-level`` too, unless ``--plugin-args`` is given), the plugin listed by
   GetPlugins and "Plugin is ready"; then one line on stdout with the proxy's ``psql`` connection string and
   the API address;
3. the plugin's log lines (and GatewayD's errors) streamed from GatewayD's log;
4. on a change to a build input (:mod:`.watch`): validate and build again (DEV_REBUILD: the same ``go build``,
   not packed) while the old plugin keeps serving; a failed build is printed and changes nothing; a good one
   restarts GatewayD on the same ports with it;
5. Ctrl-C: GatewayD stopped (SIGTERM, then its process group killed), PostgreSQL stopped, every temp dir gone.

Why a GatewayD restart and not GatewayD's own reload: neither v0.10.3 nor v0.11.1 has a reload API or signal
(SIGHUP stops it); both reload a plugin only after a failed health-check ping (``reloadOnCrash``), from the
config read at start, so an edit would wait for a ping period, log a crash, and miss changes to
``gatewayd_plugin.yaml``; a restart takes about as long (GatewayD is ready ~1.5 s after start), re-reads
everything, and is the path test-plugin already proves.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from gatewayd_plugin_actions import actions_io
from gatewayd_plugin_actions.dev.watch import SourceWatch
from gatewayd_plugin_actions.errors import UserError, first_few
from gatewayd_plugin_actions.gatewayd import postgres, program
from gatewayd_plugin_actions.gatewayd.configs import Ports
from gatewayd_plugin_actions.gatewayd.session import (
    PluginRunFailed,
    PluginUnderTest,
    Session,
    fail_with_log,
    open_session,
    parse_plugin_args,
    place_plugin,
    provide_postgres,
    resolve_gatewayd,
    serve,
)
from gatewayd_plugin_actions.goplugin import parse_plugin_env
from gatewayd_plugin_actions.integration.engine import IntegrationOptions, build_plugin, prepare
from gatewayd_plugin_actions.release import stages
from gatewayd_plugin_actions.release.context import ReleaseContext
from gatewayd_plugin_actions.stage import run_stages

POLL_SECONDS = 0.1  # how often the log is read and the watcher asked, while the plugin runs
SHOWN_LEVELS = ("ERR", "FTL", "PNC")  # GatewayD's own lines that are shown although they name no plugin
LOG_LEVEL_FLAGS = ("--log-level", "-log-level")


@dataclass
class LogTail:
    """GatewayD's log, read from where the last read stopped; only whole lines are returned."""

    path: Path
    offset: int = 0
    partial: bytes = b""

    def new_lines(self) -> list[str]:
        try:
            with self.path.open("rb") as log:
                log.seek(self.offset)
                data = log.read()
        except OSError:
            return []
        self.offset += len(data)
        *complete, self.partial = (self.partial + data).split(b"\n")
        return [line.decode("utf-8", errors="replace") for line in complete]


def shown(line: program.LogLine, plugin: str) -> bool:
    """The plugin's own lines (relayed by go-plugin), GatewayD's lines about it, its errors and panics."""
    return line.about(plugin) or line.level in SHOWN_LEVELS or line.text.startswith(("panic: ", "fatal error: "))


def trace_args(args: list[str]) -> list[str] | None:
    """The plugin's args with its ``--log-level`` (the SDK template's flag) at trace; None when it has none."""
    for index, arg in enumerate(args):
        name, equals, _ = arg.partition("=")
        if name in LOG_LEVEL_FLAGS and equals:
            return [*args[:index], f"{name}=trace", *args[index + 1:]]
        if name in LOG_LEVEL_FLAGS and index + 1 < len(args):
            return [*args[:index + 1], "trace", *args[index + 2:]]
    return None


def proxy_url(target: postgres.PostgresTarget, ports: Ports) -> str:
    """The libpq URL of GatewayD's proxy, PostgreSQL's user and database, never a password."""
    return dataclasses.replace(target, password="").url(host="127.0.0.1", port=ports.proxy)


@dataclass
class DevLoop:
    """One plugin under development: its build context, its current build, and what the watcher saw."""

    ctx: ReleaseContext
    watch: SourceWatch
    plugin: PluginUnderTest | None = None
    changed_at: float | None = None  # when the change behind the pending (re)load was seen
    pending: bool = False  # a new build waits for GatewayD to restart
    stopping: bool = False  # Ctrl-C arrived while the plugin ran: stop GatewayD gracefully, then leave
    serving: bool = False  # a build of the plugin runs in GatewayD right now
    given_plugin_args: str | None = None  # --plugin-args: used as given

    @property
    def name(self) -> str:
        return self.ctx.plugin_name

    def rebuild(self, run: Session, changed: set[str]) -> bool:
        """Validate and build again; on failure print why and keep what runs."""
        self.changed_at = time.monotonic()
        actions_io.progress(f"dev: {first_few(sorted(changed))} changed: rebuilding {self.name}")
        try:
            self.plugin = self.build(run)
        except UserError as failure:
            self.build_failed(run, failure)
            return False
        self.pending = True
        return True

    def set_plugin_args(self, run: Session) -> None:
        """``--plugin-args`` when given, else the manifest's args (read again: it may have changed) with the
        plugin's log level at trace, so its debug and trace lines reach the stream too."""
        if self.given_plugin_args is not None:
            return
        assert self.ctx.manifest is not None
        args = trace_args([str(a) for a in self.ctx.manifest.plugin.get("args") or []])
        run.options.plugin_args = shlex.join(args) if args is not None else None

    def build_failed(self, run: Session, failure: UserError) -> None:
        actions_io.progress(f"dev: the build failed:\n{failure.message}")
        running = f"{self.name} {run.report.plugin_version} keeps running" if self.serving else "nothing runs"
        actions_io.progress(f"dev: {running}; fix it and save to try again (Ctrl-C stops)")

    def build(self, run: Session) -> PluginUnderTest:
        """The first good build as test-plugin makes it (packed too); later ones unpacked (DEV_REBUILD): GatewayD
        is given the binary, and the archive of the first build stays the one in the dist."""
        if self.plugin is None:
            run_stages([stages.Validate()], self.ctx, grouped=False)
            return build_plugin(run, self.ctx)
        run_stages(stages.DEV_REBUILD, self.ctx, grouped=False)
        assert self.ctx.manifest is not None
        binary = self.ctx.binaries[0]
        return dataclasses.replace(self.plugin, manifest=self.ctx.manifest.path, binary=binary.path,
                                   binary_sha256=binary.sha256)

    def wait_for_build(self, run: Session) -> None:
        """Block until a change leads to a good build."""
        while not self.rebuild(run, self.watch.wait_for_change()):
            pass

    def announce(self, run: Session, pg: postgres.Postgres, ports: Ports) -> None:
        what = f"{self.name} {run.report.plugin_version or '(no version)'} in {run.report.gatewayd_version}"
        head = "dev: ready"
        if self.changed_at is not None:
            head = f"dev: reloaded {time.monotonic() - self.changed_at:.1f}s after the change"
        password = " (password: the one in --postgres-url)" if pg.target.password else ""
        # Straight to stdout, not through the reporter: redaction masks any URL's user name, and this URL is
        # built without the password, so it is printed whole for copying.
        print(f"{head}: {what} | psql '{proxy_url(pg.target, ports)}'{password} | API "
              f"http://127.0.0.1:{ports.http} | Ctrl-C stops", flush=True)
        self.changed_at = None

    def while_loaded(self, run: Session, process: program.GatewayDProcess, pg: postgres.Postgres,
                     ports: Ports) -> None:
        """Stream the plugin's log lines until a good rebuild (return: GatewayD restarts) or Ctrl-C."""
        tail = LogTail(process.log)
        self.stream(tail)
        self.announce(run, pg, ports)
        self.serving = True
        try:
            while True:
                self.stream(tail)
                if process.poll() is not None:
                    raise fail_with_log(run, process, f"GatewayD exited with code {process.exit_code}")
                changed = self.watch.wait(POLL_SECONDS)
                if changed and self.rebuild(run, changed):
                    actions_io.progress(f"dev: restarting GatewayD with the new {self.name}")
                    return
        except KeyboardInterrupt:
            self.stopping = True  # serve() now stops GatewayD with SIGTERM, as a user would
            actions_io.progress("dev: stopping GatewayD, PostgreSQL and removing the temp dirs…")
        finally:
            self.serving = False
            self.stream(tail)

    def stream(self, tail: LogTail) -> None:
        for line in program.parse_log("\n".join(tail.new_lines())):
            if line.text and shown(line, self.name):
                actions_io.progress(f"  {line.text}")

    def serve_forever(self, run: Session, gatewayd: Path, pg: postgres.Postgres) -> None:
        """GatewayD with the current build, restarted on every good rebuild, until Ctrl-C."""
        run.ports = Ports.pick()  # one proxy and API address for the whole session: the psql line stays valid
        while True:
            try:
                if self.plugin is None:
                    self.wait_for_build(run)
                assert self.plugin is not None
                self.pending = False  # this build is served now; a failure below waits for the next one
                self.set_plugin_args(run)
                local_path, checksum = place_plugin(run, gatewayd, self.plugin)
                serve(run, gatewayd, self.plugin, local_path, checksum, pg, self.while_loaded)
            except PluginRunFailed as failure:
                if self.stopping:
                    raise KeyboardInterrupt from None
                actions_io.progress(f"dev: {failure.reason}")
                for line in failure.log_lines:
                    actions_io.progress(f"  {line}")
                if not self.pending:
                    actions_io.progress("dev: fix the plugin and save to try again (Ctrl-C stops)")
                    self.wait_for_build(run)
                continue
            if self.stopping:
                raise KeyboardInterrupt


def run_dev(options: IntegrationOptions) -> None:
    """The whole ``dev`` session, until Ctrl-C (``KeyboardInterrupt``) or a setup error (``UserError``)."""
    if os.name == "nt":
        raise UserError("dev runs on Linux and macOS (GatewayD's plugins talk over unix sockets there)")
    parse_plugin_env(options.plugin_env)
    parse_plugin_args(options.plugin_args)  # bad quoting is reported before anything is built
    with open_session(options) as run, go_work_inside(run.root):
        with actions_io.group("validate"):
            ctx = prepare(run, options)
        with SourceWatch(options.project, options.extra_files) as watch:
            serve_project(run, options, ctx, watch)


@contextlib.contextmanager
def go_work_inside(root: Path) -> Iterator[None]:
    """``go build``'s work directories inside the session: a build that Ctrl-C interrupts leaves its
    ``go-build*`` directory behind (Go does not remove it on SIGINT), and it goes with the session."""
    work = root / "go-tmp"
    work.mkdir()
    previous = os.environ.get("GOTMPDIR")
    os.environ["GOTMPDIR"] = str(work)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("GOTMPDIR", None)
        else:
            os.environ["GOTMPDIR"] = previous


def serve_project(run: Session, options: IntegrationOptions, ctx: ReleaseContext, watch: SourceWatch) -> None:
    """GatewayD and PostgreSQL for the validated project, then the loop, until Ctrl-C."""
    given_pg = postgres.given(options.postgres_url) if options.postgres_url else None
    with actions_io.group("GatewayD"):
        gatewayd = resolve_gatewayd(run)
    loop = DevLoop(ctx, watch, given_plugin_args=options.plugin_args)
    actions_io.progress(f"dev: building {loop.name} as the release does (PostgreSQL starts meanwhile); "
                        f"watching {options.project} for changes")
    with ThreadPoolExecutor(max_workers=1) as pool:
        built = pool.submit(build_plugin, run, ctx)
        with provide_postgres(run, given_pg) as pg:
            try:
                loop.plugin = built.result()
            except UserError as failure:  # nothing runs yet: say why; serve_forever waits for a fix
                loop.build_failed(run, failure)
            loop.serve_forever(run, gatewayd, pg)

