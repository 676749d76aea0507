"""The release gate: before anything is published (and in ``release --snapshot``) the host build must start
as a plugin — run as GatewayD runs it (the manifest's ``plugins[0].env`` + ``--plugin-env`` + go-plugin's
variables), it must print the go-plugin handshake line in time. Real Go builds of broken variants of the
example plugin (``tests/fixtures/go.py``: :data:`~tests.fixtures.go.PLUGIN_VARIANTS`); no GatewayD needed."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from gatewayd_plugin_actions.commands.common import add_gate, gate_options
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.gatewayd import postgres
from tests.conftest import RunCli, clean_env
from tests.fakes.fake_github import FakeGitHub
from tests.fixtures.github import OWNER, REPO, TOKEN
from tests.fixtures.go import BROKEN_PLUGIN_KINDS, NEEDS_ENV_KEY, NEEDS_ENV_VALUE
from tests.publish.test_publish import collect, publish_env, releases_for, writes

GATE_ERROR = "does not start as a plugin"
# Per kind: what the one error line (or the rest of stderr) must say about the cause, lower-cased.
REASONS = {
    "panic": "panic",
    "never-serves": "did not start serving",
    "wrong-cookie": "magic cookie",
}
# The gate may wait this long for a plugin that never serves (on top of a healthy release's time).
MAX_EXTRA_SECONDS = 30
# A CLI run that takes this much longer than a healthy one is hung (kept well above the gate's timeout).
HANG_SECONDS = 150
SNAPSHOT_ARGS = ("--version", "v0.1.0", "--targets", "linux/amd64")


def cli_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The CLI's environment without the example's knobs (EXAMPLE_*): a plugin sees only what the gate gives."""
    return {k: v for k, v in (base or clean_env()).items() if not k.startswith("EXAMPLE_")}


def timed(run: Callable[[], subprocess.CompletedProcess[str]]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    try:
        result = run()
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the release hung: no exit within {exc.timeout:.0f}s")
    return result, time.monotonic() - started


def snapshot(run_cli: RunCli, project: Path, dist: Path, *extra: str, timeout: float = 600
             ) -> tuple[subprocess.CompletedProcess[str], float]:
    return timed(lambda: run_cli("release", "--snapshot", "--project", project, *SNAPSHOT_ARGS, "--dist", dist,
                                 *extra, env=cli_env(), timeout=timeout))


def healthy_seconds(run_cli: RunCli, example_project: Path, dist: Path) -> float:
    """The control: a healthy snapshot of the example releases (and how long that takes)."""
    result, seconds = snapshot(run_cli, example_project, dist)
    assert result.returncode == 0, result.stderr
    assert GATE_ERROR not in result.stderr, result.stderr
    return seconds


def gate_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if GATE_ERROR in line]


def assert_refused(stderr: str, kind: str) -> str:
    """The gate refused the host build, said why, and said it once; returns the error line."""
    assert re.search(r"built +linux/amd64", stderr), f"the build itself must succeed:\n{stderr}"
    lines = gate_lines(stderr)
    assert len(lines) == 1, f"want the error line exactly once, got {len(lines)}:\n{stderr}"
    assert REASONS[kind] in stderr.lower(), f"{kind}: want {REASONS[kind]!r} in stderr:\n{stderr}"
    return lines[0]


def test_healthy_example_passes_the_gate(run_cli: RunCli, example_project: Path, tmp_path: Path) -> None:
    result, _ = snapshot(run_cli, example_project, tmp_path / "dist")
    assert result.returncode == 0, result.stderr
    assert GATE_ERROR not in result.stderr
    assert (tmp_path / "dist" / f"{REPO}-linux-amd64-v0.1.0.tar.gz").is_file()


@pytest.mark.parametrize("kind", BROKEN_PLUGIN_KINDS)
def test_snapshot_refuses_a_plugin_that_does_not_start(kind: str, run_cli: RunCli, example_project: Path,
                                                       broken_plugin: Callable[..., Path], tmp_path: Path) -> None:
    healthy = healthy_seconds(run_cli, example_project, tmp_path / "healthy-dist")
    project = broken_plugin(kind)
    result, seconds = snapshot(run_cli, project, tmp_path / "dist", timeout=healthy + HANG_SECONDS)
    assert result.returncode != 0, f"{kind}: a plugin that does not start was released:\n{result.stderr}"
    line = assert_refused(result.stderr, kind)
    if kind == "panic":
        assert "panic" in line.lower(), line
        assert "example: failed to load settings" in result.stderr, "the panic message is quoted"
    assert seconds - healthy < MAX_EXTRA_SECONDS, (
        f"{kind}: refused after {seconds:.1f}s, a healthy snapshot takes {healthy:.1f}s")


@pytest.mark.parametrize("kind", BROKEN_PLUGIN_KINDS)
def test_release_publishes_nothing_for_a_plugin_that_does_not_start(
        kind: str, run_cli: RunCli, fake_github: FakeGitHub, broken_plugin: Callable[..., Path],
        tmp_path: Path) -> None:
    fake_github.add_repo(OWNER, REPO)
    fake_github.add_token(TOKEN, "write")
    project = broken_plugin(kind)
    env = cli_env(publish_env(fake_github, tmp_path))
    result, _ = timed(lambda: run_cli("release", "--project", project, "--version", "v0.2.0", "--targets",
                                      "linux/amd64", "--dist", tmp_path / "dist", env=env, timeout=600))
    run = collect(result, tmp_path)
    assert run.code != 0, f"{kind}: released:\n{run.text}"
    assert_refused(result.stderr, kind)
    assert writes(fake_github) == [], "nothing may be written to GitHub"
    assert {e.method for e in fake_github.requests_log} <= {"GET", "HEAD"}, fake_github.requests_log
    assert fake_github.requests("POST", "upload") == []
    assert releases_for(fake_github, "v0.2.0") == []
    assert not fake_github.internal_errors


def test_plugin_env_reaches_the_gate(run_cli: RunCli, broken_plugin: Callable[..., Path], tmp_path: Path) -> None:
    project = broken_plugin("needs-env")
    result, _ = snapshot(run_cli, project, tmp_path / "refused")
    assert result.returncode != 0, f"released without {NEEDS_ENV_KEY}:\n{result.stderr}"
    assert len(gate_lines(result.stderr)) == 1, result.stderr
    assert f"{NEEDS_ENV_KEY} is not {NEEDS_ENV_VALUE}" in result.stderr, "the plugin's own error is quoted"

    result, _ = snapshot(run_cli, project, tmp_path / "released", "--plugin-env", f"{NEEDS_ENV_KEY}={NEEDS_ENV_VALUE}")
    assert result.returncode == 0, result.stderr
    assert GATE_ERROR not in result.stderr
    assert (tmp_path / "released" / f"{REPO}-linux-amd64-v0.1.0.tar.gz").is_file()


def processes_with_env(marker: str) -> list[int]:
    """Pids of live processes whose environment contains ``marker`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_gate_stops_the_plugin_it_started(run_cli: RunCli, broken_plugin: Callable[..., Path],
                                          tmp_path: Path) -> None:
    """A plugin that never serves is not left running after the refusal."""
    marker = f"GPA_GATE_TEST_MARKER={uuid.uuid4().hex}"
    project = broken_plugin("never-serves")
    result, _ = snapshot(run_cli, project, tmp_path / "dist", "--plugin-env", marker, timeout=300)
    leftovers = processes_with_env(marker)
    for pid in leftovers:  # the plugin this test (through the CLI) started: stop it before failing
        os.kill(pid, signal.SIGKILL)
    assert result.returncode != 0, result.stderr
    assert len(gate_lines(result.stderr)) == 1, result.stderr
    assert leftovers == [], "the plugin the gate started is still running"


# --- the gate in GatewayD: the real installer and a load, test-plugin's machinery ----------------------

LOAD_ERROR = "release gate in GatewayD"
LOAD_REASON = "Failed to get plugin metadata"  # GatewayD's own words for the bad-plugin-config variant


def run_env(tmpdir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The CLI's environment with its own TMPDIR (so "nothing left behind" is exact) and GatewayD cache."""
    return cli_env({**(base or clean_env()), "TMPDIR": str(tmpdir), "XDG_CACHE_HOME": str(tmpdir.parent / "cache")})


def assert_nothing_left(tmpdir: Path) -> None:
    from tests.integration.test_test_plugin import leftover_processes  # noqa: PLC0415 - a module of tests, not a fixture

    assert not list(tmpdir.iterdir()), f"left behind in TMPDIR: {list(tmpdir.iterdir())}"
    assert not leftover_processes(tmpdir), f"processes left behind: {leftover_processes(tmpdir)}"


def own_tmpdir(tmp_path: Path) -> Path:
    path = tmp_path / "t"
    path.mkdir()
    path.chmod(0o755)  # the throwaway PostgreSQL runs as another user
    return path


@pytest.mark.gatewayd
@pytest.mark.postgres
@pytest.mark.parametrize("version", ("v0.10.3", "v0.11.1"))
def test_load_in_gatewayd_refuses_what_the_handshake_lets_through(
        version: str, run_cli: RunCli, broken_plugin: Callable[..., Path], gatewayd_binaries: dict[str, Path],
        tmp_path: Path) -> None:
    """Metadata GatewayD cannot read: the plugin answers the handshake, so only the load catches it."""
    project = broken_plugin("bad-plugin-config")
    handshake_only, _ = snapshot(run_cli, project, tmp_path / "handshake-only")
    assert handshake_only.returncode == 0, f"the handshake alone should let it through:\n{handshake_only.stderr}"

    tmpdir = own_tmpdir(tmp_path)
    dist = tmp_path / "dist"
    result, _ = timed(lambda: run_cli("release", "--snapshot", "--project", project, *SNAPSHOT_ARGS, "--dist", dist,
                                      "--gatewayd-binary", gatewayd_binaries[version], env=run_env(tmpdir),
                                      timeout=300))
    assert result.returncode != 0, f"a plugin GatewayD does not load was released:\n{result.stderr}"
    lines = [line for line in result.stderr.splitlines() if LOAD_ERROR in line]
    assert len(lines) == 1, result.stderr
    assert LOAD_REASON in lines[0] and "invalid type: []string" in lines[0], lines[0]
    assert f"GatewayD {version}" in lines[0], lines[0]
    assert "relevant GatewayD log lines" in result.stderr, "GatewayD's own lines are shown"
    assert_nothing_left(tmpdir)
    record = json.loads((dist / "metadata.json").read_text(encoding="utf-8"))["verification"]
    assert record["passed"] is False and record["checks"] == ["local", "gate", "install"], record
    # a weaker verification later cannot launder it
    again = run_cli("verify", "--dist", dist, env=cli_env())
    assert again.returncode != 0 and "failed an earlier verification" in again.stderr, again.stderr


@pytest.fixture
def fake_github_with_gatewayd_release(fake_github: FakeGitHub, gatewayd_binaries: dict[str, Path],
                                      tmp_path: Path) -> FakeGitHub:
    """The plugin's repository (write token) and gatewayd-io/gatewayd's v0.11.1 as latest, on one fake."""
    from tests.gatewayd.test_download import gatewayd_release_assets  # noqa: PLC0415

    fake_github.add_repo(OWNER, REPO)
    fake_github.add_token(TOKEN, "write")
    fake_github.add_repo("gatewayd-io", "gatewayd")
    assets = gatewayd_release_assets(gatewayd_binaries["v0.11.1"].read_bytes(), "v0.11.1", tmp_path / "gatewayd")
    fake_github.add_release("gatewayd-io", "gatewayd", "v0.11.1", assets=assets)
    return fake_github


@pytest.mark.gatewayd
@pytest.mark.postgres
def test_release_downloads_gatewayd_loads_the_plugin_then_publishes(
        run_cli: RunCli, example_project: Path, broken_plugin: Callable[..., Path],
        fake_github_with_gatewayd_release: FakeGitHub, tmp_path: Path) -> None:
    fake = fake_github_with_gatewayd_release
    tmpdir = own_tmpdir(tmp_path)
    env = run_env(tmpdir, publish_env(fake, tmp_path, GATEWAYD_RELEASES_API_URL=fake.api_url))

    bad = broken_plugin("bad-plugin-config")
    refused = run_cli("release", "--project", bad, "--version", "v0.2.0", "--targets", "linux/amd64", "--dist",
                      tmp_path / "refused", "--gatewayd-version", "latest", env=env, timeout=600)
    assert refused.returncode != 0, refused.stderr
    assert len([line for line in refused.stderr.splitlines() if LOAD_ERROR in line]) == 1, refused.stderr
    assert writes(fake) == [], "nothing may be written to GitHub"
    assert_nothing_left(tmpdir)

    result = run_cli("release", "--project", example_project, "--version", "v0.2.0", "--targets", "linux/amd64",
                     "--dist", tmp_path / "dist", "--gatewayd-version", "latest", env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "downloading gatewayd-linux-amd64-v0.11.1.tar.gz" in refused.stderr, "downloaded once, then cached"
    assert re.search(r"loaded it in GatewayD v0\.11\.1 .*: gatewayd-plugin-example 0\.2\.0", result.stderr), (
        result.stderr)
    assert [r.tag_name for r in releases_for(fake, "v0.2.0")] == ["v0.2.0"]
    assert_nothing_left(tmpdir)
    record = json.loads((tmp_path / "dist" / "metadata.json").read_text(encoding="utf-8"))["verification"]
    assert record == {"passed": True, "checks": ["local", "gate", "install"], "errors": []}, (
        "publish's own (handshake-only) check must not hide what the load proved")


def test_gatewayd_options_are_checked_before_building(run_cli: RunCli, example_project: Path,
                                                      tmp_path: Path) -> None:
    cases = {
        ("--gatewayd-version", "0.11"): "expected a release tag such as v0.11.1",
        ("--gatewayd-binary", str(tmp_path / "missing")): "no such file",
        ("--gatewayd-binary", "/bin/true", "--gatewayd-version", "v0.11.1"): "pass one",
        ("--gatewayd-binary", "/bin/true", "--no-gate"): "cannot also be loaded in GatewayD",
    }
    for args, reason in cases.items():
        result = run_cli("release", "--snapshot", "--project", example_project, *SNAPSHOT_ARGS, "--dist",
                         tmp_path / "dist", *args, env=cli_env())
        assert result.returncode != 0, (args, result.stderr)
        assert reason in result.stderr, (args, result.stderr)
        assert "built " not in result.stderr, f"{args}: checked only after building:\n{result.stderr}"


def test_a_load_without_postgresql_fails_before_anything_is_fetched(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    """A runner without PostgreSQL (and no --postgres-url) is told so, with the two ways out, before a GatewayD
    is downloaded or a target built. (In-process: this machine has PostgreSQL, so its absence is simulated.)"""
    parser = argparse.ArgumentParser()
    add_gate(parser)
    monkeypatch.setattr(postgres, "find_bindir", lambda: None)
    with pytest.raises(UserError, match=r"needs PostgreSQL.*--postgres-url.*--gatewayd-version none"):
        gate_options(parser.parse_args(["--gatewayd-version", "v0.11.1"]))
    # With a server given, no local PostgreSQL is needed (the binary is then only checked, not run).
    binary = tmp_path / "gatewayd"
    binary.write_bytes(b"#!/bin/sh\n")
    binary.chmod(0o755)
    options = gate_options(parser.parse_args(["--gatewayd-binary", str(binary), "--postgres-url",
                                              "postgres://u@127.0.0.1:1/db"]))
    assert options.gatewayd == binary and options.postgres_url == "postgres://u@127.0.0.1:1/db"
