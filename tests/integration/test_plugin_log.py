"""``test-plugin`` tells what the plugin's own log says, on real GatewayD v0.10.3 and v0.11.1.

- A plugin whose service is down keeps serving and only logs an error (gatewayd-plugin-cache with Redis
  unreachable logs ``Failed to ping Redis server`` and skips all caching): the ``needs-service`` variant of the
  example sends Redis' PING to ``EXAMPLE_SERVICE_ADDRESS`` at start and logs an hclog error when nothing answers.
  ``--plugin-errors warn`` (the default) passes with the line listed, annotated and in the step summary; ``fail``
  fails naming it; ``ignore`` only counts it. With a real redis-server up, nothing is reported.
- A plugin that panics in a hook (``hook-panics``: a nil-map write in OnTrafficFromClient): the reason names the
  panic and its line, and the excerpt starts at the panic, with the frame that locates it, not after it.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from gatewayd_plugin_actions.errors import UserError, last_lines
from gatewayd_plugin_actions.gatewayd import diagnose, postgres, program
from gatewayd_plugin_actions.gatewayd.session import hook_name
from gatewayd_plugin_actions.integration import engine
from tests.conftest import EXAMPLE_PLUGIN
from tests.fixtures.go import SERVICE_ADDRESS_KEY, SERVICE_ERROR
from tests.integration.test_test_plugin import FAST, PLUGIN, VERSIONS, Runner, failure_reason

pytestmark = [pytest.mark.gatewayd, pytest.mark.postgres]

ANNOTATION_RE = re.compile(rf"^::warning title={PLUGIN} log::{PLUGIN} logged an error: {SERVICE_ERROR} "
                           r'error="dial tcp 127\.0\.0\.1:\d+: connect: connection refused" address=127\.0\.0\.1:\d+',
                           re.MULTILINE)


def run_needs_service(runner: Runner, broken_plugin: Callable[..., Path], binary: Path, pg: postgres.LocalServer,
                      address: str, *args: str) -> subprocess.CompletedProcess[str]:
    runner.env["GITHUB_ACTIONS"] = "true"  # annotations are printed as workflow commands
    return runner(broken_plugin("needs-service"), "--gatewayd-binary", binary, "--postgres-url", pg.target.url(),
                  "--plugin-env", f"{SERVICE_ADDRESS_KEY}={address}", *FAST, *args)


def closed_port() -> str:
    return f"127.0.0.1:{postgres.free_port()}"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_plugin_whose_service_is_down_passes_with_a_warning(runner: Runner, broken_plugin: Callable[..., Path],
                                                             gatewayd_binaries: dict[str, Path], version: str,
                                                             postgres_server: postgres.LocalServer) -> None:
    result = run_needs_service(runner, broken_plugin, gatewayd_binaries[version], postgres_server, closed_port())
    err = result.stderr
    assert result.returncode == 0, err
    assert ANNOTATION_RE.search(result.stdout), result.stdout
    assert f"{PLUGIN} logged 1 distinct error line of its own (plugin-errors warn; fail makes them fail the job)" in err
    assert "SQL over TLS" in err and "test-plugin OK" in err
    assert "1 error/warning line(s) of the plugin's own, see the warnings above" in err
    summary = runner.summary.read_text()
    assert f"**{PLUGIN} logged errors or warnings of its own**" in summary
    assert re.search(rf"^- `error: {SERVICE_ERROR} error=\"dial tcp 127\.0\.0\.1:\d+: connect: connection refused\"",
                     summary, re.MULTILINE), summary
    assert "Starting plugin" not in summary, "only error and warning lines are listed"
    logged = json.loads(runner.outputs()["result"])["plugin_logged"]
    assert [line.startswith(f"error: {SERVICE_ERROR} ") for line in logged] == [True], logged


@pytest.mark.parametrize("version", VERSIONS)
def test_plugin_errors_fail_fails_naming_the_line(runner: Runner, broken_plugin: Callable[..., Path],
                                                 gatewayd_binaries: dict[str, Path], version: str,
                                                 postgres_server: postgres.LocalServer) -> None:
    result = run_needs_service(runner, broken_plugin, gatewayd_binaries[version], postgres_server, closed_port(),
                               "--plugin-errors", "fail")
    reason = failure_reason(result)
    err = result.stderr
    assert re.fullmatch(rf"{PLUGIN} logged 1 distinct error line of its own \(plugin-errors fail\); the first: "
                        rf'error: {SERVICE_ERROR} error="dial tcp 127\.0\.0\.1:\d+: connect: connection refused" '
                        r"address=127\.0\.0\.1:\d+ reply=", reason), reason
    assert f"what {PLUGIN} logged (its own error and warning lines, as GatewayD relayed them)" in err
    assert "### test-plugin FAILED" in runner.summary.read_text()
    assert "stopped: SIGTERM → exit 0" in err, "judged on the whole run, after a clean stop"


def test_plugin_errors_ignore_only_counts_them(runner: Runner, broken_plugin: Callable[..., Path],
                                               gatewayd_binaries: dict[str, Path],
                                               postgres_server: postgres.LocalServer) -> None:
    result = run_needs_service(runner, broken_plugin, gatewayd_binaries["v0.11.1"], postgres_server, closed_port(),
                               "--plugin-errors", "ignore")
    assert result.returncode == 0, result.stderr
    assert f"{PLUGIN} logged 1 distinct error line of its own (not reported: plugin-errors ignore)" in result.stderr
    assert "::warning" not in result.stdout and "logged errors or warnings" not in runner.summary.read_text()


def test_a_service_that_is_up_gives_no_warning(runner: Runner, broken_plugin: Callable[..., Path],
                                               gatewayd_binaries: dict[str, Path], redis_server: str,
                                               postgres_server: postgres.LocalServer, tmp_path: Path) -> None:
    result = run_needs_service(runner, broken_plugin, gatewayd_binaries["v0.11.1"], postgres_server, redis_server,
                               "--keep-logs", str(tmp_path / "logs"))
    assert result.returncode == 0, result.stderr
    assert f"{PLUGIN} logged no error or warning line of its own" in result.stderr
    assert "::warning" not in result.stdout, result.stdout
    log = (tmp_path / "logs" / "gatewayd.log").read_text()
    assert re.search(rf"INF Connected to the service .*address={re.escape(redis_server)}", log), \
        "the plugin really talked to Redis (PING → +PONG)"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_panic_in_a_hook_is_named_with_its_line(runner: Runner, broken_plugin: Callable[..., Path],
                                                  gatewayd_binaries: dict[str, Path], version: str,
                                                  postgres_server: postgres.LocalServer, tmp_path: Path) -> None:
    result = runner(broken_plugin("hook-panics"), "--gatewayd-binary", gatewayd_binaries[version],
                    "--postgres-url", postgres_server.target.url(), "--keep-logs", tmp_path / "logs", *FAST)
    reason = failure_reason(result)
    assert re.search(r"crashed or was restarted after it was ready: '(plugin process exited|Failed to ping plugin)'"
                     r".* after it panicked: panic: assignment to entry in nil map at "
                     r"github\.com/gatewayd-plugin-actions/gatewayd-plugin-example/plugin/plugin\.go:\d+ "
                     r"\(in plugin\.\(\*Plugin\)\.OnTrafficFromClient\)", reason), reason
    # GatewayD reloads the crashed plugin and the next SQL panics it again: the excerpt must hold the first panic
    # of the log (v0.11.1 relays its stack at ERR, 20 lines a panic; v0.10.3 at DBG).
    log = (tmp_path / "logs" / "gatewayd.log").read_text().splitlines()
    panic_at = next(i for i, line in enumerate(log) if "panic: assignment to entry in nil map" in line)
    excerpt = [line.strip() for line in result.stderr.split("relevant GatewayD log lines", 1)[1].splitlines()[1:]]
    first_panic = excerpt.index(log[panic_at].strip())
    # The plugin's own lines, in the log's order (GatewayD's threads may log between them while it relays them).
    relayed = f"plugin={PLUGIN}"
    head = [line for line in excerpt[first_panic:] if relayed in line][:diagnose.PANIC_HEAD_LINES]
    assert head == [line.strip() for line in log[panic_at:] if relayed in line][:diagnose.PANIC_HEAD_LINES]
    assert all("lines left out" not in line
               for line in excerpt[first_panic:excerpt.index(head[-1], first_panic)]), excerpt
    assert any("goroutine " in line for line in head), head
    assert any(re.search(r"plugin/plugin\.go:\d+ \+0x", line) for line in head), "the frame that locates it"
    assert all("lines left out" not in line for line in head), head


@pytest.mark.parametrize("version", VERSIONS)
def test_a_panic_at_start_is_named_with_its_line(runner: Runner, broken_plugin: Callable[..., Path],
                                                 gatewayd_binaries: dict[str, Path], version: str,
                                                 postgres_server: postgres.LocalServer) -> None:
    """Before: only "Unrecognized remote plugin message …; the plugin process exited (exit status 2)"."""
    result = runner(broken_plugin("panic"), "--gatewayd-binary", gatewayd_binaries[version],
                    "--postgres-url", postgres_server.target.url(), *FAST)
    reason = failure_reason(result)
    assert re.search(r": Failed to start plugin: Unrecognized remote plugin message: .*the plugin process exited "
                     r"\(exit status 2\); it panicked: panic: example: failed to load settings at "
                     r"github\.com/gatewayd-plugin-actions/gatewayd-plugin-example/main\.go:\d+ \(in main\.main\)$",
                     reason), reason


# ---------------------------------------------------------------------------------------------------
# Pieces, on log lines in the shapes the real binaries wrote above
# ---------------------------------------------------------------------------------------------------

RELAYED = (
    '2026-12-07T01:57:15.026695Z DBG Loading plugin group=default name=p\n'
    '2026-12-07T01:57:15.067326Z ERR Failed to ping the service error="dial tcp 127.0.0.1:9: connect: connection '
    'refused" @module=p address=127.0.0.1:9 group=default plugin=p reply= timestamp=2026-12-07T01:57:15.066Z\n'
    "2026-12-07T01:57:15.067431Z INF Starting plugin @module=p group=default plugin=p "
    "timestamp=2026-12-07T01:57:15.067Z version=1\n"
    "2026-12-07T01:57:15.1Z WRN ignoring a setting @module=p group=default plugin=p timestamp=x value=7\n"
    '2026-12-07T01:57:16.2Z ERR Failed to ping the service error="again" @module=p group=default plugin=p '
    "timestamp=y\n"
    '2026-12-07T01:57:40.4Z ERR Failed to ping plugin error="failed to ping plugin" group=default\n'
    "2026-12-07T01:57:40.4Z WRN Plugin not registered, skipping group=default plugin=p\n"
    "2026-12-07T01:57:40.5Z ERR panic: boom group=default plugin=p\n"
    "2026-12-07T01:57:41.4Z WRN heartbeat timeout reached group=default plugin=raft timestamp=z\n")


def test_the_plugins_own_lines_are_told_from_gatewayds() -> None:
    """go-plugin adds timestamp= to each hclog line it relays; GatewayD's own lines about the plugin have none, a
    panic's plain stderr has no level of its own, and another plugin's (raft's) lines are not this one's."""
    logged = diagnose.plugin_logged(program.parse_log(RELAYED), "p")
    assert [str(item) for item in logged] == [
        'error: Failed to ping the service error="dial tcp 127.0.0.1:9: connect: connection refused" '
        "address=127.0.0.1:9 reply= (logged 2 times)",
        "warning: ignoring a setting value=7",
    ]


def test_the_excerpt_keeps_the_first_panic_with_its_frames() -> None:
    """Before: the last 40 lines, which began one line after a plugin's `panic: …`, or in its stack."""
    noise = "".join(f"2026-01-01T00:00:{i:02d}Z INF Plugin is ready group=default name=p\n" for i in range(50))
    panic = ("2026-01-01T00:01:00Z ERR panic: assignment to entry in nil map group=default plugin=p\n"
             "2026-01-01T00:01:00Z ERR group=default plugin=p\n"
             "2026-01-01T00:01:00Z ERR goroutine 7 [running]: group=default plugin=p\n"
             "2026-01-01T00:01:00Z ERR example.com/p/plugin.(*Plugin).OnTrafficFromClient(0x1, {0x2?}) "
             "group=default plugin=p\n"
             "2026-01-01T00:01:00Z ERR \texample.com/p/plugin/plugin.go:68 +0x36 group=default plugin=p\n"
             + "".join(f"2026-01-01T00:01:00Z ERR \tgoogle.golang.org/grpc/server.go:{n} +0x7f group=default "
                       "plugin=p\n" for n in range(30))
             + '2026-01-01T00:01:01Z ERR plugin process exited error="exit status 2" group=default plugin=p\n')
    lines = program.parse_log(noise[: len(noise) // 2] + panic + noise)
    excerpt = diagnose.relevant_lines(lines, "p")
    assert len(excerpt) == diagnose.MAX_LOG_LINES
    # Picked: 25 ready lines, the panic's head of 12 (message, blank, goroutine, a frame and its file:line, 7 more
    # stack lines; the other 23 are dropped), the exit, 50 ready lines: 88. Shown: 2 lines before the panic, its
    # head, then the last 24 lines.
    assert excerpt[0] == "… (23 earlier lines left out)"
    assert [text[:20] for text in excerpt[1:3]] == ["2026-01-01T00:00:23Z", "2026-01-01T00:00:24Z"]
    assert "ERR panic: assignment to entry in nil map" in excerpt[3]
    assert "goroutine 7 [running]" in excerpt[5] and "plugin.go:68" in excerpt[7]
    assert excerpt[15] == "… (27 lines left out)", excerpt[15]
    assert excerpt[-1].startswith("2026-01-01T00:00:49Z INF Plugin is ready")
    assert diagnose.plugin_panic(lines, "p") == ("panic: assignment to entry in nil map at "
                                                 "example.com/p/plugin/plugin.go:68 (in plugin.(*Plugin)."
                                                 "OnTrafficFromClient)")


def test_lines_other_threads_wrote_inside_a_panic_keep_its_head_whole() -> None:
    """GatewayD logs "Hook returned an error" while the plugin's stack is still being relayed (seen on v0.10.3):
    the head is the panic's first lines as the log has them, not cut at the first interleaved line."""
    noise = "".join(f"2026-01-01T00:00:{i:02d}Z INF Plugin is ready group=default name=p\n" for i in range(50))
    stack = [f"2026-01-01T00:01:00Z DBG \tgoogle.golang.org/grpc/server.go:{n} +0x7f group=default plugin=p\n"
             for n in range(30)]
    hook_errors = ('2026-01-01T00:01:00Z ERR Hook returned an error error="EOF" group=default hookName=X\n'
                   "2026-01-01T00:01:00Z ERR Hook returned nil result, so it won't work properly group=default\n")
    panic = ("2026-01-01T00:01:00Z DBG panic: assignment to entry in nil map group=default plugin=p\n"
             "2026-01-01T00:01:00Z DBG goroutine 7 [running]: group=default plugin=p\n"
             + "".join(stack[:3]) + hook_errors + "".join(stack[3:]))
    log = noise[: len(noise) // 2] + panic + noise
    excerpt = diagnose.relevant_lines(program.parse_log(log), "p")
    first = next(i for i, text in enumerate(excerpt) if "panic: assignment" in text)
    in_log = [line for line in log.splitlines() if "INF Plugin is ready" not in line]
    assert excerpt[first:first + 14] == in_log[:14], excerpt
    assert "lines left out" in excerpt[first + 14]


def test_tails_are_cut_at_line_boundaries() -> None:
    text = "first line\n" + "x" * 30 + "\nsecond to last\nlast line\n"
    assert last_lines(text, 30) == "second to last\nlast line"
    assert last_lines("one very long line " * 10, 20).startswith("one very long line o")
    assert last_lines("a\nb", 500) == "a\nb"


def test_a_bad_plugin_errors_mode_is_refused_before_anything_runs() -> None:
    with pytest.raises(UserError, match=r"^--plugin-errors 'warning': expected warn, fail or ignore$"):
        engine.run_test_plugin(engine.IntegrationOptions(project=EXAMPLE_PLUGIN, plugin_errors="warning"))


def test_hooks_are_named_as_the_sdk_names_them() -> None:
    assert [hook_name(n) for n in (1, 16, 22, 1000)] == ["OnConfigLoaded", "OnTrafficFromClient", "OnHook",
                                                        "custom hook 1000"]
