"""How a plugin is started, as a user's GatewayD starts it: in the directory GatewayD runs in (the plugin's
repository), with relative paths of its env and args resolved there, and within a short startTimeout.

Real plugin shapes (variants of the example, :data:`tests.fixtures.go.PLUGIN_VARIANTS`): one that reads the file
its manifest's env names as ``./scripts/example.js`` (gatewayd-plugin-js' ``SCRIPT_PATH=./scripts/index.js``)
and refuses to serve without it; one that never serves. Both GatewayD versions.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from gatewayd_plugin_actions.gatewayd import diagnose, postgres, program
from gatewayd_plugin_actions.goplugin import PathSetting, missing_paths, names_a_file, path_settings
from tests.conftest import CLI, RunCli, git_init
from tests.fixtures.go import SCRIPT_PATH_KEY, patch_plugin_variant
from tests.integration.test_test_plugin import FAST, PLUGIN, VERSIONS, Runner, failure_reason, leftover_processes
from tests.verify.test_gate import assert_nothing_left, own_tmpdir, run_env

# The unit tests of the rule need neither, but share this module with the runs that do.
pytestmark = [pytest.mark.gatewayd, pytest.mark.postgres]
SCRIPT = "./scripts/example.js"
# What the plugin gets in plugins[0].env, added to the example's manifest after the magic cookie.
SCRIPT_ENV = f"{SCRIPT_PATH_KEY}={SCRIPT}"
COOKIE_VALUE_LINE = re.compile(r"^( +)- MAGIC_COOKIE_VALUE=\S+\n", re.MULTILINE)
# The one line (a warning before GatewayD starts, then the head of the failure) naming the setting.
MISSING_RE = (rf"plugins\[0\]\.env {re.escape(SCRIPT_ENV)}: no such file in (\S+), where GatewayD runs the plugin "
              r"and relative paths resolve \(the plugin's repository\); add it, or set another value with plugin-env "
              r"\(--plugin-env\)")
# The whole start may take this long for a plugin that never serves.
NEVER_SERVES_BUDGET = 20.0


def needs_script(project: Path, with_file: bool) -> Path:
    """The needs-script variant: main.go reads $EXAMPLE_SCRIPT_PATH, the manifest sets it to ./scripts/example.js,
    and the repository has that file (``with_file``) or not."""
    patch_plugin_variant(project, "needs-script")
    manifest = project / "gatewayd_plugin.yaml"
    text = manifest.read_text()
    assert COOKIE_VALUE_LINE.search(text), "the example's manifest changed"
    manifest.write_text(COOKIE_VALUE_LINE.sub(lambda m: f"{m.group(0)}{m.group(1)}- {SCRIPT_ENV}\n", text, count=1))
    if with_file:
        (project / "scripts").mkdir()
        (project / SCRIPT).write_text("export function onTrafficFromClient(q) { return q; }\n")
    return project


# ---------------------------------------------------------------------------------------------------
# The rule: which values name a file
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "is_path"), [
    ("./scripts/index.js", True), ("../shared/config.yaml", True), ("./bin", True), ("scripts/index.js", True),
    ("/etc/gatewayd/cache.yaml", True), ("conf/app.v2.json", True),
    ("https://439b580a@o45.ingest.sentry.io/4506475229413376", False), ("redis://localhost:6379/0", False),
    ("localhost:6379/0", False), ("text/plain", False), ("5712b87aa5d7e9f9", False), ("info", False), ("", False),
    ("1.2/3.4", False), ("a/b c.txt", False),
])
def test_which_values_name_a_file(value: str, is_path: bool) -> None:
    assert names_a_file(value) is is_path


def test_path_settings_of_env_and_args_and_which_are_missing(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "index.js").write_text("")
    # Absolute paths do not depend on where GatewayD runs; sockets, pid and log files are the plugin's to create
    # (the v0.11.1 scaffold's METRICS_UNIX_DOMAIN_SOCKET): none of them is checked.
    env = ["MAGIC_COOKIE_KEY=GATEWAYD_PLUGIN", "SCRIPT_PATH=./scripts/index.js", "RULES=./rules/x.yaml",
           "SENTRY_DSN=https://k@o1.ingest.sentry.io/2", "METRICS_UNIX_DOMAIN_SOCKET=/tmp/p.sock",
           "METRICS_PATH=/metrics", "CONFIG=/etc/p/config.yaml", "LOG=./logs/p.log"]
    args = ["--log-level", "info", "--config=conf/plugin.yaml", "./scripts/index.js"]
    assert path_settings(env, args) == [
        PathSetting("plugins[0].env", "SCRIPT_PATH=./scripts/index.js", "./scripts/index.js"),
        PathSetting("plugins[0].env", "RULES=./rules/x.yaml", "./rules/x.yaml"),
        PathSetting("plugins[0].args[2]", "--config=conf/plugin.yaml", "conf/plugin.yaml"),
        PathSetting("plugins[0].args[3]", "./scripts/index.js", "./scripts/index.js")]
    assert [m.setting for m in missing_paths(env, args, tmp_path)] == ["RULES=./rules/x.yaml",
                                                                        "--config=conf/plugin.yaml"]


# ---------------------------------------------------------------------------------------------------
# test-plugin: GatewayD runs in the repository
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_a_relative_script_path_resolves_in_the_repository(runner: Runner, project: Path, version: str,
                                                           gatewayd_binaries: dict[str, Path],
                                                           postgres_server: postgres.LocalServer) -> None:
    """Before: GatewayD ran in test-plugin's temp dir, so ./scripts/example.js was looked up there and a correct
    repository failed with "Unrecognized remote plugin message"."""
    needs_script(project, with_file=True)
    before = git_status(project)
    result = runner(project, "--gatewayd-binary", gatewayd_binaries[version], "--postgres-url",
                    postgres_server.target.url(), *FAST)
    assert result.returncode == 0, result.stderr
    assert "does not exist" not in result.stderr
    assert "test-plugin OK" in result.stderr
    assert git_status(project) == before, "GatewayD, run in the repository, wrote nothing there"


def git_status(project: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--ignored"], cwd=project,
                          text=True, capture_output=True, check=True).stdout


@pytest.mark.parametrize("version", VERSIONS)
def test_a_missing_script_is_named_before_gatewayd_starts_and_in_the_failure(
        runner: Runner, project: Path, version: str, gatewayd_binaries: dict[str, Path],
        postgres_server: postgres.LocalServer) -> None:
    needs_script(project, with_file=False)
    result = runner(project, "--gatewayd-binary", gatewayd_binaries[version], "--postgres-url",
                    postgres_server.target.url(), *FAST)
    reason = failure_reason(result)
    assert re.match(rf"^{MISSING_RE}; plugin {PLUGIN} did not load in GatewayD {re.escape(version)} ", reason), reason
    assert re.match(MISSING_RE, reason)[1] == str(project)  # type: ignore[index]
    warning = re.search(rf"^{re.escape(str(project))}/gatewayd_plugin\.yaml:(\d+): warning: {MISSING_RE}$",
                        result.stderr, re.MULTILINE)
    assert warning, result.stderr
    line = int(warning[1])
    assert (project / "gatewayd_plugin.yaml").read_text().splitlines()[line - 1].strip() == f"- {SCRIPT_ENV}"
    assert result.stderr.index(warning[0]) < result.stderr.index("  configs: "), "said before GatewayD starts"
    assert "cannot read the script: refusing to serve" in result.stderr, "the plugin's own words follow"


# ---------------------------------------------------------------------------------------------------
# A plugin that never serves: startTimeout, not GatewayD's minute
# ---------------------------------------------------------------------------------------------------


def timed_run(runner: Runner, project: Path, *args: str | Path) -> tuple[int, list[tuple[float, str]]]:
    """test-plugin with each stderr line's arrival time; nothing may be left behind."""
    started = time.monotonic()
    process = subprocess.Popen([*CLI, "test-plugin", "--project", str(project), *map(str, args)], env=runner.env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    lines = [(time.monotonic() - started, line.rstrip("\n")) for line in process.stderr]
    code = process.wait(timeout=120)
    assert not list(runner.tmpdir.iterdir()), f"left behind in TMPDIR: {list(runner.tmpdir.iterdir())}"
    assert not leftover_processes(runner.tmpdir), f"processes left behind: {leftover_processes(runner.tmpdir)}"
    return code, lines


@pytest.mark.parametrize("version", VERSIONS)
def test_a_plugin_that_never_serves_fails_within_20_seconds(runner: Runner, project: Path, version: str,
                                                            gatewayd_binaries: dict[str, Path],
                                                            postgres_server: postgres.LocalServer) -> None:
    """Before: GatewayD waited the manifest's startTimeout (1m) before it even served /healthz."""
    patch_plugin_variant(project, "never-serves")
    code, lines = timed_run(runner, project, "--gatewayd-binary", gatewayd_binaries[version], "--postgres-url",
                            postgres_server.target.url(), *FAST)
    stderr = "\n".join(text for _, text in lines)
    assert code != 0, stderr
    started = next(at for at, text in lines if text.startswith("  configs: "))
    failed, reason = next((at, text) for at, text in lines if text.startswith("test-plugin FAILED: "))
    assert "startTimeout 10s" in stderr.split("  configs: ", 1)[1].splitlines()[0]
    assert reason == (f"test-plugin FAILED: plugin {PLUGIN} did not start serving within startTimeout 10s (this "
                      "run's; --start-timeout allows more): GatewayD got no go-plugin handshake, gave up and killed "
                      "it; it printed: 'INF Starting plugin'"), reason
    elapsed = failed - started
    assert 10 <= elapsed <= NEVER_SERVES_BUDGET, f"{elapsed:.1f}s from GatewayD's start to the verdict"
    print(f"\n[figures] GatewayD {version}: a never-serving plugin detected {elapsed:.1f}s after GatewayD started")


def test_start_timeout_is_checked(runner: Runner, project: Path) -> None:
    result = runner(project, "--start-timeout", "soon")
    assert result.returncode != 0
    assert "--start-timeout 'soon': expected a positive Go duration such as 10s" in result.stderr
    assert "built" not in result.stderr


# ---------------------------------------------------------------------------------------------------
# The release gate and verify --gatewayd: the same rule, and --plugin-env for the handshake and the load
# ---------------------------------------------------------------------------------------------------


def test_the_release_gate_runs_the_plugin_in_the_repository(run_cli: RunCli, tmp_path: Path, go_cache: str,
                                                             gatewayd_binaries: dict[str, Path],
                                                             postgres_server: postgres.LocalServer) -> None:
    from tests.conftest import EXAMPLE_PLUGIN, copy_plugin  # noqa: PLC0415

    project = needs_script(copy_plugin(EXAMPLE_PLUGIN, tmp_path / PLUGIN), with_file=True)
    git_init(project, tag="v0.1.0")
    tmpdir = own_tmpdir(tmp_path)
    env = {**run_env(tmpdir), "GOCACHE": go_cache}  # the shared build cache: a cold one costs minutes here
    dist = tmp_path / "dist"
    gate = ("--targets", "linux/amd64", "--postgres-url", postgres_server.target.url())
    # The file is in the repository: the handshake and the load in GatewayD v0.11.1 both find it.
    loaded = run_cli("release", "--snapshot", "--project", project, "--dist", dist, *gate, "--gatewayd-binary",
                     gatewayd_binaries["v0.11.1"], env=env, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    assert "gate: installed" in loaded.stderr and "does not exist" not in loaded.stderr
    assert_nothing_left(tmpdir)
    record = json.loads((dist / "metadata.json").read_text(encoding="utf-8"))["verification"]
    assert record["passed"] is True and record["checks"] == ["local", "gate", "install"], record

    # verify --gatewayd from a directory without ./scripts: the manifest's path names nothing there...
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = run_cli("verify", "--dist", dist, "--gatewayd-binary", gatewayd_binaries["v0.10.3"], *gate[2:],
                      cwd=elsewhere, env=env, timeout=300)
    assert refused.returncode != 0, refused.stderr
    errors = [ln for ln in refused.stderr.splitlines() if "does not start as a plugin" in ln]
    assert len(errors) == 1, refused.stderr
    assert re.search(rf"{MISSING_RE}; {PLUGIN} does not start as a plugin: no handshake line on stdout: the plugin "
                     "exited with code 1", errors[0]), errors[0]
    assert str(elsewhere) in errors[0]
    assert re.search(rf"warning: {MISSING_RE}$", refused.stderr, re.MULTILINE), "said before the plugin starts"
    assert_nothing_left(tmpdir)
    # ...and --plugin-env reaches the handshake and the load in GatewayD v0.10.3 alike.
    script = (project / SCRIPT).resolve()
    passed = run_cli("verify", "--dist", dist, "--gatewayd-binary", gatewayd_binaries["v0.10.3"], *gate[2:],
                     "--plugin-env", f"{SCRIPT_PATH_KEY}={script}", cwd=elsewhere, env=env, timeout=300)
    assert passed.returncode == 0, passed.stderr
    assert re.search(r"gate: installed .* and loaded it in GatewayD v0\.10\.3", passed.stderr), passed.stderr
    assert_nothing_left(tmpdir)
    # ...or --project names the repository, where the relative path resolves (from anywhere).
    in_project = run_cli("verify", "--dist", dist, "--gatewayd-binary", gatewayd_binaries["v0.10.3"], *gate[2:],
                         "--project", project, cwd=elsewhere, env=env, timeout=300)
    assert in_project.returncode == 0, in_project.stderr
    assert "does not exist" not in in_project.stderr and "no such file" not in in_project.stderr
    assert_nothing_left(tmpdir)


NEVER_SERVED_LOG = f"""\
2026-12-07T01:57:33.253221Z DBG Loading plugin group=default name={PLUGIN}
2026-12-07T01:57:33.294859Z INF configuring client automatic mTLS group=default plugin={PLUGIN}
2026-12-07T01:57:33.318668Z DBG starting plugin args=["./p","--log-level","info"] group=default path=./p plugin={PLUGIN}
2026-12-07T01:57:33.319193Z DBG plugin started group=default path=./p pid=27600 plugin={PLUGIN}
2026-12-07T01:57:33.319398Z DBG waiting for RPC address group=default plugin={PLUGIN}
2026-12-07T01:57:33.323951Z INF Starting plugin @module={PLUGIN} group=default plugin={PLUGIN} \
timestamp=2026-12-07T01:57:33.323Z
2026-12-07T01:57:34.000000Z DBG waiting for redis at 127.0.0.1:6379 group=default plugin={PLUGIN}
2026-12-07T01:57:43.320482Z ERR Failed to start plugin error="failed to start plugin, OriginalError: \
timeout while waiting for plugin to start" group=default name={PLUGIN}
2026-12-07T01:57:43.32056Z WRN plugin failed to exit gracefully group=default plugin={PLUGIN}
2026-12-07T01:57:43.324253Z ERR plugin process exited error="signal: killed" group=default id=27600 plugin={PLUGIN}
"""


def test_what_a_never_serving_plugin_printed_is_told_apart_from_go_plugins_lines() -> None:
    """GatewayD's log lines (v0.11.1's words): its relayed hclog JSON (timestamp=) and its raw stderr (a debug line
    with plugin=) are the plugin's; go-plugin's own lines about it are not."""
    lines = program.parse_log(NEVER_SERVED_LOG)
    assert [ln.message for ln in diagnose.printed_by_plugin(lines, PLUGIN)] == [
        "Starting plugin", "waiting for redis at 127.0.0.1:6379"]
    assert diagnose.did_not_serve(lines, PLUGIN, "10s") == (
        f"plugin {PLUGIN} did not start serving within startTimeout 10s (this run's; --start-timeout allows more): "
        "GatewayD got no go-plugin handshake, gave up and killed it; it printed: 'INF Starting plugin' | "
        "'DBG waiting for redis at 127.0.0.1:6379'")
    exited = NEVER_SERVED_LOG.replace("timeout while waiting for plugin to start", "Unrecognized remote plugin message")
    assert diagnose.did_not_serve(program.parse_log(exited), PLUGIN, "10s") is None
