"""test-plugin's SQL through the proxy: a smoke over plaintext and TLS, and the caller's SQL file against its
expected output; each session's transcript is kept in GatewayD's work dir."""

from __future__ import annotations

import secrets
import subprocess
import time
from pathlib import Path

from gatewayd_plugin_actions import actions_io
from gatewayd_plugin_actions.errors import Problem
from gatewayd_plugin_actions.gatewayd import postgres, program
from gatewayd_plugin_actions.gatewayd.configs import Ports
from gatewayd_plugin_actions.gatewayd.session import PluginRunFailed, Session, SqlResult, fail_with_log

# GatewayD (seen with v0.10.3) can hand the first reply on a recycled backend connection to the goroutine of the
# client that just left ("Error writing to client … use of closed network connection"): the new client then never
# hears back and psql times out before running anything. A pause between sessions makes that rare, and a session
# that could not even connect is tried once more, with a warning; a statement that fails is never retried.
SESSION_PAUSE = 0.2
RETRY_PAUSE = 1.0


def could_not_connect(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 2 and "psql: error: connection to server" in result.stderr and not result.stdout


def psql(run: Session, name: str, url: str, sql: str) -> subprocess.CompletedProcess[str]:
    time.sleep(SESSION_PAUSE)
    result = postgres.run_psql(url, sql)
    transcript = f"$ psql {postgres.redact(url)}\n{sql}\n--- exit {result.returncode}\n{result.stdout}\n--- stderr\n"
    transcript += result.stderr
    if could_not_connect(result):
        first = (result.stderr.strip().splitlines() or [""])[-1]
        actions_io.report([Problem(f"SQL {name}: could not connect through GatewayD ({first}); retrying once (GatewayD "
                                   "can lose a new connection's startup reply when connections follow each other "
                                   "quickly)", severity="warning", title="test-plugin")])
        time.sleep(RETRY_PAUSE)
        result = postgres.run_psql(url, sql)
        transcript += f"\n--- retried: exit {result.returncode}\n{result.stdout}\n--- stderr\n{result.stderr}"
    (run.work / f"sql-{name.replace(' ', '-')}.out").write_text(transcript, encoding="utf-8")
    return result


def smoke(run: Session, process: program.GatewayDProcess, pg: postgres.Postgres, ports: Ports) -> None:
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
        result = psql(run, f"smoke {mode}", pg.target.url("127.0.0.1", ports.proxy, sslmode), sql)
        seconds = time.monotonic() - started
        out = result.stdout.splitlines()
        if result.returncode != 0:
            error = postgres.psql_error(result)
            run.report.sql.append(SqlResult(f"smoke over {mode}", False, seconds, error))
            raise fail_with_log(run, process, f"SQL smoke over {mode} failed through GatewayD: {error}")
        if not out or out[0] != value:
            got = out[0] if out else "(nothing)"
            run.report.sql.append(SqlResult(f"smoke over {mode}", False, seconds, f"got {got!r}"))
            raise fail_with_log(run, process, f"SQL smoke over {mode}: SELECT returned {got!r}, expected {value!r}")
        detail = "CREATE, INSERT, SELECT (exact value), DROP"
        if sslmode == "require":
            ssl = next((ln for ln in out if ln.startswith("SSL connection")), "")
            if not ssl:
                raise fail_with_log(run, process, "SQL smoke over TLS: psql did not report an SSL connection")
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


def user_sql(run: Session, process: program.GatewayDProcess, pg: postgres.Postgres, ports: Ports,
             sql_file: Path | None, expect_file: Path | None) -> None:
    if sql_file is None:
        return
    started = time.monotonic()
    result = psql(run, "user", pg.target.url("127.0.0.1", ports.proxy, "disable"),
                   sql_file.read_text(encoding="utf-8"))
    seconds = time.monotonic() - started
    name = sql_file.name
    if result.returncode != 0:
        error = postgres.psql_error(result)
        run.report.sql.append(SqlResult(name, False, seconds, error))
        raise fail_with_log(run, process, f"{name} failed through GatewayD: {error}")
    detail = "ran without error"
    if expect_file is not None:
        expected = normalize_output(expect_file.read_text(encoding="utf-8"))
        got = normalize_output(result.stdout)
        if expected != got:
            diff = first_difference(expected, got)
            run.report.sql.append(SqlResult(name, False, seconds, diff))
            raise PluginRunFailed(f"SQL expectation not met: {name} output differs from {expect_file.name} "
                             f"({diff})", [f"--- expected ({expect_file})", *expected[:20],
                                           "--- got", *got[:20]], title="psql output")
        detail = f"output matches {expect_file.name} ({len(expected)} lines)"
    run.report.sql.append(SqlResult(name, True, seconds, detail))
    actions_io.progress(f"  SQL {name}: {detail} ({seconds:.2f}s)")
