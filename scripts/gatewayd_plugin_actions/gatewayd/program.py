"""Driving a real GatewayD binary: ``plugin install`` round-trips, ``plugin lint``/``config lint``, and
``gatewayd run`` as a supervised process (readiness, the plugin API, log markers, graceful stop).

``gatewayd plugin install`` exits 0 even when it fails and prints everything to stderr, so success is
read from its output markers, never from the exit status. ``gatewayd run`` keeps
serving when a plugin fails to load and logs most reasons at debug level, so a run is
judged by ``/healthz``, ``GetPlugins`` and exact log lines, never by "the port answers".
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from gatewayd_plugin_actions.contract import sha256_file
from gatewayd_plugin_actions.errors import with_output

INSTALL_FAILURE_MARKERS = ("Invalid URL", "could not be found", "Download failed", "Checksum verification failed",
                           "There was an error", "Aborting...", "Failed to unmarshal", "unknown file type",
                           "illegal file path", "panic")
LINT_OK_MARKER = "plugins config is valid"
GLOBAL_LINT_OK_MARKER = "global config is valid"


def run_gatewayd(gatewayd: Path, args: list[str], cwd: Path, timeout: float = 120) -> tuple[int, str]:
    # GATEWAYD_* variables are read into GatewayD's config: the caller's environment must not steer it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAYD_")}
    result = subprocess.run([str(gatewayd), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL, check=False, env=env)
    return result.returncode, (result.stdout + result.stderr)


def gatewayd_version(gatewayd: Path) -> str:
    _, output = run_gatewayd(gatewayd, ["version"], Path.cwd(), timeout=30)
    return output.strip().splitlines()[0] if output.strip() else "unknown"


@dataclass
class InstallResult:
    ok: bool
    problems: list[str]
    output: str
    config: Path
    entry: dict[str, Any] = field(default_factory=dict)
    binary: Path | None = None


def lint_plugins_config(gatewayd: Path, config: Path, cwd: Path | None = None) -> tuple[bool, str]:
    code, output = run_gatewayd(gatewayd, ["plugin", "lint", "--sentry=false", "-p", str(config)],
                                cwd or config.parent)
    return code == 0 and LINT_OK_MARKER in output, output.strip()


def lint_global_config(gatewayd: Path, config: Path, cwd: Path | None = None) -> tuple[bool, str]:
    """``gatewayd config lint -c``: the schema check ``gatewayd run`` does on ``gatewayd.yaml``."""
    code, output = run_gatewayd(gatewayd, ["config", "lint", "--sentry=false", "-c", str(config)],
                                cwd or config.parent)
    return code == 0 and GLOBAL_LINT_OK_MARKER in output, output.strip()


def lint_error(output: str) -> str:
    """The one line that says why a lint failed (``linting failed, OriginalError: jsonschema: …``)."""
    lines = [ln for ln in output.splitlines() if ln.strip()]
    failed = next((ln for ln in lines if "linting failed" in ln or "jsonschema" in ln), lines[-1] if lines else "")
    return re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", "", failed).strip()


def install_local_archive(gatewayd: Path, archive: Path, name: str, workdir: Path) -> InstallResult:
    """``gatewayd plugin install --name NAME <archive>`` in ``workdir``, then check what it really did."""
    workdir.mkdir(parents=True, exist_ok=True)
    local = workdir / archive.name
    shutil.copyfile(archive, local)
    config = workdir / "gatewayd_plugins.yaml"
    # Relative -o and archive path: an absolute output dir breaks the installer.
    code, output = run_gatewayd(gatewayd, ["plugin", "install", "--sentry=false", "--name", name,
                                           "-p", config.name, "-o", "plugins", archive.name], workdir)
    result = InstallResult(False, [], output, config)
    failures = [m for m in INSTALL_FAILURE_MARKERS if m in output]
    if failures:
        result.problems.append(f"`gatewayd plugin install` reported: {failures[0]!r}")
    if f"Plugin binary extracted to plugins/{name}" not in output:
        result.problems.append(f"no 'Plugin binary extracted to plugins/{name}' in the installer's output")
    if "Plugin installed successfully" not in output:
        result.problems.append("no 'Plugin installed successfully' in the installer's output")
    if code != 0:
        result.problems.append(f"`gatewayd plugin install` exited with {code}")
    if config.is_file():
        loaded = YAML(typ="safe", pure=True).load(config.read_text(encoding="utf-8")) or {}
        entries = [p for p in loaded.get("plugins") or [] if isinstance(p, dict) and p.get("name") == name]
        if not entries:
            result.problems.append(f"{config.name} has no plugins entry named {name!r} after install")
        else:
            result.entry = entries[0]
            local_path = workdir / str(result.entry.get("localPath") or "")
            if not str(result.entry.get("localPath") or "") or not local_path.is_file():
                result.problems.append(f"installed localPath {result.entry.get('localPath')!r} is not a file")
            else:
                result.binary = local_path
                if not local_path.stat().st_mode & 0o111:
                    result.problems.append(f"installed binary {result.entry['localPath']} is not executable")
                if result.entry.get("checksum") != sha256_file(local_path):
                    result.problems.append("installed entry's checksum is not the sha256 of the installed binary")
        ok, lint_output = lint_plugins_config(gatewayd, config, workdir)
        if not ok:
            result.problems.append(with_output("`gatewayd plugin lint` rejects the installed config", lint_output,
                                               300))
    else:
        result.problems.append(f"the installer wrote no {config.name}")
    result.ok = not result.problems
    return result


# ---------------------------------------------------------------------------------------------------
# `gatewayd run`, supervised
# ---------------------------------------------------------------------------------------------------

# Exact log messages (zerolog console output, GatewayD v0.10.3 and v0.11.1 alike).
READY_MARKER = "Plugin is ready"  # INF, name=<plugin>: after metadata and hook registration
SHUTDOWN_MARKER = "GatewayD is shutdown"  # INF: the last line of a graceful stop
# Any of these for the plugin before the stop means it failed to start, crashed or was reloaded.
TROUBLE_MARKERS = ("Failed to start plugin", "plugin process exited", "Failed to ping plugin",
                   "Reloading crashed plugin")
# Debug-level reasons GatewayD gives when it silently skips a plugin.
SKIP_MARKERS = ("Plugin is disabled", "Local file of the plugin doesn't exist or is not set",
                "Checksum of plugin doesn't exist or is not set", "Failed to decode checksum",
                "Invalid checksum length", "Failed to dispense plugin", "Failed to get plugin metadata")
# What go-plugin's Serve prints when the magic cookie is missing or wrong (relayed from the plugin).
# Environment GatewayD may keep: GATEWAYD_* would be read into its config, and everything it has
# overrides the plugin's configured env, so it starts from almost nothing.
KEPT_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")
LOG_LINE_RE = re.compile(r"^(?P<time>\S+) (?P<level>TRC|DBG|INF|WRN|ERR|FTL|PNC) (?P<rest>.*)$")
HEALTHZ_POLL_SECONDS = 0.02


def scrubbed_env(tmpdir: Path) -> dict[str, str]:
    """The environment for ``gatewayd run``: a few basics, ``TMPDIR`` inside the run (plugin sockets land
    there and go away with it), and nothing else from the caller."""
    env = {key: os.environ[key] for key in KEPT_ENV if key in os.environ}
    env["TMPDIR"] = str(tmpdir)
    return env


@dataclass(frozen=True)
class LogLine:
    number: int
    text: str
    level: str
    message: str

    def about(self, plugin: str) -> bool:
        return bool(re.search(rf"(?:^| )(?:name|plugin)={re.escape(plugin)}(?: |$)", self.text))


def parse_log(text: str) -> list[LogLine]:
    lines: list[LogLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        match = LOG_LINE_RE.match(raw)
        level = match["level"] if match else ""
        rest = match["rest"] if match else raw
        # zerolog console: "<message> key=value key=value"; the message ends before the first key= (a relayed
        # blank line, such as the one after a plugin's "panic: …", has an empty message).
        message = re.split(r"(?:^| )(?=[@\w.-]+=)", rest, maxsplit=1)[0]
        lines.append(LogLine(number, raw, level, message))
    return lines


def log_field(line: str, key: str) -> str | None:
    """A field's value from a console log line: bare (``name=x``) or quoted (``error="…"``)."""
    match = re.search(rf'(?:^| ){re.escape(key)}=("(?:[^"\\]|\\.)*"|\S+)', line)
    if match is None:
        return None
    value = match.group(1)
    if value.startswith('"'):
        with contextlib.suppress(ValueError):
            decoded = json.loads(value)
            return str(decoded)
    return value


@dataclass
class Readiness:
    ok: bool
    seconds: float  # from process start to the first 200 from /healthz
    window: float  # time between the last not-ready answer and the first 200: the detection's uncertainty
    polls: int
    last_status: str


@dataclass
class GatewayDProcess:
    """One ``gatewayd run`` in its own process group, output to ``log``."""

    process: subprocess.Popen[bytes]
    log: Path
    http_address: str
    started: float  # time.monotonic() when the process was started
    exit_code: int | None = None

    @classmethod
    def start(cls, gatewayd: Path, cwd: Path, config: Path, plugins_config: Path, log: Path, http_address: str,
              env: dict[str, str], dev: bool = False) -> GatewayDProcess:
        command = [str(gatewayd), "run", "--sentry=false", "--usage-report=false", "-c", str(config),
                   "-p", str(plugins_config)]
        if dev:
            command.append("--dev")
        with log.open("wb") as out:
            started = time.monotonic()
            process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        return cls(process, log, http_address, started)

    def poll(self) -> int | None:
        if self.exit_code is None:
            self.exit_code = self.process.poll()
        return self.exit_code

    def _get(self, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
        host, _, port = self.http_address.rpartition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def wait_ready(self, timeout: float, poll_seconds: float = HEALTHZ_POLL_SECONDS) -> Readiness:
        """Poll ``/healthz`` until 200, the process exits, or ``timeout`` passes."""
        deadline = self.started + timeout
        last_not_ready = self.started
        polls = 0
        status = "no answer"
        while time.monotonic() < deadline:
            if self.poll() is not None:
                return Readiness(False, time.monotonic() - self.started, 0.0, polls, f"exited with {self.exit_code}")
            polls += 1
            asked = time.monotonic()
            try:
                code, _ = self._get("/healthz", timeout=1.0)
                status = f"HTTP {code}"
            except OSError as exc:
                code, status = 0, type(exc).__name__
            now = time.monotonic()
            if code == 200:
                return Readiness(True, now - self.started, now - last_not_ready, polls, status)
            last_not_ready = asked
            time.sleep(poll_seconds)
        return Readiness(False, time.monotonic() - self.started, 0.0, polls, status)

    def get_plugins(self) -> list[dict[str, Any]]:
        """``GET /v1/GatewayDPluginService/GetPlugins``: the plugins that really reached the registry."""
        code, body = self._get("/v1/GatewayDPluginService/GetPlugins")
        if code != 200:
            raise OSError(f"GetPlugins answered HTTP {code}: {body[:200]!r}")
        data = json.loads(body)
        configs = data.get("configs") if isinstance(data, dict) else None
        return [c for c in configs or [] if isinstance(c, dict)]

    def read_log(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (GatewayD's graceful stop exits 0); returns the exit code, None if it hung."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.exit_code = self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        return self.exit_code

    def kill(self) -> None:
        """Make sure nothing of this run survives: GatewayD and its plugins share its process group."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.exit_code = self.process.returncode
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # orphaned plugin processes, if any
