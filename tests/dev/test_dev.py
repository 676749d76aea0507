"""``dev`` driven in a real pseudo-terminal, as a plugin author runs it: the example plugin, GatewayD v0.11.1 built
from Go modules, a throwaway PostgreSQL, real psql through the proxy, real edits seen by the real watcher, and
Ctrl-C typed into the terminal. Afterwards no process it started may be left and its TMPDIR must be empty."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatewayd_plugin_actions.dev.loop import trace_args
from gatewayd_plugin_actions.dev.watch import SourceWatch
from gatewayd_plugin_actions.gatewayd import configs, postgres, program
from tests.conftest import EXAMPLE_PLUGIN, RunCli, clean_env, copy_plugin, git_init
from tests.fixtures.terminal import CTRL_C, Proc, Terminal, alive, descendants, group_alive

PLUGIN = "gatewayd-plugin-example"
MODULE_GO = Path("plugin") / "module.go"
# In PluginID the example reports its Version variable, which the build sets with -X (the same for every build of
# one commit); a literal is what an author edits to see a change.
REPORTED_VERSION = "\tVersion:   Version,\n"
READY_RE = (r"^dev: (?P<head>ready|reloaded [\d.]+s after the change): (?P<name>\S+) (?P<version>\S+) in GatewayD "
            r"v[\d.]+ .*\| psql '(?P<url>postgresql://[^'@]+@127\.0\.0\.1:(?P<port>\d+)/[^']+)'"
            r"(?P<note> \(password: [^)]+\))? \| API (?P<api>http://127\.0\.0\.1:\d+) \| Ctrl-C stops$")


@pytest.fixture
def dev_tmpdir() -> Iterator[Path]:
    """The CLI's own TMPDIR, so "no temp directory left" is exact; world-traversable like /tmp, since the throwaway
    PostgreSQL runs as the postgres user."""
    path = Path(tempfile.mkdtemp(prefix="gpa-dev-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start_dev(project: Path, gatewayd: Path, tmpdir: Path, *args: str) -> Terminal:
    """``dev`` on ``project`` in a pseudo-terminal of its own, with its own TMPDIR."""
    return Terminal([sys.executable, "-m", "gatewayd_plugin_actions", "dev", "--project", str(project),
                     "--gatewayd-binary", str(gatewayd), *args], clean_env(TMPDIR=str(tmpdir)))


def assert_nothing_left(started: list[Proc], tmpdir: Path) -> None:
    """No process ``dev`` started is alive, none of their process groups has a member, and TMPDIR is empty."""
    assert started
    assert not [p for p in started if alive(p.pid)], [p for p in started if alive(p.pid)]
    assert not [p.pgid for p in started if group_alive(p.pgid)]
    assert not list(tmpdir.iterdir()), list(tmpdir.iterdir())


def get_plugins(api: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{api}/v1/GatewayDPluginService/GetPlugins", timeout=5) as response:
        configs = json.load(response)["configs"]
    assert isinstance(configs, list)
    return configs


def reported_version(api: str) -> str:
    entry = next(c for c in get_plugins(api) if isinstance(c["id"], dict) and c["id"]["name"] == PLUGIN)
    assert isinstance(entry["id"], dict)
    return str(entry["id"]["version"])


def select_one(url: str) -> str:
    result = subprocess.run([postgres.psql_binary(), "-X", "-A", "-t", "-d", url, "-c", "SELECT 1"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_dev_serves_reloads_on_an_edit_and_leaves_nothing_after_ctrl_c(
        tmp_path: Path, dev_tmpdir: Path, gatewayd_binaries: dict[str, Path]) -> None:
    project = copy_plugin(EXAMPLE_PLUGIN, tmp_path / PLUGIN)
    git_init(project)
    module = project / MODULE_GO
    source = module.read_text(encoding="utf-8")
    assert REPORTED_VERSION in source
    terminal = start_dev(project, gatewayd_binaries["v0.11.1"], dev_tmpdir)
    try:
        ready = terminal.expect(READY_RE, timeout=300)
        assert ready["head"] == "ready" and ready["name"] == PLUGIN
        first_version = ready["version"]
        assert first_version.startswith("0.0.0-snapshot.g"), ready.group(0)  # injected by the release's build
        url, api = ready["url"], ready["api"]
        assert select_one(url) == "1"  # psql, with the printed string, through GatewayD's proxy
        assert reported_version(api) == first_version
        started = descendants(terminal.pid)
        names = {p.name for p in started}
        assert {"gatewayd", "postgres"} <= names and any(n.startswith("gatewayd-plugin") for n in names), names
        # The plugin's own log lines (relayed by go-plugin into GatewayD's trace log) are streamed, at its trace
        # level too: the example logs each query it sees at debug.
        assert f"INF Starting plugin @module={PLUGIN} " in terminal.output
        assert '"--log-level","trace"]' in terminal.output
        terminal.expect(rf"DBG OnTrafficFromClient @module={PLUGIN} .*count=", 10)

        # A broken edit: the build fails, says why, and the running plugin keeps serving.
        module.write_text(source + "\nfunc broken( {\n", encoding="utf-8")
        terminal.expect(r"^dev: plugin/module\.go changed: rebuilding", 10)
        terminal.expect(r"^dev: the build failed:\n.*go build failed", 120)
        terminal.expect(rf"^dev: {PLUGIN} {first_version} keeps running; fix it and save", 10)
        assert reported_version(api) == first_version
        assert select_one(url) == "1"

        # A good edit: rebuilt and reloaded; the new version is what GetPlugins reports, on the same addresses.
        edited = time.monotonic()
        module.write_text(source.replace(REPORTED_VERSION, '\tVersion:   "7.7.7-edited",\n'), encoding="utf-8")
        reloaded = terminal.expect(READY_RE, timeout=120)
        seconds = time.monotonic() - edited
        assert reloaded["head"].startswith("reloaded") and reloaded["version"] == "7.7.7-edited", reloaded.group(0)
        assert (reloaded["url"], reloaded["api"]) == (url, api)
        assert reported_version(api) == "7.7.7-edited"
        assert select_one(url) == "1"
        print(f"edit → reloaded plugin: {seconds:.2f}s")
        running = descendants(terminal.pid)

        # Ctrl-C, typed into the terminal.
        terminal.type(CTRL_C)
        code = terminal.wait(timeout=90)
    finally:
        terminal.close()
    assert code == 130, terminal.output[-3000:]
    assert "stopped: SIGTERM → exit 0, 'GatewayD is shutdown'" in terminal.output[terminal.position:]
    assert "Traceback" not in terminal.output
    assert_nothing_left([*started, *running], dev_tmpdir)


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_dev_waits_through_a_broken_first_build_and_a_plugin_that_does_not_start(
        tmp_path: Path, dev_tmpdir: Path, gatewayd_binaries: dict[str, Path]) -> None:
    project = copy_plugin(EXAMPLE_PLUGIN, tmp_path / PLUGIN)
    main_go = project / "main.go"
    source = main_go.read_text(encoding="utf-8")
    main_go.write_text(source + "\nfunc broken( {\n", encoding="utf-8")
    terminal = start_dev(project, gatewayd_binaries["v0.11.1"], dev_tmpdir)
    try:
        terminal.expect(r"^dev: the build failed:\n.*go build failed", 300)
        terminal.expect(r"^dev: nothing runs; fix it and save to try again", 10)
        # It builds, but exits before serving: GatewayD's reason is shown, and dev waits for the next save.
        main_go.write_text(source.replace("func main() {\n", "func main() {\n\tos.Exit(3)\n", 1), encoding="utf-8")
        terminal.expect(rf"^dev: plugin {PLUGIN} did not load in GatewayD v0\.11\.1 .*exit status 3", 120)
        terminal.expect(r"^dev: fix the plugin and save to try again", 10)
        main_go.write_text(source, encoding="utf-8")
        loaded = terminal.expect(READY_RE, 120)
        assert loaded["head"].startswith("reloaded") and loaded["name"] == PLUGIN
        assert reported_version(loaded["api"]) == loaded["version"]
        running = descendants(terminal.pid)
        terminal.type(CTRL_C)
        assert terminal.wait(timeout=90) == 130
    finally:
        terminal.close()
    assert_nothing_left(running, dev_tmpdir)


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_ctrl_c_while_building_and_starting_postgres_leaves_nothing(
        tmp_path: Path, dev_tmpdir: Path, gatewayd_binaries: dict[str, Path]) -> None:
    project = copy_plugin(EXAMPLE_PLUGIN, tmp_path / PLUGIN)
    terminal = start_dev(project, gatewayd_binaries["v0.11.1"], dev_tmpdir)
    try:
        terminal.expect(r"^dev: building gatewayd-plugin-example as the release does", 60)
        deadline = time.monotonic() + 30
        seen: list[Proc] = []
        while time.monotonic() < deadline and not any(p.name == "postgres" for p in seen):
            seen += [p for p in descendants(terminal.pid) if p not in seen]  # go build, initdb, postgres …
            time.sleep(0.02)
        assert any(p.name == "postgres" for p in seen), seen
        terminal.type(CTRL_C)
        assert terminal.wait(timeout=90) == 130, terminal.output[-3000:]
    finally:
        terminal.close()
    assert "dev: ready" not in terminal.output
    assert_nothing_left(seen, dev_tmpdir)


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_dev_on_a_given_postgres_never_prints_its_password(
        tmp_path: Path, dev_tmpdir: Path, gatewayd_binaries: dict[str, Path],
        postgres_server: postgres.LocalServer) -> None:
    project = copy_plugin(EXAMPLE_PLUGIN, tmp_path / PLUGIN)
    password = "s3cret-Pa55word"
    given = dataclasses.replace(postgres_server.target, password=password).url()
    terminal = start_dev(project, gatewayd_binaries["v0.11.1"], dev_tmpdir, "--postgres-url", given)
    try:
        ready = terminal.expect(READY_RE, 300)
        assert ready["note"] == " (password: the one in --postgres-url)"
        assert select_one(ready["url"]) == "1"  # the server trusts loopback: the URL needs no password here
        running = descendants(terminal.pid)
        assert "postgres" not in {p.name for p in running}  # the given server, none of its own
        terminal.type(CTRL_C)
        assert terminal.wait(timeout=90) == 130
    finally:
        terminal.close()
    assert password not in terminal.output
    assert_nothing_left(running, dev_tmpdir)
    assert postgres.check_reachable(postgres_server.target)  # the given server was left alone


def test_the_watcher_sees_build_inputs_and_the_manifest_only(tmp_path: Path) -> None:
    project = copy_plugin(EXAMPLE_PLUGIN, tmp_path / PLUGIN)
    (project / "dist").mkdir()
    with SourceWatch(project) as watch:
        time.sleep(0.3)  # the watcher thread is up
        (project / "README.md").write_text("docs\n", encoding="utf-8")
        (project / "plugin" / ".module.go.swp").write_bytes(b"swap")
        (project / "dist" / "x.tar.gz").write_bytes(b"archive")
        (project / "profile.cov").write_text("mode: atomic\n", encoding="utf-8")
        assert watch.wait(1.0) == set()
        (project / MODULE_GO).write_text((project / MODULE_GO).read_text() + "\n", encoding="utf-8")
        (project / "go.sum").write_text((project / "go.sum").read_text() + "\n", encoding="utf-8")
        assert watch.wait(5.0) == {"plugin/module.go", "go.sum"}
        (project / "gatewayd_plugin.yaml").write_text((project / "gatewayd_plugin.yaml").read_text() + "\n")
        assert watch.wait(5.0) == {"gatewayd_plugin.yaml"}


@pytest.mark.parametrize(("args", "message"), [
    ((), r"gatewayd_plugin\.yaml: file not found"),
    (("--plugin-env", "NOEQUALS"), r"--plugin-env 'NOEQUALS': expected KEY=VALUE"),
])
def test_bad_input_is_one_line_and_leaves_nothing(run_cli: RunCli, tmp_path: Path, dev_tmpdir: Path,
                                                  args: tuple[str, ...], message: str) -> None:
    project = tmp_path / "not-a-plugin"
    project.mkdir()
    result = run_cli("dev", "--project", project, "--gatewayd-binary", "/nonexistent/gatewayd", *args,
                     env=clean_env(TMPDIR=str(dev_tmpdir)), timeout=60)
    assert result.returncode == 1
    assert re.search(message, result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert not list(dev_tmpdir.iterdir())


@pytest.mark.gatewayd
@pytest.mark.parametrize("version", ["v0.10.3", "v0.11.1"])
def test_the_trace_level_config_passes_gatewayd_lint(tmp_path: Path, gatewayd_binaries: dict[str, Path],
                                                     version: str) -> None:
    ports = configs.Ports.pick()
    cert, key = configs.self_signed_cert(tmp_path)
    config = tmp_path / "gatewayd.yaml"
    config.write_text(configs.global_config(ports, "127.0.0.1:5432", cert, key, tmp_path / "raft", "trace"))
    assert "level: trace" in config.read_text()
    ok, output = program.lint_global_config(gatewayd_binaries[version], config)
    assert ok, output


@pytest.mark.parametrize(("args", "expected"), [
    (["--log-level", "info"], ["--log-level", "trace"]),
    (["-v", "--log-level=debug", "x"], ["-v", "--log-level=trace", "x"]),
    (["-log-level", "warn"], ["-log-level", "trace"]),
    (["--verbose"], None),
    (["--log-level"], None),  # no value to replace: left as the manifest has it
    ([], None),
])
def test_the_plugin_runs_at_trace_when_its_args_have_a_log_level(args: list[str], expected: list[str] | None) -> None:
    assert trace_args(args) == expected
