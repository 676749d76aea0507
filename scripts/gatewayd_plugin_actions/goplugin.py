"""go-plugin, as GatewayD drives it: the handshake a plugin binary must perform before GatewayD can load it.

Started with the magic-cookie environment, a plugin must print ``CORE|APP|NETWORK|ADDR|grpc|…`` as its
first stdout line (core protocol 1, app protocol 1, gRPC); started without it, go-plugin must refuse to
run. Both are checked without GatewayD, in well under a second.
"""

from __future__ import annotations

import errno
import os
import re
import selectors
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gatewayd_plugin_actions import contract
from gatewayd_plugin_actions.errors import UserError, last_lines, shorten

# go-plugin listens on <TMPDIR>/plugin<10 digits>; a unix socket path has at most 103 usable bytes on macOS.
MAX_SOCKET_DIR = 80
HANDSHAKE_RE = re.compile(r"^1\|1\|(unix|tcp)\|[^|]+\|grpc(\|.*)?$")


@dataclass
class HandshakeResult:
    ok: bool
    reason: str
    stderr_tail: str
    seconds: float


def handshake_env(extra: dict[str, str] | None = None, configured: dict[str, str] | None = None) -> dict[str, str]:
    """The environment GatewayD gives a plugin: its configured ``env`` (default: the right cookie pair),
    a few of GatewayD's own variables, go-plugin's cookie (from the SDK's compiled-in handshake, so always
    right) and port range; ``extra`` (``--plugin-env``) last, as GatewayD's environment wins too."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "TMPDIR", "SYSTEMROOT") if key in os.environ}
    env.update(configured if configured is not None else {
        "MAGIC_COOKIE_KEY": contract.MAGIC_COOKIE_KEY, "MAGIC_COOKIE_VALUE": contract.MAGIC_COOKIE_VALUE})
    env.update({
        contract.MAGIC_COOKIE_KEY: contract.MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": "1",
        "PLUGIN_MIN_PORT": "50000",
        "PLUGIN_MAX_PORT": "60000",
    })
    env.update(extra or {})
    return env


def _stop(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    stderr = process.stderr.read() if process.stderr else b""
    return stderr.decode("utf-8", "replace").strip()


def _tail(stderr: str, lines: int = 10) -> str:
    """The last lines of stderr, but from the first ``panic:`` line on when there is one: the panic
    message is what explains the exit, and goroutine dumps would push it out of a plain tail."""
    all_lines = stderr.splitlines()
    start = next((i for i, line in enumerate(all_lines) if line.startswith("panic:")), None)
    if start is not None:
        return "\n".join(all_lines[start:start + lines])
    return "\n".join(all_lines[-lines:])


def explain(result: HandshakeResult) -> str:
    """One sentence on why a plugin did not start, naming the likely fix."""
    stderr = result.stderr_tail
    panic = next((line for line in stderr.splitlines() if line.startswith("panic:")), None)
    if panic:
        return f"{result.reason}: it panicked at start ({shorten(panic, 200)!r})"
    if any(marker in stderr for marker in contract.COOKIE_REFUSAL_MARKERS):
        return (f"{result.reason}: go-plugin refused the magic cookie although GatewayD passes "
                f"{contract.MAGIC_COOKIE_KEY}={contract.MAGIC_COOKIE_VALUE[:8]}… and plugins[0].env sets "
                "MAGIC_COOKIE_KEY/MAGIC_COOKIE_VALUE: the HandshakeConfig compiled into the binary (main.go) must "
                "use the SDK's values (read MAGIC_COOKIE_KEY and MAGIC_COOKIE_VALUE from the env, or "
                "v1.Handshake)")
    detail = f"; its stderr ends: {shorten(stderr.splitlines()[-1], 200)!r}" if stderr.strip() else ""
    return f"{result.reason}{detail}"


# How long a just-written binary may stay "busy": see start_fresh_binary.
TEXT_BUSY_WAIT_SECONDS = 2.0


def start_fresh_binary(argv: list[str], **popen: object) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` for a binary this process has just written (the gate's staged or extracted copy).

    While one thread writes the file, another may fork (``go build`` of the next target): the child holds a
    copy of the write descriptor until it execs, and exec of the file fails with ETXTBSY ("Text file busy")
    meanwhile. That lasts microseconds to milliseconds, so it is waited out, never reported as the plugin's fault.
    """
    deadline = time.monotonic() + TEXT_BUSY_WAIT_SECONDS
    while True:
        try:
            return subprocess.Popen(argv, **popen)  # type: ignore[call-overload,no-any-return]
        except OSError as exc:
            if exc.errno != errno.ETXTBSY or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def handshake(binary: Path, extra_env: dict[str, str] | None = None, timeout: float = 15.0,
              cwd: Path | None = None, args: list[str] | None = None,
              configured_env: dict[str, str] | None = None, tmpdir: Path | None = None) -> HandshakeResult:
    """Start the plugin as GatewayD would (its configured args and env) and read its handshake line.
    ``tmpdir`` becomes its TMPDIR: go-plugin's unix socket lands there, and a killed plugin leaves it behind."""
    started = time.monotonic()
    env = handshake_env(extra_env, configured_env)
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    try:
        process = start_fresh_binary([str(binary), *(args or [])], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    except OSError as exc:
        return HandshakeResult(False, f"cannot start {binary}: {exc}", "", 0.0)
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    buffer = b""
    deadline = started + timeout
    while b"\n" not in buffer and time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            break
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:
            break
        buffer += chunk
    selector.close()
    seconds = time.monotonic() - started
    line = buffer.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    stderr_tail = _tail(_stop(process))
    if not line:
        code = process.returncode
        exited = code not in (None, -signal.SIGTERM)
        if not exited:
            return HandshakeResult(False, f"did not start serving within {timeout:.0f}s (no go-plugin handshake "
                                   "line on stdout; GatewayD would give up after startTimeout)", stderr_tail, seconds)
        return HandshakeResult(False, f"no handshake line on stdout: the plugin exited with code {code}",
                               stderr_tail, seconds)
    if not HANDSHAKE_RE.match(line):
        return HandshakeResult(False, f"first stdout line is not a go-plugin gRPC handshake (want "
                               f"1|1|unix|…|grpc, anything printed before Serve breaks it): {line[:120]!r}",
                               stderr_tail, seconds)
    return HandshakeResult(True, "handshake ok", stderr_tail, seconds)


def refuses_without_cookie(binary: Path, timeout: float = 15.0, settings: dict[str, str] | None = None,
                           args: list[str] | None = None, cwd: Path | None = None) -> HandshakeResult:
    """Run with no magic cookie: go-plugin must exit non-zero saying it is a plugin. ``settings``, ``args`` and
    ``cwd`` are the plugin's (its env without the cookie, where GatewayD would run it): a plugin that checks its
    settings before it serves (gatewayd-plugin-js reads SCRIPT_PATH) gets as far as go-plugin."""
    cookie = {"MAGIC_COOKIE_KEY", "MAGIC_COOKIE_VALUE", contract.MAGIC_COOKIE_KEY}
    env = {key: value for key, value in (settings or {}).items() if key not in cookie}
    env.update({key: os.environ[key] for key in ("PATH", "HOME", "TMPDIR") if key in os.environ})
    started = time.monotonic()
    try:
        process = start_fresh_binary([str(binary), *(args or [])], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, stdin=subprocess.DEVNULL, cwd=cwd)
    except OSError as exc:
        return HandshakeResult(False, f"cannot start {binary}: {exc}", "", 0.0)
    with process:
        try:
            _, stderr_bytes = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return HandshakeResult(False, "kept running without the magic cookie", "", timeout)
    result = subprocess.CompletedProcess(process.args, process.returncode, b"", stderr_bytes)
    stderr = result.stderr.decode("utf-8", "replace")
    seconds = time.monotonic() - started
    if result.returncode == 0:
        return HandshakeResult(False, "exited 0 without the magic cookie", last_lines(stderr), seconds)
    if not any(marker in stderr for marker in contract.COOKIE_REFUSAL_MARKERS):
        return HandshakeResult(False, "exited without go-plugin's magic-cookie refusal", last_lines(stderr),
                               seconds)
    return HandshakeResult(True, "refuses to run without the magic cookie", "", seconds)


def parse_plugin_env(items: list[str]) -> list[tuple[str, str]]:
    """``--plugin-env`` values: each ``KEY=VALUE``, or several on lines of one value (how an Actions input
    arrives); blank lines are skipped, anything else without ``=`` is a one-line error."""
    pairs = []
    for item in items:
        for raw in item.splitlines():
            line = raw.rstrip("\r")
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key or any(c.isspace() for c in key):
                raise UserError(f"--plugin-env {line!r}: expected KEY=VALUE (one per line)")
            pairs.append((key, value))
    return pairs


def socket_dir(root: Path) -> Path:
    """A home for go-plugin's sockets (a plugin's TMPDIR): inside ``root`` when short enough (see
    ``MAX_SOCKET_DIR``; a deep TMPDIR such as pytest's or macOS's /var/folders/… is not), else a short one
    under /tmp."""
    inside = root / "t"
    if len(str(inside)) <= MAX_SOCKET_DIR:
        inside.mkdir()
        return inside
    return Path(tempfile.mkdtemp(prefix="gpa-", dir="/tmp" if Path("/tmp").is_dir() else None))


# ---------------------------------------------------------------------------------------------------
# Paths in a plugin's env and args
# ---------------------------------------------------------------------------------------------------
# GatewayD starts a plugin with exec.Command(localPath, args...) and no Dir (plugin/utils.go NewCommand, v0.10.3 and
# v0.11.1), so the plugin runs in GatewayD's working directory and every relative path it is given (localPath
# too) resolves there. Manifests are written for GatewayD run from the plugin's repository (gatewayd-plugin-js:
# localPath ../gatewayd-plugin-js/gatewayd-plugin-js and SCRIPT_PATH=./scripts/index.js), so test-plugin and the
# release gate run GatewayD and the plugin there. A value names a file when it starts with ./ or ../, or has a /
# and its last part a file extension (scripts/index.js, /etc/x.yaml), and is not a URL; for an arg
# --flag=VALUE, the VALUE. Only relative ones depend on where GatewayD runs, and files a plugin creates need not
# exist (the scaffold's METRICS_UNIX_DOMAIN_SOCKET=/tmp/<name>.sock): those are left alone.
_EXTENSION_RE = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}$")
CREATED_BY_PLUGINS = (".sock", ".pid", ".log")


@dataclass(frozen=True)
class PathSetting:
    """One path-like value the plugin is given: where (``plugins[0].env``/``plugins[0].args``), the whole
    setting (``SCRIPT_PATH=./scripts/index.js``) and the path."""

    where: str
    setting: str
    path: str

    def missing_line(self, cwd: Path) -> str:
        return (f"{self.where} {self.setting}: no such file in {cwd}, where GatewayD runs the plugin and relative "
                "paths resolve (the plugin's repository); add it, or set another value with plugin-env "
                "(--plugin-env)")


def names_a_file(value: str) -> bool:
    """The rule above: does ``value`` look like a file path?"""
    if not value or "://" in value or any(c.isspace() for c in value):
        return False
    if value.startswith(("./", "../")):
        return True
    return "/" in value and bool(_EXTENSION_RE.search(value.rsplit("/", 1)[1]))


def _relative_input(value: str) -> bool:
    return names_a_file(value) and not value.startswith("/") and not value.endswith(CREATED_BY_PLUGINS)


def path_settings(env: list[str], args: list[str]) -> list[PathSetting]:
    """The values in a plugin's env (``KEY=VALUE`` items) and args that name a file relative to GatewayD's
    working directory, other than files plugins create."""
    found = []
    for item in env:
        value = item.partition("=")[2]
        if _relative_input(value):
            found.append(PathSetting("plugins[0].env", item, value))
    for index, arg in enumerate(args):
        value = arg.partition("=")[2] if arg.startswith("-") else arg
        if _relative_input(value):
            found.append(PathSetting(f"plugins[0].args[{index}]", arg, value))
    return found


def missing_paths(env: list[str], args: list[str], cwd: Path) -> list[PathSetting]:
    """The path-like values that name nothing when resolved against ``cwd`` (GatewayD's working directory)."""
    return [setting for setting in path_settings(env, args) if not (cwd / setting.path).exists()]
