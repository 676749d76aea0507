"""PostgreSQL for ``test-plugin``: the caller's server (``--postgres-url``) or a throwaway one.

A throwaway server is ``initdb`` + ``postgres`` from the machine's own PostgreSQL (``pg_config --bindir``,
else ``/usr/lib/postgresql/<N>/bin``, else ``$PATH``): trust auth, listening only on 127.0.0.1 at a free
port, its socket and data in one temp dir, durability off (it lives for one test). GitHub's Ubuntu
runners ship such a server, so the same code runs there. As root the server runs as the ``postgres``
user (PostgreSQL refuses to run as root), and the temp dir is handed to that user. It is always stopped
and its directory removed, also on failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from gatewayd_plugin_actions import redaction
from gatewayd_plugin_actions.errors import UserError

READY_TIMEOUT = 30.0
POLL_SECONDS = 0.02
STOP_TIMEOUT = 15.0
PSQL_TIMEOUT = 30.0
# Options for a server that lives for one test: no durability, small footprint, loopback only.
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "32MB",
    "logging_collector": "off",
}


@dataclass(frozen=True)
class PostgresTarget:
    """Where a PostgreSQL server listens and how to log in to it."""

    host: str
    port: int
    user: str
    database: str
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, url: str) -> PostgresTarget:
        """``postgres[ql]://user[:password]@host[:port][/database]``; the defaults are libpq's."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise UserError(f"--postgres-url {redact(url)!r}: expected postgres://user[:password]@host[:port]/db")
        try:
            port = parts.port or 5432
        except ValueError:
            raise UserError(f"--postgres-url {redact(url)!r}: the port is not a number") from None
        host = parts.hostname or "localhost"
        user = unquote(parts.username or "postgres")
        database = unquote(parts.path.lstrip("/")) or user
        return cls(host, port, user, database, unquote(parts.password or ""))

    @property
    def address(self) -> str:
        """``host:port`` as GatewayD's ``clients.*.address`` wants it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def url(self, host: str | None = None, port: int | None = None, sslmode: str = "disable") -> str:
        """A libpq URL to this server, or (with host/port) to a proxy in front of it, same credentials."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        where = host or self.host
        where = f"[{where}]" if ":" in where else where
        return (f"postgresql://{auth}@{where}:{port or self.port}/{quote(self.database, safe='')}"
                f"?sslmode={sslmode}&connect_timeout=10")


def redact(url: str) -> str:
    """The URL with its credentials replaced, for messages and logs (everything up to the last ``@``)."""
    return redaction.redact_url(url)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel's pick, so parallel runs do not collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def psql_binary() -> str:
    found = shutil.which("psql")
    if found:
        return found
    bindir = find_bindir()
    if bindir and (bindir / "psql").is_file():
        return str(bindir / "psql")
    raise UserError("`psql` is not installed; install the PostgreSQL client (Debian/Ubuntu: postgresql-client)")


def find_bindir() -> Path | None:
    """The directory with ``initdb`` and ``postgres``: ``pg_config --bindir``, the Debian layout, or $PATH."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))

    def major(path: Path) -> int:
        return int(path.parent.name) if path.parent.name.isdigit() else 0

    candidates += sorted((p / "bin" for p in Path("/usr/lib/postgresql").glob("*")), key=major, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "postgres").is_file()), None)


def check_reachable(target: PostgresTarget, timeout: float = 5.0) -> str:
    """Log in with ``psql`` and return the server version; a one-line ``UserError`` when that fails."""
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UserError(f"PostgreSQL unreachable at {target.address}: {reason}") from None
    result = run_psql(target.url(), "SHOW server_version;", timeout=timeout + 10)
    if result.returncode != 0:
        detail = psql_error(result)
        raise UserError(f"PostgreSQL at {target.address} refused user {target.user!r}: {detail}")
    return result.stdout.strip()


def psql_error(result: subprocess.CompletedProcess[str]) -> str:
    """The line of psql's stderr that says what went wrong (its last)."""
    return (result.stderr.strip().splitlines() or ["psql failed"])[-1]


def run_psql(url: str, sql: str, timeout: float = PSQL_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run SQL with ``psql -X -v ON_ERROR_STOP=1``: unaligned, tuples only, so output is exact values."""
    command = [psql_binary(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    try:
        return subprocess.run(command, input=sql, capture_output=True, text=True, timeout=timeout, env=env,
                              check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, 124, "", f"psql timed out after {timeout:.0f}s")


@dataclass
class LocalServer:
    """A throwaway server this process started."""

    target: PostgresTarget
    version: str
    directory: Path
    process: subprocess.Popen[bytes]


@dataclass(frozen=True)
class RunAs:
    """Who runs the server: ourselves, or (when root) the ``postgres`` user; PostgreSQL refuses root."""

    uid: int | None = None
    gid: int | None = None

    @classmethod
    def detect(cls) -> RunAs:
        if os.geteuid() != 0:
            return cls()
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            raise UserError("running as root, but there is no 'postgres' user to run the throwaway "
                            "PostgreSQL as; pass --postgres-url or create the user") from None
        return cls(entry.pw_uid, entry.pw_gid)

    @property
    def extra_groups(self) -> list[int] | None:
        return [] if self.uid is not None else None


def _temp_base(run_as: RunAs) -> str | None:
    """Where the server's directory goes: the usual temp dir, unless the ``postgres`` user could not reach it
    (a root-only TMPDIR such as pytest's /tmp/pytest-of-root); then /tmp."""
    base = Path(tempfile.gettempdir()).resolve()
    if run_as.uid is None or all(p.stat().st_mode & 0o001 for p in (base, *base.parents)):
        return None
    return "/tmp"


def _server_env(directory: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "TZ", "TMPDIR")}
    env.update(LC_ALL="C", LANG="C", HOME=str(directory))
    return env


def _postmaster_status(data_dir: Path) -> str:
    """The status line ``postmaster.pid`` ends with once the server accepts connections ('ready')."""
    try:
        lines = (data_dir / "postmaster.pid").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return lines[7].strip() if len(lines) >= 8 else ""


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT to the postmaster); SIGKILL to its whole process group if it hangs."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def local_server(bindir: Path | None = None, attempts: int = 3) -> Iterator[LocalServer]:
    """Start a throwaway PostgreSQL on 127.0.0.1 at a free port; stopped and removed on exit, whatever happens."""
    bindir = bindir or find_bindir()
    if bindir is None:
        raise UserError("no PostgreSQL server found (initdb/postgres; `pg_config --bindir`, /usr/lib/postgresql/"
                        "*/bin, $PATH); install one (Debian/Ubuntu: postgresql) or pass --postgres-url")
    run_as = RunAs.detect()
    directory = Path(tempfile.mkdtemp(prefix="gpa-postgres-", dir=_temp_base(run_as)))
    process: subprocess.Popen[bytes] | None = None
    try:
        if run_as.uid is not None and run_as.gid is not None:
            os.chown(directory, run_as.uid, run_as.gid)
        data_dir = directory / "data"
        env = _server_env(directory)
        init = subprocess.run(
            [str(bindir / "initdb"), "-D", str(data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C", "--no-sync"],
            capture_output=True, text=True, env=env, cwd=directory, timeout=120, check=False,
            user=run_as.uid, group=run_as.gid, extra_groups=run_as.extra_groups)
        if init.returncode != 0:
            tail = "\n".join((init.stdout + init.stderr).strip().splitlines()[-10:])
            raise UserError(f"initdb failed (exit {init.returncode}):\n{tail}")
        version = _server_version(bindir)
        log = directory / "postgres.log"
        for attempt in range(1, attempts + 1):
            port = free_port()
            options = [f"-c{k}={v}" for k, v in SERVER_SETTINGS.items()]
            with log.open("ab") as log_handle:
                process = subprocess.Popen(
                    [str(bindir / "postgres"), "-D", str(data_dir), "-p", str(port), "-k", str(directory),
                     *options],
                    stdin=subprocess.DEVNULL, stdout=log_handle, stderr=subprocess.STDOUT, env=env, cwd=directory,
                    start_new_session=True, user=run_as.uid, group=run_as.gid, extra_groups=run_as.extra_groups)
            if _wait_ready(process, data_dir):
                target = PostgresTarget("127.0.0.1", port, "postgres", "postgres")
                yield LocalServer(target, version, directory, process)
                return
            _stop(process)
            if attempt == attempts or "could not bind" not in _tail(log, 5):
                raise UserError(f"the throwaway PostgreSQL did not start (exit {process.returncode}):\n{_tail(log)}")
    finally:
        if process is not None:
            _stop(process)
        _remove(directory)


REMOVE_SECONDS = 5.0


def _remove(directory: Path) -> None:
    """Remove the server's directory, again while it keeps coming back: interrupted during initdb (Ctrl-C in
    `dev`), the single-user postgres that initdb started may still write files there after initdb is gone."""
    deadline = time.monotonic() + REMOVE_SECONDS
    shutil.rmtree(directory, ignore_errors=True)
    while directory.exists() and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        shutil.rmtree(directory, ignore_errors=True)


def _wait_ready(process: subprocess.Popen[bytes], data_dir: Path) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _postmaster_status(data_dir) == "ready":
            return True
        time.sleep(POLL_SECONDS)
    return False


def _server_version(bindir: Path) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=10,
                             check=False)
        return out.stdout.strip()
    return "PostgreSQL (unknown version)"


@dataclass
class Postgres:
    """The server ``test-plugin`` talks to, however it was obtained."""

    target: PostgresTarget
    version: str
    managed: bool  # True when this process started it (and will stop it)


def given(url: str) -> Postgres:
    """The caller's server, checked reachable (and its version asked) once."""
    target = PostgresTarget.parse(url)
    return Postgres(target, f"PostgreSQL {check_reachable(target)}", managed=False)


@contextlib.contextmanager
def provide(server: Postgres | None) -> Iterator[Postgres]:
    """The caller's server (from :func:`given`) or a throwaway one, stopped on exit."""
    if server is not None:
        yield server
        return
    with local_server() as local:
        yield Postgres(local.target, local.version, managed=True)
