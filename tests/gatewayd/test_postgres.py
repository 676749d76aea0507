"""The throwaway PostgreSQL and URL handling behind ``test-plugin``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.gatewayd import postgres

pytestmark = pytest.mark.postgres


def test_parse_url_defaults_and_credentials() -> None:
    target = postgres.PostgresTarget.parse("postgres://alice:s%40cret@db.local:6543/app")
    assert (target.host, target.port, target.user, target.password, target.database) == (
        "db.local", 6543, "alice", "s@cret", "app")
    assert target.address == "db.local:6543"
    assert target.url("127.0.0.1", 15432, "require") == (
        "postgresql://alice:s%40cret@127.0.0.1:15432/app?sslmode=require&connect_timeout=10")
    bare = postgres.PostgresTarget.parse("postgresql://localhost")
    assert (bare.port, bare.user, bare.database) == (5432, "postgres", "postgres")
    assert "s@cret" not in repr(target)
    # Everything between "://" and the last "@": the user too, and a password holding an unescaped "@".
    assert postgres.redact("postgres://alice:pw@h/db") == "postgres://***@h/db"
    assert postgres.redact("postgres://alice:p@ss@h/db") == "postgres://***@h/db"


def test_parse_url_rejects_other_schemes() -> None:
    with pytest.raises(UserError, match="expected postgres://"):
        postgres.PostgresTarget.parse("mysql://root@localhost/db")


def test_session_server_answers_sql(postgres_server: postgres.LocalServer) -> None:
    result = postgres.run_psql(postgres_server.target.url(), "SELECT 40 + 2;")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"
    assert postgres_server.target.host == "127.0.0.1"
    assert postgres.check_reachable(postgres_server.target) in postgres_server.version


def test_psql_stops_at_the_first_error(postgres_server: postgres.LocalServer) -> None:
    result = postgres.run_psql(postgres_server.target.url(), "SELECT 1; SELECT nope; SELECT 3;")
    assert result.returncode != 0
    assert "nope" in result.stderr
    assert "3" not in result.stdout


def test_unreachable_server_is_one_line() -> None:
    port = postgres.free_port()
    with pytest.raises(UserError) as info:
        postgres.check_reachable(postgres.PostgresTarget("127.0.0.1", port, "postgres", "postgres"))
    assert info.value.message == f"PostgreSQL unreachable at 127.0.0.1:{port}: Connection refused"


def test_local_server_is_stopped_and_removed_on_error() -> None:
    with pytest.raises(RuntimeError), postgres.local_server() as server:
        directory, pid = server.directory, server.process.pid
        assert directory.is_dir()
        raise RuntimeError("boom")
    assert not directory.exists()
    assert server.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_local_server_is_cleaned_up_on_ctrl_c(tmp_path: Path) -> None:
    """SIGINT to a process holding a throwaway server: the server stops and its directory goes away."""
    marker = tmp_path / "server.txt"
    script = (
        "import sys, time\n"
        "from gatewayd_plugin_actions.gatewayd import postgres\n"
        "with postgres.local_server() as s:\n"
        f"    open({str(marker)!r}, 'w').write(f'{{s.directory}} {{s.process.pid}}')\n"
        "    time.sleep(60)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "scripts"))
    child = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.05)
    directory, pid = marker.read_text().split()
    child.send_signal(signal.SIGINT)
    child.wait(timeout=30)
    assert not Path(directory).exists()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)
